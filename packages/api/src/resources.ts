/**
 * The resource table: every kind Flotilla serves, with the facts discovery, routing, the CLI and the
 * clients need (group, version, kind, plural, shortNames, namespaced, subresources). Adding a kind to
 * the API starts here.
 */

/** The standard verbs of a resource that supports everything. */
export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
export type Verb = (typeof ALL_VERBS)[number];

/** A subresource the API server serves under `<resource>/<name>/<subresource>`. */
export type SubresourceName =
  | 'status'
  | 'scale'
  | 'binding'
  | 'eviction'
  | 'ephemeralcontainers'
  | 'log'
  | 'exec'
  | 'attach'
  | 'portforward'
  | 'finalize'
  | 'proxy'
  | 'token';

/** Static description of one resource (one group/version/plural). */
export interface ResourceInfo {
  /** API group; "" for core. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** `PodList` etc. */
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly Verb[];
  readonly subresources: readonly SubresourceName[];
}

/** `apps/v1`, or `v1` for the core group. */
export function groupVersionOf(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** `pods`, `deployments.apps`: the form used in error messages. */
export function qualifiedResourceOf(r: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`;
}

interface ResourceSpec {
  kind: string;
  plural?: string;
  namespaced?: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: Verb[];
  subresources?: SubresourceName[];
}

function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith('s')) return `${lower}es`;
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

function group(groupName: string, version: string, specs: ResourceSpec[]): ResourceInfo[] {
  return specs.map((s) => ({
    group: groupName,
    version,
    kind: s.kind,
    listKind: `${s.kind}List`,
    plural: s.plural ?? pluralOf(s.kind),
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced ?? true,
    shortNames: s.shortNames ?? [],
    categories: s.categories ?? [],
    verbs: s.verbs ?? [...ALL_VERBS],
    subresources: s.subresources ?? [],
  }));
}

const ALL = ['all'];
const CLUSTER = false;

/**
 * Every resource served, in discovery order: groups in preference order, a group's resources in
 * the order kubectl lists them.
 */
export const RESOURCES: readonly ResourceInfo[] = [
  ...group('', 'v1', [
    { kind: 'Binding', verbs: ['create'] },
    { kind: 'ConfigMap', shortNames: ['cm'] },
    { kind: 'Endpoints', plural: 'endpoints', shortNames: ['ep'] },
    { kind: 'Event', shortNames: ['ev'] },
    { kind: 'LimitRange', shortNames: ['limits'] },
    { kind: 'Namespace', namespaced: CLUSTER, shortNames: ['ns'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], subresources: ['finalize', 'status'] },
    { kind: 'Node', namespaced: CLUSTER, shortNames: ['no'], subresources: ['proxy', 'status'] },
    { kind: 'PersistentVolumeClaim', shortNames: ['pvc'], subresources: ['status'] },
    { kind: 'PersistentVolume', namespaced: CLUSTER, shortNames: ['pv'], subresources: ['status'] },
    { kind: 'Pod', shortNames: ['po'], categories: ALL, subresources: ['attach', 'binding', 'ephemeralcontainers', 'eviction', 'exec', 'log', 'portforward', 'proxy', 'status'] },
    { kind: 'ReplicationController', shortNames: ['rc'], categories: ALL, subresources: ['scale', 'status'] },
    { kind: 'ResourceQuota', shortNames: ['quota'], subresources: ['status'] },
    { kind: 'Secret' },
    { kind: 'ServiceAccount', shortNames: ['sa'], subresources: ['token'] },
    { kind: 'Service', shortNames: ['svc'], categories: ALL, verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], subresources: ['proxy', 'status'] },
  ]),
  ...group('apps', 'v1', [
    { kind: 'ControllerRevision' },
    { kind: 'DaemonSet', shortNames: ['ds'], categories: ALL, subresources: ['status'] },
    { kind: 'Deployment', shortNames: ['deploy'], categories: ALL, subresources: ['scale', 'status'] },
    { kind: 'ReplicaSet', shortNames: ['rs'], categories: ALL, subresources: ['scale', 'status'] },
    { kind: 'StatefulSet', shortNames: ['sts'], categories: ALL, subresources: ['scale', 'status'] },
  ]),
  ...group('autoscaling', 'v2', [{ kind: 'HorizontalPodAutoscaler', shortNames: ['hpa'], categories: ALL, subresources: ['status'] }]),
  ...group('batch', 'v1', [
    { kind: 'CronJob', shortNames: ['cj'], categories: ALL, subresources: ['status'] },
    { kind: 'Job', categories: ALL, subresources: ['status'] },
  ]),
  ...group('coordination.k8s.io', 'v1', [{ kind: 'Lease' }]),
  ...group('discovery.k8s.io', 'v1', [{ kind: 'EndpointSlice' }]),
  ...group('networking.k8s.io', 'v1', [
    { kind: 'IngressClass', namespaced: CLUSTER },
    { kind: 'Ingress', shortNames: ['ing'], subresources: ['status'] },
    { kind: 'NetworkPolicy', plural: 'networkpolicies', shortNames: ['netpol'] },
  ]),
  ...group('policy', 'v1', [{ kind: 'PodDisruptionBudget', shortNames: ['pdb'], subresources: ['status'] }]),
  ...group('rbac.authorization.k8s.io', 'v1', [
    { kind: 'ClusterRoleBinding', namespaced: CLUSTER },
    { kind: 'ClusterRole', namespaced: CLUSTER },
    { kind: 'RoleBinding' },
    { kind: 'Role' },
  ]),
  ...group('scheduling.k8s.io', 'v1', [{ kind: 'PriorityClass', plural: 'priorityclasses', namespaced: CLUSTER, shortNames: ['pc'] }]),
  ...group('storage.k8s.io', 'v1', [{ kind: 'StorageClass', plural: 'storageclasses', namespaced: CLUSTER, shortNames: ['sc'] }]),
];

/**
 * Further versions some stored resources are also served at, converted to and from the version in
 * RESOURCES (which is the one stored and preferred): autoscaling/v1 HorizontalPodAutoscalers, which
 * `kubectl autoscale` creates, and events.k8s.io/v1 Events (core/v1 Events in their newer shape,
 * which client-go's events recorder writes). Lists of "every resource" (controllers, kubectl's resolver) use
 * RESOURCES only, as clients use a group's preferred version.
 */
export const ALTERNATE_VERSIONS: readonly ResourceInfo[] = [
  ...group('autoscaling', 'v1', [{ kind: 'HorizontalPodAutoscaler', shortNames: ['hpa'], categories: ALL, subresources: ['status'] }]),
  ...group('events.k8s.io', 'v1', [{ kind: 'Event', shortNames: ['ev'] }]),
];

/** Every resource at every version served (discovery, OpenAPI, URL resolution). */
export const SERVED_RESOURCES: readonly ResourceInfo[] = [...RESOURCES, ...ALTERNATE_VERSIONS];

/** Resources that are served but not stored (virtual): they only exist as subresource targets. */
export const VIRTUAL_RESOURCES: ReadonlySet<string> = new Set(['/bindings']);

/** True when the resource is stored by the generic store (not a virtual endpoint). */
export function isStoredResource(r: ResourceInfo): boolean {
  return !VIRTUAL_RESOURCES.has(`${r.group}/${r.plural}`);
}

/** Groups in discovery preference order, each with its versions (preferred first). */
export function apiGroups(): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const r of SERVED_RESOURCES) {
    let g = out.find((x) => x.name === r.group);
    if (!g) {
      g = { name: r.group, versions: [] };
      out.push(g);
    }
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

const byGroupResource = new Map<string, ResourceInfo>();
const byVersionKind = new Map<string, ResourceInfo>();
for (const r of SERVED_RESOURCES) {
  byGroupResource.set(`${r.group}/${r.version}/${r.plural}`, r);
  byVersionKind.set(`${groupVersionOf(r)}/${r.kind}`, r);
}

/** Finds a resource by group, version and plural. */
export function findResource(groupName: string, version: string, plural: string): ResourceInfo | undefined {
  return byGroupResource.get(`${groupName}/${version}/${plural}`);
}

/** Finds a resource by apiVersion (`apps/v1`, `v1`) and kind. */
export function findResourceByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return byVersionKind.get(`${apiVersion}/${kind}`);
}

/**
 * Resolves what a person types (`po`, `pods`, `pod`, `deploy`, `deployments.apps`, `Deployment`) to
 * a resource, the way kubectl's RESTMapper does. Core and apps win over aliases in other groups.
 */
export function resolveResourceName(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const groupName = dot < 0 ? undefined : lower.slice(dot + 1);
  for (const r of RESOURCES) {
    if (groupName !== undefined && r.group !== groupName) continue;
    if (!isStoredResource(r)) continue;
    if (r.plural === base || r.singular === base || r.kind.toLowerCase() === base || r.shortNames.includes(base)) return r;
  }
  return undefined;
}
