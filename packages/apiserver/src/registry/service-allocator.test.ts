import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLevel } from 'memory-level';
import pino from 'pino';
import { ApiError, type KubeObject } from '@flotilla/api';
import { LevelStorage, type LevelDatabase } from '../storage/level-storage.js';
import type { Storage, StorageEvent } from '../storage/storage.js';
import { formatIPv4, parseIPv4, parsePortRange, parseServiceCidr, ServiceAllocator, type ServiceAllocatorOptions } from './service-allocator.js';

const logger = pino({ level: 'silent' });

function svc(name: string, spec: Record<string, unknown>, namespace = 'default'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, uid: randomUUID() }, spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }], ...spec } };
}

function specOf(o: KubeObject): { clusterIP?: string; clusterIPs?: string[]; ports: { port: number; nodePort?: number; protocol?: string }[]; healthCheckNodePort?: number } {
  return o['spec'] as never;
}

async function invalidCause(p: Promise<unknown>): Promise<{ field?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.code).toBe(422);
    return e.details!.causes![0]!;
  }
  throw new Error('expected a 422');
}

/** A storage whose subscribers never hear anything: a server with a view that never catches up. */
class DeafStorage implements Storage {
  constructor(private readonly s: Storage) {}
  open = () => this.s.open();
  close = () => this.s.close();
  currentRevision = () => this.s.currentRevision();
  compactedRevision = () => this.s.compactedRevision();
  get = (k: string) => this.s.get(k);
  list = (p: string, o?: { startAfter?: string; limit?: number }) => this.s.list(p, o);
  create: Storage['create'] = (k, v) => this.s.create(k, v);
  update: Storage['update'] = (k, v, e) => this.s.update(k, v, e);
  delete: Storage['delete'] = (k, e) => this.s.delete(k, e);
  history: Storage['history'] = (a, o) => this.s.history(a, o);
  subscribe = (_l: (e: readonly StorageEvent[]) => void) => () => undefined;
  compact = (r: number) => this.s.compact(r);
  stats = () => this.s.stats();
}

let storages: Storage[] = [];
let allocators: ServiceAllocator[] = [];

async function newStorage(): Promise<Storage> {
  const db = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as LevelDatabase;
  const s = new LevelStorage({ db });
  await s.open();
  storages.push(s);
  return s;
}

/** An allocator; `services` plays the stored Services (what the cache and storage would hold). */
async function newAllocator(storage: Storage, services: KubeObject[] = [], options: Partial<ServiceAllocatorOptions> = {}): Promise<ServiceAllocator> {
  const a = new ServiceAllocator({
    storage,
    serviceCidr: parseServiceCidr('10.43.0.0/16'),
    nodePortRange: parsePortRange('30000-32767'),
    logger,
    sharedStorage: false,
    listServices: () => services,
    readNamespaceServices: async (ns) => services.filter((s) => s.metadata.namespace === ns),
    repairIntervalMs: 3_600_000,
    ...options,
  });
  await a.start();
  allocators.push(a);
  return a;
}

/** Creates a Service the way the store does: begin, "write", finish. */
async function create(a: ServiceAllocator, o: KubeObject, services?: KubeObject[]): Promise<KubeObject> {
  const finish = await a.beginCreate(o, { dryRun: false });
  services?.push(o);
  await finish(true);
  return o;
}

afterEach(async () => {
  for (const a of allocators) a.stop();
  for (const s of storages) await s.close();
  allocators = [];
  storages = [];
});

describe('range parsing', () => {
  it('parses and normalises IPv4 CIDRs and rejects what it does not support', () => {
    expect(parseServiceCidr('10.43.0.0/16')).toMatchObject({ text: '10.43.0.0/16', prefixLength: 16, network: parseIPv4('10.43.0.0'), broadcast: parseIPv4('10.43.255.255') });
    expect(parseServiceCidr('10.96.5.7/12').text).toBe('10.96.0.0/12');
    for (const bad of ['10.43.0.0', '10.43.0.0/8', '10.43.0.0/31', '300.1.1.1/16', 'fd00::/108', '10.43.0.0/16,fd00::/108', 'x/16']) expect(() => parseServiceCidr(bad), bad).toThrow();
    expect(formatIPv4(parseIPv4('192.168.1.254')!)).toBe('192.168.1.254');
    expect(parseIPv4('01.2.3.4')).toBeUndefined();
  });

  it('parses port ranges', () => {
    expect(parsePortRange('30000-32767')).toEqual({ min: 30000, max: 32767, text: '30000-32767' });
    for (const bad of ['30000', '0-10', '100-50', '1-70000', 'a-b']) expect(() => parsePortRange(bad), bad).toThrow();
  });
});

describe('ServiceAllocator', () => {
  it('gives every concurrent create its own IP, never the network, first or broadcast address', async () => {
    const a = await newAllocator(await newStorage());
    const created = await Promise.all(Array.from({ length: 300 }, (_, i) => create(a, svc(`s${i}`, {}))));
    const ips = created.map((o) => specOf(o).clusterIP!);
    expect(new Set(ips).size).toBe(300);
    for (const o of created) expect(specOf(o).clusterIPs).toEqual([specOf(o).clusterIP]);
    for (const ip of ips) {
      expect(ip).toMatch(/^10\.43\.\d+\.\d+$/);
      expect(['10.43.0.0', '10.43.0.1', '10.43.255.255']).not.toContain(ip);
    }
    expect(a.ips.usedCount).toBe(300);
  });

  it('never hands one IP to two servers, even when one never sees the other allocate', async () => {
    const storage = await newStorage();
    // A /28 has 13 automatic addresses: the two servers must collide and sort it out in storage.
    const opts = { serviceCidr: parseServiceCidr('10.0.0.0/28') };
    const a = await newAllocator(storage, [], opts);
    const b = await newAllocator(new DeafStorage(storage), [], opts);
    const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => create(i % 2 ? a : b, svc(`s${i}`, {}))));
    const ips = results.filter((r) => r.status === 'fulfilled').map((r) => specOf((r as PromiseFulfilledResult<KubeObject>).value).clusterIP);
    expect(ips.length).toBe(13);
    expect(new Set(ips).size).toBe(13);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as ApiError);
    expect(failed.map((e) => e.code)).toEqual([500, 500, 500]);
    expect(failed[0]!.message).toMatch(/range is full/);
  });

  it('allocates automatically from the dynamic band first, then from the static band', async () => {
    const a = await newAllocator(await newStorage(), [], { nodePortRange: parsePortRange('30000-30099') });
    // 100 ports: a static band of 16 (30000-30015), as Kubernetes computes it.
    const created = await Promise.all(Array.from({ length: 84 }, (_, i) => create(a, svc(`s${i}`, { type: 'NodePort' }))));
    for (const o of created) {
      expect(specOf(o).ports[0]!.nodePort).toBeGreaterThanOrEqual(30016);
      // A /16 has a static band of 256 addresses after the network address.
      expect(parseIPv4(specOf(o).clusterIP!)).toBeGreaterThan(parseIPv4('10.43.1.0')!);
    }
    const next = await create(a, svc('static', { type: 'NodePort' }));
    expect(specOf(next).ports[0]!.nodePort).toBeLessThan(30016);
  });

  it('checks explicit IPs: in range and free', async () => {
    const a = await newAllocator(await newStorage());
    await create(a, svc('one', { clusterIP: '10.43.7.7' }));
    expect(await invalidCause(a.beginCreate(svc('two', { clusterIP: '10.43.7.7' }), { dryRun: false }))).toEqual({ reason: 'FieldValueInvalid', field: 'spec.clusterIP', message: 'Invalid value: "10.43.7.7": provided IP is already allocated' });
    for (const ip of ['10.44.0.1', '10.43.0.0', '10.43.255.255']) {
      expect((await invalidCause(a.beginCreate(svc('three', { clusterIP: ip }), { dryRun: false }))).message).toBe(`Invalid value: "${ip}": provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16`);
    }
    // The first address is given on request (to the kubernetes Service).
    expect(specOf(await create(a, svc('kubernetes', { clusterIP: '10.43.0.1' }))).clusterIP).toBe('10.43.0.1');
  });

  it('allocates nothing for headless and ExternalName services', async () => {
    const a = await newAllocator(await newStorage());
    const headless = await create(a, svc('h', { clusterIP: 'None' }));
    expect(specOf(headless).clusterIPs).toEqual(['None']);
    const ext = await create(a, svc('e', { type: 'ExternalName', externalName: 'example.com', ports: [] }));
    expect(specOf(ext).clusterIP).toBeUndefined();
    expect(a.ips.usedCount + a.nodePorts.usedCount).toBe(0);
  });

  it('allocates node ports, shares one between protocols of a port, checks explicit ones', async () => {
    const a = await newAllocator(await newStorage());
    const np = await create(a, svc('np', { type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'web', port: 80, protocol: 'TCP', nodePort: 30080 }] }));
    const ports = specOf(np).ports;
    expect(ports[2]!.nodePort).toBe(30080);
    expect(ports[0]!.nodePort).toBe(ports[1]!.nodePort);
    expect(ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(ports[0]!.nodePort).toBeLessThanOrEqual(32767);
    expect(a.nodePorts.usedCount).toBe(2);
    expect(await invalidCause(a.beginCreate(svc('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), { dryRun: false }))).toEqual({ reason: 'FieldValueInvalid', field: 'spec.ports[0].nodePort', message: 'Invalid value: 30080: provided port is already allocated' });
    expect((await invalidCause(a.beginCreate(svc('np3', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }), { dryRun: false }))).message).toBe('Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767');
    // The failed creates gave back their ClusterIPs.
    expect(a.ips.usedCount).toBe(1);
    const lb = await create(a, svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    expect(specOf(lb).ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(specOf(lb).healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(a.nodePorts.usedCount).toBe(4);
  });

  it('releases what a failed write allocated, and everything on delete', async () => {
    const a = await newAllocator(await newStorage());
    const o = svc('x', { type: 'NodePort', clusterIP: '10.43.1.1', ports: [{ port: 80, nodePort: 30001 }] });
    const finish = await a.beginCreate(o, { dryRun: false });
    expect(a.ips.usedCount).toBe(1);
    await finish(false);
    expect(a.ips.usedCount + a.nodePorts.usedCount).toBe(0);
    const y = await create(a, svc('y', { type: 'NodePort', clusterIP: '10.43.1.1', ports: [{ port: 80, nodePort: 30001 }] }));
    await a.afterDelete(y);
    expect(a.ips.usedCount + a.nodePorts.usedCount).toBe(0);
    await create(a, svc('z', { type: 'NodePort', clusterIP: '10.43.1.1', ports: [{ port: 80, nodePort: 30001 }] }));
  });

  it('dry runs check without allocating', async () => {
    const a = await newAllocator(await newStorage());
    await create(a, svc('one', { clusterIP: '10.43.7.7' }));
    const o = svc('two', { type: 'NodePort' });
    const finish = await a.beginCreate(o, { dryRun: true });
    await finish(false);
    expect(specOf(o).clusterIP).toMatch(/^10\.43\./);
    expect(specOf(o).ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(a.ips.usedCount + a.nodePorts.usedCount).toBe(1);
    await expect(a.beginCreate(svc('three', { clusterIP: '10.43.7.7' }), { dryRun: true })).rejects.toThrow(/already allocated/);
  });

  it('on update keeps what stays, allocates what is new and releases the rest only once committed', async () => {
    const a = await newAllocator(await newStorage());
    const old = await create(a, svc('u', { type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30010 }, { name: 'b', port: 81, nodePort: 30011 }] }));
    const next = structuredClone(old);
    specOf(next).ports = [{ port: 80, nodePort: 30011 }, { port: 82 } as never];
    (next['spec'] as Record<string, unknown>)['type'] = 'NodePort';
    const finish = await a.beginUpdate(next, old, { dryRun: false });
    expect(specOf(next).ports[1]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(a.nodePorts.usedCount).toBe(3);
    await finish(true);
    // 30010 is free again; 30011 stays with this Service.
    expect(a.nodePorts.usedCount).toBe(2);
    expect(a.nodePorts.isUsed(30010)).toBe(false);
    expect(a.nodePorts.isUsed(30011)).toBe(true);

    // NodePort -> ClusterIP releases the node ports; a failed update keeps them.
    const toClusterIP = structuredClone(next);
    (toClusterIP['spec'] as Record<string, unknown>)['type'] = 'ClusterIP';
    for (const p of specOf(toClusterIP).ports) delete p.nodePort;
    await (await a.beginUpdate(structuredClone(toClusterIP), next, { dryRun: false }))(false);
    expect(a.nodePorts.usedCount).toBe(2);
    await (await a.beginUpdate(toClusterIP, next, { dryRun: false }))(true);
    expect(a.nodePorts.usedCount).toBe(0);
    expect(a.ips.usedCount).toBe(1);
  });

  it('keeps allocations across restarts', async () => {
    const storage = await newStorage();
    const services: KubeObject[] = [];
    const a = await newAllocator(storage, services);
    const o = await create(a, svc('keep', { type: 'NodePort' }), services);
    a.stop();
    const b = await newAllocator(storage, services);
    expect(await invalidCause(b.beginCreate(svc('dup', { clusterIP: specOf(o).clusterIP }), { dryRun: false }))).toMatchObject({ field: 'spec.clusterIP' });
    expect(await invalidCause(b.beginCreate(svc('dup', { type: 'NodePort', ports: [{ port: 1, nodePort: specOf(o).ports[0]!.nodePort }] }), { dryRun: false }))).toMatchObject({ field: 'spec.ports[0].nodePort' });
  });

  it('repairs: frees records no Service holds, adopts Services without records', async () => {
    const storage = await newStorage();
    const services: KubeObject[] = [];
    const a = await newAllocator(storage, services);
    // A crash after the allocation, before the Service was written: a record without a Service.
    await create(a, svc('lost', { clusterIP: '10.43.9.9' }));
    // A Service stored before allocation existed: a value without a record.
    services.push(svc('legacy', { type: 'NodePort', clusterIP: '10.43.8.8', ports: [{ port: 80, nodePort: 31000 }] }));
    a.stop();
    const b = await newAllocator(storage, services);
    expect(b.ips.isUsed(parseIPv4('10.43.9.9')!)).toBe(false);
    expect(b.ips.isUsed(parseIPv4('10.43.8.8')!)).toBe(true);
    expect(b.nodePorts.isUsed(31000)).toBe(true);
  });

  it('with shared storage frees an orphaned record only when two repairs in a row saw it', async () => {
    const storage = await newStorage();
    const services: KubeObject[] = [];
    const a = await newAllocator(storage, services, { sharedStorage: true });
    await create(a, svc('lost', { clusterIP: '10.43.9.9' }));
    const held = await create(a, svc('held', { clusterIP: '10.43.9.10' }), services);
    await a.repair();
    expect(a.ips.isUsed(parseIPv4('10.43.9.9')!)).toBe(true);
    await a.repair();
    expect(a.ips.isUsed(parseIPv4('10.43.9.9')!)).toBe(false);
    expect(a.ips.isUsed(parseIPv4(specOf(held).clusterIP!)!)).toBe(true);
  });

  it('never repairs away an allocation whose write is still in flight', async () => {
    const storage = await newStorage();
    const services: KubeObject[] = [];
    const a = await newAllocator(storage, services);
    const o = svc('slow', { clusterIP: '10.43.5.5' });
    const finish = await a.beginCreate(o, { dryRun: false });
    await a.repair();
    expect(a.ips.isUsed(parseIPv4('10.43.5.5')!)).toBe(true);
    services.push(o);
    await finish(true);
    await a.repair();
    expect(a.ips.isUsed(parseIPv4('10.43.5.5')!)).toBe(true);
  });
});
