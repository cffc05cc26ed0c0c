/**
 * High availability on etcd: two flotilla-apiserver processes share one etcd (Debian's etcd-server);
 * a write through one is read and watched through the other, resourceVersions are shared, and
 * either survives the other being killed. Skipped (with a reason) when etcd is not installed;
 * `.ci/run` installs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServerProcess } from './harness/apiserver.js';
import { ApiServersOnEtcd, etcdBinary } from './harness/etcd.js';
import type { RawClient } from './harness/http.js';
import { tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

if (!etcdBinary) console.warn('skipping etcd end-to-end tests: etcd is not installed (apt-get install etcd-server)');

describe.skipIf(!etcdBinary)('two API servers on one etcd', () => {
  const servers = new ApiServersOnEtcd();
  let dir: ReturnType<typeof tempDir>;
  let a: ApiServerProcess;
  let ca: RawClient;
  let cb: RawClient;

  beforeAll(async () => {
    dir = tempDir('etcd-ha');
    ({ a, ca, cb } = await servers.start(dir.path, 26000));
  });

  afterAll(async () => {
    await servers.stop();
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
