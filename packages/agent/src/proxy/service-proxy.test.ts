/**
 * The service proxy against a FakeClient and real loopback sockets: VIPs and node addresses are
 * 127.0.0.0/8 addresses (all local on Linux), so no root and no `ip` are needed; a fake address
 * manager records the VIP changes.
 */
import { createServer, connect, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import pino from 'pino';
import { startServiceProxy, type ServiceProxyHandle } from './service-proxy.js';
import { IptablesProxier } from './iptables-rules.js';
import type { AddressManager } from './vip-interface.js';

const SERVICES = res('services');
const SLICES = res('endpointslices.discovery.k8s.io');
const NODES = res('nodes');
const log = pino({ level: 'silent' });

class FakeAddresses implements AddressManager {
  readonly ips = new Set<string>(['127.0.9.9']);
  readonly log: string[] = [];
  ensure = async () => undefined;
  list = async () => [...this.ips];
  add = async (ip: string) => {
    this.ips.add(ip);
    this.log.push(`add ${ip}`);
  };
  remove = async (ip: string) => {
    this.ips.delete(ip);
    this.log.push(`remove ${ip}`);
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP server on ip:port answering its own name to every connection. */
async function backend(ip: string, port: number): Promise<Server> {
  const s = createServer((c) => c.end(ip));
  await new Promise<void>((r, j) => s.once('error', j).listen(port, ip, r));
  cleanups.push(() => s.close());
  return s;
}

async function freePort(ip: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, ip, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Connects, reads to the end; 'RESET' / 'REFUSED' on failures. */
function fetchText(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, ip);
    let out = '';
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'REFUSED' : 'RESET'));
  });
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function service(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

function slice(service: string, port: number, endpoints: { ip: string; ready?: boolean; serving?: boolean; terminating?: boolean; nodeName?: string }[], protocol = 'TCP'): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'web', port, protocol }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false }, nodeName: e.nodeName ?? 'node-a' })),
  };
}

function node(name: string, ip: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: ip }] } };
}

function start(client: FakeClient, addresses: AddressManager | null, nodeIPs: string[] = []): ServiceProxyHandle {
  const abort = new AbortController();
  const proxy = startServiceProxy({ client, nodeName: 'node-a', nodeIPs, logger: log, signal: abort.signal, addresses, nodePortAddress: '127.0.0.1' });
  cleanups.push(() => proxy.stop());
  return proxy;
}

describe('service proxy', () => {
  it('assigns the VIP, balances over ready endpoints and follows endpoint changes', async () => {
    const port = await freePort('127.0.1.1');
    for (const ip of ['127.0.1.1', '127.0.1.2', '127.0.1.3']) await backend(ip, port);
    const vipPort = await freePort('127.0.2.1');
    const client = new FakeClient([
      { resource: SERVICES, objects: [service('web', { clusterIP: '127.0.2.1', ports: [{ name: 'web', port: vipPort, targetPort: port, protocol: 'TCP' }] })] },
      { resource: SLICES, objects: [slice('web', port, [{ ip: '127.0.1.1' }, { ip: '127.0.1.2' }, { ip: '127.0.1.3', ready: false, serving: false }])] },
    ]);
    const addresses = new FakeAddresses();
    const proxy = start(client, addresses);
    await proxy.ready;
    // The stale address is gone, the VIP is there.
    expect([...addresses.ips]).toEqual(['127.0.2.1']);
    const seen = await Promise.all(Array.from({ length: 6 }, () => fetchText('127.0.2.1', vipPort)));
    expect(new Set(seen)).toEqual(new Set(['127.0.1.1', '127.0.1.2']));

    const s = await client.get(SLICES, 'default', 'web-abc');
    await client.update(SLICES, { ...s, endpoints: slice('web', port, [{ ip: '127.0.1.3' }])['endpoints'] });
    expect(await eventually(() => fetchText('127.0.2.1', vipPort), (v) => v === '127.0.1.3')).toBe('127.0.1.3');

    // No endpoints: reset at once.
    await client.update(SLICES, { ...(await client.get(SLICES, 'default', 'web-abc')), endpoints: [] });
    expect(await eventually(() => fetchText('127.0.2.1', vipPort), (v) => v === 'RESET')).toBe('RESET');

    // Service deleted: listener closed, VIP removed.
    await client.delete(SERVICES, 'default', 'web');
    await eventually(async () => addresses.ips.size, (n) => n === 0);
    expect(addresses.log).toContain('remove 127.0.2.1');
  });

  it('moves on to the next endpoint when one refuses, and honours ClientIP affinity', async () => {
    const port = await freePort('127.0.3.1');
    await backend('127.0.3.2', port);
    await backend('127.0.3.3', port);
    const vipPort = await freePort('127.0.4.1');
    const client = new FakeClient([
      { resource: SERVICES, objects: [service('sticky', { clusterIP: '127.0.4.1', sessionAffinity: 'ClientIP', ports: [{ name: 'web', port: vipPort, protocol: 'TCP' }] })] },
      // 127.0.3.1 has no listener: connection refused.
      { resource: SLICES, objects: [slice('sticky', port, [{ ip: '127.0.3.1' }, { ip: '127.0.3.2' }, { ip: '127.0.3.3' }])] },
    ]);
    const proxy = start(client, new FakeAddresses());
    await proxy.ready;
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await fetchText('127.0.4.1', vipPort));
    expect(answers.every((a) => a === answers[0])).toBe(true);
    expect(answers[0]).toMatch(/^127\.0\.3\.[23]$/);
  });

  it('serves NodePorts and LoadBalancer node addresses with the traffic policy, and writes the ingress', async () => {
    const port = await freePort('127.0.5.1');
    await backend('127.0.5.1', port);
    await backend('127.0.5.2', port);
    const nodePort = await freePort('127.0.0.1');
    const lbPort = await freePort('127.0.6.1');
    const client = new FakeClient([
      {
        resource: SERVICES,
        objects: [service('lb', { type: 'LoadBalancer', clusterIP: '127.0.6.2', externalTrafficPolicy: 'Local', ports: [{ name: 'web', port: lbPort, nodePort, protocol: 'TCP' }] })],
      },
      { resource: SLICES, objects: [slice('lb', port, [{ ip: '127.0.5.1', nodeName: 'node-a' }, { ip: '127.0.5.2', nodeName: 'node-b' }])] },
      { resource: NODES, objects: [node('node-b', '127.0.6.9'), node('node-a', '127.0.6.1')] },
    ]);
    const proxy = start(client, new FakeAddresses(), ['127.0.6.1']);
    await proxy.ready;
    // External traffic (NodePort, LB) stays on this node; the ClusterIP spreads.
    for (let i = 0; i < 4; i++) expect(await fetchText('127.0.0.1', nodePort)).toBe('127.0.5.1');
    for (let i = 0; i < 4; i++) expect(await fetchText('127.0.6.1', lbPort)).toBe('127.0.5.1');
    const internal = new Set(await Promise.all(Array.from({ length: 4 }, () => fetchText('127.0.6.2', lbPort))));
    expect(internal).toEqual(new Set(['127.0.5.1', '127.0.5.2']));
    const svc = await eventually(() => client.get<KubeObject & { status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>(SERVICES, 'default', 'lb'), (s) => !!s.status?.loadBalancer?.ingress);
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '127.0.6.1' }, { ip: '127.0.6.9' }]);
  });

  it('proxies UDP with per-client sessions', async () => {
    const echo = createSocket('udp4');
    await new Promise<void>((r) => echo.bind(0, '127.0.7.1', r));
    echo.on('message', (m, from) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
    cleanups.push(() => echo.close());
    const port = echo.address().port;
    const vipPort = await freePort('127.0.8.1');
    const client = new FakeClient([
      { resource: SERVICES, objects: [service('dns', { clusterIP: '127.0.8.1', ports: [{ name: 'web', port: vipPort, protocol: 'UDP' }] })] },
      { resource: SLICES, objects: [slice('dns', port, [{ ip: '127.0.7.1' }], 'UDP')] },
    ]);
    const proxy = start(client, new FakeAddresses());
    await proxy.ready;
    const c = createSocket('udp4');
    cleanups.push(() => c.close());
    const reply = new Promise<{ msg: string; from: string }>((r) => c.once('message', (m, from) => r({ msg: String(m), from: `${from.address}:${from.port}` })));
    c.send('hi', vipPort, '127.0.8.1');
    expect(await reply).toEqual({ msg: 'echo:hi', from: `127.0.8.1:${vipPort}` });
  });

  it('serves NodePorts only without VIP management', async () => {
    const port = await freePort('127.0.10.1');
    await backend('127.0.10.1', port);
    const nodePort = await freePort('127.0.0.1');
    const client = new FakeClient([
      { resource: SERVICES, objects: [service('np', { type: 'NodePort', clusterIP: '127.0.11.1', ports: [{ name: 'web', port: 80, nodePort, protocol: 'TCP' }] })] },
      { resource: SLICES, objects: [slice('np', port, [{ ip: '127.0.10.1' }])] },
    ]);
    const proxy = start(client, null);
    await proxy.ready;
    expect(proxy.vipsEnabled).toBe(false);
    expect(await fetchText('127.0.0.1', nodePort)).toBe('127.0.10.1');
    expect(await fetchText('127.0.11.1', 80)).toBe('REFUSED');
  });
});

describe('service proxy in iptables mode', () => {
  it('falls back to userspace mode when iptables does not work', async () => {
    const port = await freePort('127.0.1.1');
    await backend('127.0.1.1', port);
    const vipPort = await freePort('127.0.2.1');
    const client = new FakeClient([
      { resource: SERVICES, objects: [service('web', { clusterIP: '127.0.2.1', ports: [{ name: 'web', port: vipPort, targetPort: port, protocol: 'TCP' }] })] },
      { resource: SLICES, objects: [slice('web', port, [{ ip: '127.0.1.1' }])] },
    ]);
    const failing = new IptablesProxier('node-a', async () => {
      throw new Error('iptables: not found');
    });
    const abort = new AbortController();
    const proxy = startServiceProxy({ client, nodeName: 'node-a', nodeIPs: [], logger: log, signal: abort.signal, addresses: new FakeAddresses(), nodePortAddress: '127.0.0.1', mode: 'iptables', iptables: failing });
    cleanups.push(() => proxy.stop());
    await proxy.ready;
    expect(proxy.mode).toBe('userspace');
    expect(await fetchText('127.0.2.1', vipPort)).toBe('127.0.1.1');
  });
});
