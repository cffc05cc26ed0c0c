/**
 * High availability on etcd: two flotilla-apiserver processes share one etcd (Debian's etcd-server);
 * a write through one is read and watched through the other, resourceVersions are shared, and
 * either survives the other being killed. Skipped (with a reason) when etcd is not installed;
 * `.ci/run` installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const etcdBinary = (() => {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
})();
if (!etcdBinary) console.warn('skipping etcd end-to-end tests: etcd is not installed (apt-get install etcd-server)');

describe.skipIf(!etcdBinary)('two API servers on one etcd', () => {
  let dir: ReturnType<typeof tempDir>;
  let etcd: ChildProcess;
  let a: ApiServerProcess;
  let b: ApiServerProcess;
  let ca: RawClient;
  let cb: RawClient;

  beforeAll(async () => {
    dir = tempDir('etcd-ha');
    const port = 26000 + Math.floor(Math.random() * 2000);
    etcd = spawn(etcdBinary!, ['--data-dir', join(dir.path, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-cluster', `default=http://127.0.0.1:${port + 1}`, '--log-level', 'error'], { stdio: 'ignore' });
    const etcdUrl = `http://127.0.0.1:${port}`;
    await waitFor('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, { timeoutMs: 20_000 });
    a = await startApiServer(join(dir.path, 'a'), { extraArgs: ['--etcd-servers', etcdUrl] });
    // The second server shares the first one's CA and tokens, as HA servers must.
    mkdirSync(join(dir.path, 'b'), { recursive: true });
    cpSync(join(dir.path, 'a', 'pki'), join(dir.path, 'b', 'pki'), { recursive: true });
    cpSync(join(dir.path, 'a', 'tokens.csv'), join(dir.path, 'b', 'tokens.csv'));
    b = await startApiServer(join(dir.path, 'b'), { extraArgs: ['--etcd-servers', etcdUrl] });
    ca = new RawClient(a.url, a.caPem, a.token);
    cb = new RawClient(b.url, b.caPem, b.token);
  });

  afterAll(async () => {
    ca?.close();
    cb?.close();
    await a?.stop();
    await b?.stop();
    await killAll();
    etcd?.kill('SIGKILL');
    dir?.remove();
  });

  it('reads and watches through one server what was written through the other', async () => {
    const rv = ((await cb.request('/api/v1/namespaces/default/configmaps')).json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const created = await ca.request('/api/v1/namespaces/default/configmaps', { method: 'POST', body: JSON.stringify({ metadata: { name: 'shared' }, data: { from: 'a' } }) });
    expect(created.status).toBe(201);
    const createdRv = (created.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const events = await cb.watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`, (evs) => evs.length >= 1, 10_000);
    expect(events.map((e) => `${e.type} ${(e.object['metadata'] as { name: string }).name}`)).toEqual(['ADDED shared']);
    expect((events[0]!.object['metadata'] as { resourceVersion: string }).resourceVersion).toBe(createdRv);
    const viaB = await waitFor('the object through b', async () => {
      const r = await cb.request('/api/v1/namespaces/default/configmaps/shared');
      return r.status === 200 ? r : undefined;
    });
    expect((viaB.json as { data: { from: string } }).data.from).toBe('a');
    // Optimistic concurrency works across servers: a stale update through b conflicts.
    const upd = await cb.request('/api/v1/namespaces/default/configmaps/shared', { method: 'PUT', body: JSON.stringify({ metadata: { name: 'shared', resourceVersion: createdRv }, data: { from: 'b' } }) });
    expect(upd.status).toBe(200);
    const stale = await ca.request('/api/v1/namespaces/default/configmaps/shared', { method: 'PUT', body: JSON.stringify({ metadata: { name: 'shared', resourceVersion: createdRv }, data: { from: 'stale' } }) });
    expect(stale.status).toBe(409);
  });

  it('keeps serving through one server when the other is killed', async () => {
    await a.kill();
    const r = await cb.request('/api/v1/namespaces/default/configmaps', { method: 'POST', body: JSON.stringify({ metadata: { name: 'after-a-died' } }) });
    expect(r.status).toBe(201);
    expect((await cb.request('/api/v1/namespaces/default/configmaps/shared')).status).toBe(200);
  });
});
