/**
 * The pods behind an Ingress backend: the Service port it names, resolved through the Service's
 * EndpointSlices to ready `podIP:targetPort` pairs (the slice port carrying the Service port's
 * name holds the resolved targetPort), and a round robin over them. The proxy connects to pods
 * directly, not through the ClusterIP.
 */
import type { EndpointSlice, Service } from '@flotilla/api/core';
import type { BackendRef } from './routing-table.js';

/** A pod address to proxy to. */
export interface Upstream {
  ip: string;
  port: number;
}

/** `ip:port` (`[ip]:port` for IPv6). */
export function upstreamKey(u: Upstream): string {
  return u.ip.includes(':') ? `[${u.ip}]:${u.port}` : `${u.ip}:${u.port}`;
}

/**
 * Ready endpoints of a backend, sorted and de-duplicated: none when the Service or its port is
 * missing, the Service is ExternalName, or no slice carries the port.
 */
export function readyUpstreams(ref: BackendRef, service: Readonly<Service> | undefined, slices: readonly Readonly<EndpointSlice>[]): Upstream[] {
  if (!service || service.spec?.type === 'ExternalName') return [];
  const sp = (service.spec?.ports ?? []).find((p) => (ref.port.name !== undefined ? p.name === ref.port.name : p.port === ref.port.number));
  if (!sp) return [];
  const portName = sp.name ?? '';
  const out = new Map<string, Upstream>();
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP')?.port;
    if (!port) continue;
    for (const e of slice.endpoints ?? []) {
      // Unset `ready` means ready; consumers use the first address only.
      const ip = e.addresses[0];
      if (!ip || e.conditions?.ready === false) continue;
      const u = { ip, port };
      out.set(upstreamKey(u), u);
    }
  }
  return [...out.values()].sort((a, b) => (upstreamKey(a) < upstreamKey(b) ? -1 : upstreamKey(a) > upstreamKey(b) ? 1 : 0));
}

/** Round robin over one backend's upstreams; the position survives endpoint updates. */
export class RoundRobin {
  private list: Upstream[] = [];
  private next = 0;

  /** Replaces the upstreams in rotation. */
  set(upstreams: Upstream[]): void {
    this.list = upstreams;
    if (this.next >= upstreams.length) this.next = 0;
  }

  /** Upstreams currently in rotation. */
  get upstreams(): readonly Upstream[] {
    return this.list;
  }

  /** The next upstream not in `tried`, or undefined when none is left. */
  pick(tried?: ReadonlySet<string>): Upstream | undefined {
    for (let i = 0; i < this.list.length; i++) {
      const idx = (this.next + i) % this.list.length;
      const u = this.list[idx]!;
      if (tried?.has(upstreamKey(u))) continue;
      this.next = (idx + 1) % this.list.length;
      return u;
    }
    return undefined;
  }
}
