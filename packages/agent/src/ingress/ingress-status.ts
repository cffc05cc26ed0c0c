/**
 * `status.loadBalancer.ingress` of an Ingress: every node serving it lists its own IPs. Each agent
 * adds its IPs (or removes them when it no longer serves the Ingress) and keeps the other entries
 * that are still some Node's address, so agents on different nodes converge on the same sorted list
 * and a deleted node's IPs disappear.
 */
import type { IngressLoadBalancerIngress } from '@flotilla/api/core';

function compareIPs(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  // IPv4 before IPv6, then textual.
  if (pa.length !== pb.length) return pb.length - pa.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The load-balancer entries after this node's update: entries of other nodes (IPs in `nodeIPs`,
 * the addresses of existing Nodes) are kept, this node's `ownIPs` are added when it serves the
 * Ingress and dropped otherwise; sorted by IP, without duplicates.
 */
export function desiredLoadBalancerIngress(current: readonly IngressLoadBalancerIngress[] | undefined, ownIPs: readonly string[], nodeIPs: ReadonlySet<string>, isServed: boolean): IngressLoadBalancerIngress[] {
  const own = new Set(ownIPs);
  const ips = new Set<string>();
  for (const e of current ?? []) if (e.ip && !own.has(e.ip) && nodeIPs.has(e.ip)) ips.add(e.ip);
  if (isServed) for (const ip of own) ips.add(ip);
  return [...ips].sort(compareIPs).map((ip) => ({ ip }));
}

/** True when two load-balancer lists are the same (order included). */
export function isSameLoadBalancerIngress(a: readonly IngressLoadBalancerIngress[] | undefined, b: readonly IngressLoadBalancerIngress[]): boolean {
  const x = a ?? [];
  return x.length === b.length && x.every((e, i) => e.ip === b[i]!.ip && !e.hostname && !e.ports);
}
