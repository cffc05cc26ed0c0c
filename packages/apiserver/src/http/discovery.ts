/**
 * Discovery documents: /version, /api, /apis, /apis/<group>, /api/v1 and /apis/<group>/<version>
 * (APIResourceList with subresources), as kubectl and client libraries read them.
 */
import { apiGroups, groupVersionOf, isStoredResource, SERVED_RESOURCES, type ResourceInfo, type SubresourceName } from '@flotilla/api';

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
