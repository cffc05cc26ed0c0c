/**
 * Watch semantics on a real API server: initial state for resourceVersion ""/"0", exact resume,
 * bookmarks, timeoutSeconds, field-filtered watches, WebSocket watches, Table watches, and 410
 * Expired for a resourceVersion older than compacted history.
 */
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

let server: ApiServerProcess;
let client: RawClient;
let dir: ReturnType<typeof tempDir>;
const NS = 'watch';
const cms = `/api/v1/namespaces/${NS}/configmaps`;

async function createCm(name: string, labels: Record<string, string> = {}): Promise<number> {
  const r = await client.request(cms, { method: 'POST', body: JSON.stringify({ metadata: { name, labels }, data: { v: '1' } }) });
  expect(r.status).toBe(201);
  return Number((r.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
}

async function listRv(): Promise<number> {
  return Number(((await client.request(cms)).json as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
}

type Ev = { type: string; object: Record<string, unknown> };
const nameOf = (e: Ev) => (e.object['metadata'] as { name: string }).name;
const rvOf = (e: Ev) => Number((e.object['metadata'] as { resourceVersion: string }).resourceVersion);

beforeAll(async () => {
  dir = tempDir('watch');
  server = await startApiServer(dir.path, { extraArgs: ['--etcd-compaction-interval', '2s'] });
  client = new RawClient(server.url, server.caPem, server.token);
  await client.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ metadata: { name: NS } }) });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

describe('watch', () => {
  it('sends the current state first when resourceVersion is unset or 0', async () => {
    await createCm('a');
    await createCm('b');
    for (const rv of ['', '&resourceVersion=0']) {
      const events = await client.watch(`${cms}?watch=true${rv}`, (evs) => evs.length >= 2, 5000);
      expect(events.map((e) => `${e.type} ${nameOf(e)}`).sort()).toEqual(['ADDED a', 'ADDED b']);
    }
  });

  it('resumes exactly after a resourceVersion, in order', async () => {
    const rv = await listRv();
    const c = await createCm('c');
    await client.request(`${cms}/c`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '{"data":{"v":"2"}}' });
    await client.request(`${cms}/c`, { method: 'DELETE' });
    const events = await client.watch(`${cms}?watch=1&resourceVersion=${rv}`, (evs) => evs.length >= 3, 5000);
    expect(events.map((e) => `${e.type} ${nameOf(e)}`)).toEqual(['ADDED c', 'MODIFIED c', 'DELETED c']);
    expect(rvOf(events[0]!)).toBe(c);
    expect(rvOf(events[1]!)).toBeGreaterThan(rvOf(events[0]!));
    expect(rvOf(events[2]!)).toBeGreaterThan(rvOf(events[1]!));
  });

  it('filters by field and label selectors, turning label changes into ADDED and DELETED', async () => {
    const rv = await listRv();
    await createCm('sel', { team: 'a' });
    await client.request(`${cms}/sel`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: '{"metadata":{"labels":{"team":"b"}}}' });
    const byLabel = await client.watch(`${cms}?watch=true&resourceVersion=${rv}&labelSelector=team%3Da`, (evs) => evs.length >= 2, 5000);
    expect(byLabel.map((e) => `${e.type} ${nameOf(e)}`)).toEqual(['ADDED sel', 'DELETED sel']);
    const byField = await client.watch(`${cms}?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dsel`, (evs) => evs.length >= 2, 5000);
    expect(byField.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
  });

  it('ends the stream after timeoutSeconds', async () => {
    const started = Date.now();
    const events = await client.watch(`${cms}?watch=true&resourceVersion=${await listRv()}&timeoutSeconds=1`, () => false, 10_000);
    expect(events).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('streams watch events over a WebSocket', async () => {
    const rv = await listRv();
    const url = `${server.url.replace('https', 'wss')}${cms}?watch=true&resourceVersion=${rv}`;
    const ws = new WebSocket(url, { ca: server.caPem, headers: { Authorization: `Bearer ${server.token}` } });
    const got: Ev[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as Ev));
    await once(ws, 'open');
    await createCm('ws');
    await waitFor('websocket event', () => got.length >= 1);
    ws.close();
    expect(got.map((e) => `${e.type} ${nameOf(e)}`)).toEqual(['ADDED ws']);
  });

  it('upgrades only watches to a WebSocket: a list (no ?watch=true) gets an ERROR BadRequest', async () => {
    const url = `${server.url.replace('https', 'wss')}${cms}`;
    const ws = new WebSocket(url, { ca: server.caPem, headers: { Authorization: `Bearer ${server.token}` } });
    const got: { type: string; object: { kind: string; reason: string } }[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as (typeof got)[number]));
    await once(ws, 'close');
    expect(got).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', reason: 'BadRequest' }) }]);
  });

  it('renders watch events as one-row Tables when asked (kubectl get -w)', async () => {
    const rv = await listRv();
    const watch = new Promise<string>((resolve, reject) => {
      void client
        .request(`${cms}?watch=true&resourceVersion=${rv}&timeoutSeconds=2`, { headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } })
        .then((r) => resolve(r.body), reject);
    });
    await createCm('table-1');
    await createCm('table-2');
    const lines = (await watch).trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { kind: string; columnDefinitions: unknown; rows: { cells: unknown[] }[] } });
    expect(lines.map((l) => l.object.kind)).toEqual(['Table', 'Table']);
    expect(lines[0]!.object.columnDefinitions).toBeTruthy();
    expect(lines[1]!.object.columnDefinitions).toBeNull();
    expect(lines.map((l) => l.object.rows[0]!.cells[0])).toEqual(['table-1', 'table-2']);
  });

  it('answers a resourceVersion older than compacted history with 410 Expired', async () => {
    const old = await createCm('old');
    // Write, then wait until compaction has passed the old revision.
    await waitFor(
      'compaction past the old revision',
      async () => {
        await createCm(`filler-${Date.now()}`);
        const events = await client.watch(`${cms}?watch=true&resourceVersion=${old - 1}`, (evs) => evs.length >= 1, 2000);
        return events[0]?.type === 'ERROR' ? events[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).then((ev) => {
      expect(ev.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    });
  });

  it('streams one HTTP/1.1 chunk per event, and plain lines to an HTTP/1.0 client', async () => {
    const { hostname, port } = new URL(server.url);
    /** Raw bytes a watch request receives until `done` holds or 5 s pass. */
    const raw = async (version: string, done: (text: string) => boolean, write: () => Promise<unknown>): Promise<string> => {
      const socket = tlsConnect({ host: hostname, port: Number(port), ca: server.caPem });
      await once(socket, 'secureConnect');
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      const rv = await listRv();
      socket.write(`GET ${cms}?watch=true&resourceVersion=${rv} HTTP/${version}\r\nHost: ${hostname}\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
      await waitFor('watch headers', async () => (text.includes('\r\n\r\n') ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
      await write();
      await waitFor('watch event bytes', async () => (done(text) ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
      socket.destroy();
      return text;
    };
    const v11 = await raw('1.1', (t) => /\r\n\r\n[\s\S]*\}\n\r\n$/.test(t), () => createCm('chunk-11'));
    const [head11, body11] = [v11.slice(0, v11.indexOf('\r\n\r\n')), v11.slice(v11.indexOf('\r\n\r\n') + 4)];
    expect(head11).toMatch(/transfer-encoding: chunked/i);
    const size = parseInt(body11.slice(0, body11.indexOf('\r\n')), 16);
    const line = body11.slice(body11.indexOf('\r\n') + 2, -2);
    expect(Buffer.byteLength(line)).toBe(size);
    expect(JSON.parse(line)).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'chunk-11' } } });

    const v10 = await raw('1.0', (t) => /\r\n\r\n[\s\S]*\}\n$/.test(t), () => createCm('chunk-10'));
    const [head10, body10] = [v10.slice(0, v10.indexOf('\r\n\r\n')), v10.slice(v10.indexOf('\r\n\r\n') + 4)];
    expect(head10).not.toMatch(/transfer-encoding/i);
    expect(JSON.parse(body10)).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'chunk-10' } } });
  });

  it('sends bookmarks to watchers that allow them', async () => {
    const rv = await listRv();
    // The server sends bookmarks periodically (every 10 s).
    const events = await client.watch(`${cms}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=25`, (evs) => evs.some((e) => e.type === 'BOOKMARK'), 30_000);
    const bm = events.find((e) => e.type === 'BOOKMARK');
    expect(bm).toBeDefined();
    expect(bm!.object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1' });
    expect(rvOf(bm!)).toBeGreaterThanOrEqual(rv);
  }, 60_000);
});
