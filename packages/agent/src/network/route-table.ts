/**
 * The host's IPv4 main routing table through iproute2. Routes this agent programs carry their own
 * routing protocol number (ROUTE_PROTO), so they are told apart from every other route: only those
 * are listed as owned, replaced or deleted (`ip route del ... proto N` deletes nothing else).
 */
import { parseCidr, type Ipv4Cidr } from './ipv4-cidr.js';
import type { CommandRunner } from './command-runner.js';

/**
 * The `proto` of routes the agent creates (0x66). Unused by the registered protocols in
 * iproute2's rt_protos (kernel 2, boot 3, static 4, dhcp 16, babel 42, bird 12, bgp 186, ...).
 */
export const ROUTE_PROTO = 102;

/** A route the agent owns: destination prefix via a gateway. */
export interface OwnedRoute {
  dst: string;
  via: string;
}

/** What the route reconciler needs of the host (IpRouteTable, or a fake runner behind it in tests). */
export interface RouteTable {
  /** Routes with ROUTE_PROTO in the main table, and the destinations of every other route there. */
  list(): Promise<{ owned: OwnedRoute[]; foreign: Set<string> }>;
  /** Prefixes of this host's IPv4 interface addresses (directly connected subnets), and the addresses. */
  connected(): Promise<{ subnets: Ipv4Cidr[]; addresses: Set<string> }>;
  /** `ip route replace DST via VIA proto ROUTE_PROTO`. */
  replace(route: OwnedRoute): Promise<void>;
  /** `ip route del DST proto ROUTE_PROTO`. */
  remove(dst: string): Promise<void>;
}

interface JsonRoute {
  dst: string;
  gateway?: string;
}

interface JsonLink {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** `ip -j` route listings print `default` for 0.0.0.0/0 and bare addresses for /32 routes. */
function normalizeDst(dst: string): string {
  if (dst === 'default') return '0.0.0.0/0';
  return dst.includes('/') ? dst : `${dst}/32`;
}

/** The main table through `ip` (iproute2 with JSON output). */
export class IpRouteTable implements RouteTable {
  constructor(private readonly run: CommandRunner) {}

  private async routes(extra: string[]): Promise<JsonRoute[]> {
    const out = await this.run('ip', ['-j', '-4', 'route', 'show', 'table', 'main', ...extra]);
    return out.trim() ? (JSON.parse(out) as JsonRoute[]) : [];
  }

  async list(): Promise<{ owned: OwnedRoute[]; foreign: Set<string> }> {
    // Filtered by proto, because iproute2 prints a protocol's name instead of its number once
    // rt_protos names it.
    const owned = (await this.routes(['proto', String(ROUTE_PROTO)])).map((r) => ({ dst: normalizeDst(r.dst), via: r.gateway ?? '' }));
    const ownedDsts = new Set(owned.map((r) => r.dst));
    const foreign = new Set((await this.routes([])).map((r) => normalizeDst(r.dst)).filter((d) => !ownedDsts.has(d)));
    return { owned, foreign };
  }

  async connected(): Promise<{ subnets: Ipv4Cidr[]; addresses: Set<string> }> {
    const out = await this.run('ip', ['-j', '-4', 'addr', 'show']);
    const links = out.trim() ? (JSON.parse(out) as JsonLink[]) : [];
    const subnets: Ipv4Cidr[] = [];
    const addresses = new Set<string>();
    for (const l of links) {
      for (const a of l.addr_info ?? []) {
        if (a.family !== 'inet') continue;
        addresses.add(a.local);
        // Loopback is never a next hop.
        if (a.prefixlen < 32 && !a.local.startsWith('127.')) subnets.push(parseCidr(`${a.local}/${a.prefixlen}`));
      }
    }
    return { subnets, addresses };
  }

  async replace(route: OwnedRoute): Promise<void> {
    await this.run('ip', ['route', 'replace', route.dst, 'via', route.via, 'proto', String(ROUTE_PROTO)]);
  }

  async remove(dst: string): Promise<void> {
    await this.run('ip', ['route', 'del', dst, 'proto', String(ROUTE_PROTO)]);
  }
}
