/**
 * host-gw routing (flannel's backend of that name): every other node's pod CIDR is routed via that
 * node's InternalIP, which must be on a subnet this host is directly connected to. Level-triggered:
 * Node events enqueue one key; `sync` computes the desired routes from the Node cache, reads the
 * routes the agent owns (ROUTE_PROTO) and adds, replaces or deletes only those.
 */
import type { KubeObject } from '@flotilla/api/core';
import { runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Logger } from 'pino';
import { cidrContains, cidrsOverlap, formatCidr, parseCidr, type Ipv4Cidr } from './ipv4-cidr.js';
import type { OwnedRoute, RouteTable } from './route-table.js';

const KEY = 'routes';

/** What the reconciler reads of a Node. */
interface NodeView extends KubeObject {
  spec?: { podCIDR?: string };
  status?: { addresses?: { type: string; address: string }[] };
}

/** A node whose pod CIDR cannot be routed, and why. */
export interface RouteProblem {
  node: string;
  podCIDR: string;
  reason: string;
}

/** The node's pod CIDR (`spec.podCIDR`), if any. */
export function podCIDROf(node: Readonly<KubeObject>): string | undefined {
  return (node as NodeView).spec?.podCIDR || undefined;
}

/** The node's first IPv4 InternalIP, if any. */
export function internalIPOf(node: Readonly<KubeObject>): string | undefined {
  return (node as NodeView).status?.addresses?.find((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address))?.address;
}

/**
 * The routes this node should have: one per other node with a pod CIDR and an InternalIP on a
 * directly connected subnet. Nodes are taken in name order, so of two claiming overlapping CIDRs
 * the first wins. Pure.
 */
export function desiredRoutes(nodes: readonly Readonly<KubeObject>[], selfName: string, host: { subnets: readonly Ipv4Cidr[]; addresses: ReadonlySet<string> }): { routes: (OwnedRoute & { node: string })[]; problems: RouteProblem[] } {
  const routes: (OwnedRoute & { node: string })[] = [];
  const problems: RouteProblem[] = [];
  const taken: Ipv4Cidr[] = [];
  const self = nodes.find((n) => n.metadata.name === selfName);
  const ownCIDR = self ? podCIDROf(self) : undefined;
  try {
    if (ownCIDR) taken.push(parseCidr(ownCIDR));
  } catch {
    // An unparsable own CIDR cannot collide with anything routable.
  }
  for (const node of [...nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
    const name = node.metadata.name ?? '';
    const podCIDR = podCIDROf(node);
    const ip = internalIPOf(node);
    if (name === selfName || !podCIDR || !ip) continue;
    let cidr: Ipv4Cidr;
    try {
      cidr = parseCidr(podCIDR);
    } catch {
      problems.push({ node: name, podCIDR, reason: 'podCIDR is not an IPv4 CIDR' });
      continue;
    }
    if (taken.some((t) => cidrsOverlap(t, cidr))) {
      problems.push({ node: name, podCIDR, reason: 'podCIDR overlaps this node\'s or another node\'s' });
      continue;
    }
    if (host.addresses.has(ip)) {
      problems.push({ node: name, podCIDR, reason: `InternalIP ${ip} is an address of this host` });
      continue;
    }
    if (!host.subnets.some((s) => cidrContains(s, ip))) {
      problems.push({ node: name, podCIDR, reason: `InternalIP ${ip} is not on a directly connected subnet (host-gw needs layer-2 adjacency)` });
      continue;
    }
    taken.push(cidr);
    routes.push({ dst: formatCidr(cidr), via: ip, node: name });
  }
  return { routes, problems };
}

/** Dependencies of the route reconciler. */
export interface RouteReconcilerDeps {
  /** An informer of all Nodes (this one included). */
  nodes: SharedInformer<KubeObject>;
  nodeName: string;
  routes: RouteTable;
  logger: Logger;
  queue?: WorkQueue<string>;
}

/** Keeps the host's routes to other nodes' pod CIDRs in line with the Node objects. */
export class RouteReconciler {
  private readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  /** Problems already logged, so a resync does not repeat them. */
  private reported = new Set<string>();

  constructor(private readonly deps: RouteReconcilerDeps) {
    this.queue = deps.queue ?? new WorkQueue<string>({ maxDelayMs: 30_000 });
    this.log = deps.logger.child({ component: 'route-reconciler' });
    const enqueue = () => this.queue.add(KEY);
    // Node status is rewritten by every heartbeat; only a periodic resync (same object) or a change
    // of what routing reads is worth a reconciliation.
    const onUpdate = (a: Readonly<KubeObject>, b: Readonly<KubeObject>) => {
      if (a === b || podCIDROf(a) !== podCIDROf(b) || internalIPOf(a) !== internalIPOf(b)) enqueue();
    };
    deps.nodes.addEventHandler({ onAdd: enqueue, onUpdate, onDelete: enqueue });
  }

  /** Runs the worker until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.queue.add(KEY);
    await runWorkers({ name: 'route-reconciler', queue: this.queue, workers: 1, sync: () => this.sync(), logger: this.log, signal });
  }

  /** One reconciliation; throws (to be retried) when a route command failed. */
  async sync(): Promise<void> {
    const { routes: table } = this.deps;
    const host = await table.connected();
    const { routes, problems } = desiredRoutes(this.deps.nodes.lister.list(), this.deps.nodeName, host);
    const { owned, foreign } = await table.list();
    const want = new Map(routes.map((r) => [r.dst, r]));
    const have = new Map(owned.map((r) => [r.dst, r]));
    const failures: unknown[] = [];
    for (const r of owned) {
      if (want.has(r.dst)) continue;
      try {
        await table.remove(r.dst);
        this.log.info({ dst: r.dst, via: r.via }, 'removed pod route');
      } catch (err) {
        failures.push(err);
      }
    }
    for (const r of routes) {
      if (foreign.has(r.dst)) {
        problems.push({ node: r.node, podCIDR: r.dst, reason: 'a route to it that the agent did not create exists; left alone' });
        continue;
      }
      if (have.get(r.dst)?.via === r.via) continue;
      try {
        await table.replace({ dst: r.dst, via: r.via });
        this.log.info({ node: r.node, dst: r.dst, via: r.via }, 'programmed pod route');
      } catch (err) {
        failures.push(err);
      }
    }
    const now = new Set<string>();
    for (const p of problems) {
      const key = `${p.node}|${p.podCIDR}|${p.reason}`;
      now.add(key);
      if (!this.reported.has(key)) this.log.error({ node: p.node, podCIDR: p.podCIDR, reason: p.reason }, 'cannot route pod CIDR');
    }
    this.reported = now;
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'route commands failed');
  }
}
