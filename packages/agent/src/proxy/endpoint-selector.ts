/**
 * Which endpoint a proxied connection goes to: the endpoints a traffic policy allows (kube-proxy's
 * `CategorizeEndpoints`), then round robin with optional ClientIP session affinity (kube-proxy's
 * userspace `LoadBalancerRR`). Pure and clock-injectable, so it is unit-tested without sockets.
 */
import { realClock, type Clock } from '@flotilla/client';

/** One backend of a service port, as an EndpointSlice describes it. */
export interface ProxyEndpoint {
  ip: string;
  port: number;
  nodeName?: string;
  /** `conditions.ready` (unset means ready, as the API documents). */
  ready: boolean;
  /** `conditions.serving` (unset means the value of ready). */
  serving: boolean;
  terminating: boolean;
}

/** `Cluster` (any endpoint) or `Local` (only endpoints on this node). */
export type TrafficPolicy = 'Cluster' | 'Local';

/** `ip:port`, the identity of an endpoint. */
export function endpointKey(e: Pick<ProxyEndpoint, 'ip' | 'port'>): string {
  return `${e.ip}:${e.port}`;
}

/**
 * The endpoints traffic may go to under a policy: the ready ones (of this node for `Local`); when
 * there are none, the serving-and-terminating ones, so connections drain to pods that are shutting
 * down rather than fail. `Local` never falls back to other nodes (traffic is dropped instead).
 * The result is sorted by address so that every caller sees a stable order.
 */
export function usableEndpoints(all: readonly ProxyEndpoint[], policy: TrafficPolicy, nodeName: string): ProxyEndpoint[] {
  const scoped = policy === 'Local' ? all.filter((e) => e.nodeName === nodeName) : [...all];
  const ready = scoped.filter((e) => e.ready);
  const chosen = ready.length > 0 ? ready : scoped.filter((e) => e.serving && e.terminating);
  const unique = new Map(chosen.map((e) => [endpointKey(e), e]));
  return [...unique.values()].sort((a, b) => compareEndpoints(a, b));
}

function compareEndpoints(a: ProxyEndpoint, b: ProxyEndpoint): number {
  const pa = a.ip.split('.').map(Number);
  const pb = b.ip.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return a.ip === b.ip ? a.port - b.port : a.ip.localeCompare(b.ip);
}

/** Options of an EndpointSelector. */
export interface EndpointSelectorOptions {
  /** ClientIP affinity: how long a client sticks to its endpoint since its last connection (ms); 0 = no affinity. */
  affinityTimeoutMs?: number;
  clock?: Clock;
}

/**
 * Round robin over a service port's usable endpoints, with ClientIP affinity when configured.
 * `pick` skips endpoints already tried for the connection at hand (connect failures move on to the
 * next one); `forget` drops a client's affinity after its endpoint failed.
 */
export class EndpointSelector {
  private list: ProxyEndpoint[] = [];
  private next = 0;
  private readonly affinity = new Map<string, { key: string; lastUsed: number }>();
  private affinityTimeoutMs: number;
  private readonly clock: Clock;

  constructor(options: EndpointSelectorOptions = {}) {
    this.affinityTimeoutMs = options.affinityTimeoutMs ?? 0;
    this.clock = options.clock ?? realClock;
  }

  /** The endpoints currently in rotation. */
  get endpoints(): readonly ProxyEndpoint[] {
    return this.list;
  }

  /** Replaces the endpoints in rotation (keeps the round-robin position and still-valid affinities). */
  setEndpoints(endpoints: readonly ProxyEndpoint[]): void {
    this.list = [...endpoints];
    if (this.next >= this.list.length) this.next = 0;
    const keys = new Set(this.list.map(endpointKey));
    for (const [ip, a] of this.affinity) if (!keys.has(a.key)) this.affinity.delete(ip);
  }

  /** Changes the affinity timeout (0 turns affinity off and forgets every client). */
  setAffinityTimeout(ms: number): void {
    this.affinityTimeoutMs = ms;
    if (ms <= 0) this.affinity.clear();
  }

  /** The endpoint for a new connection from `clientIP`, or undefined when none is left untried. */
  pick(clientIP: string, tried: ReadonlySet<string> = new Set()): ProxyEndpoint | undefined {
    const now = this.clock.now();
    if (this.affinityTimeoutMs > 0) {
      const a = this.affinity.get(clientIP);
      if (a && now - a.lastUsed <= this.affinityTimeoutMs && !tried.has(a.key)) {
        const e = this.list.find((x) => endpointKey(x) === a.key);
        if (e) {
          a.lastUsed = now;
          return e;
        }
      }
      if (this.affinity.size > 4096) this.expireAffinity(now);
    }
    for (let i = 0; i < this.list.length; i++) {
      const idx = (this.next + i) % this.list.length;
      const e = this.list[idx]!;
      if (tried.has(endpointKey(e))) continue;
      this.next = (idx + 1) % this.list.length;
      if (this.affinityTimeoutMs > 0) this.affinity.set(clientIP, { key: endpointKey(e), lastUsed: now });
      return e;
    }
    return undefined;
  }

  /** Drops a client's affinity (its endpoint failed). */
  forget(clientIP: string): void {
    this.affinity.delete(clientIP);
  }

  private expireAffinity(now: number): void {
    for (const [ip, a] of this.affinity) if (now - a.lastUsed > this.affinityTimeoutMs) this.affinity.delete(ip);
  }
}
