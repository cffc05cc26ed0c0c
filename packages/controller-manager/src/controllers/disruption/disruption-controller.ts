/**
 * The disruption controller (Kubernetes' `disruption`): keeps each policy/v1 PodDisruptionBudget's
 * status — expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, disruptedPods,
 * observedGeneration and the `DisruptionAllowed` condition — which the API server's eviction
 * subresource consults (and decrements) before it deletes a pod the budget covers.
 *
 * A budget covers the pods of its namespace its selector matches (`{}` matches all, no selector
 * none). An integer minAvailable needs that many of them healthy and expects them all; a percentage
 * minAvailable or any maxUnavailable is taken against the summed `spec.replicas` of the pods'
 * controllers (ReplicaSet — or its Deployment —, StatefulSet, ReplicationController). Pods without a
 * controller are left out of that sum with an `UnmanagedPods` warning, as Kubernetes does; a
 * controller that cannot be found makes the budget fail to compute: it then allows no disruption
 * (`SyncFailed`).
 * Healthy pods are Ready, not being deleted, and not recorded in `disruptedPods` by an eviction in
 * the last two minutes (Kubernetes' DeletionTimeout); older entries and those of pods gone or being
 * deleted are dropped, and a budget keeping entries is synced again when the first one expires.
 *
 * The status is written through `/status` only when it changes. Budgets are synced when they
 * change, when a pod they match (by its old or new labels) changes in a way that matters, and when
 * a controller of their pods appears, goes or changes its replicas.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  formatTime,
  getControllerOf,
  isNotFound,
  labelSelectorFromObject,
  objectKey,
  setStatusCondition,
  splitObjectKey,
  type Condition,
  type KubeObject,
  type LabelSelectorObject,
  type OwnerReference,
  type PodDisruptionBudgetStatus,
} from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { isPodReady, type PodView } from '../../pod-utils.js';

const PDBS = res('poddisruptionbudgets.policy');
const PODS = res('pods');
const DEPLOYMENTS = res('deployments.apps');
const REPLICASETS = res('replicasets.apps');
const STATEFULSETS = res('statefulsets.apps');
const REPLICATIONCONTROLLERS = res('replicationcontrollers');

/** How long an evicted pod may take to be deleted before its budget counts it again (Kubernetes' DeletionTimeout). */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

/** The condition the controller keeps on every budget, and its reasons. */
export const DISRUPTION_ALLOWED = 'DisruptionAllowed';
export const SUFFICIENT_PODS = 'SufficientPods';
export const INSUFFICIENT_PODS = 'InsufficientPods';
export const SYNC_FAILED = 'SyncFailed';

/** A PodDisruptionBudget as read and written here. */
export interface PdbView extends KubeObject {
  spec?: { minAvailable?: number | string; maxUnavailable?: number | string; selector?: LabelSelectorObject };
  status?: PdbStatus;
}

/** A budget's status (the generated policy/v1 type). */
export type PdbStatus = PodDisruptionBudgetStatus;

/** A workload with a replica count (Deployment, ReplicaSet, StatefulSet, ReplicationController). */
interface ScalableView extends KubeObject {
  spec?: { replicas?: number };
}

/** The group of an apiVersion (`apps/v1` → `apps`, `v1` → ``). */
const groupOf = (apiVersion: string | undefined): string => {
  const v = apiVersion ?? '';
  const slash = v.indexOf('/');
  return slash < 0 ? '' : v.slice(0, slash);
};

/** True when an owner reference is of `kind` in one of `groups` (client-go's verifyGroupKind). */
const refIs = (ref: OwnerReference, kind: string, groups: readonly string[]): boolean => ref.kind === kind && groups.includes(groupOf(ref.apiVersion));

/** The pods a budget covers: those of its namespace its selector matches (a missing selector matches none). */
export function podsOfBudget(pdb: Readonly<PdbView>, pods: readonly Readonly<PodView>[]): PodView[] {
  let selector;
  try {
    selector = labelSelectorFromObject(pdb.spec?.selector);
  } catch {
    return [];
  }
  return pods.filter((p) => selector.matches(p.metadata.labels ?? {})) as PodView[];
}

/** Resolves an int-or-percent against `total`, percentages rounded up (`GetScaledValueFromIntOrPercent(..., true)`). */
export function scaledUp(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** Looks up a pod's controller and its scale: the uid that identifies it and its replicas. */
export type ScaleFinder = (ref: OwnerReference, namespace: string) => { uid: string; replicas: number } | undefined;

/**
 * expectedPods and desiredHealthy of a budget over its pods (`getExpectedPodCount`); throws when a
 * percentage or maxUnavailable cannot be resolved (a pod without a known controller, a bad value).
 */
export function expectedAndDesired(pdb: Readonly<PdbView>, pods: readonly Readonly<PodView>[], find: ScaleFinder): { expectedPods: number; desiredHealthy: number; unmanaged: string[] } {
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  const unmanaged: string[] = [];
  if (maxUnavailable !== undefined && maxUnavailable !== null) {
    const expectedPods = expectedScale(pods, find, unmanaged);
    return { expectedPods, desiredHealthy: Math.max(0, expectedPods - scaledUp(maxUnavailable, expectedPods)), unmanaged };
  }
  if (typeof minAvailable === 'number') return { expectedPods: pods.length, desiredHealthy: minAvailable, unmanaged };
  if (typeof minAvailable === 'string') {
    const expectedPods = expectedScale(pods, find, unmanaged);
    return { expectedPods, desiredHealthy: scaledUp(minAvailable, expectedPods), unmanaged };
  }
  return { expectedPods: 0, desiredHealthy: 0, unmanaged };
}

/** The summed replicas of the pods' distinct controllers (`getExpectedScale`); pods without one go to `unmanaged`. */
function expectedScale(pods: readonly Readonly<PodView>[], find: ScaleFinder, unmanaged: string[]): number {
  const scales = new Map<string, number>();
  for (const p of pods) {
    const ref = getControllerOf(p);
    if (!ref) {
      unmanaged.push(p.metadata.name ?? '');
      continue;
    }
    if (scales.has(ref.uid)) continue;
    const found = find(ref, p.metadata.namespace ?? '');
    if (!found) throw new Error(`found no controllers for pod "${p.metadata.name ?? ''}"`);
    scales.set(found.uid, found.replicas);
  }
  let sum = 0;
  for (const n of scales.values()) sum += n;
  return sum;
}

/**
 * The `disruptedPods` entries still standing at `now` (`buildDisruptedPodMap`): those of covered
 * pods that are not being deleted and whose eviction is at most DeletionTimeout old; and when the
 * first of them expires (ms), if any.
 */
export function keptDisruptedPods(recorded: Readonly<Record<string, string>> | undefined, pods: readonly Readonly<PodView>[], now: number): { kept: Record<string, string>; expiresAt?: number } {
  const kept: Record<string, string> = {};
  let expiresAt: number | undefined;
  if (!recorded) return { kept };
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    const name = p.metadata.name ?? '';
    const at = recorded[name];
    if (at === undefined) continue;
    const t = Date.parse(at);
    if (Number.isNaN(t)) continue;
    const expiry = t + DELETION_TIMEOUT_MS;
    if (expiry < now) continue;
    kept[name] = at;
    if (expiresAt === undefined || expiry < expiresAt) expiresAt = expiry;
  }
  return { kept, expiresAt };
}

/** Ready pods not being deleted and not recorded as disrupted (`countHealthyPods`). */
export function countHealthy(pods: readonly Readonly<PodView>[], disrupted: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const p of pods) {
    if (p.metadata.deletionTimestamp) continue;
    if (Object.hasOwn(disrupted, p.metadata.name ?? '')) continue;
    if (isPodReady(p as PodView)) n++;
  }
  return n;
}

/** The DisruptionAllowed condition for a computed status (`UpdateDisruptionAllowedCondition`). */
function allowedCondition(disruptionsAllowed: number, observedGeneration: number): Condition {
  return disruptionsAllowed > 0
    ? { type: DISRUPTION_ALLOWED, status: 'True', reason: SUFFICIENT_PODS, message: '', observedGeneration }
    : { type: DISRUPTION_ALLOWED, status: 'False', reason: INSUFFICIENT_PODS, message: '', observedGeneration };
}

/** Whether two statuses say the same (a missing disruptedPods is an empty one; an empty message a missing one). */
export function sameStatus(a: Readonly<PdbStatus> | undefined, b: Readonly<PdbStatus> | undefined): boolean {
  const norm = (s: Readonly<PdbStatus> | undefined) => ({
    observedGeneration: s?.observedGeneration ?? 0,
    disruptedPods: s?.disruptedPods ?? {},
    disruptionsAllowed: s?.disruptionsAllowed ?? 0,
    currentHealthy: s?.currentHealthy ?? 0,
    desiredHealthy: s?.desiredHealthy ?? 0,
    expectedPods: s?.expectedPods ?? 0,
    conditions: (s?.conditions ?? []).map((c) => ({ ...c, message: c.message ?? '' })),
  });
  return isDeepStrictEqual(norm(a), norm(b));
}

/** Whether a pod change can move a budget: its labels, readiness, deletion, controller or existence. */
function podMatters(a: Readonly<PodView>, b: Readonly<PodView>): boolean {
  return (
    !isDeepStrictEqual(a.metadata.labels ?? {}, b.metadata.labels ?? {}) ||
    isPodReady(a as PodView) !== isPodReady(b as PodView) ||
    !!a.metadata.deletionTimestamp !== !!b.metadata.deletionTimestamp ||
    getControllerOf(a)?.uid !== getControllerOf(b)?.uid
  );
}

/** Whether `b` records a disrupted pod (or a time) that `a` did not: an eviction's write. */
function addsDisruptedPod(a: Readonly<PdbView>, b: Readonly<PdbView>): boolean {
  const before = a.status?.disruptedPods ?? {};
  return Object.entries(b.status?.disruptedPods ?? {}).some(([name, at]) => before[name] !== at);
}

/** Keeps every PodDisruptionBudget's status. */
export class DisruptionController implements Controller {
  readonly name = 'disruption-controller';
  readonly queue: WorkQueue<string>;
  private readonly pdbs: SharedInformer<PdbView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly deployments: SharedInformer<ScalableView>;
  private readonly replicaSets: SharedInformer<ScalableView>;
  private readonly statefulSets: SharedInformer<ScalableView>;
  private readonly replicationControllers: SharedInformer<ScalableView>;
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.pdbs = ctx.informers.informerFor<PdbView>(PDBS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.deployments = ctx.informers.informerFor<ScalableView>(DEPLOYMENTS);
    this.replicaSets = ctx.informers.informerFor<ScalableView>(REPLICASETS);
    this.statefulSets = ctx.informers.informerFor<ScalableView>(STATEFULSETS);
    this.replicationControllers = ctx.informers.informerFor<ScalableView>(REPLICATIONCONTROLLERS);

    this.pdbs.addEventHandler({
      onAdd: (p) => this.queue.add(objectKey(p)),
      // Our own status writes leave spec and generation alone and only ever drop disruptedPods
      // entries: they queue nothing. An eviction adds an entry: that queues the budget, to schedule
      // the entry's expiry.
      onUpdate: (a, b) => {
        if (!isDeepStrictEqual(a.spec, b.spec) || a.metadata.generation !== b.metadata.generation || addsDisruptedPod(a, b) || !b.status?.conditions?.some((x) => x.type === DISRUPTION_ALLOWED)) {
          this.queue.add(objectKey(b));
        }
      },
    });
    this.pods.addEventHandler({
      onAdd: (p) => this.podChanged(undefined, p),
      onUpdate: (a, b) => {
        if (podMatters(a, b)) this.podChanged(a, b);
      },
      onDelete: (p) => this.podChanged(deletedObject(p), undefined),
    });
    for (const [informer, kind] of [
      [this.deployments, 'Deployment'],
      [this.replicaSets, 'ReplicaSet'],
      [this.statefulSets, 'StatefulSet'],
      [this.replicationControllers, 'ReplicationController'],
    ] as const) {
      informer.addEventHandler({
        onAdd: (o) => this.workloadChanged(kind, o),
        onUpdate: (a, b) => {
          if (a.spec?.replicas !== b.spec?.replicas || getControllerOf(a)?.uid !== getControllerOf(b)?.uid) this.workloadChanged(kind, b);
        },
        onDelete: (o) => this.workloadChanged(kind, deletedObject(o)),
      });
    }
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.pdbs, this.pods, this.deployments, this.replicaSets, this.statefulSets, this.replicationControllers].map((i) => i.waitForSync(signal)));
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Queues the budgets that match the pod before or after the change. */
  private podChanged(before: Readonly<PodView> | undefined, after: Readonly<PodView> | undefined): void {
    const namespace = (after ?? before)?.metadata.namespace;
    if (!namespace) return;
    for (const pdb of this.pdbs.lister.list(namespace)) {
      const pods = [before, after].filter((p): p is Readonly<PodView> => p !== undefined);
      if (podsOfBudget(pdb, pods).length > 0) this.queue.add(objectKey(pdb));
    }
  }

  /**
   * Queues the budgets counting a workload's replicas: those resolved against controllers whose
   * pods the workload controls (a Deployment through its ReplicaSets).
   */
  private workloadChanged(kind: string, obj: Readonly<ScalableView>): void {
    const namespace = obj.metadata.namespace;
    const uid = obj.metadata.uid;
    if (!namespace || !uid) return;
    const owns = (p: Readonly<PodView>): boolean => {
      const ref = getControllerOf(p);
      if (!ref) return false;
      if (ref.uid === uid) return true;
      if (kind !== 'Deployment' || ref.kind !== 'ReplicaSet') return false;
      const rs = this.replicaSets.lister.get(namespace, ref.name);
      return rs !== undefined && getControllerOf(rs)?.uid === uid;
    };
    const pods = this.pods.lister.list(namespace);
    for (const pdb of this.pdbs.lister.list(namespace)) {
      if (typeof pdb.spec?.minAvailable === 'number' && pdb.spec.maxUnavailable === undefined) continue;
      if (podsOfBudget(pdb, pods).some(owns)) this.queue.add(objectKey(pdb));
    }
  }

  /** The controller of a pod and its scale, from the informers (Kubernetes' finders, in their order). */
  private readonly findScale: ScaleFinder = (ref, namespace) => {
    if (refIs(ref, 'ReplicationController', [''])) {
      const rc = this.replicationControllers.lister.get(namespace, ref.name);
      return rc && rc.metadata.uid === ref.uid ? { uid: ref.uid, replicas: rc.spec?.replicas ?? 1 } : undefined;
    }
    if (refIs(ref, 'ReplicaSet', ['apps', 'extensions'])) {
      const rs = this.replicaSets.lister.get(namespace, ref.name);
      if (!rs || rs.metadata.uid !== ref.uid) return undefined;
      const owner = getControllerOf(rs);
      if (owner && owner.kind === 'Deployment') {
        if (!refIs(owner, 'Deployment', ['apps', 'extensions'])) return undefined;
        const d = this.deployments.lister.get(namespace, owner.name);
        return d && d.metadata.uid === owner.uid ? { uid: owner.uid, replicas: d.spec?.replicas ?? 1 } : undefined;
      }
      return { uid: ref.uid, replicas: rs.spec?.replicas ?? 1 };
    }
    if (refIs(ref, 'StatefulSet', ['apps'])) {
      const ss = this.statefulSets.lister.get(namespace, ref.name);
      return ss && ss.metadata.uid === ref.uid ? { uid: ref.uid, replicas: ss.spec?.replicas ?? 1 } : undefined;
    }
    return undefined;
  };

  /** Recomputes one budget's status and writes it when it changed. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.pdbs.lister.get(namespace, name);
    if (!cached) return;
    const pdb = cached as PdbView;
    const now = this.ctx.clock.now();
    const nowText = formatTime(new Date(now));
    const pods = podsOfBudget(pdb, this.pods.lister.list(namespace));
    const generation = pdb.metadata.generation ?? 0;

    let status: PdbStatus;
    let expiresAt: number | undefined;
    try {
      const { expectedPods, desiredHealthy, unmanaged } = expectedAndDesired(pdb, pods, this.findScale);
      if (unmanaged.length > 0 && (pdb.status?.observedGeneration ?? 0) !== generation) {
        this.recorder.event(pdb, 'Warning', 'UnmanagedPods', `Pods selected by this PodDisruptionBudget were found to be unmanaged (${unmanaged.slice(0, 5).join(', ')}). As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`);
      }
      const disrupted = keptDisruptedPods(pdb.status?.disruptedPods, pods, now);
      expiresAt = disrupted.expiresAt;
      const currentHealthy = countHealthy(pods, disrupted.kept);
      // No expected pods allows nothing: a budget whose first pods just appeared stays safe until synced.
      const disruptionsAllowed = expectedPods <= 0 ? 0 : Math.max(0, currentHealthy - desiredHealthy);
      status = {
        ...(Object.keys(disrupted.kept).length > 0 ? { disruptedPods: disrupted.kept } : {}),
        disruptionsAllowed,
        currentHealthy,
        desiredHealthy,
        expectedPods,
        observedGeneration: generation,
        conditions: setStatusCondition(pdb.status?.conditions, allowedCondition(disruptionsAllowed, generation), nowText),
      };
    } catch (err) {
      // failSafe: allow nothing and say why; the rest of the status stays as it was.
      const message = err instanceof Error ? err.message : String(err);
      const previous = pdb.status ?? {};
      status = {
        ...previous,
        disruptionsAllowed: 0,
        conditions: setStatusCondition(previous.conditions, { type: DISRUPTION_ALLOWED, status: 'False', reason: SYNC_FAILED, message, observedGeneration: previous.observedGeneration ?? 0 }, nowText),
      };
      if (!sameStatus(status, pdb.status)) {
        this.ctx.logger.warn({ pdb: key, err: message }, 'cannot compute the disruption budget');
        this.recorder.event(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${message}`);
      }
    }

    if (!sameStatus(status, pdb.status)) {
      const next = structuredClone(pdb);
      next.status = status;
      try {
        // Carries the cached resourceVersion: an eviction that wrote meanwhile gets us a Conflict and a retry.
        await this.ctx.client.updateStatus(PDBS, next);
        this.ctx.logger.debug({ pdb: key, disruptionsAllowed: status.disruptionsAllowed, currentHealthy: status.currentHealthy, desiredHealthy: status.desiredHealthy }, 'updated disruption budget');
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
    // Recheck when the first recorded eviction expires, to drop it and count the pod again.
    if (expiresAt !== undefined) this.queue.addAfter(key, expiresAt - now + 1_000);
  }
}
