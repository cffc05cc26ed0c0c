/**
 * Paginated lists (limit + continue) on a real API server are one consistent list: every page shows
 * the objects as they were at the first page's resourceVersion, however they change in between, as
 * Kubernetes serves them from an etcd snapshot. Recent changes are undone from the watch cache's
 * window; older ones from storage history (after more than the window's 10,000 events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';

let server: ApiServerProcess;
let client: RawClient;
let dir: ReturnType<typeof tempDir>;
const NS = 'pages';
const cms = `/api/v1/namespaces/${NS}/configmaps`;

interface CmList {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: { metadata: { name: string }; data?: Record<string, string> }[];
}

async function ok(path: string, method = 'GET', body?: unknown, okStatus = method === 'POST' ? 201 : 200): Promise<unknown> {
  const r = await client.send(path, method, body);
  expect(r.status, `${method} ${path}: ${r.body.slice(0, 300)}`).toBe(okStatus);
  return r.json;
}

const name = (i: number) => `cm-${String(i).padStart(2, '0')}`;
const create = (n: string, v = '1', ns = NS) => ok(`/api/v1/namespaces/${ns}/configmaps`, 'POST', { metadata: { name: n, labels: { set: 'a' } }, data: { v } });

/** Every page of a list after `first`, each checked to be at the first page's resourceVersion. */
async function rest(first: CmList, query: string): Promise<CmList[]> {
  const pages: CmList[] = [];
  let token = first.metadata.continue;
  while (token) {
    const page = (await ok(`${cms}?${query}&continue=${encodeURIComponent(token)}`)) as CmList;
    expect(page.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    pages.push(page);
    token = page.metadata.continue;
  }
  return pages;
}

beforeAll(async () => {
  dir = tempDir('pagination');
  server = await startApiServer(dir.path);
  client = new RawClient(server.url, server.caPem, server.token);
  for (const ns of [NS, 'churn']) await ok('/api/v1/namespaces', 'POST', { metadata: { name: ns } });
  for (let i = 0; i < 30; i++) await create(name(i));
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

describe('paginated lists', () => {
  it('continue at the first page\'s resourceVersion: later deletes, creates and updates do not show', async () => {
    const first = (await ok(`${cms}?limit=10`)) as CmList;
    expect(first.items.map((c) => c.metadata.name)).toEqual(Array.from({ length: 10 }, (_, i) => name(i)));
    expect(first.metadata.remainingItemCount).toBe(20);
    const selected = (await ok(`${cms}?limit=10&labelSelector=set%3Da`)) as CmList;
    expect(selected.items).toHaveLength(10);

    await ok(`${cms}/${name(12)}`, 'DELETE');
    await ok(`${cms}/${name(25)}`, 'DELETE');
    await create('cm-125');
    await create('cm-99');
    await ok(`${cms}/${name(15)}`, 'PUT', { metadata: { name: name(15), labels: { set: 'b' } }, data: { v: 'changed' } });

    const later = await rest(first, 'limit=10');
    expect(later.map((p) => p.items.map((c) => c.metadata.name))).toEqual([Array.from({ length: 10 }, (_, i) => name(10 + i)), Array.from({ length: 10 }, (_, i) => name(20 + i))]);
    expect(later[0]!.metadata.remainingItemCount).toBe(10);
    expect(later[0]!.items.find((c) => c.metadata.name === name(15))!.data).toEqual({ v: '1' });

    // Label selectors see the objects as they were too: cm-15 was in set a.
    const selectedLater = await rest(selected, 'limit=10&labelSelector=set%3Da');
    expect(selectedLater.flatMap((p) => p.items.map((c) => c.metadata.name))).toContain(name(15));
    expect(selectedLater.flatMap((p) => p.items.map((c) => c.metadata.name))).not.toContain('cm-125');

    // A new list sees the changes.
    const now = (await ok(cms)) as CmList;
    expect(now.items.map((c) => c.metadata.name)).toEqual(expect.arrayContaining(['cm-125', 'cm-99']));
    expect(now.items.map((c) => c.metadata.name)).not.toContain(name(12));
  });

  it('reads changes older than the watch cache window from storage history', async () => {
    const first = (await ok(`${cms}?limit=5`)) as CmList;
    await ok(`${cms}/${name(7)}`, 'DELETE');
    await ok(`${cms}/${name(20)}`, 'PUT', { metadata: { name: name(20) }, data: { v: 'changed' } });
    // More than the window's 10,000 configmap events, in another namespace, 32 at a time.
    const total = 10_050;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) await create(`churn-${next++}`, '1', 'churn');
      }),
    );
    const later = await rest(first, 'limit=10');
    const names = later.flatMap((p) => p.items.map((c) => c.metadata.name));
    expect(names).toContain(name(7));
    expect(names).not.toContain(name(12)); // deleted before the first page
    expect(later.flatMap((p) => p.items).find((c) => c.metadata.name === name(20))!.data).toEqual({ v: '1' });
  }, 120_000);
});
