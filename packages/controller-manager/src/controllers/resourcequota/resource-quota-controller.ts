/**
 * The ResourceQuota controller (Kubernetes' `resourcequota`): every quota's `status.hard` is its
 * `spec.hard` and `status.used` the namespace's current usage of each of those names ("0" when
 * nothing uses it), written through the status subresource only when it changes. What an object
 * uses is the shared rule set of `@flotilla/api/core` (resource-quota.ts), the same the API
 * server's quota admission applies.
 *
 * Pods, services, claims, config maps, secrets and quotas are watched: a change that alters what
 * an object uses of a quota's names queues that quota (the queue collapses a burst into one sync).
 * Other `count/<resource>` names (and the legacy `replicationcontrollers`) are listed through the
 * API when the quota syncs, so they follow at the next resync; every quota is resynced each
 * `--resource-quota-sync-period`.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  isNotFound,
  objectKey,
  parseQuantity,
  quotaHard,
  quotaMatches,
  quotaUsage,
  quotaUsed,
  resourceForQuotaName,
  splitObjectKey,
  type KubeObject,
  type Quantity,
  type QuotaUsage,
  type QuotaView,
  type ResourceInfo,
} from '@flotilla/api/core';
import { deletedObject, res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';

const QUOTAS = res('resourcequotas');
const PODS = res('pods');
const SERVICES = res('services');
const CLAIMS = res('persistentvolumeclaims');

/** Resources kept in informers: their changes resync quotas at once. */
const WATCHED: readonly ResourceInfo[] = [PODS, SERVICES, CLAIMS, res('configmaps'), res('secrets'), QUOTAS];

/** Kubernetes' default `--resource-quota-sync-period` (5 minutes). */
export const DEFAULT_RESOURCE_QUOTA_SYNC_PERIOD_MS = 5 * 60_000;

/** A ResourceQuota as read and written here. */
export interface ResourceQuotaView extends KubeObject, QuotaView {
  metadata: KubeObject['metadata'];
  status?: { hard?: Record<string, string>; used?: Record<string, string> };
}

const sameResource = (a: Pick<ResourceInfo, 'group' | 'plural'>, b: Pick<ResourceInfo, 'group' | 'plural'>) => a.group === b.group && a.plural === b.plural;

/** The resources a quota's hard names draw on, each once. */
function resourcesOf(names: Iterable<string>): ResourceInfo[] {
  const out: ResourceInfo[] = [];
  for (const n of names) {
    const r = resourceForQuotaName(n);
    if (r && !out.some((o) => sameResource(o, r))) out.push(r);
  }
  return out;
}

/** True when two resource lists hold the same names with equal quantities (`1` equals `1000m`). */
function sameQuantities(a: Readonly<Record<string, string | number>> | undefined, b: Readonly<Record<string, string | number>> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  for (const k of ka) {
    const x = a![k];
    const y = b?.[k];
    if (y === undefined) return false;
    try {
      if (!parseQuantity(x!).equals(parseQuantity(y))) return false;
    } catch {
      if (String(x) !== String(y)) return false;
    }
  }
  return true;
}

/** True when the status does not yet reflect the spec: hard differs, or a hard name has no usage. */
function isStatusStale(q: Readonly<ResourceQuotaView>): boolean {
  const hard = q.spec?.hard ?? {};
  if (!sameQuantities(hard, q.status?.hard)) return true;
  return Object.keys(hard).some((n) => q.status?.used?.[n] === undefined);
}

const ZERO = parseQuantity(0);

/** Whether a change from `before` to `after` usage moves any of `names`. */
function usageMoves(names: Iterable<string>, before: QuotaUsage | undefined, after: QuotaUsage | undefined): boolean {
  for (const n of names) {
    if (!(before?.get(n) ?? ZERO).equals(after?.get(n) ?? ZERO)) return true;
  }
  return false;
}

/** Options of the controller. */
export interface ResourceQuotaControllerOptions {
  /** How often every quota is recomputed (ms, `--resource-quota-sync-period`, default 5 minutes). */
  syncPeriodMs?: number;
}

/** Keeps every ResourceQuota's status equal to its hard limits and its namespace's usage. */
export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota-controller';
  readonly queue: WorkQueue<string>;
  private readonly quotas: SharedInformer<ResourceQuotaView>;
  private readonly informers = new Map<string, SharedInformer>();
  private readonly syncPeriodMs: number;

  constructor(
    private readonly ctx: ControllerContext,
    options: ResourceQuotaControllerOptions = {},
  ) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.syncPeriodMs = options.syncPeriodMs ?? DEFAULT_RESOURCE_QUOTA_SYNC_PERIOD_MS;
    this.quotas = ctx.informers.informerFor<ResourceQuotaView>(QUOTAS);
    this.quotas.addEventHandler({
      onAdd: (q) => this.queue.add(objectKey(q)),
      // Our own status writes change neither the spec nor leave the status stale: they queue nothing.
      onUpdate: (a, b) => {
        if (!isDeepStrictEqual(a.spec, b.spec) || isStatusStale(b)) this.queue.add(objectKey(b));
      },
    });
    for (const r of WATCHED) {
      const informer = r === QUOTAS ? (this.quotas as unknown as SharedInformer) : ctx.informers.informerFor(r);
      this.informers.set(`${r.group}/${r.plural}`, informer);
      informer.addEventHandler({
        onAdd: (o) => this.objectChanged(r, undefined, o),
        onUpdate: (a, b) => this.objectChanged(r, a, b),
        onDelete: (o) => this.objectChanged(r, deletedObject(o), undefined),
      });
    }
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    const tick = () => {
      if (signal.aborted) return;
      for (const q of this.quotas.lister.list()) this.queue.add(objectKey(q));
      this.ctx.clock.setTimer(tick, this.syncPeriodMs);
    };
    // The informers' initial adds queued every quota already.
    this.ctx.clock.setTimer(tick, this.syncPeriodMs);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /**
   * Queues the quotas of the object's namespace whose usage the change moves: what the object
   * uses of their names before and after, counted only where the quota's scopes select it.
   */
  private objectChanged(r: ResourceInfo, before: Readonly<KubeObject> | undefined, after: Readonly<KubeObject> | undefined): void {
    const namespace = (after ?? before)?.metadata.namespace;
    if (!namespace) return;
    const quotas = this.quotas.lister.list(namespace);
    if (quotas.length === 0) return;
    const usageBefore = before ? quotaUsage(r, before as KubeObject) : undefined;
    const usageAfter = after ? quotaUsage(r, after as KubeObject) : undefined;
    for (const q of quotas) {
      const b = before && quotaMatches(q, r, before as KubeObject) ? usageBefore : undefined;
      const a = after && quotaMatches(q, r, after as KubeObject) ? usageAfter : undefined;
      if (usageMoves(Object.keys(q.spec?.hard ?? {}), b, a)) this.queue.add(objectKey(q));
    }
  }

  /** The namespace's objects of `r`: from the informer when watched, else listed through the API. */
  private async objectsOf(r: ResourceInfo, namespace: string): Promise<readonly Readonly<KubeObject>[]> {
    const informer = this.informers.get(`${r.group}/${r.plural}`);
    if (informer) return informer.lister.list(namespace);
    const items: KubeObject[] = [];
    let cont: string | undefined;
    do {
      const page = await this.ctx.client.list(r, { namespace, limit: 500, ...(cont ? { continue: cont } : {}) });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
    } while (cont);
    return items;
  }

  /**
   * Recomputes one quota's usage and writes `status` when it differs. A resource that cannot be
   * listed keeps its names' previous usage; the error is thrown after the write, to retry.
   */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.quotas.lister.get(namespace, name);
    if (!cached) return;
    const quota = cached as ResourceQuotaView;
    const hardNames = [...quotaHard(quota).keys()];
    const used = new Map<string, Quantity>(hardNames.map((n) => [n, ZERO]));
    let failure: unknown;
    for (const r of resourcesOf(hardNames)) {
      const names = hardNames.filter((n) => {
        const counted = resourceForQuotaName(n);
        return counted !== undefined && sameResource(counted, r);
      });
      let objects: readonly Readonly<KubeObject>[];
      try {
        objects = await this.objectsOf(r, namespace);
      } catch (err) {
        failure ??= err;
        this.ctx.logger.warn({ err, quota: key, resource: r.plural }, 'cannot list objects for quota usage');
        for (const n of names) {
          const previous = quota.status?.used?.[n];
          if (previous !== undefined) used.set(n, parseQuantity(previous));
        }
        continue;
      }
      const sums = quotaUsed(quota, r, objects as KubeObject[]);
      for (const n of names) used.set(n, sums.get(n) ?? ZERO);
    }
    const status = {
      hard: Object.fromEntries(Object.entries(quota.spec?.hard ?? {}).map(([n, v]) => [n, String(v)])),
      used: Object.fromEntries([...used].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, q]) => [n, q.toString()])),
    };
    if (!sameQuantities(status.hard, quota.status?.hard) || !sameQuantities(status.used, quota.status?.used)) {
      const next = structuredClone(quota) as ResourceQuotaView;
      next.status = status;
      try {
        // Carries the cached resourceVersion: a stale cache gets a Conflict and the key is retried.
        await this.ctx.client.updateStatus(QUOTAS, next);
        this.ctx.logger.debug({ quota: key, used: status.used }, 'updated quota usage');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
