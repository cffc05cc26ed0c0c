/**
 * The routing table of the node's Ingress proxy: which Service port a request goes to, by host and
 * path, as networking.k8s.io/v1 defines it.
 *
 * - Hosts: an exact host beats a wildcard (`*.example.com` matches exactly one extra DNS label:
 *   `a.example.com`, not `example.com` nor `a.b.example.com`), which beats rules without a host.
 *   Only the most specific host group that exists is searched (as ingress-nginx's server blocks).
 * - Paths: `Exact` compares the whole path; `Prefix` (and `ImplementationSpecific`) matches by
 *   path elements (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`). The longest rule
 *   path wins; on equal length `Exact` beats `Prefix`; then the older Ingress wins.
 * - Nothing matched in the group: the `defaultBackend` of the oldest Ingress with rules for that
 *   host, else of the oldest Ingress at all; else no route (404).
 *
 * Pure: built from Ingress objects, no I/O; rebuilt whenever they change.
 */
import type { Ingress, IngressBackend } from '@flotilla/api/core';

/** A Service port an Ingress routes to (in the Ingress's namespace). */
export interface BackendRef {
  namespace: string;
  service: string;
  /** `number` or `name` of the Service port (ServiceBackendPort). */
  port: { number?: number; name?: string };
}

/** `ns/service:port`, the identity of a backend. */
export function backendKey(b: BackendRef): string {
  return `${b.namespace}/${b.service}:${b.port.name ?? b.port.number ?? ''}`;
}

/** What a request matched. */
export interface RouteMatch {
  backend: BackendRef;
  /** `namespace/name` of the Ingress the route came from. */
  ingress: string;
  /** The rule path (`undefined` for a default backend). */
  path?: string;
}

interface PathRoute {
  path: string;
  exact: boolean;
  /** Path elements of a Prefix path (`/a/b/` -> ['a', 'b']). */
  elements: string[];
  rank: number;
  match: RouteMatch;
}

interface HostGroup {
  routes: PathRoute[];
  defaultBackend?: RouteMatch;
}

/** One host group's routes in the order they are tried, and what a request matching none of them gets. */
export interface HostRoutes {
  routes: readonly Readonly<Pick<PathRoute, 'path' | 'exact' | 'elements' | 'match'>>[];
  fallback: RouteMatch | undefined;
}

/** The table by host group (wildcards keyed by the suffix after `*.`), for configuration generators. */
export interface HostGroups {
  exact: ReadonlyMap<string, HostRoutes>;
  wildcard: ReadonlyMap<string, HostRoutes>;
  any: HostRoutes;
}

/** Splits a path into its non-empty elements. */
function elementsOf(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function isPrefixOf(prefix: readonly string[], elements: readonly string[]): boolean {
  if (prefix.length > elements.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== elements[i]) return false;
  return true;
}

/** Lower-cased host without port and trailing dot (`Foo.Test:8080` -> `foo.test`, `[::1]:80` -> `::1`). */
export function normalizeHost(host: string | undefined): string {
  if (!host) return '';
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end > 0 ? h.slice(1, end) : h;
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon);
  }
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The path of a request target without query (`/a?b` -> `/a`; absolute-form URLs too). */
export function requestPath(url: string | undefined): string {
  if (!url) return '/';
  let u = url;
  if (!u.startsWith('/')) {
    try {
      u = new URL(u).pathname;
    } catch {
      return '/';
    }
  }
  let q = u.indexOf('?');
  const h = u.indexOf('#');
  if (h >= 0 && (q < 0 || h < q)) q = h;
  return q >= 0 ? u.slice(0, q) || '/' : u;
}

/** Oldest first (creationTimestamp), then by namespace/name: the order conflicts are decided in. */
export function sortIngresses<T extends Readonly<Ingress>>(ingresses: readonly T[]): T[] {
  return [...ingresses].sort(compareIngresses);
}

function compareIngresses(a: Readonly<Ingress>, b: Readonly<Ingress>): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function toBackend(namespace: string, b: IngressBackend | undefined): BackendRef | undefined {
  const s = b?.service;
  // Resource backends (`spec.backend.resource`) are not served by this proxy.
  if (!s?.name) return undefined;
  return { namespace, service: s.name, port: s.port?.name ? { name: s.port.name } : { number: s.port?.number ?? 0 } };
}

/** A host/path routing table built from Ingresses (which must already be filtered by class). */
export class RoutingTable {
  private readonly exact = new Map<string, HostGroup>();
  /** Wildcard groups by the suffix after `*.`. */
  private readonly wildcard = new Map<string, HostGroup>();
  private readonly any: HostGroup = { routes: [] };
  private globalDefault: RouteMatch | undefined;
  private readonly backendRefs = new Map<string, BackendRef>();

  /** Builds the table of the given Ingresses. */
  static build(ingresses: readonly Readonly<Ingress>[]): RoutingTable {
    const t = new RoutingTable();
    sortIngresses(ingresses).forEach((ing, rank) => t.add(ing, rank));
    for (const g of [t.any, ...t.exact.values(), ...t.wildcard.values()]) {
      g.routes.sort((a, b) => b.path.length - a.path.length || Number(b.exact) - Number(a.exact) || a.rank - b.rank);
    }
    return t;
  }

  private group(host: string | undefined): HostGroup {
    const h = normalizeHost(host);
    if (!h) return this.any;
    const map = h.startsWith('*.') ? this.wildcard : this.exact;
    const k = h.startsWith('*.') ? h.slice(2) : h;
    let g = map.get(k);
    if (!g) map.set(k, (g = { routes: [] }));
    return g;
  }

  private add(ing: Readonly<Ingress>, rank: number): void {
    const namespace = ing.metadata.namespace ?? 'default';
    const id = `${namespace}/${ing.metadata.name ?? ''}`;
    const def = toBackend(namespace, ing.spec?.defaultBackend);
    const defMatch = def ? { backend: def, ingress: id } : undefined;
    if (defMatch) {
      this.globalDefault ??= defMatch;
      this.backendRefs.set(backendKey(def!), def!);
    }
    for (const rule of ing.spec?.rules ?? []) {
      const g = this.group(rule.host);
      if (defMatch) g.defaultBackend ??= defMatch;
      for (const p of rule.http?.paths ?? []) {
        const backend = toBackend(namespace, p.backend);
        if (!backend) continue;
        this.backendRefs.set(backendKey(backend), backend);
        const path = p.path || '/';
        g.routes.push({ path, exact: p.pathType === 'Exact', elements: elementsOf(path), rank, match: { backend, ingress: id, path } });
      }
    }
  }

  /** Every backend some route or default backend refers to. */
  backends(): BackendRef[] {
    return [...this.backendRefs.values()];
  }

  /** Every host group with its routes in match order; `match` searches exactly these. */
  hostGroups(): HostGroups {
    const view = (g: HostGroup): HostRoutes => ({ routes: g.routes, fallback: g.defaultBackend ?? this.globalDefault });
    const views = (m: Map<string, HostGroup>) => new Map([...m].map(([k, g]) => [k, view(g)]));
    return { exact: views(this.exact), wildcard: views(this.wildcard), any: view(this.any) };
  }

  /** The route of a request (`host` as in the Host header, `path` without query), or undefined (404). */
  match(host: string | undefined, path: string): RouteMatch | undefined {
    const h = normalizeHost(host);
    let g = h ? this.exact.get(h) : undefined;
    if (!g && h) {
      const dot = h.indexOf('.');
      if (dot > 0) g = this.wildcard.get(h.slice(dot + 1));
    }
    g ??= this.any;
    let elements: string[] | undefined;
    for (const r of g.routes) {
      if (r.exact) {
        if (r.path === path) return r.match;
      } else if (r.elements.length === 0 || isPrefixOf(r.elements, (elements ??= elementsOf(path)))) {
        return r.match;
      }
    }
    return g.defaultBackend ?? this.globalDefault;
  }
}
