import type { KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { EndpointsController, EndpointSliceController, serviceEndpoints } from './endpoints-controller.js';

const SERVICES = res('services');
const PODS = res('pods');
const ENDPOINTS = res('endpoints');
const SLICES = res('endpointslices.discovery.k8s.io');

type Obj = KubeObject & Record<string, unknown>;

interface PodOpts {
  ip?: string;
  ready?: boolean;
  node?: string;
  labels?: Record<string, string>;
  httpPort?: number;
  terminating?: boolean;
  phase?: string;
  hostname?: string;
  subdomain?: string;
}

function pod(name: string, o: PodOpts = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.terminating ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: {
      ...(o.node === undefined ? { nodeName: 'n1' } : o.node ? { nodeName: o.node } : {}),
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
      containers: [{ name: 'c', image: 'a', ports: [{ name: 'http', containerPort: o.httpPort ?? 8080 }] }],
    },
    status: { phase: o.phase ?? 'Running', ...(o.ip === '' ? {} : { podIP: o.ip ?? '10.0.0.1' }), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

function service(spec: Record<string, unknown> = {}, labels: Record<string, string> = { tier: 'front' }): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', labels },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  };
}

interface Addr {
  ip: string;
  nodeName?: string;
  hostname?: string;
  targetRef?: { kind: string; name: string; namespace: string; uid: string };
}
interface Subset {
  addresses?: Addr[];
  notReadyAddresses?: Addr[];
  ports?: { name?: string; port: number; protocol: string }[];
}
interface Slice extends KubeObject {
  addressType: string;
  endpoints: { addresses: string[]; conditions: { ready: boolean; serving: boolean; terminating: boolean }; nodeName?: string; hostname?: string; targetRef?: { kind: string; name: string; uid: string } }[];
  ports: { name: string; port: number; protocol: string }[];
}

describe('serviceEndpoints', () => {
  it('returns nothing for a service without a selector', () => {
    expect(serviceEndpoints(service({ selector: undefined }), [pod('a') as never])).toEqual([]);
  });

  it('skips pods that do not match, have no IP, or are finished', () => {
    const groups = serviceEndpoints(service(), [
      pod('a', { ip: '10.0.0.1' }),
      pod('other', { ip: '10.0.0.2', labels: { app: 'db' } }),
      pod('noip', { ip: '' }),
      pod('done', { ip: '10.0.0.3', phase: 'Succeeded' }),
      pod('failed', { ip: '10.0.0.4', phase: 'Failed' }),
    ] as never);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.addresses.map((a) => a.pod.name)).toEqual(['a']);
  });
});

describe('EndpointsController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(svc: Obj | undefined, pods: Obj[], existing: Obj[] = []): Promise<EndpointsController> {
    t = testContext([
      { resource: SERVICES, objects: svc ? [svc] : [] },
      { resource: PODS, objects: pods },
      { resource: ENDPOINTS, objects: existing },
    ]);
    const c = new EndpointsController(t.ctx);
    await t.start();
    return c;
  }

  const endpoints = () => t.client.peek<Obj & { subsets?: Subset[] }>(ENDPOINTS, 'default', 'web');

  it('lists ready pods in addresses and not-ready pods in notReadyAddresses, named like the service with its labels', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', node: 'n1' }), pod('b', { ip: '10.0.0.2', ready: false, node: 'n2' }), pod('noip', { ip: '' }), pod('x', { ip: '10.0.0.9', labels: { app: 'db' } })]);
    await c.sync('default/web');
    const ep = endpoints()!;
    expect(ep.metadata.labels).toEqual({ tier: 'front' });
    expect(ep.kind).toBe('Endpoints');
    expect(ep.subsets).toEqual([
      {
        addresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } }],
        notReadyAddresses: [{ ip: '10.0.0.2', nodeName: 'n2', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('resolves named target ports per pod: different container ports give separate subsets', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', httpPort: 8080 }), pod('b', { ip: '10.0.0.2', httpPort: 9090 }), pod('c', { ip: '10.0.0.3', httpPort: 8080 })]);
    await c.sync('default/web');
    const subsets = endpoints()!.subsets!;
    expect(subsets).toHaveLength(2);
    const byPort = new Map(subsets.map((s) => [s.ports![0]!.port, (s.addresses ?? []).map((a) => a.ip)]));
    expect(byPort.get(8080)).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(byPort.get(9090)).toEqual(['10.0.0.2']);
  });

  it('uses numeric target ports and the port itself when there is no target port', async () => {
    const c = await setup(service({ ports: [{ name: 'a', port: 80, targetPort: 8081 }, { name: 'b', port: 443, protocol: 'TCP' }] }), [pod('a')]);
    await c.sync('default/web');
    expect(endpoints()!.subsets![0]!.ports).toEqual([
      { name: 'a', port: 8081, protocol: 'TCP' },
      { name: 'b', port: 443, protocol: 'TCP' },
    ]);
  });

  it('keeps the ports a pod serves when it lacks a named one, and leaves out pods serving none', async () => {
    const svc = service({ ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100, targetPort: 'metrics' }] });
    const withMetrics = pod('a', { ip: '10.0.0.1' });
    (withMetrics['spec'] as { containers: { ports: unknown[] }[] }).containers[0]!.ports.push({ name: 'metrics', containerPort: 9100 });
    const none = pod('z', { ip: '10.0.0.9' });
    (none['spec'] as { containers: { ports: unknown[] }[] }).containers[0]!.ports = [];
    const c = await setup(svc, [withMetrics, pod('b', { ip: '10.0.0.2' }), none]);
    await c.sync('default/web');
    const subsets = endpoints()!.subsets!;
    expect(subsets.map((s) => [s.ports!.map((p) => `${p.name}:${p.port}`), s.addresses!.map((a) => a.ip)]).sort()).toEqual([
      [['http:8080'], ['10.0.0.2']],
      [['http:8080', 'metrics:9100'], ['10.0.0.1']],
    ]);
  });

  it('lists pods of a headless service without ports, not of a ClusterIP one', async () => {
    const c = await setup(service({ ports: [], clusterIP: 'None' }), [pod('a', { ip: '10.0.0.1' })]);
    await c.sync('default/web');
    expect(endpoints()!.subsets).toEqual([{ addresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } }], ports: [] }]);
    await t.stop();
    const c2 = await setup(service({ ports: [], clusterIP: '10.96.0.10' }), [pod('a', { ip: '10.0.0.1' })]);
    await c2.sync('default/web');
    expect(endpoints()!.subsets).toEqual([]);
  });

  it('excludes terminating pods', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1' }), pod('gone', { ip: '10.0.0.2', terminating: true }), pod('gone2', { ip: '10.0.0.3', terminating: true, ready: false })]);
    await c.sync('default/web');
    const s = endpoints()!.subsets!;
    expect(s).toHaveLength(1);
    expect(s[0]!.addresses!.map((a) => a.ip)).toEqual(['10.0.0.1']);
    expect(s[0]!.notReadyAddresses).toBeUndefined();
  });

  it('publishNotReadyAddresses lists not-ready and terminating pods as addresses', async () => {
    const c = await setup(service({ publishNotReadyAddresses: true }), [pod('a', { ip: '10.0.0.1', ready: false }), pod('b', { ip: '10.0.0.2', terminating: true })]);
    await c.sync('default/web');
    const s = endpoints()!.subsets!;
    expect(s[0]!.addresses!.map((a) => a.ip)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(s[0]!.notReadyAddresses).toBeUndefined();
  });

  it('sets hostname only for pods whose subdomain is the service name', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', hostname: 'a', subdomain: 'web' }), pod('b', { ip: '10.0.0.2', hostname: 'b', subdomain: 'other' })]);
    await c.sync('default/web');
    const addrs = endpoints()!.subsets![0]!.addresses!;
    expect(addrs.map((a) => a.hostname)).toEqual(['a', undefined]);
  });

  it('leaves a service without selector untouched', async () => {
    const manual = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'default' }, subsets: [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80, protocol: 'TCP' }] }] };
    const c = await setup(service({ selector: undefined }), [pod('a')], [manual]);
    await c.sync('default/web');
    expect(t.client.writes()).toEqual([]);
    expect(endpoints()!.subsets).toEqual(manual.subsets);
  });

  it('does not write when nothing changed', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1' }), pod('b', { ip: '10.0.0.2', ready: false })]);
    await c.sync('default/web');
    expect(t.client.writes().map((w) => w.verb)).toEqual(['create']);
    await t.settle();
    await c.sync('default/web');
    await c.sync('default/web');
    expect(t.client.writes()).toHaveLength(1);
  });

  it('updates endpoints on the next sync after a pod readiness flip', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1' }), pod('b', { ip: '10.0.0.2' })]);
    await c.sync('default/web');
    await t.settle();
    await t.client.patch(PODS, 'default', 'b', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, 'merge', { subresource: 'status' });
    await t.settle();
    expect(c.queue.len()).toBeGreaterThan(0);
    await c.sync('default/web');
    const s = endpoints()!.subsets![0]!;
    expect(s.addresses!.map((a) => a.ip)).toEqual(['10.0.0.1']);
    expect(s.notReadyAddresses!.map((a) => a.ip)).toEqual(['10.0.0.2']);
    expect(t.client.writes().map((w) => `${w.verb} ${w.resource}`)).toEqual(['create endpoints', 'patch pods', 'update endpoints']);
  });

  it('updates labels when the service labels change', async () => {
    const c = await setup(service(), [pod('a')]);
    await c.sync('default/web');
    await t.settle();
    await t.client.patch(SERVICES, 'default', 'web', { metadata: { labels: { tier: 'back' } } }, 'merge');
    await t.settle();
    await c.sync('default/web');
    expect(endpoints()!.metadata.labels).toEqual({ tier: 'back' });
  });

  it('deletes the endpoints of a deleted service', async () => {
    const c = await setup(service(), [pod('a')]);
    await c.sync('default/web');
    await t.settle();
    await t.client.delete(SERVICES, 'default', 'web');
    await t.settle();
    await c.sync('default/web');
    expect(endpoints()).toBeUndefined();
  });
});

describe('EndpointSliceController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(svc: Obj | undefined, pods: Obj[], existing: Obj[] = []): Promise<EndpointSliceController> {
    t = testContext([
      { resource: SERVICES, objects: svc ? [svc] : [] },
      { resource: PODS, objects: pods },
      { resource: SLICES, objects: existing },
    ]);
    const c = new EndpointSliceController(t.ctx);
    await t.start();
    return c;
  }

  const slices = () => t.client.all<Slice>(SLICES, 'default').sort((a, b) => a.ports[0]!.port - b.ports[0]!.port);

  it('creates a slice with labels, owner, address type, conditions, targetRef and nodeName', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', node: 'n1' }), pod('b', { ip: '10.0.0.2', ready: false, node: 'n2' }), pod('noip', { ip: '' })]);
    await c.sync('default/web');
    const [s, ...rest] = slices();
    expect(rest).toEqual([]);
    expect(s!.metadata.name).toMatch(/^web-/);
    expect(s!.metadata.labels).toEqual({ tier: 'front', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
    expect(s!.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }]);
    expect(s!.addressType).toBe('IPv4');
    expect(s!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(s!.endpoints).toEqual([
      { addresses: ['10.0.0.1'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } },
      { addresses: ['10.0.0.2'], conditions: { ready: false, serving: false, terminating: false }, nodeName: 'n2', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } },
    ]);
  });

  it('keeps terminating pods with terminating=true, serving = their readiness', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', terminating: true }), pod('b', { ip: '10.0.0.2', terminating: true, ready: false })]);
    await c.sync('default/web');
    expect(slices()[0]!.endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ['10.0.0.1', { ready: false, serving: true, terminating: true }],
      ['10.0.0.2', { ready: false, serving: false, terminating: true }],
    ]);
  });

  it('publishNotReadyAddresses makes every endpoint ready, serving still the pod readiness', async () => {
    const c = await setup(service({ publishNotReadyAddresses: true }), [pod('a', { ip: '10.0.0.1', ready: false }), pod('b', { ip: '10.0.0.2', terminating: true })]);
    await c.sync('default/web');
    expect(slices()[0]!.endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ['10.0.0.1', { ready: true, serving: false, terminating: false }],
      ['10.0.0.2', { ready: true, serving: true, terminating: true }],
    ]);
  });

  it('gives pods with different numbers for a named port separate slices', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1', httpPort: 8080 }), pod('b', { ip: '10.0.0.2', httpPort: 9090 })]);
    await c.sync('default/web');
    const s = slices();
    expect(s.map((x) => [x.ports, x.endpoints.map((e) => e.addresses[0])])).toEqual([
      [[{ name: 'http', port: 8080, protocol: 'TCP' }], ['10.0.0.1']],
      [[{ name: 'http', port: 9090, protocol: 'TCP' }], ['10.0.0.2']],
    ]);
  });

  it('does not write when nothing changed, and updates the slice in place on a readiness flip', async () => {
    const c = await setup(service(), [pod('a', { ip: '10.0.0.1' })]);
    await c.sync('default/web');
    await t.settle();
    await c.sync('default/web');
    expect(t.client.writes().map((w) => w.verb)).toEqual(['create']);
    const name = slices()[0]!.metadata.name;
    await t.client.patch(PODS, 'default', 'a', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, 'merge', { subresource: 'status' });
    await t.settle();
    await c.sync('default/web');
    const s = slices();
    expect(s).toHaveLength(1);
    expect(s[0]!.metadata.name).toBe(name);
    expect(s[0]!.endpoints[0]!.conditions).toEqual({ ready: false, serving: false, terminating: false });
  });

  it('keeps one empty slice for a service without endpoints', async () => {
    const c = await setup(service(), []);
    await c.sync('default/web');
    const s = slices();
    expect(s).toHaveLength(1);
    expect(s[0]!.endpoints).toEqual([]);
    expect(s[0]!.ports).toEqual([]);
  });

  it('leaves a service without selector alone (and its user-managed slices)', async () => {
    const mine = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-manual', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'me' } }, addressType: 'IPv4', endpoints: [], ports: [] };
    const c = await setup(service({ selector: undefined }), [pod('a')], [mine]);
    await c.sync('default/web');
    expect(t.client.writes()).toEqual([]);
  });

  it('deletes its slices when the service goes away', async () => {
    const c = await setup(service(), [pod('a')]);
    await c.sync('default/web');
    await t.settle();
    await t.client.delete(SERVICES, 'default', 'web');
    await t.settle();
    await c.sync('default/web');
    expect(slices()).toEqual([]);
  });
});
