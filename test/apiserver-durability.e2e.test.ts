/**
 * Crash safety of the API server: kill -9 during a concurrent write load, restart on the same data
 * directory; every acknowledged write is there, resourceVersions keep increasing, and a watch from a
 * pre-crash resourceVersion replays exactly the missed events, in order.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiServer } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';

const dir = tempDir('durability');
afterAll(async () => {
  await killAll();
  dir.remove();
});

function pod(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { load: 'yes', writer: name.split('-')[1]! } },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], env: [{ name: 'PAD', value: 'x'.repeat(1200) }] }] },
  });
}

describe('durability across kill -9', () => {
  it('keeps every acknowledged write and replays missed events', async () => {
    const dataDir = join(dir.path, 'data');
    const first = await startApiServer(dataDir);
    const c1 = new RawClient(first.url, first.caPem, first.token);
    expect((await c1.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ metadata: { name: 'load' } }) })).status).toBe(201);
    const before = (await c1.request('/api/v1/namespaces/load/pods')).json as { metadata: { resourceVersion: string } };
    const startRv = Number(before.metadata.resourceVersion);

    // 64 concurrent writers until the server dies.
    const acked = new Map<string, number>();
    let stop = false;
    const writers = Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `p-${w}-${i}`;
        try {
          const r = await c1.request('/api/v1/namespaces/load/pods', { method: 'POST', body: pod(name), timeoutMs: 10_000 });
          if (r.status === 201) acked.set(name, Number((r.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion));
          else if (r.status !== 201) throw new Error(`unexpected ${r.status}: ${r.body}`);
        } catch (err) {
          if (stop) return;
          const msg = (err as Error).message;
          if (/ECONNRESET|ECONNREFUSED|socket hang up|EPIPE|timed out/.test(msg)) return;
          throw err;
        }
      }
    });
    const deadline = Date.now() + 20_000;
    while (acked.size < 1500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await first.kill();
    stop = true;
    await Promise.all(writers);
    c1.close();
    expect(acked.size).toBeGreaterThan(100);

    const second = await startApiServer(dataDir);
    // The CA and admin credentials survive restarts, so kubeconfigs stay valid.
    expect(second.caPem).toBe(first.caPem);
    expect(second.token).toBe(first.token);
    const c2 = new RawClient(second.url, second.caPem, second.token);
    try {
      const list = (await c2.request('/api/v1/namespaces/load/pods')).json as { metadata: { resourceVersion: string }; items: { metadata: { name: string; resourceVersion: string } }[] };
      const present = new Map(list.items.map((p) => [p.metadata.name, Number(p.metadata.resourceVersion)]));
      for (const [name, rv] of acked) {
        expect(present.get(name), `acknowledged pod ${name} lost`).toBe(rv);
      }
      const listRv = Number(list.metadata.resourceVersion);
      const maxAcked = Math.max(...acked.values());
      expect(listRv).toBeGreaterThanOrEqual(maxAcked);

      // A write after the restart gets a higher resourceVersion than anything before the crash.
      const after = await c2.request('/api/v1/namespaces/load/configmaps', { method: 'POST', body: JSON.stringify({ metadata: { name: 'after-restart' } }) });
      expect(after.status).toBe(201);
      expect(Number((after.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion)).toBeGreaterThan(listRv);

      // Watch from before the load: exactly one ADDED per stored pod, in revision order.
      const expected = list.items.length;
      const events = await c2.watch(`/api/v1/namespaces/load/pods?watch=true&resourceVersion=${startRv}`, (evs) => evs.length >= expected, 60_000);
      expect(events.length).toBe(expected);
      expect(events.every((e) => e.type === 'ADDED')).toBe(true);
      const rvs = events.map((e) => Number((e.object['metadata'] as { resourceVersion: string }).resourceVersion));
      for (let i = 1; i < rvs.length; i++) expect(rvs[i]!).toBeGreaterThan(rvs[i - 1]!);
      const names = events.map((e) => (e.object['metadata'] as { name: string }).name);
      expect(new Set(names).size).toBe(names.length);
      expect(new Set(names)).toEqual(new Set(present.keys()));
    } finally {
      c2.close();
      await second.stop();
    }
  });
});
