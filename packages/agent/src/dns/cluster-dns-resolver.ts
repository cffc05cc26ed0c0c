/**
 * The Kubernetes DNS specification (cluster-domain names → records), computed from cached Services
 * and EndpointSlices, without any I/O: `ClusterDnsResolver.resolve(question)` says what to answer,
 * or that the name is not ours and must be forwarded.
 *
 * Names served (ZONE is the cluster domain, every TTL is `ttl`, 5 s by default):
 * - `SVC.NS.svc.ZONE` — A/AAAA of the ClusterIPs; for a headless service, one per ready endpoint
 *   address (all addresses with publishNotReadyAddresses); NXDOMAIN for a headless service without
 *   one. ExternalName services answer a CNAME to `spec.externalName`, and ask the caller to chase it.
 * - `_PORT._PROTO.SVC.NS.svc.ZONE` — SRV of a named port: the service's port and name, or for a
 *   headless service one per ready endpoint with its endpoint name as the target (glue in additionals).
 *   A plain SRV query of `SVC.NS.svc.ZONE` lists every port.
 * - `HOST.SVC.NS.svc.ZONE` — the endpoint whose hostname (or dashed IP, `10-1-2-3`) is HOST.
 * - `A-B-C-D.NS.pod.ZONE` — A of A.B.C.D (CoreDNS's `pods insecure`: not checked against pods).
 * - `dns-version.ZONE` TXT `1.1.0`; the zone apex's SOA and NS.
 * - `D.C.B.A.in-addr.arpa` PTR for a ClusterIP → `SVC.NS.svc.ZONE` (any other reverse name is forwarded).
 * Any other name in the zone is NXDOMAIN; a name that exists without records of the asked type is
 * NOERROR with no answers (NODATA); both carry the zone's SOA in the authority section.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, Question, RecordType } from 'dns-packet';

/** The parts of a Service the resolver reads. */
export interface DnsService {
  metadata: { name?: string; namespace?: string };
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalName?: string;
    publishNotReadyAddresses?: boolean;
    ports?: { name?: string; port: number; protocol?: string }[];
  };
}

/** The parts of a discovery.k8s.io/v1 EndpointSlice the resolver reads. */
export interface DnsEndpointSlice {
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean }; hostname?: string }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

/** Read access to the cached objects the answers come from (informers in production, maps in tests). */
export interface ClusterDnsSource {
  /** The service NS/NAME, if cached. */
  getService(namespace: string, name: string): Readonly<DnsService> | undefined;
  /** The EndpointSlices labelled `kubernetes.io/service-name=NAME` in NS. */
  endpointSlicesOf(namespace: string, service: string): readonly Readonly<DnsEndpointSlice>[];
  /** Services whose ClusterIPs include `ip` (for PTR). */
  servicesWithClusterIP(ip: string): readonly Readonly<DnsService>[];
}

/** What to send back for one question. */
export type ResolveResult =
  | {
      kind: 'answer';
      rcode: 'NOERROR' | 'NXDOMAIN';
      answers: Answer[];
      authorities: Answer[];
      additionals: Answer[];
      /** An out-of-zone CNAME target whose A/AAAA records the caller should append (from upstream). */
      chase?: { name: string; type: 'A' | 'AAAA' };
    }
  /** Not in the cluster domain (or a reverse name we do not know): forward it upstream. */
  | { kind: 'forward' };

/** Options of a resolver. */
export interface ClusterDnsResolverOptions {
  source: ClusterDnsSource;
  /** The cluster domain, e.g. `cluster.local`. */
  domain: string;
  /** TTL of every record (s, default 5). */
  ttl?: number;
  /** SOA serial (default: the creation time in seconds). */
  serial?: number;
}

/** A question's type as decoded (dns-packet also yields `ANY` for 255). */
type QType = RecordType | 'ANY';

interface Endpoint {
  ip: string;
  hostname: string;
  slice: Readonly<DnsEndpointSlice>;
}

/** `10.1.2.3` → `10-1-2-3`; `fd00::1` → `fd00--1` (the Kubernetes DNS dashed form). */
export function dashedIP(ip: string): string {
  return isIPv4(ip) ? ip.replace(/\./g, '-') : ip.replace(/:/g, '-');
}

/** Answers questions about the cluster domain from a `ClusterDnsSource`. */
export class ClusterDnsResolver {
  private readonly zone: string;
  private readonly ttl: number;
  private readonly serial: number;

  constructor(private readonly options: ClusterDnsResolverOptions) {
    this.zone = options.domain.toLowerCase().replace(/^\.+|\.+$/g, '');
    this.ttl = options.ttl ?? 5;
    this.serial = options.serial ?? Math.floor(Date.now() / 1000);
  }

  /** The zone's SOA record (also the authority of negative answers). */
  soa(): Answer {
    return { type: 'SOA', name: this.zone, ttl: this.ttl, class: 'IN', data: { mname: `ns.dns.${this.zone}`, rname: `hostmaster.${this.zone}`, serial: this.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: this.ttl } };
  }

  /** True if `name` is the cluster domain or below it. */
  isInZone(name: string): boolean {
    const n = name.toLowerCase().replace(/\.+$/, '');
    return n === this.zone || n.endsWith(`.${this.zone}`);
  }

  /** Resolves one question (class IN assumed). */
  resolve(q: Question): ResolveResult {
    const name = q.name.replace(/\.+$/, '');
    const lower = name.toLowerCase();
    if (lower.endsWith('.in-addr.arpa')) return this.reverse(q, lower);
    if (!this.isInZone(lower)) return { kind: 'forward' };
    const rel = lower === this.zone ? [] : lower.slice(0, -this.zone.length - 1).split('.');
    const type = q.type as QType;
    if (rel.length === 0) {
      if (type === 'SOA') return this.ok([{ ...this.soa(), name }], [], []);
      if (type === 'NS') return this.ok([this.record(name, 'NS', `ns.dns.${this.zone}`)], [], []);
      return this.nodata();
    }
    if (rel.length === 1 && rel[0] === 'dns-version') {
      return type === 'TXT' || type === 'ANY' ? this.ok([{ type: 'TXT', name, ttl: this.ttl, class: 'IN', data: '1.1.0' }], [], []) : this.nodata();
    }
    const kind = rel[rel.length - 1];
    if (kind === 'svc') return this.service(name, type, rel.slice(0, -1));
    if (kind === 'pod') return this.pod(name, type, rel.slice(0, -1));
    return this.nxdomain();
  }

  private service(name: string, type: QType, labels: string[]): ResolveResult {
    // `svc.ZONE` and `NS.svc.ZONE` are empty non-terminals.
    if (labels.length < 2) return this.nodata();
    if (labels.length === 2) return this.serviceName(name, type, labels[1]!, labels[0]!);
    if (labels.length === 3) return this.endpointName(name, type, labels[2]!, labels[1]!, labels[0]!);
    if (labels.length === 4 && labels[0]!.startsWith('_') && labels[1]!.startsWith('_')) return this.srvName(name, type, labels[3]!, labels[2]!, labels[0]!.slice(1), labels[1]!.slice(1));
    return this.nxdomain();
  }

  private serviceName(name: string, type: QType, ns: string, svcName: string): ResolveResult {
    const svc = this.options.source.getService(ns, svcName);
    if (!svc) return this.nxdomain();
    const fqdn = this.serviceFqdn(ns, svcName);
    const spec = svc.spec ?? {};
    if (spec.type === 'ExternalName') {
      const target = (spec.externalName ?? '').replace(/\.+$/, '');
      if (!target) return this.nxdomain();
      const cname = this.record(name, 'CNAME', target);
      return { kind: 'answer', rcode: 'NOERROR', answers: [cname], authorities: [], additionals: [], ...((type === 'A' || type === 'AAAA') && !this.isInZone(target) ? { chase: { name: target, type } } : {}) };
    }
    if (!isHeadless(svc)) {
      const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
      if (type === 'SRV') {
        const srvs = (spec.ports ?? []).map((p) => this.srv(name, p.port, fqdn));
        return srvs.length ? this.ok(srvs, [], this.addresses(fqdn, 'ANY', ips)) : this.nodata();
      }
      const answers = this.addresses(name, type, ips);
      return answers.length ? this.ok(answers, [], []) : this.nodata();
    }
    const endpoints = this.readyEndpoints(svc, ns, svcName);
    if (endpoints.length === 0) return this.nxdomain();
    if (type === 'SRV') {
      const answers: Answer[] = [];
      const additionals: Answer[] = [];
      for (const ep of endpoints) {
        const target = `${ep.hostname}.${fqdn}`;
        for (const p of ep.slice.ports ?? []) if (p.port !== undefined) answers.push(this.srv(name, p.port, target));
        additionals.push(...this.addresses(target, 'ANY', [ep.ip]));
      }
      return answers.length ? this.ok(dedupe(answers), [], dedupe(additionals)) : this.nodata();
    }
    const answers = this.addresses(name, type, endpoints.map((e) => e.ip));
    return answers.length ? this.ok(dedupe(answers), [], []) : this.nodata();
  }

  private endpointName(name: string, type: QType, ns: string, svcName: string, host: string): ResolveResult {
    const svc = this.options.source.getService(ns, svcName);
    if (!svc || svc.spec?.type === 'ExternalName') return this.nxdomain();
    const matches = this.readyEndpoints(svc, ns, svcName).filter((e) => e.hostname === host);
    if (matches.length === 0) return this.nxdomain();
    const answers = this.addresses(name, type, matches.map((e) => e.ip));
    return answers.length ? this.ok(dedupe(answers), [], []) : this.nodata();
  }

  private srvName(name: string, type: QType, ns: string, svcName: string, portName: string, proto: string): ResolveResult {
    const svc = this.options.source.getService(ns, svcName);
    if (!svc || svc.spec?.type === 'ExternalName') return this.nxdomain();
    const fqdn = this.serviceFqdn(ns, svcName);
    const matchesPort = (p: { name?: string; protocol?: string }) => (p.name ?? '').toLowerCase() === portName && (p.protocol ?? 'TCP').toLowerCase() === proto;
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    if (!isHeadless(svc)) {
      const spec = svc.spec ?? {};
      const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
      for (const p of spec.ports ?? []) if (matchesPort(p)) answers.push(this.srv(name, p.port, fqdn));
      if (answers.length) additionals.push(...this.addresses(fqdn, 'ANY', ips));
    } else {
      for (const ep of this.readyEndpoints(svc, ns, svcName)) {
        const target = `${ep.hostname}.${fqdn}`;
        const ports = (ep.slice.ports ?? []).filter((p) => p.port !== undefined && matchesPort(p));
        for (const p of ports) answers.push(this.srv(name, p.port!, target));
        if (ports.length) additionals.push(...this.addresses(target, 'ANY', [ep.ip]));
      }
    }
    if (answers.length === 0) return this.nxdomain();
    return type === 'SRV' || type === 'ANY' ? this.ok(dedupe(answers), [], dedupe(additionals)) : this.nodata();
  }

  private pod(name: string, type: QType, labels: string[]): ResolveResult {
    if (labels.length < 2) return this.nodata();
    if (labels.length !== 2) return this.nxdomain();
    const dashed = labels[0]!;
    const v4 = dashed.replace(/-/g, '.');
    const v6 = dashed.replace(/-/g, ':');
    const ip = isIPv4(v4) ? v4 : isIPv6(v6) ? v6 : undefined;
    if (!ip) return this.nxdomain();
    const answers = this.addresses(name, type, [ip]);
    return answers.length ? this.ok(answers, [], []) : this.nodata();
  }

  private reverse(q: Question, lower: string): ResolveResult {
    const parts = lower.slice(0, -'.in-addr.arpa'.length).split('.');
    const ip = parts.reverse().join('.');
    if (parts.length !== 4 || !isIPv4(ip)) return { kind: 'forward' };
    const services = this.options.source.servicesWithClusterIP(ip);
    if (services.length === 0) return { kind: 'forward' };
    if ((q.type as QType) !== 'PTR' && (q.type as QType) !== 'ANY') return this.nodata();
    const name = q.name.replace(/\.+$/, '');
    return this.ok(services.map((s) => this.record(name, 'PTR', this.serviceFqdn(s.metadata.namespace ?? '', s.metadata.name ?? ''))), [], []);
  }

  /** Endpoints of a service that DNS publishes: ready ones (unset counts as ready), or all with publishNotReadyAddresses. */
  private readyEndpoints(svc: Readonly<DnsService>, ns: string, svcName: string): Endpoint[] {
    const all = svc.spec?.publishNotReadyAddresses === true;
    const out: Endpoint[] = [];
    for (const slice of this.options.source.endpointSlicesOf(ns, svcName)) {
      if (slice.addressType === 'FQDN') continue;
      for (const ep of slice.endpoints ?? []) {
        if (!all && ep.conditions?.ready === false) continue;
        for (const ip of ep.addresses ?? []) out.push({ ip, hostname: (ep.hostname ?? dashedIP(ip)).toLowerCase(), slice });
      }
    }
    return out;
  }

  private serviceFqdn(ns: string, svc: string): string {
    return `${svc}.${ns}.svc.${this.zone}`;
  }

  /** A (IPv4) or AAAA (IPv6) records of `ips` that fit the asked type ('ANY': both). */
  private addresses(name: string, type: QType, ips: readonly string[]): Answer[] {
    const out: Answer[] = [];
    for (const ip of ips) {
      if (isIPv4(ip) && (type === 'A' || type === 'ANY')) out.push(this.record(name, 'A', ip));
      else if (isIPv6(ip) && (type === 'AAAA' || type === 'ANY')) out.push(this.record(name, 'AAAA', ip));
    }
    return out;
  }

  private record(name: string, type: 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'NS', data: string): Answer {
    return { type, name, ttl: this.ttl, class: 'IN', data };
  }

  private srv(name: string, port: number, target: string): Answer {
    return { type: 'SRV', name, ttl: this.ttl, class: 'IN', data: { priority: 0, weight: 100, port, target } };
  }

  private ok(answers: Answer[], authorities: Answer[], additionals: Answer[]): ResolveResult {
    return { kind: 'answer', rcode: 'NOERROR', answers, authorities, additionals };
  }

  private nodata(): ResolveResult {
    return { kind: 'answer', rcode: 'NOERROR', answers: [], authorities: [this.soa()], additionals: [] };
  }

  private nxdomain(): ResolveResult {
    return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authorities: [this.soa()], additionals: [] };
  }
}

function isHeadless(svc: Readonly<DnsService>): boolean {
  return !svc.spec?.clusterIP || svc.spec.clusterIP === 'None';
}

function dedupe(records: Answer[]): Answer[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = `${r.type}|${r.name.toLowerCase()}|${JSON.stringify((r as { data?: unknown }).data)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
