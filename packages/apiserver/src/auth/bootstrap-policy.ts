/**
 * Kubernetes' bootstrap RBAC policy, as far as Flotilla needs it: the ClusterRoles and
 * ClusterRoleBindings every cluster has (Kubernetes' `bootstrappolicy`), and how an existing object
 * is reconciled with its expected form at each API server start (the `rbac/bootstrap-roles`
 * post-start hook: create what is missing; add missing rules, aggregation selectors, subjects,
 * labels and annotations; never remove anything; leave alone objects annotated
 * `rbac.authorization.kubernetes.io/autoupdate: "false"`).
 *
 * admin, edit and view are aggregated roles, created with their `aggregationRule` and no rules: the
 * clusterrole-aggregation controller fills them from the `system:aggregate-to-*` roles below, which
 * carry Kubernetes' rules for the groups Flotilla serves (the `extensions` group is not served).
 */
import type { KubeObject } from '@flotilla/api';
import { covers, rulesOf, type PolicyRule } from './rbac-rules.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_API_VERSION = `${RBAC_GROUP}/v1`;
export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';
export const BOOTSTRAP_LABELS: Readonly<Record<string, string>> = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const BOOTSTRAP_ANNOTATIONS: Readonly<Record<string, string>> = { [AUTOUPDATE_ANNOTATION]: 'true' };
const AGGREGATE_TO_ADMIN = 'rbac.authorization.k8s.io/aggregate-to-admin';
const AGGREGATE_TO_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';
const AGGREGATE_TO_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const READ_WRITE = [...READ, ...WRITE];

/** One bootstrap ClusterRole. */
export interface BootstrapClusterRole {
  name: string;
  /** Labels besides the bootstrapping label (an aggregated role's own aggregate-to label). */
  labels?: Record<string, string>;
  /** For aggregated roles: the label (value "true") selecting the roles whose rules it gathers. */
  aggregateLabel?: string;
  rules?: PolicyRule[];
}

/** One bootstrap ClusterRoleBinding (to the ClusterRole of the same name). */
export interface BootstrapClusterRoleBinding {
  name: string;
  groups: string[];
}

/** cluster-admin: everything. */
const CLUSTER_ADMIN_RULES: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/** system:discovery: readiness and API discovery. */
const DISCOVERY_RULES: PolicyRule[] = [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] }];

/** system:public-info-viewer: health and version, also for unauthenticated clients. */
const PUBLIC_INFO_VIEWER_RULES: PolicyRule[] = [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }];

/** system:service-account-issuer-discovery: the issuer's OpenID configuration and keys (for service accounts). */
const ISSUER_DISCOVERY_RULES: PolicyRule[] = [{ verbs: ['get'], nonResourceURLs: ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/'] }];

/** system:basic-user: questions about oneself. */
const BASIC_USER_RULES: PolicyRule[] = [
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
  { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
];

/** system:aggregate-to-admin: what admin has beyond edit. */
const AGGREGATE_TO_ADMIN_RULES: PolicyRule[] = [
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['localsubjectaccessreviews'] },
  { verbs: READ_WRITE, apiGroups: [RBAC_GROUP], resources: ['roles', 'rolebindings'] },
];

/** system:aggregate-to-edit: what edit has beyond view. */
const AGGREGATE_TO_EDIT_RULES: PolicyRule[] = [
  { verbs: READ, apiGroups: [''], resources: ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy'] },
  { verbs: ['impersonate'], apiGroups: [''], resources: ['serviceaccounts'] },
  { verbs: WRITE, apiGroups: [''], resources: ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward'] },
  { verbs: ['create'], apiGroups: [''], resources: ['pods/eviction'] },
  { verbs: WRITE, apiGroups: [''], resources: ['replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/proxy', 'persistentvolumeclaims', 'configmaps', 'secrets'] },
  { verbs: ['create'], apiGroups: [''], resources: ['serviceaccounts/token'] },
  { verbs: WRITE, apiGroups: ['apps'], resources: ['statefulsets', 'statefulsets/scale', 'daemonsets', 'deployments', 'deployments/scale', 'deployments/rollback', 'replicasets', 'replicasets/scale'] },
  { verbs: WRITE, apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'] },
  { verbs: WRITE, apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] },
  { verbs: WRITE, apiGroups: ['policy'], resources: ['poddisruptionbudgets'] },
  { verbs: WRITE, apiGroups: ['networking.k8s.io'], resources: ['networkpolicies', 'ingresses'] },
];

/** system:aggregate-to-view: read access to non-escalating namespaced resources. */
const AGGREGATE_TO_VIEW_RULES: PolicyRule[] = [
  { verbs: READ, apiGroups: [''], resources: ['pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'configmaps'] },
  { verbs: READ, apiGroups: [''], resources: ['limitranges', 'resourcequotas', 'bindings', 'events', 'pods/status', 'resourcequotas/status', 'namespaces/status', 'replicationcontrollers/status', 'pods/log'] },
  { verbs: READ, apiGroups: [''], resources: ['namespaces'] },
  { verbs: READ, apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
  { verbs: READ, apiGroups: ['apps'], resources: ['controllerrevisions', 'statefulsets', 'statefulsets/status', 'statefulsets/scale', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale'] },
  { verbs: READ, apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'] },
  { verbs: READ, apiGroups: ['batch'], resources: ['jobs', 'cronjobs', 'cronjobs/status', 'jobs/status'] },
  { verbs: READ, apiGroups: ['policy'], resources: ['poddisruptionbudgets', 'poddisruptionbudgets/status'] },
  { verbs: READ, apiGroups: ['networking.k8s.io'], resources: ['networkpolicies', 'ingresses', 'ingresses/status'] },
];

/** The bootstrap ClusterRoles. */
export const BOOTSTRAP_CLUSTER_ROLES: readonly BootstrapClusterRole[] = [
  { name: 'cluster-admin', rules: CLUSTER_ADMIN_RULES },
  { name: 'system:discovery', rules: DISCOVERY_RULES },
  { name: 'system:basic-user', rules: BASIC_USER_RULES },
  { name: 'system:public-info-viewer', rules: PUBLIC_INFO_VIEWER_RULES },
  { name: 'system:service-account-issuer-discovery', rules: ISSUER_DISCOVERY_RULES },
  { name: 'admin', aggregateLabel: AGGREGATE_TO_ADMIN },
  { name: 'edit', labels: { [AGGREGATE_TO_ADMIN]: 'true' }, aggregateLabel: AGGREGATE_TO_EDIT },
  { name: 'view', labels: { [AGGREGATE_TO_EDIT]: 'true' }, aggregateLabel: AGGREGATE_TO_VIEW },
  { name: 'system:aggregate-to-admin', labels: { [AGGREGATE_TO_ADMIN]: 'true' }, rules: AGGREGATE_TO_ADMIN_RULES },
  { name: 'system:aggregate-to-edit', labels: { [AGGREGATE_TO_EDIT]: 'true' }, rules: AGGREGATE_TO_EDIT_RULES },
  { name: 'system:aggregate-to-view', labels: { [AGGREGATE_TO_VIEW]: 'true' }, rules: AGGREGATE_TO_VIEW_RULES },
];

/** The bootstrap ClusterRoleBindings. */
export const BOOTSTRAP_CLUSTER_ROLE_BINDINGS: readonly BootstrapClusterRoleBinding[] = [
  { name: 'cluster-admin', groups: ['system:masters'] },
  { name: 'system:discovery', groups: ['system:authenticated'] },
  { name: 'system:basic-user', groups: ['system:authenticated'] },
  { name: 'system:public-info-viewer', groups: ['system:authenticated', 'system:unauthenticated'] },
  { name: 'system:service-account-issuer-discovery', groups: ['system:serviceaccounts'] },
];

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** A bootstrap ClusterRole as the object to store. */
export function clusterRoleObject(r: BootstrapClusterRole): KubeObject {
  const obj: KubeObject = {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRole',
    metadata: { name: r.name, labels: { ...BOOTSTRAP_LABELS, ...(r.labels ?? {}) }, annotations: { ...BOOTSTRAP_ANNOTATIONS } },
  };
  if (r.aggregateLabel) obj['aggregationRule'] = { clusterRoleSelectors: [{ matchLabels: { [r.aggregateLabel]: 'true' } }] };
  if (r.rules) obj['rules'] = clone(r.rules);
  return obj;
}

/** A bootstrap ClusterRoleBinding as the object to store. */
export function clusterRoleBindingObject(b: BootstrapClusterRoleBinding): KubeObject {
  return {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRoleBinding',
    metadata: { name: b.name, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...BOOTSTRAP_ANNOTATIONS } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: b.name },
    subjects: b.groups.map((name) => ({ kind: 'Group', apiGroup: RBAC_GROUP, name })),
  };
}

/** True when the operator opted the object out of reconciliation. */
export function isProtected(existing: KubeObject): boolean {
  return existing.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false';
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Adds expected labels and annotations the object lacks (its own values win). */
function mergeMeta(out: KubeObject, expected: KubeObject): void {
  for (const k of ['labels', 'annotations'] as const) {
    for (const [key, value] of Object.entries(expected.metadata[k] ?? {})) {
      const have = (out.metadata[k] ??= {});
      if (!(key in have)) have[key] = value;
    }
  }
}

/**
 * The existing role with what the expected one has and it lacks (Kubernetes' computeReconciledRole
 * without removing extra permissions): missing rules appended as the single-verb rules they break
 * down to, missing aggregation selectors appended, labels and annotations merged. Undefined when
 * nothing is missing, or the object is protected.
 */
export function reconcileRole(existing: KubeObject, expected: KubeObject): KubeObject | undefined {
  if (isProtected(existing)) return undefined;
  const out = clone(existing);
  mergeMeta(out, expected);
  const { missing } = covers(rulesOf(existing as { rules?: unknown }), rulesOf(expected as { rules?: unknown }));
  if (missing.length > 0) out['rules'] = [...(Array.isArray(existing['rules']) ? (existing['rules'] as unknown[]) : []), ...missing];
  const wantAgg = expected['aggregationRule'] as { clusterRoleSelectors?: unknown[] } | undefined;
  if (wantAgg) {
    const have = ((existing['aggregationRule'] as { clusterRoleSelectors?: unknown[] } | undefined)?.clusterRoleSelectors ?? []) as unknown[];
    const add = (wantAgg.clusterRoleSelectors ?? []).filter((s) => !have.some((h) => sameJson(h, s)));
    if (add.length > 0) out['aggregationRule'] = { ...((existing['aggregationRule'] as object | undefined) ?? {}), clusterRoleSelectors: [...have, ...add] };
  }
  return sameJson(out, existing) ? undefined : out;
}

interface SubjectLike {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}

const sameSubject = (a: SubjectLike, b: SubjectLike): boolean => a.kind === b.kind && (a.apiGroup ?? '') === (b.apiGroup ?? '') && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');

/**
 * The existing binding with the expected subjects, labels and annotations it lacks (Kubernetes'
 * computeReconciledRoleBinding without removing subjects). `recreate` when its roleRef differs (a
 * roleRef cannot be changed: Kubernetes deletes and creates the binding, keeping its subjects).
 * Undefined when nothing is missing, or the object is protected.
 */
export function reconcileBinding(existing: KubeObject, expected: KubeObject): { object: KubeObject; recreate: boolean } | undefined {
  if (isProtected(existing)) return undefined;
  const out = clone(existing);
  mergeMeta(out, expected);
  const have = (Array.isArray(existing['subjects']) ? existing['subjects'] : []) as SubjectLike[];
  const add = ((expected['subjects'] ?? []) as SubjectLike[]).filter((s) => !have.some((h) => sameSubject(h, s)));
  if (add.length > 0) out['subjects'] = [...have, ...add];
  const ref = (o: KubeObject) => (o['roleRef'] ?? {}) as { apiGroup?: string; kind?: string; name?: string };
  const recreate = ['apiGroup', 'kind', 'name'].some((k) => ref(existing)[k as 'kind'] !== ref(expected)[k as 'kind']);
  if (recreate) out['roleRef'] = clone(expected['roleRef']);
  return sameJson(out, existing) ? undefined : { object: out, recreate };
}
