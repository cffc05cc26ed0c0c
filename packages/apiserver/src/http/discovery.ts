/**
 * Discovery documents: /version, /api, /apis, /apis/<group>, /api/v1 and /apis/<group>/<version>
 * (APIResourceList with subresources), as kubectl and client libraries read them.
 */
import { apiGroups, groupVersionOf, isStoredResource, SERVED_RESOURCES, type ResourceInfo, type SubresourceName } from '@flotilla/api';
import { parseAccept } from './negotiation.js';

/** The Kubernetes API level Flotilla implements (kubectl picks its version from the minor). */
export const KUBERNETES_MAJOR = '1';
export const KUBERNETES_MINOR = '31';
export const FLOTILLA_VERSION = '0.1.0';

/** `GET /version`. */
export function versionInfo(): Record<string, string> {
  return {
    major: KUBERNETES_MAJOR,
    minor: KUBERNETES_MINOR,
    gitVersion: `v${KUBERNETES_MAJOR}.${KUBERNETES_MINOR}.0+flotilla-${FLOTILLA_VERSION}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'flotilla',
    platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

/** `GET /api`. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** `GET /apis`. */
export function apiGroupList(extraGroups: { name: string; versions: string[] }[] = []): Record<string, unknown> {
  const groups = [...apiGroups().filter((g) => g.name !== ''), ...extraGroups].map((g) => groupDoc(g.name, g.versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `GET /apis/<group>` or undefined when the group is not served. */
export function apiGroup(name: string, extraGroups: { name: string; versions: string[] }[] = []): Record<string, unknown> | undefined {
  const g = [...apiGroups(), ...extraGroups].find((x) => x.name === name && name !== '');
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g.name, g.versions) } : undefined;
}

interface SubresourceDoc {
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
}

function subresourceDoc(r: ResourceInfo, sub: SubresourceName): SubresourceDoc {
  switch (sub) {
    case 'status':
    case 'ephemeralcontainers':
      return { kind: r.kind, verbs: ['get', 'patch', 'update'] };
    case 'scale':
      return { kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' };
    case 'binding':
      return { kind: 'Binding', verbs: ['create'] };
    case 'eviction':
      return { kind: 'Eviction', verbs: ['create'], group: 'policy', version: 'v1' };
    case 'token':
      return { kind: 'TokenRequest', verbs: ['create'], group: 'authentication.k8s.io', version: 'v1' };
    case 'finalize':
      return { kind: r.kind, verbs: ['update'] };
    case 'log':
      return { kind: 'Pod', verbs: ['get'] };
    case 'exec':
      return { kind: 'PodExecOptions', verbs: ['create', 'get'] };
    case 'attach':
      return { kind: 'PodAttachOptions', verbs: ['create', 'get'] };
    case 'portforward':
      return { kind: 'PodPortForwardOptions', verbs: ['create', 'get'] };
    case 'proxy':
      return { kind: `${r.kind}ProxyOptions`, verbs: ['create', 'delete', 'get', 'patch', 'update'] };
  }
}

/**
 * `GET /api/v1` or `/apis/<g>/<v>`: the main resources and the subresources that are served
 * (`served` says which subresource names are implemented).
 */
export function apiResourceList(group: string, version: string, served: ReadonlySet<SubresourceName>): Record<string, unknown> | undefined {
  const rs = SERVED_RESOURCES.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of rs) {
    const main: Record<string, unknown> = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: [...r.verbs] };
    if (r.shortNames.length > 0) main['shortNames'] = [...r.shortNames];
    if (r.categories.length > 0) main['categories'] = [...r.categories];
    if (!isStoredResource(r)) main['singularName'] = '';
    resources.push(main);
    for (const sub of r.subresources) {
      if (!served.has(sub)) continue;
      const d = subresourceDoc(r, sub);
      const entry: Record<string, unknown> = { name: `${r.plural}/${sub}`, singularName: '', namespaced: r.namespaced, kind: d.kind, verbs: d.verbs };
      if (d.group !== undefined) {
        entry['group'] = d.group;
        entry['version'] = d.version;
      }
      resources.push(entry);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersionOf({ group, version }), resources };
}

/**
 * Aggregated discovery (apidiscovery.k8s.io): `GET /api` and `GET /apis` answer every group, version
 * and resource in one document when the client asks for it, instead of a document per group
 * version. client-go asks for v2 since 1.30 and for v2beta1 before (same shape); anything else gets
 * the legacy documents, which stay the source this one is built from.
 */
export type AggregatedDiscoveryVersion = 'v2' | 'v2beta1';

/** The exact Content-Type of an aggregated discovery answer (client-go compares it). */
export function aggregatedDiscoveryMediaType(v: AggregatedDiscoveryVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
}

/**
 * The aggregated discovery version an Accept header asks for, or undefined for the legacy
 * documents: the first media range that is JSON decides (protobuf ranges are passed over).
 */
export function negotiateAggregatedDiscovery(accept: string | undefined): AggregatedDiscoveryVersion | undefined {
  if (!accept) return undefined;
  for (const m of parseAccept(accept)) {
    if (m.type === 'application/json' && m.params['g'] === 'apidiscovery.k8s.io' && m.params['as'] === 'APIGroupDiscoveryList') {
      if (m.params['v'] === 'v2' || m.params['v'] === 'v2beta1') return m.params['v'];
      continue;
    }
    if (m.type === 'application/json' || m.type === 'application/*' || m.type === '*/*') return undefined;
  }
  return undefined;
}

/** One group's versions (preferred first), each with its legacy APIResourceList document. */
export interface DiscoveredGroup {
  /** '' for the core group (`/api`). */
  group: string;
  versions: { version: string; list: Record<string, unknown> }[];
}

interface LegacyResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
  shortNames?: string[];
  categories?: string[];
}

/** APIResourceDiscovery entries of one group version, from its APIResourceList (subresources under their resource). */
function resourceDiscovery(group: string, version: string, list: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const byName = new Map<string, Record<string, unknown>>();
  for (const r of (list['resources'] ?? []) as LegacyResource[]) {
    const responseKind = { group: r.group ?? group, version: r.version ?? version, kind: r.kind };
    const slash = r.name.indexOf('/');
    if (slash < 0) {
      const entry: Record<string, unknown> = { resource: r.name, responseKind, scope: r.namespaced ? 'Namespaced' : 'Cluster', singularResource: r.singularName ?? '', verbs: r.verbs };
      if (r.shortNames) entry['shortNames'] = r.shortNames;
      if (r.categories) entry['categories'] = r.categories;
      byName.set(r.name, entry);
      out.push(entry);
      continue;
    }
    const parent = byName.get(r.name.slice(0, slash));
    if (!parent) continue;
    const subs = (parent['subresources'] ??= []) as Record<string, unknown>[];
    subs.push({ subresource: r.name.slice(slash + 1), responseKind, verbs: r.verbs });
  }
  return out;
}

/** `GET /api` or `/apis` as an APIGroupDiscoveryList of version `v`. */
export function aggregatedDiscovery(groups: DiscoveredGroup[], v: AggregatedDiscoveryVersion): Record<string, unknown> {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${v}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: g.group === '' ? {} : { name: g.group },
      versions: g.versions.map(({ version, list }) => ({ version, resources: resourceDiscovery(g.group, version, list), freshness: 'Current' })),
    })),
  };
}

/**
 * The groups of `/api` (core) and `/apis` with their resource lists: the stored kinds' (with the
 * subresources in `served`) and `extra` groups served by their own handlers.
 */
export function discoveredGroups(served: ReadonlySet<SubresourceName>, extra: { name: string; versions: string[]; list: (version: string) => Record<string, unknown> }[] = []): { core: DiscoveredGroup[]; apis: DiscoveredGroup[] } {
  const of = (group: string, versions: string[]): DiscoveredGroup => ({ group, versions: versions.map((version) => ({ version, list: apiResourceList(group, version, served) ?? { resources: [] } })) });
  const core = apiGroups().filter((g) => g.name === '').map((g) => of('', g.versions));
  const apis = [...apiGroups().filter((g) => g.name !== '').map((g) => of(g.name, g.versions)), ...extra.map((g) => ({ group: g.name, versions: g.versions.map((version) => ({ version, list: g.list(version) })) }))];
  return { core, apis };
}
