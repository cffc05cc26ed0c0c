/**
 * What a ResourceQuota counts, shared by the API server's quota admission and the controller
 * manager's `resourcequota` controller so both compute the same usage (Kubernetes' quota
 * evaluators): object counts (`count/<resource>[.<group>]` and the legacy names `pods`, `services`,
 * ...), a pod's compute requests and limits, a claim's storage, a Service's node ports and load
 * balancers, and the quota scopes (Terminating, NotTerminating, BestEffort, NotBestEffort,
 * PriorityClass) that restrict a quota to some pods.
 */
import type { KubeObject } from './meta.js';
import { parseQuantity, Quantity } from './quantity.js';
import { isStoredResource, RESOURCES, type ResourceInfo } from './resources.js';

/** The usage of one object by quota resource name. */
export type QuotaUsage = Map<string, Quantity>;

interface Resources {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}
interface PodView {
  metadata: { deletionTimestamp?: string };
  spec?: {
    containers?: { name?: string; resources?: Resources }[];
    initContainers?: { name?: string; resources?: Resources; restartPolicy?: string }[];
    overhead?: Record<string, string | number>;
    activeDeadlineSeconds?: number;
    priorityClassName?: string;
  };
  status?: { phase?: string };
}

/** Core resources whose legacy quota name is their plural (`pods: 10`). */
const LEGACY_COUNTED = new Set(['pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims']);

/** The compute resources a pod quota tracks, with the names that alias them. */
const COMPUTE = ['cpu', 'memory', 'ephemeral-storage'] as const;

const ONE = parseQuantity(1);

/** `count/pods`, `count/deployments.apps`. */
export function objectCountName(group: string, plural: string): string {
  return group ? `count/${plural}.${group}` : `count/${plural}`;
}

/** True for a pod whose phase is final: it no longer counts against any quota. */
export function isTerminalPod(pod: KubeObject): boolean {
  const phase = (pod as unknown as PodView).status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * Whether a pod still counts in `pods` and the compute resources at `now` (Kubernetes' QuotaV1Pod):
 * not finished, and not stuck terminating past its grace period (e.g. on a lost node), which would
 * otherwise keep its namespace from scaling up replacements.
 */
export function podCountsForQuota(pod: KubeObject, now: number = Date.now()): boolean {
  if (isTerminalPod(pod)) return false;
  const { deletionTimestamp, deletionGracePeriodSeconds } = pod.metadata;
  if (deletionTimestamp && deletionGracePeriodSeconds !== undefined && deletionGracePeriodSeconds !== null) {
    const gone = Date.parse(deletionTimestamp) + deletionGracePeriodSeconds * 1000;
    if (now > gone) return false;
  }
  return true;
}

/** `sum + q`; a sum from zero takes the addend's format, as Kubernetes' Quantity.Add does (`0` + `64Mi` is `64Mi`). */
export function addQuantity(sum: Quantity | undefined, q: Quantity): Quantity {
  return sum && !sum.isZero() ? sum.add(q) : q;
}

function add(into: QuotaUsage, name: string, q: Quantity): void {
  into.set(name, addQuantity(into.get(name), q));
}

/** A quantity, or undefined when absent or malformed (validation rejects malformed ones). */
export function quantityOf(v: string | number | undefined): Quantity | undefined {
  if (v === undefined) return undefined;
  try {
    return parseQuantity(v);
  } catch {
    return undefined;
  }
}

/** A resource list (`{cpu: "100m"}`) parsed; malformed values are left out. */
export function parseResourceList(list: Readonly<Record<string, string | number>> | undefined): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  for (const [name, v] of Object.entries(list ?? {})) {
    const q = quantityOf(v);
    if (q) out.set(name, q);
  }
  return out;
}

/**
 * A pod's effective requests or limits (what the scheduler reserves): the larger of the app
 * containers' sum (plus sidecars) and any one init container, plus the pod overhead. A container
 * without a request but with a limit requests its limit (Kubernetes' defaulting).
 */
export function podResourceTotals(pod: KubeObject, kind: 'requests' | 'limits'): Map<string, Quantity> {
  const spec = (pod as unknown as PodView).spec ?? {};
  const of = (r: Resources | undefined): Record<string, string | number> => (kind === 'requests' ? { ...(r?.limits ?? {}), ...(r?.requests ?? {}) } : { ...(r?.limits ?? {}) });
  const sum = new Map<string, Quantity>();
  const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  for (const c of [...(spec.containers ?? []), ...sidecars]) {
    for (const [name, v] of Object.entries(of(c.resources))) {
      const q = quantityOf(v);
      if (q) add(sum, name, q);
    }
  }
  for (const c of spec.initContainers ?? []) {
    if (c.restartPolicy === 'Always') continue;
    for (const [name, v] of Object.entries(of(c.resources))) {
      const q = quantityOf(v);
      if (q && (!sum.has(name) || sum.get(name)!.cmp(q) < 0)) sum.set(name, q);
    }
  }
  for (const [name, v] of Object.entries(spec.overhead ?? {})) {
    const q = quantityOf(v);
    // Kubernetes adds the overhead to every request, but only to the limits a container sets.
    if (q && (kind === 'requests' || sum.has(name))) add(sum, name, q);
  }
  return sum;
}

/**
 * What an object of `resource` counts against quotas at `now`. A finished pod, or one stuck
 * terminating past its grace period, counts only in `count/pods` (Kubernetes: object counts track
 * every object in storage, `pods` and compute resources only pods that still run).
 */
export function quotaUsage(resource: { group: string; plural: string }, obj: KubeObject, now: number = Date.now()): QuotaUsage {
  const usage: QuotaUsage = new Map();
  const { group, plural } = resource;
  usage.set(objectCountName(group, plural), ONE);
  if (group === '' && plural === 'pods' && !podCountsForQuota(obj, now)) return usage;
  if (group === '' && LEGACY_COUNTED.has(plural)) usage.set(plural, ONE);
  if (group === '' && plural === 'pods') {
    for (const [name, q] of podResourceTotals(obj, 'requests')) {
      usage.set(`requests.${name}`, q);
      if ((COMPUTE as readonly string[]).includes(name)) usage.set(name, q);
    }
    for (const [name, q] of podResourceTotals(obj, 'limits')) usage.set(`limits.${name}`, q);
  } else if (group === '' && plural === 'services') {
    const spec = (obj['spec'] ?? {}) as { type?: string; ports?: { nodePort?: number }[]; allocateLoadBalancerNodePorts?: boolean };
    const ports = spec.ports ?? [];
    if (spec.type === 'LoadBalancer') usage.set('services.loadbalancers', ONE);
    if (spec.type === 'NodePort') usage.set('services.nodeports', parseQuantity(ports.length));
    // A load balancer that allocates no node ports uses only those it names explicitly.
    if (spec.type === 'LoadBalancer') usage.set('services.nodeports', parseQuantity(spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length));
  } else if (group === '' && plural === 'persistentvolumeclaims') {
    const spec = (obj['spec'] ?? {}) as { storageClassName?: string; resources?: Resources };
    const storage = quantityOf(spec.resources?.requests?.['storage']);
    if (storage) usage.set('requests.storage', storage);
    if (spec.storageClassName) {
      const prefix = `${spec.storageClassName}.storageclass.storage.k8s.io/`;
      usage.set(`${prefix}persistentvolumeclaims`, ONE);
      if (storage) usage.set(`${prefix}requests.storage`, storage);
    }
  }
  return usage;
}

/** The namespaced, stored resource `plural` of `group`. */
function countedResource(group: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.plural === plural && r.namespaced && isStoredResource(r));
}

/**
 * The resource whose objects a quota name counts (the inverse of {@link quotaUsage}):
 * `count/<plural>[.<group>]` and the legacy core names count objects; `cpu`, `memory`, `requests.*`,
 * `limits.*`, `hugepages-*` are pods'; `services.*` services'; `requests.storage` and
 * `<class>.storageclass.storage.k8s.io/*` claims'. Undefined for a name nothing counts.
 */
export function resourceForQuotaName(name: string): ResourceInfo | undefined {
  if (name.startsWith('count/')) {
    const rest = name.slice('count/'.length);
    const dot = rest.indexOf('.');
    return dot < 0 ? countedResource('', rest) : countedResource(rest.slice(dot + 1), rest.slice(0, dot));
  }
  if (LEGACY_COUNTED.has(name)) return countedResource('', name);
  if (name === 'requests.storage' || name.includes('.storageclass.storage.k8s.io/')) return countedResource('', 'persistentvolumeclaims');
  if (name.startsWith('services.')) return countedResource('', 'services');
  if ((COMPUTE as readonly string[]).includes(name) || name.startsWith('requests.') || name.startsWith('limits.') || name.startsWith('hugepages-')) return countedResource('', 'pods');
  return undefined;
}

/** The parts of a ResourceQuota the evaluators read. */
export interface QuotaView {
  metadata: { name?: string; namespace?: string };
  spec?: {
    hard?: Record<string, string | number>;
    scopes?: string[];
    scopeSelector?: { matchExpressions?: { scopeName?: string; operator?: string; values?: string[] }[] };
  };
}

function podMatchesScope(pod: PodView, scope: string, operator = 'Exists', values: string[] = []): boolean {
  switch (scope) {
    case 'Terminating':
      return pod.spec?.activeDeadlineSeconds !== undefined;
    case 'NotTerminating':
      return pod.spec?.activeDeadlineSeconds === undefined;
    case 'BestEffort':
    case 'NotBestEffort': {
      const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
      // The QoS class: only cpu and memory requests or limits make a pod other than BestEffort.
      const qos = (r: Record<string, string | number> | undefined) => Object.keys(r ?? {}).some((n) => n === 'cpu' || n === 'memory');
      const bestEffort = all.every((c) => !qos(c.resources?.requests) && !qos(c.resources?.limits));
      return scope === 'BestEffort' ? bestEffort : !bestEffort;
    }
    case 'PriorityClass': {
      const name = pod.spec?.priorityClassName;
      if (operator === 'Exists') return name !== undefined && name !== '';
      if (operator === 'DoesNotExist') return name === undefined || name === '';
      if (operator === 'In') return name !== undefined && values.includes(name);
      if (operator === 'NotIn') return name === undefined || !values.includes(name);
      return false;
    }
    default:
      return false;
  }
}

/**
 * Whether a quota applies to an object: a quota without scopes applies to everything in its
 * namespace; scopes (all of which must match) select pods only.
 */
export function quotaMatches(quota: QuotaView, resource: { group: string; plural: string }, obj: KubeObject): boolean {
  const scopes = quota.spec?.scopes ?? [];
  const expressions = quota.spec?.scopeSelector?.matchExpressions ?? [];
  if (scopes.length === 0 && expressions.length === 0) return true;
  if (resource.group !== '' || resource.plural !== 'pods') return false;
  const pod = obj as unknown as PodView;
  return scopes.every((s) => podMatchesScope(pod, s)) && expressions.every((e) => podMatchesScope(pod, e.scopeName ?? '', e.operator, e.values));
}

/** The quota's hard limits, parsed (malformed values are skipped; validation rejects them). */
export function quotaHard(quota: QuotaView): Map<string, Quantity> {
  return parseResourceList(quota.spec?.hard);
}

/**
 * Sums the usage of `objects` for the quota's hard resource names (every name present, zero when
 * nothing uses it), as `status.used` reports it.
 */
export function quotaUsed(quota: QuotaView, resource: { group: string; plural: string }, objects: Iterable<KubeObject>, into: Map<string, Quantity> = new Map(), now: number = Date.now()): Map<string, Quantity> {
  const hard = quotaHard(quota);
  for (const name of hard.keys()) if (!into.has(name)) into.set(name, parseQuantity(0));
  for (const o of objects) {
    if (!quotaMatches(quota, resource, o)) continue;
    for (const [name, q] of quotaUsage(resource, o, now)) if (hard.has(name)) add(into, name, q);
  }
  return into;
}

/**
 * The compute resources a pod must state for a quota to count it (Kubernetes refuses a pod that
 * leaves out a request or limit the quota tracks): `limits.cpu for: app` and the like.
 */
export function quotaMissingResources(quota: QuotaView, pod: KubeObject): string[] {
  const hard = quotaHard(quota);
  const spec = (pod as unknown as PodView).spec ?? {};
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const missing: string[] = [];
  for (const name of COMPUTE) {
    for (const [quotaName, kind] of [
      [`requests.${name}`, 'requests'],
      [name, 'requests'],
      [`limits.${name}`, 'limits'],
    ] as const) {
      if (!hard.has(quotaName)) continue;
      const without = containers.filter((c) => {
        const r = c.resources ?? {};
        return kind === 'requests' ? r.requests?.[name] === undefined && r.limits?.[name] === undefined : r.limits?.[name] === undefined;
      });
      if (without.length > 0) missing.push(`${quotaName} for: ${without.map((c) => c.name ?? '').join(',')}`);
    }
  }
  return missing;
}
