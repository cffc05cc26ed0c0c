import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, type KubeObject } from '@flotilla/api';
import type { Registry } from '../registry/registry.js';
import { ResourceCache, type CachedObject } from '../registry/resource-cache.js';
import type { AgentEndpoint, StatsSummary, SummarySource } from './agent-summary-client.js';
import { registerMetricsApi } from './metrics-api.js';
import { agentEndpointOf, formatCpuNanoCores, formatMemoryBytes } from './metrics-objects.js';

describe('quantities as metrics-server prints them', () => {
  it('formats nanocores in canonical DecimalSI', () => {
    expect(formatCpuNanoCores(0)).toBe('0');
    expect(formatCpuNanoCores(123_456)).toBe('123456n');
    expect(formatCpuNanoCores(5_000_000)).toBe('5m');
    expect(formatCpuNanoCores(120_000_000)).toBe('120m');
    expect(formatCpuNanoCores(1_500_000_000)).toBe('1500m');
    expect(formatCpuNanoCores(2_000_000_000)).toBe('2');
    expect(formatCpuNanoCores(4_000)).toBe('4u');
  });

  it('formats bytes in canonical BinarySI', () => {
    expect(formatMemoryBytes(0)).toBe('0');
    expect(formatMemoryBytes(1000)).toBe('1000');
    expect(formatMemoryBytes(12_288)).toBe('12Ki');
    expect(formatMemoryBytes(1_048_576)).toBe('1Mi');
    expect(formatMemoryBytes(12_000_000)).toBe('12000000');
    expect(formatMemoryBytes(3 * 1024 ** 3)).toBe('3Gi');
  });
});

function node(name: string, port: number | undefined, labels: Record<string, string> = {}): KubeObject {
  return { kind: 'Node', apiVersion: 'v1', metadata: { name, labels }, status: { addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: `10.0.0.${name.length}` }], ...(port !== undefined ? { daemonEndpoints: { kubeletEndpoint: { Port: port } } } : {}) } } as KubeObject;
}

function pod(ns: string, name: string, nodeName: string, labels: Record<string, string> = {}, uid = `uid-${name}`): KubeObject {
  return { kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: ns, uid, labels }, spec: { nodeName, containers: [{ name: 'b' }, { name: 'a' }] } } as KubeObject;
}

describe('agentEndpointOf', () => {
  it('uses the InternalIP and the kubelet endpoint port; skips nodes without one', () => {
    expect(agentEndpointOf(node('n1', 10250))).toEqual({ nodeName: 'n1', host: '10.0.0.2', port: 10250 });
    expect(agentEndpointOf(node('n1', 0))).toBeUndefined();
    expect(agentEndpointOf(node('n1', undefined))).toBeUndefined();
    expect(agentEndpointOf(node('n1', 10250, { 'node.flotilla.io/hollow': 'true' }))).toBeUndefined();
  });
});

function cacheOf(prefix: string, objects: KubeObject[]): ResourceCache {
  const c = new ResourceCache(prefix, (json, revision): CachedObject => {
    const o = JSON.parse(json) as KubeObject;
    const ns = o.metadata.namespace ?? '';
    return { id: ns ? `${ns}/${o.metadata.name}` : o.metadata.name!, namespace: ns, name: o.metadata.name!, json, revision, labels: o.metadata.labels, fields: { 'metadata.name': o.metadata.name!, 'metadata.namespace': ns } };
  }, undefined, 1);
  for (const o of objects) c.load(`${prefix}${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`, JSON.stringify(o), 1);
  return c;
}

const T = '2026-01-02T03:04:05.678Z';

class FakeSummaries implements SummarySource {
  calls: string[] = [];
  constructor(private readonly byNode: Record<string, StatsSummary>) {}
  async summary(e: AgentEndpoint): Promise<StatsSummary | undefined> {
    this.calls.push(`${e.nodeName}@${e.host}:${e.port}`);
    return this.byNode[e.nodeName];
  }
  close(): void {}
}

describe('metrics.k8s.io/v1beta1', () => {
  let app: FastifyInstance;
  let summaries: FakeSummaries;
  beforeEach(async () => {
    const nodes = cacheOf('/registry/core/nodes/', [node('n1', 10250, { role: 'a' }), node('n2', 10251), node('hollow', 0)]);
    const pods = cacheOf('/registry/core/pods/', [pod('ns1', 'busy', 'n1', { app: 'burn' }), pod('ns1', 'idle', 'n2', { app: 'idle' }), pod('ns1', 'pending', ''), pod('ns1', 'fresh', 'n1'), pod('ns2', 'other', 'n2'), pod('ns1', 'recreated', 'n1', {}, 'new-uid')]);
    const registry = { mustStore: (_g: string, plural: string) => ({ cache: plural === 'nodes' ? nodes : pods }) } as unknown as Registry;
    summaries = new FakeSummaries({
      n1: {
        node: { timestamp: T, window: '10s', cpuNanoCores: 1_250_000_000, memoryWorkingSetBytes: 2 * 1024 ** 3 },
        pods: [
          { namespace: 'ns1', name: 'busy', uid: 'uid-busy', timestamp: T, window: '10s', containers: [{ name: 'a', cpuNanoCores: 1_000_000, memoryWorkingSetBytes: 4096 }, { name: 'b', cpuNanoCores: 998_765_432, memoryWorkingSetBytes: 1_048_576 }] },
          { namespace: 'ns1', name: 'recreated', uid: 'old-uid', timestamp: T, window: '10s', containers: [{ name: 'a', cpuNanoCores: 1, memoryWorkingSetBytes: 1 }] },
        ],
      },
      n2: {
        node: null,
        pods: [
          { namespace: 'ns1', name: 'idle', uid: 'uid-idle', timestamp: T, window: '10s', containers: [{ name: 'a', cpuNanoCores: 0, memoryWorkingSetBytes: 8192 }] },
          { namespace: 'ns2', name: 'other', uid: 'uid-other', timestamp: T, window: '10s', containers: [{ name: 'a', cpuNanoCores: 3_000_000, memoryWorkingSetBytes: 8192 }] },
        ],
      },
    });
    app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', String(err));
      return reply.code(e.code).type('application/json').send(JSON.stringify(e.toStatus()));
    });
    registerMetricsApi(app, { registry, summaries, now: () => new Date('2026-01-02T03:05:00Z') });
    await app.ready();
  });
  afterEach(() => app.close());

  const get = async (url: string, accept?: string) => {
    const r = await app.inject({ method: 'GET', url, ...(accept ? { headers: { accept } } : {}) });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> & { items?: Record<string, unknown>[] } };
  };

  it('serves the group and resource list documents', async () => {
    expect((await get('/apis/metrics.k8s.io')).body).toMatchObject({ kind: 'APIGroup', name: 'metrics.k8s.io', preferredVersion: { groupVersion: 'metrics.k8s.io/v1beta1' } });
    const rl = await get('/apis/metrics.k8s.io/v1beta1');
    expect(rl.body['resources']).toEqual([
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ]);
  });

  it('lists PodMetrics of a namespace as metrics-server does, skipping unmeasured and replaced pods', async () => {
    const r = await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods', 'application/vnd.kubernetes.protobuf, application/json');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      kind: 'PodMetricsList',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: {},
      items: [
        {
          kind: 'PodMetrics',
          apiVersion: 'metrics.k8s.io/v1beta1',
          metadata: { name: 'busy', namespace: 'ns1', creationTimestamp: '2026-01-02T03:05:00Z', labels: { app: 'burn' } },
          timestamp: '2026-01-02T03:04:05Z',
          window: '10s',
          containers: [
            { name: 'b', usage: { cpu: '998765432n', memory: '1Mi' } },
            { name: 'a', usage: { cpu: '1m', memory: '4Ki' } },
          ],
        },
        {
          kind: 'PodMetrics',
          apiVersion: 'metrics.k8s.io/v1beta1',
          metadata: { name: 'idle', namespace: 'ns1', creationTimestamp: '2026-01-02T03:05:00Z', labels: { app: 'idle' } },
          timestamp: '2026-01-02T03:04:05Z',
          window: '10s',
          containers: [{ name: 'a', usage: { cpu: '0', memory: '8Ki' } }],
        },
      ],
    });
    // One summary per node per request.
    expect(summaries.calls.sort()).toEqual(['n1@10.0.0.2:10250', 'n2@10.0.0.2:10251']);
  });

  it('filters pods by label and field selectors, and lists every namespace', async () => {
    expect((await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods?labelSelector=app+in+(burn)')).body.items!.map((i) => (i['metadata'] as { name: string }).name)).toEqual(['busy']);
    expect((await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods?fieldSelector=metadata.name%3Didle')).body.items!.map((i) => (i['metadata'] as { name: string }).name)).toEqual(['idle']);
    expect((await get('/apis/metrics.k8s.io/v1beta1/pods')).body.items!.map((i) => (i['metadata'] as { name: string }).name)).toEqual(['busy', 'idle', 'other']);
    expect((await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods?fieldSelector=spec.nodeName%3Dn1')).status).toBe(400);
  });

  it('gets one PodMetrics, 404 when not measured', async () => {
    const r = await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns2/pods/other');
    expect(r.body).toMatchObject({ kind: 'PodMetrics', metadata: { name: 'other', namespace: 'ns2' }, containers: [{ name: 'a', usage: { cpu: '3m', memory: '8Ki' } }] });
    const missing = await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods/fresh');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods.metrics.k8s.io "ns1/fresh" not found' });
  });

  it('lists and gets NodeMetrics; nodes without usage or an agent endpoint are skipped', async () => {
    const r = await get('/apis/metrics.k8s.io/v1beta1/nodes');
    expect(r.body).toEqual({
      kind: 'NodeMetricsList',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: {},
      items: [{ kind: 'NodeMetrics', apiVersion: 'metrics.k8s.io/v1beta1', metadata: { name: 'n1', creationTimestamp: '2026-01-02T03:05:00Z', labels: { role: 'a' } }, timestamp: '2026-01-02T03:04:05Z', window: '10s', usage: { cpu: '1250m', memory: '2Gi' } }],
    });
    expect(summaries.calls.some((c) => c.startsWith('hollow'))).toBe(false);
    expect((await get('/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=role%3Db')).body.items).toEqual([]);
    expect((await get('/apis/metrics.k8s.io/v1beta1/nodes/n1')).body).toMatchObject({ kind: 'NodeMetrics', usage: { cpu: '1250m' } });
    expect((await get('/apis/metrics.k8s.io/v1beta1/nodes/n2')).status).toBe(404);
  });

  it('renders tables for kubectl get, and refuses writes and watches', async () => {
    const t = await get('/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
    expect(t.body['kind']).toBe('Table');
    expect((t.body['rows'] as { cells: unknown[] }[]).map((r) => r.cells)).toEqual([
      ['busy', '999765432n', '1028Ki', '10s'],
      ['idle', '0', '8Ki', '10s'],
    ]);
    expect((await app.inject({ method: 'DELETE', url: '/apis/metrics.k8s.io/v1beta1/nodes/n1' })).statusCode).toBe(405);
    expect((await get('/apis/metrics.k8s.io/v1beta1/nodes?watch=true')).status).toBe(405);
    expect((await get('/apis/metrics.k8s.io/v1beta1/deployments')).status).toBe(404);
  });
});
