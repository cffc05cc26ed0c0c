/**
 * Service ClusterIP and NodePort allocation in a real API server: automatic and explicit values,
 * conflicts and ranges as Kubernetes reports them, headless and ExternalName services, updates,
 * release on delete, uniqueness under concurrency, across restarts (also after kill -9) and across
 * two API servers on one etcd; the `kubernetes` Service; the default pod tolerations' flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, startApiServerWithClient, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { ApiServersOnEtcd, etcdBinary } from './harness/etcd.js';
import type { RawClient, RawResponse } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  protocol?: string;
}

interface Service {
  metadata: { name: string; resourceVersion?: string };
  spec: { type?: string; clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string; ports?: ServicePort[]; externalName?: string };
}

interface Status {
  reason: string;
  message: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

// Explicit values come from the static bands (10.43.0.0-10.43.1.0, 30000-30085), which automatic
// allocation leaves alone while the rest of the range has room, so they never collide with it.
const NS = 'svc-e2e';
const path = (ns = NS) => `/api/v1/namespaces/${ns}/services`;

function service(name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });
}

async function createNamespace(c: RawClient, name: string): Promise<void> {
  const r = await c.request('/api/v1/namespaces', { method: 'POST', body: JSON.stringify({ metadata: { name } }) });
  expect([201, 409]).toContain(r.status);
}

async function create(c: RawClient, name: string, spec: Record<string, unknown> = {}, ns = NS): Promise<Service> {
  const r = await c.request(path(ns), { method: 'POST', body: service(name, spec) });
  expect(r.status, r.body).toBe(201);
  return r.json as Service;
}

function expectInvalid(r: RawResponse, field: string, message: string): void {
  expect(r.status, r.body).toBe(422);
  const s = r.json as Status;
  expect(s.reason).toBe('Invalid');
  expect(s.details?.causes?.[0]?.field).toBe(field);
  expect(s.details?.causes?.[0]?.message).toContain(message);
  expect(s.message).toContain(message);
}

function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, b) => n * 256 + Number(b), 0);
}

describe('Service allocation', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: ApiServerProcess;
  let client: RawClient;
  const args = ['--default-not-ready-toleration-seconds', '120', '--default-unreachable-toleration-seconds', '45'];

  beforeAll(async () => {
    dir = tempDir('services');
    ({ server, client } = await startApiServerWithClient(dir.path, { extraArgs: args }));
    await createNamespace(client, NS);
  });

  afterAll(() => stopApiServerWithClient({ client, server, dir }));

  it('creates the kubernetes Service with the first IP of the range and endpoints at the API server', async () => {
    const svc = (await client.request('/api/v1/namespaces/default/services/kubernetes')).json as Service;
    expect(svc.spec.clusterIP).toBe('10.43.0.1');
    expect(svc.spec.ports).toEqual([{ name: 'https', protocol: 'TCP', port: 443, targetPort: server.port }]);
    const ep = (await client.request('/api/v1/namespaces/default/endpoints/kubernetes')).json as { subsets: unknown[] };
    expect(ep.subsets).toEqual([{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: server.port, protocol: 'TCP' }] }]);
    const slice = await client.request('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes');
    expect(slice.status).toBe(200);
    expect(slice.json).toMatchObject({ addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'] }], ports: [{ port: server.port }] });
  });

  it('allocates a ClusterIP from the default range and defaults the IP family fields', async () => {
    const svc = await create(client, 'auto');
    const ip = svc.spec.clusterIP!;
    expect(ip).toMatch(/^10\.43\.\d+\.\d+$/);
    expect(ipNumber(ip)).toBeGreaterThan(ipNumber('10.43.1.0'));
    expect(ipNumber(ip)).toBeLessThan(ipNumber('10.43.255.255'));
    expect(svc.spec.clusterIPs).toEqual([ip]);
    expect(svc.spec.ipFamilies).toEqual(['IPv4']);
    expect(svc.spec.ipFamilyPolicy).toBe('SingleStack');
    const empty = await create(client, 'empty-ip', { clusterIP: '' });
    expect(empty.spec.clusterIP).toMatch(/^10\.43\./);
    expect(empty.spec.clusterIP).not.toBe(ip);
    for (const type of ['NodePort', 'LoadBalancer']) expect((await create(client, `auto-${type.toLowerCase()}`, { type })).spec.clusterIP).toMatch(/^10\.43\./);
  });

  it('accepts a free explicit ClusterIP and rejects a taken or out-of-range one', async () => {
    expect((await create(client, 'explicit', { clusterIP: '10.43.0.100' })).spec.clusterIPs).toEqual(['10.43.0.100']);
    expectInvalid(await client.request(path(), { method: 'POST', body: service('explicit-dup', { clusterIP: '10.43.0.100' }) }), 'spec.clusterIP', 'provided IP is already allocated');
    expectInvalid(await client.request(path(), { method: 'POST', body: service('kube-ip', { clusterIP: '10.43.0.1' }) }), 'spec.clusterIP', 'provided IP is already allocated');
    for (const ip of ['10.44.0.5', '10.43.0.0', '10.43.255.255']) {
      expectInvalid(await client.request(path(), { method: 'POST', body: service('out', { clusterIP: ip }) }), 'spec.clusterIP', 'provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16');
    }
    expect((await client.request(`${path()}/explicit-dup`)).status).toBe(404);
  });

  it('allocates nothing for headless and ExternalName services', async () => {
    const headless = await create(client, 'headless', { clusterIP: 'None', selector: { app: 'x' } });
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.clusterIPs).toEqual(['None']);
    const ext = await create(client, 'external', { type: 'ExternalName', externalName: 'example.com', ports: [] });
    expect(ext.spec.clusterIP).toBeUndefined();
    expect(ext.spec.clusterIPs).toBeUndefined();
    const bad = await client.request(path(), { method: 'POST', body: service('headless-np', { type: 'NodePort', clusterIP: 'None' }) });
    expect(bad.status).toBe(422);
  });

  it('allocates node ports and rejects taken or out-of-range ones', async () => {
    const np = await create(client, 'np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 30081 }] });
    const auto = np.spec.ports![0]!.nodePort!;
    expect(auto).toBeGreaterThanOrEqual(30000);
    expect(auto).toBeLessThanOrEqual(32767);
    expect(np.spec.ports![1]!.nodePort).toBe(30081);
    const lb = await create(client, 'lb', { type: 'LoadBalancer' });
    expect(lb.spec.ports![0]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(lb.spec.ports![0]!.nodePort).not.toBe(auto);
    expectInvalid(await client.request(path(), { method: 'POST', body: service('np-dup', { type: 'NodePort', ports: [{ port: 80, nodePort: 30081 }] }) }), 'spec.ports[0].nodePort', 'provided port is already allocated');
    expectInvalid(await client.request(path(), { method: 'POST', body: service('np-dup2', { type: 'NodePort', ports: [{ port: 80, nodePort: auto }] }) }), 'spec.ports[0].nodePort', 'provided port is already allocated');
    expectInvalid(await client.request(path(), { method: 'POST', body: service('np-out', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }) }), 'spec.ports[0].nodePort', 'provided port is not in the valid range. The range of valid ports is 30000-32767');
    expect((await client.request(path(), { method: 'POST', body: service('cip-np', { ports: [{ port: 80, nodePort: 30082 }] }) })).status).toBe(422);
  });

  it('keeps allocated values on update, refuses to change the ClusterIP and releases node ports when the type becomes ClusterIP', async () => {
    const svc = await create(client, 'upd', { type: 'NodePort', ports: [{ port: 80, nodePort: 30070 }] });
    // A PUT that omits the allocated values keeps them (kubectl apply/replace).
    const put = await client.request(`${path()}/upd`, { method: 'PUT', body: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'upd' }, spec: { type: 'NodePort', ports: [{ port: 80 }], selector: { app: 'y' } } }) });
    expect(put.status, put.body).toBe(200);
    expect((put.json as Service).spec.clusterIP).toBe(svc.spec.clusterIP);
    expect((put.json as Service).spec.ports![0]!.nodePort).toBe(30070);
    const change = await client.request(`${path()}/upd`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { clusterIP: '10.43.0.200', clusterIPs: ['10.43.0.200'] } }) });
    expectInvalid(change, 'spec.clusterIP', 'field is immutable');
    // Dry-run of a NodePort -> ClusterIP switch changes nothing.
    const dry = await client.request(`${path()}/upd?dryRun=All`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { type: 'ClusterIP' } }) });
    expect(dry.status, dry.body).toBe(200);
    expect((dry.json as Service).spec.ports![0]!.nodePort).toBeUndefined();
    expectInvalid(await client.request(path(), { method: 'POST', body: service('upd-steal', { type: 'NodePort', ports: [{ port: 80, nodePort: 30070 }] }) }), 'spec.ports[0].nodePort', 'already allocated');
    const toClusterIP = await client.request(`${path()}/upd`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { type: 'ClusterIP' } }) });
    expect(toClusterIP.status, toClusterIP.body).toBe(200);
    expect((toClusterIP.json as Service).spec.ports![0]!.nodePort).toBeUndefined();
    expect((toClusterIP.json as Service).spec.clusterIP).toBe(svc.spec.clusterIP);
    expect((await create(client, 'upd-steal', { type: 'NodePort', ports: [{ port: 80, nodePort: 30070 }] })).spec.ports![0]!.nodePort).toBe(30070);
    // ExternalName gives the ClusterIP back.
    const toExternal = await client.request(`${path()}/upd`, { method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { type: 'ExternalName', externalName: 'example.org' } }) });
    expect(toExternal.status, toExternal.body).toBe(200);
    expect((toExternal.json as Service).spec.clusterIP).toBeUndefined();
    expect((await create(client, 'upd-ip', { clusterIP: svc.spec.clusterIP })).spec.clusterIP).toBe(svc.spec.clusterIP);
  });

  it('releases the ClusterIP and node ports when the Service is deleted', async () => {
    await create(client, 'del', { type: 'NodePort', clusterIP: '10.43.0.150', ports: [{ port: 80, nodePort: 30050 }] });
    expect((await client.request(`${path()}/del`, { method: 'DELETE' })).status).toBe(200);
    const again = await create(client, 'del-again', { type: 'NodePort', clusterIP: '10.43.0.150', ports: [{ port: 80, nodePort: 30050 }] });
    expect(again.spec.clusterIP).toBe('10.43.0.150');
    expect(again.spec.ports![0]!.nodePort).toBe(30050);
  });

  it('does not allocate for a dry-run create', async () => {
    const r = await client.request(`${path()}?dryRun=All`, { method: 'POST', body: service('dry', { clusterIP: '10.43.0.160' }) });
    expect(r.status, r.body).toBe(201);
    await create(client, 'dry', { clusterIP: '10.43.0.160' });
  });

  it('gives 200 concurrent creates 200 different ClusterIPs and node ports', async () => {
    const ns = 'svc-e2e-load';
    await createNamespace(client, ns);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request(path(ns), { method: 'POST', body: service(`load-${i}`, { type: 'NodePort' }) })));
    for (const r of results) expect(r.status, r.body).toBe(201);
    const svcs = results.map((r) => r.json as Service);
    expect(new Set(svcs.map((s) => s.spec.clusterIP)).size).toBe(200);
    expect(new Set(svcs.map((s) => s.spec.ports![0]!.nodePort)).size).toBe(200);
  });

  it('keeps every allocation across a restart', async () => {
    const before = await create(client, 'before-restart', { type: 'NodePort' });
    client.close();
    await server.stop();
    ({ server, client } = await startApiServerWithClient(dir.path, { extraArgs: args }));
    expectInvalid(await client.request(path(), { method: 'POST', body: service('after-1', { clusterIP: before.spec.clusterIP }) }), 'spec.clusterIP', 'provided IP is already allocated');
    expectInvalid(await client.request(path(), { method: 'POST', body: service('after-2', { type: 'NodePort', ports: [{ port: 80, nodePort: before.spec.ports![0]!.nodePort }] }) }), 'spec.ports[0].nodePort', 'provided port is already allocated');
    // New automatic allocations avoid everything allocated before the restart.
    const all = (await client.request('/api/v1/services')).json as { items: Service[] };
    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => create(client, `after-auto-${i}`, { type: 'NodePort' })));
    const ips = [...all.items, ...created].map((s) => s.spec.clusterIP).filter((ip) => ip && ip !== 'None');
    expect(new Set(ips).size).toBe(ips.length);
    // The kubernetes Service follows the new port.
    const k = (await client.request('/api/v1/namespaces/default/services/kubernetes')).json as Service;
    expect(k.spec.clusterIP).toBe('10.43.0.1');
    expect(k.spec.ports![0]!.targetPort).toBe(server.port);
    const ep = (await client.request('/api/v1/namespaces/default/endpoints/kubernetes')).json as { subsets: { ports: { port: number }[] }[] };
    expect(ep.subsets.map((s) => s.ports[0]!.port)).toEqual([server.port]);
  });

  it('has no duplicate after being killed during concurrent creates', async () => {
    const ns = 'svc-e2e-crash';
    await createNamespace(client, ns);
    const load = Promise.all(Array.from({ length: 100 }, (_, i) => client.request(path(ns), { method: 'POST', body: service(`crash-${i}`, { type: 'NodePort' }) }).catch(() => undefined)));
    await waitFor('some creates', async () => (((await client.request(path(ns))).json as { items: unknown[] }).items.length >= 10 ? true : undefined), { timeoutMs: 20_000, intervalMs: 5 });
    await server.kill();
    await load;
    client.close();
    ({ server, client } = await startApiServerWithClient(dir.path, { extraArgs: args }));
    const more = await Promise.all(Array.from({ length: 100 }, (_, i) => create(client, `post-crash-${i}`, { type: 'NodePort' }, ns)));
    expect(more.length).toBe(100);
    const items = ((await client.request('/api/v1/services')).json as { items: Service[] }).items;
    const ips = items.map((s) => s.spec.clusterIP).filter((ip) => ip && ip !== 'None');
    expect(new Set(ips).size).toBe(ips.length);
    const ports = items.flatMap((s) => (s.spec.ports ?? []).map((p) => p.nodePort)).filter((p) => p);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('adds the not-ready and unreachable tolerations with the flags\' seconds', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'tol' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
    const r = await client.request(`/api/v1/namespaces/${NS}/pods`, { method: 'POST', body: JSON.stringify(pod) });
    expect(r.status, r.body).toBe(201);
    const tolerations = (r.json as { spec: { tolerations: unknown[] } }).spec.tolerations;
    expect(tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 120 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 45 },
    ]);
    const own = { ...pod, metadata: { name: 'tol-own' }, spec: { ...pod.spec, tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 7 }] } };
    const r2 = await client.request(`/api/v1/namespaces/${NS}/pods`, { method: 'POST', body: JSON.stringify(own) });
    expect((r2.json as { spec: { tolerations: unknown[] } }).spec.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 7 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 45 },
    ]);
  });
});

describe('custom service ranges', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: ApiServerProcess;
  let client: RawClient;

  beforeAll(async () => {
    dir = tempDir('services-ranges');
    ({ server, client } = await startApiServerWithClient(dir.path, { extraArgs: ['--service-cluster-ip-range', '10.96.0.0/24', '--service-node-port-range', '31000-31009'] }));
    await createNamespace(client, NS);
  });

  afterAll(() => stopApiServerWithClient({ client, server, dir }));

  it('allocates from the ranges the flags give, until they are full', async () => {
    const k = (await client.request('/api/v1/namespaces/default/services/kubernetes')).json as Service;
    expect(k.spec.clusterIP).toBe('10.96.0.1');
    const svc = await create(client, 'one', { type: 'NodePort' });
    expect(ipNumber(svc.spec.clusterIP!)).toBeGreaterThan(ipNumber('10.96.0.1'));
    expect(ipNumber(svc.spec.clusterIP!)).toBeLessThan(ipNumber('10.96.0.255'));
    expect(svc.spec.ports![0]!.nodePort).toBeGreaterThanOrEqual(31000);
    expect(svc.spec.ports![0]!.nodePort).toBeLessThanOrEqual(31009);
    expectInvalid(await client.request(path(), { method: 'POST', body: service('out', { clusterIP: '10.43.0.10' }) }), 'spec.clusterIP', 'The range of valid IPs is 10.96.0.0/24');
    expectInvalid(await client.request(path(), { method: 'POST', body: service('out', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }) }), 'spec.ports[0].nodePort', 'The range of valid ports is 31000-31009');
    const rest = await Promise.all(Array.from({ length: 10 }, (_, i) => client.request(path(), { method: 'POST', body: service(`fill-${i}`, { type: 'NodePort' }) })));
    expect(rest.filter((r) => r.status === 201).length).toBe(9);
    const full = rest.find((r) => r.status !== 201)!;
    expect(full.status).toBe(500);
    expect(full.body).toContain('range is full');
  });

  it('refuses bad range flags', async () => {
    const bad = tempDir('services-bad-flags');
    try {
      await expect(startApiServer(bad.path, { extraArgs: ['--service-cluster-ip-range', 'fd00::/108'] })).rejects.toThrow();
    } finally {
      await killAll();
      bad.remove();
    }
  });
});

if (!etcdBinary) console.warn('skipping the two-server allocation test: etcd is not installed (apt-get install etcd-server)');

describe.skipIf(!etcdBinary)('Service allocation with two API servers on one etcd', () => {
  const servers = new ApiServersOnEtcd();
  let dir: ReturnType<typeof tempDir>;
  let a: ApiServerProcess;
  let b: ApiServerProcess;
  let ca: RawClient;
  let cb: RawClient;

  beforeAll(async () => {
    dir = tempDir('services-etcd');
    ({ a, b, ca, cb } = await servers.start(dir.path, 28000));
    await createNamespace(ca, NS);
  });

  afterAll(async () => {
    await servers.stop();
    dir?.remove();
  });

  it('never gives one value to Services created through different servers at the same time', async () => {
    await waitFor('namespace on b', async () => ((await cb.request(`/api/v1/namespaces/${NS}`)).status === 200 ? true : undefined));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? ca : cb).request(path(), { method: 'POST', body: service(`ha-${i}`, { type: 'NodePort' }) })));
    for (const r of results) expect(r.status, r.body).toBe(201);
    const svcs = results.map((r) => r.json as Service);
    expect(new Set(svcs.map((s) => s.spec.clusterIP)).size).toBe(100);
    expect(new Set(svcs.map((s) => s.spec.ports![0]!.nodePort)).size).toBe(100);
    // The same explicit value requested through both servers at once: exactly one wins.
    const race = await Promise.all([ca, cb].map((c, i) => c.request(path(), { method: 'POST', body: service(`race-${i}`, { clusterIP: '10.43.0.77' }) })));
    expect(race.map((r) => r.status).sort()).toEqual([201, 422]);
    // The kubernetes Service points at both servers.
    const ep = (await ca.request('/api/v1/namespaces/default/endpoints/kubernetes')).json as { subsets: { ports: { port: number }[] }[] };
    expect(ep.subsets.map((s) => s.ports[0]!.port).sort()).toEqual([a.port, b.port].sort());
  });
});
