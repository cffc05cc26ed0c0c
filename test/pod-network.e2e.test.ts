/**
 * host-gw routing between two "hosts" that are network namespaces: hostA and hostB share a veth
 * link on a private test subnet; each has one "pod" (a third namespace behind a veth, its gateway
 * address on the host side) in its pod CIDR (10.42.1.0/24, 10.42.2.0/24). A RouteReconciler per host
 * runs its `ip` commands inside that host's namespace (`ip netns exec`), fed by Node objects through
 * an informer. A TCP probe (ping is not assumed installed) from hostA and from podA reaches podB only
 * once routes are programmed; deleting node B removes hostA's route.
 *
 * Everything happens inside namespaces named after this run (`flt<pid>-*`), deleted afterwards;
 * nothing on the machine's own network stack is changed.
 *
 * Then the real agent with `--pod-network host-gw` on this machine: the controller manager assigns
 * its Node a podCIDR from 10.42.0.0/16, the agent creates the Docker network of that CIDR and its
 * iptables rules, and a pod gets an address inside the CIDR. The suite removes exactly its containers
 * (`io.flotilla.test=true` and its node), that network, and those rules.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { KubeObject } from '@flotilla/api';
import { res, RestClient, SharedInformer } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileRunner } from '../packages/agent/src/network/command-runner.js';
import { hostGwRules, podNetworkName, POD_BRIDGE } from '../packages/agent/src/network/host-gw-network.js';
import { formatRule } from '../packages/agent/src/network/iptables-rules.js';
import { cidrContains, cidrsOverlap, firstHost, formatCidr, parseCidr } from '../packages/agent/src/network/ipv4-cidr.js';
import { RouteReconciler } from '../packages/agent/src/network/route-reconciler.js';
import { IpRouteTable, ROUTE_PROTO } from '../packages/agent/src/network/route-table.js';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const NODES = res('nodes');
const PREFIX = `flt${process.pid}`;
const NS = { hostA: `${PREFIX}-hostA`, hostB: `${PREFIX}-hostB`, podA: `${PREFIX}-podA`, podB: `${PREFIX}-podB` };
const PORT = 7077;

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}
const ip = (...args: string[]) => run('ip', args);
const inNs = (ns: string, file: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, file, ...args]);

function canUseNetns(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/** Prefixes of this machine's IPv4 routes and addresses. */
async function usedPrefixes() {
  return [
    ...(JSON.parse(await ip('-j', '-4', 'route', 'show', 'table', 'all')) as { dst: string }[]).map((r) => r.dst),
    ...(JSON.parse(await ip('-j', '-4', 'addr', 'show')) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)),
  ]
    .filter((d) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d))
    .map((d) => parseCidr(d.includes('/') ? d : `${d}/32`))
    .filter((c) => c.prefix > 0);
}

/** A /24 under 10.255.0.0/16 that no address or route of this machine overlaps. */
async function freeTestSubnet(): Promise<number> {
  const used = await usedPrefixes();
  for (let i = 0; i < 50; i++) {
    const n = randomInt(100, 250);
    if (!used.some((c) => cidrsOverlap(c, parseCidr(`10.255.${n}.0/24`)))) return n;
  }
  throw new Error('no free 10.255.x.0/24 test subnet');
}

/** Exit 0 when a TCP connection to ip:port inside `ns` answers "pong" within a second. */
async function probe(ns: string, target: string): Promise<boolean> {
  const script = `const s=require('net').connect(${PORT},'${target}');s.setTimeout(1000,()=>process.exit(1));s.on('error',()=>process.exit(1));s.on('data',(d)=>process.exit(String(d)==='pong'?0:1));`;
  return inNs(ns, process.execPath, '-e', script).then(() => true, () => false);
}

function node(name: string, podCIDR: string, internalIP: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDR, podCIDRs: [podCIDR] }, status: { addresses: [{ type: 'InternalIP', address: internalIP }] } } as KubeObject;
}

async function ownedRoutes(ns: string): Promise<string[]> {
  return (JSON.parse(await ip('-n', ns, '-j', '-4', 'route', 'show', 'proto', String(ROUTE_PROTO))) as { dst: string; gateway: string }[]).map((r) => `${r.dst} via ${r.gateway}`);
}

describe.skipIf(!canUseNetns())('host-gw routes between network namespaces', () => {
  let subnet: number;
  let server: ChildProcess | undefined;
  const abort = new AbortController();
  const client = new FakeClient();
  const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  let reconcilers: { a: RouteReconciler; b: RouteReconciler };

  beforeAll(async () => {
    subnet = await freeTestSubnet();
    const hostIP = { hostA: `10.255.${subnet}.1`, hostB: `10.255.${subnet}.2` };
    for (const ns of Object.values(NS)) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    // The hosts' shared link.
    await ip('-n', NS.hostA, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.hostB);
    await ip('-n', NS.hostA, 'addr', 'add', `${hostIP.hostA}/24`, 'dev', 'eth0');
    await ip('-n', NS.hostB, 'addr', 'add', `${hostIP.hostB}/24`, 'dev', 'eth0');
    // One pod per host: the host side holds the pod CIDR's gateway, like the bridge would.
    for (const [host, pod, third] of [[NS.hostA, NS.podA, 1], [NS.hostB, NS.podB, 2]] as const) {
      await ip('-n', host, 'link', 'add', 'pod0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
      await ip('-n', host, 'addr', 'add', `10.42.${third}.1/24`, 'dev', 'pod0');
      await ip('-n', pod, 'addr', 'add', `10.42.${third}.2/24`, 'dev', 'eth0');
      await ip('-n', host, 'link', 'set', 'eth0', 'up');
      await ip('-n', host, 'link', 'set', 'pod0', 'up');
      await ip('-n', pod, 'link', 'set', 'eth0', 'up');
      await ip('-n', pod, 'route', 'add', 'default', 'via', `10.42.${third}.1`);
      await inNs(host, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    }
    server = spawn('ip', ['netns', 'exec', NS.podB, process.execPath, '-e', `require('net').createServer((s)=>s.end('pong')).listen(${PORT},'10.42.2.2',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`probe server exited with ${code}`)));
    });

    await client.create(NODES, '', node('a', '10.42.1.0/24', hostIP.hostA));
    await client.create(NODES, '', node('b', '10.42.2.0/24', hostIP.hostB));
    // Not on a connected subnet: must be skipped, not routed via the default route.
    await client.create(NODES, '', node('far', '10.42.3.0/24', '10.254.254.254'));
    const informer = new SharedInformer<KubeObject>(client, { resource: NODES, logger });
    reconcilers = {
      a: new RouteReconciler({ nodes: informer, nodeName: 'a', routes: new IpRouteTable(execFileRunner(['ip', 'netns', 'exec', NS.hostA])), logger }),
      b: new RouteReconciler({ nodes: informer, nodeName: 'b', routes: new IpRouteTable(execFileRunner(['ip', 'netns', 'exec', NS.hostB])), logger }),
    };
    void informer.run(abort.signal);
    await informer.waitForSync(abort.signal);
  }, 60_000);

  afterAll(async () => {
    abort.abort();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    for (const ns of Object.values(NS)) await ip('netns', 'del', ns).catch(() => undefined);
  });

  it('cannot reach the other host\'s pod before routes are programmed', async () => {
    expect(await probe(NS.podB, '10.42.2.2')).toBe(true);
    expect(await probe(NS.hostA, '10.42.2.2')).toBe(false);
    expect(await probe(NS.podA, '10.42.2.2')).toBe(false);
  });

  it('reaches the other host\'s pod from the host and from a pod once each host has its routes', async () => {
    void reconcilers.a.run(abort.signal);
    void reconcilers.b.run(abort.signal);
    await waitFor('routes on both hosts', async () => (await ownedRoutes(NS.hostA)).length === 1 && (await ownedRoutes(NS.hostB)).length === 1);
    expect(await ownedRoutes(NS.hostA)).toEqual([`10.42.2.0/24 via 10.255.${subnet}.2`]);
    expect(await ownedRoutes(NS.hostB)).toEqual([`10.42.1.0/24 via 10.255.${subnet}.1`]);
    expect(await probe(NS.hostA, '10.42.2.2')).toBe(true);
    expect(await probe(NS.podA, '10.42.2.2')).toBe(true);
  });

  it('leaves routes it did not create alone and removes the route of a deleted node', async () => {
    await ip('-n', NS.hostA, 'route', 'add', '10.99.0.0/16', 'via', `10.255.${subnet}.2`);
    await client.delete(NODES, '', 'b');
    await waitFor('hostA\'s route to node b removed', async () => (await ownedRoutes(NS.hostA)).length === 0);
    expect(await probe(NS.hostA, '10.42.2.2')).toBe(false);
    expect(await ip('-n', NS.hostA, '-4', 'route', 'show', '10.99.0.0/16')).toContain(`via 10.255.${subnet}.2`);
  });
});

const CLUSTER_CIDR = '10.42.0.0/16';
const NODE = `pod-network-e2e-${process.pid}`;

describe.skipIf(!canUseNetns() || !hasDockerSocket())('agent with --pod-network host-gw', () => {
  const cluster = new DockerTestCluster('pod-network', NODE);
  const engine = cluster.engine;
  let server: ApiServerProcess;
  let api: RestClient;
  let podCIDR: string | undefined;

  beforeAll(async () => {
    // The pod network of an interrupted earlier run is the agent's to replace; anything else in the range is not ours.
    const ours = (await engine.listNetworks({ filters: { label: ['io.flotilla.pod-network=true'] } })).flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? ''));
    const clash = (await usedPrefixes()).find((c) => cidrsOverlap(c, parseCidr(CLUSTER_CIDR)) && !ours.includes(formatCidr(c)));
    if (clash) throw new Error(`${CLUSTER_CIDR} overlaps ${formatCidr(clash)}, in use on this machine`);
    ({ server, client: api } = await cluster.start());
    await startControllerManager(server.kubeconfig, ['--cluster-cidr', CLUSTER_CIDR]);
    await cluster.startAgent(['--pod-network', 'host-gw', '--cluster-cidr', CLUSTER_CIDR]);
  }, 180_000);

  afterAll(() =>
    cluster.stop(async () => {
      if (podCIDR) {
        await engine.removeNetwork(podNetworkName(podCIDR)).catch(() => undefined);
        const forward = (await run('iptables', ['-w', '5', '-S', 'DOCKER-USER']).then(() => true, () => false)) ? 'DOCKER-USER' : 'FORWARD';
        for (const r of hostGwRules(podCIDR, CLUSTER_CIDR, forward)) {
          await run('iptables', ['-w', '5', '-t', r.table, '-D', ...formatRule(r).split(' ').slice(1)]).catch(() => undefined);
        }
      }
    }),
  );

  it('gives a pod an address inside its node\'s podCIDR on the pod bridge, with the masquerade exception above Docker\'s MASQUERADE', async () => {
    const node = await api.get<KubeObject & { spec: { podCIDR?: string } }>(NODES, '', NODE);
    podCIDR = node.spec.podCIDR;
    expect(podCIDR).toBeDefined();
    expect(cidrContains(parseCidr(CLUSTER_CIDR), parseCidr(podCIDR!).network)).toBe(true);

    const network = (await engine.listNetworks()).find((n) => n.Name === podNetworkName(podCIDR!));
    expect(network?.IPAM?.Config).toEqual([expect.objectContaining({ Subnet: podCIDR, Gateway: firstHost(parseCidr(podCIDR!)) })]);
    expect(network?.Options).toMatchObject({ 'com.docker.network.bridge.name': POD_BRIDGE, 'com.docker.network.bridge.enable_ip_masquerade': 'true' });

    await api.create(res('pods'), 'default', { metadata: { name: 'net' }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } });
    const podIP = await waitFor('the pod\'s IP', async () => (await api.get<KubeObject & { status?: { phase?: string; podIP?: string } }>(res('pods'), 'default', 'net')).status?.podIP, { timeoutMs: 60_000 });
    expect(cidrContains(parseCidr(podCIDR!), podIP)).toBe(true);

    const nat = (await run('iptables', ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'])).split('\n');
    const exception = nat.findIndex((l) => l === formatRule(hostGwRules(podCIDR!, CLUSTER_CIDR, 'x')[0]!));
    const masquerade = nat.findIndex((l) => l.includes(`-s ${podCIDR}`) && l.includes('MASQUERADE'));
    expect(exception).toBeGreaterThan(-1);
    expect(masquerade).toBeGreaterThan(exception);
  });
});
