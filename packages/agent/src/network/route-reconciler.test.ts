import type { KubeObject } from '@flotilla/api';
import { res, SharedInformer } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandError, type CommandRunner } from './command-runner.js';
import { parseCidr } from './ipv4-cidr.js';
import { desiredRoutes, RouteReconciler } from './route-reconciler.js';
import { IpRouteTable, ROUTE_PROTO } from './route-table.js';

const NODES = res('nodes');
const PROTO = String(ROUTE_PROTO);

function node(name: string, podCIDR?: string, internalIP?: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {}, status: { addresses: internalIP ? [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }] : [] } } as KubeObject;
}

interface FakeRoute {
  dst: string;
  gateway?: string;
  dev: string;
  protocol?: string;
}

/**
 * `ip` over an in-memory main table and a fixed set of interface addresses: understands exactly the
 * commands IpRouteTable issues, records them, and fails like iproute2 does.
 */
class FakeIp {
  readonly commands: string[] = [];
  routes: FakeRoute[] = [
    { dst: 'default', gateway: '192.168.7.1', dev: 'eth0' },
    { dst: '192.168.7.0/24', dev: 'eth0', protocol: 'kernel' },
  ];
  addresses = [{ ifname: 'lo', local: '127.0.0.1', prefixlen: 8 }, { ifname: 'eth0', local: '192.168.7.10', prefixlen: 24 }];

  readonly run: CommandRunner = async (file, args) => {
    const cmd = [file, ...args].join(' ');
    this.commands.push(cmd);
    if (cmd === 'ip -j -4 addr show') return JSON.stringify(this.addresses.map((a) => ({ ifname: a.ifname, addr_info: [{ family: 'inet', local: a.local, prefixlen: a.prefixlen }] })));
    if (cmd === 'ip -j -4 route show table main') return JSON.stringify(this.routes.map((r) => ({ dst: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}), dev: r.dev, ...(r.protocol ? { protocol: r.protocol } : {}), flags: [] })));
    if (cmd === `ip -j -4 route show table main proto ${PROTO}`) return JSON.stringify(this.routes.filter((r) => r.protocol === PROTO).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, flags: [] })));
    const replace = /^ip route replace (\S+) via (\S+) proto (\d+)$/.exec(cmd);
    if (replace) {
      this.routes = this.routes.filter((r) => r.dst !== replace[1]);
      this.routes.push({ dst: replace[1]!, gateway: replace[2]!, dev: 'eth0', protocol: replace[3]! });
      return '';
    }
    const del = /^ip route del (\S+) proto (\d+)$/.exec(cmd);
    if (del) {
      const i = this.routes.findIndex((r) => r.dst === del[1] && r.protocol === del[2]);
      if (i < 0) throw new CommandError([file, ...args], 'RTNETLINK answers: No such process', 2);
      this.routes.splice(i, 1);
      return '';
    }
    throw new CommandError([file, ...args], `unexpected command ${cmd}`, 1);
  };

  /** Commands that change the table. */
  writes(): string[] {
    return this.commands.filter((c) => !c.startsWith('ip -j'));
  }

  owned(): string[] {
    return this.routes.filter((r) => r.protocol === PROTO).map((r) => `${r.dst} via ${r.gateway}`).sort();
  }
}

describe('RouteReconciler', () => {
  let abort: AbortController;
  afterEach(() => abort.abort());
  let errors: { node?: string; reason?: string }[];

  async function setUp(nodes: KubeObject[]) {
    abort = new AbortController();
    const client = new FakeClient([{ resource: NODES, objects: nodes }]);
    errors = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line) as { node?: string; reason?: string }) });
    const informer = new SharedInformer<KubeObject>(client, { resource: NODES, logger });
    const ip = new FakeIp();
    const reconciler = new RouteReconciler({ nodes: informer, nodeName: 'a', routes: new IpRouteTable(ip.run), logger });
    void informer.run(abort.signal);
    await informer.waitForSync();
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    return { client, ip, reconciler, settle };
  }

  it('routes other nodes\' pod CIDRs via their InternalIPs, with its own proto, and is idempotent', async () => {
    const { ip, reconciler } = await setUp([node('a', '10.42.0.0/24', '192.168.7.10'), node('b', '10.42.1.0/24', '192.168.7.11'), node('c', '10.42.2.0/24', '192.168.7.12'), node('d', undefined, '192.168.7.13'), node('e', '10.42.4.0/24')]);
    await reconciler.sync();
    expect(ip.writes()).toEqual([`ip route replace 10.42.1.0/24 via 192.168.7.11 proto ${PROTO}`, `ip route replace 10.42.2.0/24 via 192.168.7.12 proto ${PROTO}`]);
    ip.commands.length = 0;
    await reconciler.sync();
    expect(ip.writes()).toEqual([]);
    expect(ip.routes.find((r) => r.dst === 'default')).toBeDefined();
  });

  it('removes the route of a deleted node and replaces the route of a node whose InternalIP changed', async () => {
    const { client, ip, reconciler, settle } = await setUp([node('a', '10.42.0.0/24', '192.168.7.10'), node('b', '10.42.1.0/24', '192.168.7.11'), node('c', '10.42.2.0/24', '192.168.7.12')]);
    await reconciler.sync();
    await client.delete(NODES, '', 'b');
    const c = await client.get<KubeObject>(NODES, '', 'c');
    await client.update(NODES, { ...c, status: { addresses: [{ type: 'InternalIP', address: '192.168.7.99' }] } } as KubeObject, { subresource: 'status' });
    await settle();
    ip.commands.length = 0;
    await reconciler.sync();
    expect(ip.writes()).toEqual([`ip route del 10.42.1.0/24 proto ${PROTO}`, `ip route replace 10.42.2.0/24 via 192.168.7.99 proto ${PROTO}`]);
    expect(ip.owned()).toEqual(['10.42.2.0/24 via 192.168.7.99']);
  });

  it('never touches routes it did not create', async () => {
    const { ip, reconciler } = await setUp([node('a', '10.42.0.0/24', '192.168.7.10'), node('b', '10.42.1.0/24', '192.168.7.11')]);
    ip.routes.push({ dst: '10.42.1.0/24', gateway: '192.168.7.50', dev: 'eth0', protocol: 'static' }, { dst: '10.42.9.0/24', gateway: '192.168.7.51', dev: 'eth0' });
    await reconciler.sync();
    expect(ip.writes()).toEqual([]);
    expect(errors).toContainEqual(expect.objectContaining({ node: 'b', reason: expect.stringMatching(/did not create/) }));
  });

  it('skips, and logs once, a node whose InternalIP is not on a directly connected subnet', async () => {
    const { ip, reconciler } = await setUp([node('a', '10.42.0.0/24', '192.168.7.10'), node('far', '10.42.5.0/24', '172.31.0.5'), node('b', '10.42.1.0/24', '192.168.7.11')]);
    await reconciler.sync();
    await reconciler.sync();
    expect(ip.owned()).toEqual(['10.42.1.0/24 via 192.168.7.11']);
    expect(errors.filter((e) => e.node === 'far')).toEqual([expect.objectContaining({ reason: expect.stringMatching(/not on a directly connected subnet/) })]);
  });

  it('runs from Node events: a new node gets its route, a deleted one loses it', async () => {
    const { client, ip, reconciler } = await setUp([node('a', '10.42.0.0/24', '192.168.7.10')]);
    const signal = new AbortController();
    const done = reconciler.run(signal.signal);
    await client.create(NODES, '', node('b', '10.42.1.0/24', '192.168.7.11'));
    await expect.poll(() => ip.owned()).toEqual(['10.42.1.0/24 via 192.168.7.11']);
    await client.delete(NODES, '', 'b');
    await expect.poll(() => ip.owned()).toEqual([]);
    signal.abort();
    await done;
  });
});

describe('desiredRoutes', () => {
  const host = { subnets: [parseCidr('192.168.7.0/24')], addresses: new Set(['192.168.7.10']) };

  it('gives overlapping CIDRs to the first node by name and rejects the node\'s own address', () => {
    const { routes, problems } = desiredRoutes([node('self', '10.42.0.0/24', '192.168.7.10'), node('y', '10.42.1.0/24', '192.168.7.12'), node('x', '10.42.1.0/25', '192.168.7.11'), node('z', '10.42.0.0/16', '192.168.7.13'), node('w', '10.42.7.0/24', '192.168.7.10')], 'self', host);
    expect(routes).toEqual([{ dst: '10.42.1.0/25', via: '192.168.7.11', node: 'x' }]);
    expect(problems.map((p) => p.node).sort()).toEqual(['w', 'y', 'z']);
  });
});
