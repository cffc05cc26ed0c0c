/**
 * Kubernetes' LimitRanger and ResourceQuota admission plugins (both on by default in Kubernetes).
 *
 * LimitRanger: a namespace's LimitRanges give containers their default requests and limits and
 * refuse pods, containers and claims outside their min, max and max limit/request ratio.
 *
 * ResourceQuota: a create that would take a namespace past a quota's hard limits is refused
 * ("exceeded quota"), as is a pod that leaves out a compute resource a quota tracks ("must specify").
 * Usage is summed from the watch cache with the rules the controller manager's `resourcequota`
 * controller reports in status.used (`@flotilla/api/core` resource-quota), plus the creates admitted
 * and not yet committed, so concurrent creates cannot overshoot a quota together.
 */
import {
  addQuantity,
  forbidden,
  parseQuantity,
  parseResourceList,
  podResourceTotals,
  quantityOf,
  quotaHard,
  quotaMatches,
  quotaMissingResources,
  quotaUsage,
  type KubeObject,
  type Quantity,
  type QuotaUsage,
  type QuotaView,
  type ResourceInfo,
} from '@flotilla/api';
import type { Admission, GenericStore, WriteHooks } from './generic-store.js';
import type { CachedObject } from './resource-cache.js';

// ---- LimitRanger ----

/** One item of a LimitRange's spec.limits. */
export interface LimitRangeItem {
  type?: string;
  max?: Record<string, string>;
  min?: Record<string, string>;
  default?: Record<string, string>;
  defaultRequest?: Record<string, string>;
  maxLimitRequestRatio?: Record<string, string>;
}
/** The parts of a LimitRange the admission reads. */
export interface LimitRangeView {
  metadata: { name?: string };
  spec?: { limits?: LimitRangeItem[] };
}
interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}
interface ContainerView {
  name?: string;
  resources?: Resources;
}

/**
 * A Container item's defaults as Kubernetes defaults a LimitRange: the limit from max, the request
 * from the default limit, else from min. The LimitRange strategy stores them; admission applies them
 * again for LimitRanges stored without them.
 */
export function containerDefaults(item: LimitRangeItem): { limits: Record<string, string>; requests: Record<string, string> } {
  const limits = { ...(item.max ?? {}), ...(item.default ?? {}) };
  const requests = { ...(item.min ?? {}), ...limits, ...(item.defaultRequest ?? {}) };
  return { limits, requests };
}

/** Kubernetes' min/max/ratio messages for one object (a container, a pod, a claim): the first failure per constraint. */
function checkItem(item: LimitRangeItem, kind: string, requests: Map<string, Quantity>, limits: Map<string, Quantity>, errors: string[]): void {
  for (const [name, v] of Object.entries(item.min ?? {})) {
    const min = quantityOf(v);
    if (!min) continue;
    const request = requests.get(name);
    const limit = limits.get(name);
    if (!request) errors.push(`minimum ${name} usage per ${kind} is ${min}.  No request is specified`);
    else if (request.cmp(min) < 0) errors.push(`minimum ${name} usage per ${kind} is ${min}, but request is ${request}`);
    else if (limit && limit.cmp(min) < 0) errors.push(`minimum ${name} usage per ${kind} is ${min}, but limit is ${limit}`);
  }
  for (const [name, v] of Object.entries(item.max ?? {})) {
    const max = quantityOf(v);
    if (!max) continue;
    const request = requests.get(name);
    const limit = limits.get(name);
    if (!limit) errors.push(`maximum ${name} usage per ${kind} is ${max}.  No limit is specified`);
    else if (limit.cmp(max) > 0) errors.push(`maximum ${name} usage per ${kind} is ${max}, but limit is ${limit}`);
    else if (request && request.cmp(max) > 0) errors.push(`maximum ${name} usage per ${kind} is ${max}, but request is ${request}`);
  }
  for (const [name, v] of Object.entries(item.maxLimitRequestRatio ?? {})) {
    const ratio = quantityOf(v);
    if (!ratio) continue;
    const request = requests.get(name);
    const limit = limits.get(name);
    if (!limit) continue;
    if (!request || request.isZero()) {
      errors.push(`${name} max limit to request ratio per ${kind} is ${ratio}, but no request is specified or request is 0`);
      continue;
    }
    const actual = limit.toNumber() / request.toNumber();
    if (actual > ratio.toNumber()) errors.push(`${name} max limit to request ratio per ${kind} is ${ratio}, but provided ratio is ${actual.toFixed(6)}`);
  }
}

function refuse(resource: string, obj: KubeObject, errors: string[]): never {
  throw forbidden({ qualifiedResource: resource, name: obj.metadata.name ?? obj.metadata.generateName ?? '' }, errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`);
}

/** LimitRanger for pods and persistent volume claims; `limitRanges(namespace)` lists the namespace's LimitRanges. */
export function limitRangeAdmission(resource: 'pods' | 'persistentvolumeclaims', limitRanges: (namespace: string) => LimitRangeView[]): Admission {
  return (obj) => {
    const ranges = limitRanges(obj.metadata.namespace ?? '');
    if (ranges.length === 0) return;
    const items = ranges.flatMap((r) => r.spec?.limits ?? []);
    const errors: string[] = [];
    if (resource === 'persistentvolumeclaims') {
      const requests = parseResourceList(((obj['spec'] ?? {}) as { resources?: Resources }).resources?.requests);
      for (const item of items.filter((i) => i.type === 'PersistentVolumeClaim')) {
        for (const [bound, values, outside] of [
          ['minimum', item.min, (q: Quantity, b: Quantity) => q.cmp(b) < 0],
          ['maximum', item.max, (q: Quantity, b: Quantity) => q.cmp(b) > 0],
        ] as const) {
          for (const [name, v] of Object.entries(values ?? {})) {
            const limit = quantityOf(v);
            const request = requests.get(name);
            if (!limit) continue;
            if (!request) errors.push(`${bound} ${name} usage per PersistentVolumeClaim is ${limit}.  No request is specified`);
            else if (outside(request, limit)) errors.push(`${bound} ${name} usage per PersistentVolumeClaim is ${limit}, but request is ${request}`);
          }
        }
      }
      if (errors.length > 0) refuse(resource, obj, errors);
      return;
    }
    const spec = (obj['spec'] ?? {}) as { containers?: ContainerView[]; initContainers?: ContainerView[] };
    const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    // Kubernetes defaults a request to its limit before admission runs.
    for (const c of containers) {
      for (const [name, v] of Object.entries(c.resources?.limits ?? {})) if (c.resources!.requests?.[name] === undefined) (c.resources!.requests ??= {})[name] = v;
    }
    for (const item of items.filter((i) => i.type === 'Container')) {
      const defaults = containerDefaults(item);
      for (const c of containers) {
        const r = (c.resources ??= {});
        for (const [name, v] of Object.entries(defaults.limits)) if (r.limits?.[name] === undefined) (r.limits ??= {})[name] = v;
        for (const [name, v] of Object.entries(defaults.requests)) if (r.requests?.[name] === undefined) (r.requests ??= {})[name] = v;
      }
    }
    for (const item of items) {
      if (item.type === 'Container') {
        for (const c of containers) {
          checkItem(item, 'Container', parseResourceList(c.resources?.requests), parseResourceList(c.resources?.limits), errors);
        }
      } else if (item.type === 'Pod') {
        checkItem(item, 'Pod', podResourceTotals(obj, 'requests'), podResourceTotals(obj, 'limits'), errors);
      }
    }
    if (errors.length > 0) refuse(resource, obj, errors);
  };
}

// ---- ResourceQuota ----

function pretty(m: Map<string, Quantity>, names: readonly string[]): string {
  return names.map((n) => `${n}=${(m.get(n) ?? parseQuantity(0)).toString()}`).join(',');
}

/**
 * ResourceQuota admission for the creates of one namespaced resource, as write hooks: checked once
 * the object is defaulted and validated, right before it is stored.
 */
export function quotaHooks(resource: Pick<ResourceInfo, 'group' | 'plural'>, store: GenericStore, quotas: GenericStore): WriteHooks {
  /**
   * Usage per cache entry (an entry is replaced, never changed, when its object is written); not
   * kept for an object being deleted, whose usage can lapse with time (a pod past its grace period).
   */
  const usageOf = new WeakMap<CachedObject, { usage: QuotaUsage; object: KubeObject }>();
  /** Usage admitted and not yet committed, by namespace/quota. */
  const pending = new Map<string, QuotaUsage[]>();
  const entry = (o: CachedObject) => {
    let e = usageOf.get(o);
    if (!e) {
      const object = JSON.parse(o.json) as KubeObject;
      e = { usage: quotaUsage(resource, object), object };
      if (!object.metadata.deletionTimestamp) usageOf.set(o, e);
    }
    return e;
  };
  return {
    beginCreate(obj) {
      // Synchronous (no await in the create) unless a quota applies; a refusal throws.
      if (quotas.cache.size === 0) return undefined;
      const namespace = obj.metadata.namespace ?? '';
      const list = quotas.cache.list({ namespace }, 0).items;
      if (list.length === 0) return undefined;
      const requested = quotaUsage(resource, obj);
      const reserved: [string, QuotaUsage][] = [];
      for (const o of list) {
        const quota = JSON.parse(o.json) as QuotaView;
        if (!quotaMatches(quota, resource, obj)) continue;
        const hard = quotaHard(quota);
        const names = [...requested.keys()].filter((n) => hard.has(n)).sort();
        const missing = resource.group === '' && resource.plural === 'pods' ? quotaMissingResources(quota, obj) : [];
        if (missing.length > 0) refuse(resource.plural, obj, [`failed quota: ${quota.metadata.name}: must specify ${missing.join('; ')}`]);
        if (names.length === 0) continue;
        const key = `${namespace}/${quota.metadata.name}`;
        const used = new Map<string, Quantity>(names.map((n) => [n, parseQuantity(0)]));
        const addUsage = (u: QuotaUsage) => {
          for (const n of names) {
            const q = u.get(n);
            if (q) used.set(n, addQuantity(used.get(n), q));
          }
        };
        for (const c of store.cache.list({ namespace }, 0).items) {
          const e = entry(c);
          if (quotaMatches(quota, resource, e.object)) addUsage(e.usage);
        }
        for (const p of pending.get(key) ?? []) addUsage(p);
        const exceeded = names.filter((n) => used.get(n)!.add(requested.get(n)!).cmp(hard.get(n)!) > 0);
        if (exceeded.length > 0) {
          refuse(resource.plural, obj, [`exceeded quota: ${quota.metadata.name}, requested: ${pretty(requested, exceeded)}, used: ${pretty(used, exceeded)}, limited: ${pretty(hard, exceeded)}`]);
        }
        reserved.push([key, requested]);
      }
      for (const [key, u] of reserved) {
        const list = pending.get(key) ?? [];
        list.push(u);
        pending.set(key, list);
      }
      if (reserved.length === 0) return undefined;
      // Once the write is committed (or not), the cache holds the object (or nothing): release.
      return Promise.resolve(async () => {
        for (const [key, u] of reserved) {
          const list = pending.get(key);
          if (!list) continue;
          const i = list.indexOf(u);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) pending.delete(key);
        }
      });
    },
    beginUpdate() {
      return undefined;
    },
    async afterDelete() {},
  };
}
