import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ContainerInfo, ContainerStats } from '../runtime/runtime.js';
import { formatWindow, parseMemInfo, parseProcStat, ResourceMetrics, serveResourceMetrics, usageRate, type UsageSample } from './resource-metrics.js';

const S = 1_000_000_000;

describe('usageRate', () => {
  it('turns a delta of cumulative CPU time into nanocores over the window', () => {
    const r = usageRate({ timestamp: 10_000, cpuUsageCoreNanoSeconds: 5 * S, memoryWorkingSetBytes: 1 }, { timestamp: 20_000, cpuUsageCoreNanoSeconds: 7.5 * S, memoryWorkingSetBytes: 4096 });
    expect(r).toEqual({ timestamp: 20_000, windowMs: 10_000, cpuNanoCores: 250_000_000, memoryWorkingSetBytes: 4096 });
  });

  it('gives 0 for an idle container and more than one core for a multi-threaded one', () => {
    expect(usageRate({ timestamp: 0, cpuUsageCoreNanoSeconds: 42, memoryWorkingSetBytes: 0 }, { timestamp: 10_000, cpuUsageCoreNanoSeconds: 42, memoryWorkingSetBytes: 0 })?.cpuNanoCores).toBe(0);
    expect(usageRate({ timestamp: 0, cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0 }, { timestamp: 2_000, cpuUsageCoreNanoSeconds: 3 * S, memoryWorkingSetBytes: 0 })?.cpuNanoCores).toBe(1_500_000_000);
  });

  it('refuses a counter that went backwards or no elapsed time', () => {
    expect(usageRate({ timestamp: 0, cpuUsageCoreNanoSeconds: 10, memoryWorkingSetBytes: 0 }, { timestamp: 1000, cpuUsageCoreNanoSeconds: 5, memoryWorkingSetBytes: 0 })).toBeUndefined();
    expect(usageRate({ timestamp: 1000, cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0 }, { timestamp: 1000, cpuUsageCoreNanoSeconds: 5, memoryWorkingSetBytes: 0 })).toBeUndefined();
  });

  it('formats windows as whole seconds', () => {
    expect(formatWindow(10_004)).toBe('10s');
    expect(formatWindow(9_600)).toBe('10s');
    expect(formatWindow(200)).toBe('1s');
  });
});

describe('/proc parsing', () => {
  it('sums busy ticks of the aggregate cpu line (not idle, iowait or guest)', () => {
    const stat = 'cpu  100 20 30 1000 50 5 5 10 7 0\ncpu0 50 10 15 500 25 2 2 5 3 0\nintr 1 2 3\n';
    // user+nice+system+irq+softirq+steal = 170 ticks of 10 ms.
    expect(parseProcStat(stat)).toBe(170 * 10_000_000);
  });

  it('takes MemTotal - MemAvailable as the working set', () => {
    expect(parseMemInfo('MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    600 kB\n')).toBe(400 * 1024);
    expect(() => parseMemInfo('nothing')).toThrow();
  });
});

function container(id: string, pod: string, name: string): ContainerInfo {
  return { id, sandboxId: `s-${pod}`, podName: pod, podNamespace: 'ns1', podUid: `uid-${pod}`, name, restartCount: 0, image: 'i', imageId: 'sha256:i', state: 'running', createdAt: 0, labels: {}, annotations: {} };
}

/** A runtime whose containers' counters the test advances. */
function fakeRuntime() {
  const containers: ContainerInfo[] = [];
  const stats = new Map<string, ContainerStats>();
  return {
    containers,
    set(id: string, timestamp: number, cpuSeconds: number, memory: number) {
      stats.set(id, { timestamp, cpuUsageCoreNanoSeconds: cpuSeconds * S, memoryUsageBytes: memory, memoryWorkingSetBytes: memory });
    },
    runtime: {
      listContainers: async () => [...containers],
      stats: async (id: string) => {
        const s = stats.get(id);
        if (!s) throw new Error('gone');
        return s;
      },
    },
  };
}

describe('ResourceMetrics', () => {
  it('reports pods and the node once two samples exist, grouped by pod', async () => {
    const f = fakeRuntime();
    f.containers.push(container('a', 'busy', 'main'), container('b', 'busy', 'side'), container('c', 'idle', 'main'));
    let node: UsageSample = { timestamp: 0, cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 1 << 30 };
    const m = new ResourceMetrics({ nodeName: 'n1', runtime: f.runtime, readNode: async () => node });
    f.set('a', 0, 0, 4096);
    f.set('b', 0, 0, 8192);
    f.set('c', 0, 1, 1024);
    await m.collect();
    expect(m.snapshot()).toEqual({ node: null, pods: [] });

    f.set('a', 10_000, 10, 4096 * 3);
    f.set('b', 10_000, 0.5, 8192);
    f.set('c', 10_000, 1, 1024);
    node = { timestamp: 10_000, cpuUsageCoreNanoSeconds: 12 * S, memoryWorkingSetBytes: 2 << 30 };
    await m.collect();
    const snap = m.snapshot();
    expect(snap.node).toEqual({ nodeName: 'n1', timestamp: new Date(10_000).toISOString(), window: '10s', cpuNanoCores: 1_200_000_000, memoryWorkingSetBytes: 2 << 30 });
    expect(snap.pods).toEqual([
      { namespace: 'ns1', name: 'busy', uid: 'uid-busy', timestamp: new Date(10_000).toISOString(), window: '10s', containers: [{ name: 'main', cpuNanoCores: 1_000_000_000, memoryWorkingSetBytes: 12288 }, { name: 'side', cpuNanoCores: 50_000_000, memoryWorkingSetBytes: 8192 }] },
      { namespace: 'ns1', name: 'idle', uid: 'uid-idle', timestamp: new Date(10_000).toISOString(), window: '10s', containers: [{ name: 'main', cpuNanoCores: 0, memoryWorkingSetBytes: 1024 }] },
    ]);

    // A container that stopped is dropped; a replacement needs two samples again.
    f.containers.splice(0, 3, container('b', 'busy', 'side'), container('d', 'idle', 'main'));
    f.set('b', 20_000, 1.5, 8192);
    f.set('d', 20_000, 0, 512);
    await m.collect();
    expect(m.snapshot().pods.map((p) => [p.name, p.containers.map((c) => [c.name, c.cpuNanoCores])])).toEqual([['busy', [['side', 100_000_000]]]]);
  });

  it('keeps the last rate when a sample repeats its timestamp, and survives failing stats', async () => {
    const f = fakeRuntime();
    f.containers.push(container('a', 'p', 'main'), container('x', 'q', 'main'));
    const m = new ResourceMetrics({ nodeName: 'n1', runtime: f.runtime, readNode: async () => { throw new Error('no /proc'); } });
    f.set('a', 0, 0, 1);
    await m.collect();
    f.set('a', 5_000, 1, 1);
    await m.collect();
    await m.collect();
    expect(m.snapshot().pods).toHaveLength(1);
    expect(m.snapshot().pods[0]!.containers[0]!.cpuNanoCores).toBe(200_000_000);
    expect(m.snapshot().node).toBeNull();
  });

  it('serves the snapshot on GET /stats/summary only', async () => {
    const f = fakeRuntime();
    const m = new ResourceMetrics({ nodeName: 'n1', runtime: f.runtime, readNode: async () => ({ timestamp: Date.now(), cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0 }) });
    const server = createServer((req, resp) => {
      if (serveResourceMetrics(req, new URL(req.url ?? '/', 'http://x').pathname, resp, m)) return;
      resp.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await fetch(`${base}/stats/summary`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(await r.json()).toEqual({ node: null, pods: [] });
      expect((await fetch(`${base}/stats/summary`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${base}/stats`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
