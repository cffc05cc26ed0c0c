/**
 * The host-gw pod network of one node: pods get addresses from the Node's `spec.podCIDR` on a
 * Docker bridge network (`flotilla0br`), other nodes' pod CIDRs are routed via their InternalIPs
 * (RouteReconciler), and the agent keeps a few iptables rules:
 *
 * - nat/POSTROUTING `-s podCIDR -d clusterCIDR -j RETURN`: Docker masquerades everything from the
 *   bridge subnet that leaves through another interface (`-s subnet ! -o flotilla0br -j MASQUERADE`),
 *   which would hide pod addresses from pods on other nodes; pod-to-pod traffic is exempted, traffic
 *   leaving the cluster CIDR is still masqueraded.
 * - filter/DOCKER-USER (FORWARD without Docker's chain) `-d podCIDR -j ACCEPT`: Docker's FORWARD
 *   policy is DROP and it only admits published ports into a bridge, so connections from other
 *   nodes' pods (and nodes) to this node's pods must be allowed explicitly.
 *
 * IPv4 forwarding is switched on. Nothing is removed when the agent stops (pods keep running).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { KubeObject } from '@flotilla/api/core';
import { res, runWorkers, SharedInformer, WorkQueue, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import type { DockerClient, NetworkSummary } from '../runtime/docker-client.js';
import { execFileRunner, type CommandRunner } from './command-runner.js';
import { hasChain, syncRules, type IptablesRule } from './iptables-rules.js';
import { firstHost, formatCidr, parseCidr } from './ipv4-cidr.js';
import { podCIDROf, RouteReconciler } from './route-reconciler.js';
import { IpRouteTable } from './route-table.js';

/** The Linux bridge of the pod network. */
export const POD_BRIDGE = 'flotilla0br';
/** Label of the Docker networks the agent creates. */
export const POD_NETWORK_LABEL = 'io.flotilla.pod-network';

const NODES = res('nodes');
const RULES_KEY = 'rules';

/** The Docker network name of a pod CIDR: `flotilla-10.42.1.0-24`. */
export function podNetworkName(podCIDR: string): string {
  return `flotilla-${podCIDR.replace('/', '-')}`;
}

/** The iptables rules of a node's pod CIDR (see the module comment). */
export function hostGwRules(podCIDR: string, clusterCIDR: string | undefined, forwardChain: string): IptablesRule[] {
  return [
    ...(clusterCIDR ? [{ table: 'nat' as const, chain: 'POSTROUTING', match: ['-s', podCIDR, '-d', clusterCIDR], target: 'RETURN' }] : []),
    { table: 'filter', chain: forwardChain, match: ['-d', podCIDR], target: 'ACCEPT' },
  ];
}

function matchesCIDR(n: NetworkSummary, podCIDR: string): boolean {
  const opts = n.Options ?? {};
  return n.Name === podNetworkName(podCIDR) && n.Driver === 'bridge' && (n.IPAM?.Config ?? []).some((c) => c.Subnet === podCIDR) && opts['com.docker.network.bridge.name'] === POD_BRIDGE;
}

/**
 * Creates the Docker network of `podCIDR` unless it exists; removes the agent's networks of other
 * CIDRs (the bridge name is shared), failing while containers still use one. Returns its name.
 */
export async function ensurePodDockerNetwork(docker: DockerClient, podCIDR: string, log: Logger): Promise<string> {
  const name = podNetworkName(podCIDR);
  const ours = await docker.listNetworks({ filters: { label: [`${POD_NETWORK_LABEL}=true`] } });
  if (ours.some((n) => matchesCIDR(n, podCIDR))) return name;
  for (const stale of ours) {
    log.info({ network: stale.Name }, 'removing the pod network of another pod CIDR');
    await docker.removeNetwork(stale.Id);
  }
  const cidr = parseCidr(podCIDR);
  await docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: podCIDR, Gateway: firstHost(cidr) }] },
    Options: {
      'com.docker.network.bridge.name': POD_BRIDGE,
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
      'com.docker.network.bridge.enable_icc': 'true',
    },
    Labels: { [POD_NETWORK_LABEL]: 'true', 'io.flotilla.pod-cidr': podCIDR },
  });
  log.info({ network: name, podCIDR, bridge: POD_BRIDGE }, 'created the pod network');
  return name;
}

/** Writes 1 to the IPv4 forwarding sysctl unless it is already on. */
export async function enableIpForwarding(path = '/proc/sys/net/ipv4/ip_forward'): Promise<void> {
  if ((await readFile(path, 'utf8')).trim() === '1') return;
  await writeFile(path, '1\n');
}

/** Options of the host-gw network. */
export interface HostGwNetworkOptions {
  client: KubeClient;
  docker: DockerClient;
  nodeName: string;
  /** The cluster's pod range; without it pod-to-pod traffic across nodes is masqueraded. */
  clusterCIDR?: string;
  logger: Logger;
  /** Runs `ip` and `iptables` (default: execFile on this host). */
  run?: CommandRunner;
  /** Turns IPv4 forwarding on (default: writes /proc/sys/net/ipv4/ip_forward). */
  enableForwarding?: () => Promise<void>;
  /** How often routes and rules are re-checked (ms, default 30 s). */
  resyncMs?: number;
}

/** A started host-gw network. */
export interface HostGwNetwork {
  /** The Docker network pod sandboxes join. */
  dockerNetwork: string;
  podCIDR: string;
}

/**
 * Waits for the Node's podCIDR, sets up the Docker network, forwarding and iptables rules, and
 * keeps routes and rules reconciled until the signal aborts.
 */
export async function startHostGwNetwork(o: HostGwNetworkOptions, signal: AbortSignal): Promise<HostGwNetwork> {
  const log = o.logger.child({ component: 'pod-network' });
  const run = o.run ?? execFileRunner();
  if (o.clusterCIDR) parseCidr(o.clusterCIDR);
  else log.warn('no cluster CIDR: traffic between pods on different nodes is masqueraded');
  const nodes = new SharedInformer<KubeObject>(o.client, { resource: NODES, logger: log, resyncMs: o.resyncMs ?? 30_000 });
  const podCIDR = await new Promise<string>((resolve, reject) => {
    const check = (n: Readonly<KubeObject>) => {
      const c = n.metadata.name === o.nodeName ? podCIDROf(n) : undefined;
      if (c) resolve(c);
    };
    nodes.addEventHandler({ onAdd: check, onUpdate: (_a, b) => check(b) });
    signal.addEventListener('abort', () => reject(new Error('stopped while waiting for the node\'s podCIDR')), { once: true });
    void nodes.run(signal);
    void nodes.waitForSync(signal).then(() => {
      const self = nodes.lister.get('', o.nodeName);
      if (!self || !podCIDROf(self)) log.info({ node: o.nodeName }, 'waiting for the node\'s podCIDR');
    }, () => undefined);
  });
  const canonical = formatCidr(parseCidr(podCIDR));
  await (o.enableForwarding ?? enableIpForwarding)();
  const dockerNetwork = await ensurePodDockerNetwork(o.docker, canonical, log);
  const forwardChain = (await hasChain(run, 'filter', 'DOCKER-USER')) ? 'DOCKER-USER' : 'FORWARD';
  const rules = hostGwRules(canonical, o.clusterCIDR ? formatCidr(parseCidr(o.clusterCIDR)) : undefined, forwardChain);

  const queue = new WorkQueue<string>({ maxDelayMs: 30_000 });
  let warnedChange = false;
  const syncHostRules = async () => {
    const current = nodes.lister.get('', o.nodeName);
    if (current && podCIDROf(current) && podCIDROf(current) !== podCIDR && !warnedChange) {
      warnedChange = true;
      log.error({ podCIDR, now: podCIDROf(current) }, 'the node\'s podCIDR changed; restart the agent to use it');
    }
    const n = await syncRules(run, rules);
    if (n > 0) log.info({ commands: n }, 'restored the pod network iptables rules');
  };
  // Re-checked on this node's updates and resyncs: Docker re-inserts its MASQUERADE on top when it restarts.
  nodes.addEventHandler({
    onUpdate: (_a, b) => {
      if (b.metadata.name === o.nodeName) queue.add(RULES_KEY);
    },
  });
  await syncHostRules();
  void runWorkers({ name: 'pod-network-rules', queue, workers: 1, sync: syncHostRules, logger: log, signal });
  const routes = new RouteReconciler({ nodes, nodeName: o.nodeName, routes: new IpRouteTable(run), logger: log });
  void routes.run(signal);
  log.info({ podCIDR: canonical, network: dockerNetwork, clusterCIDR: o.clusterCIDR }, 'host-gw pod network ready');
  return { dockerNetwork, podCIDR: canonical };
}
