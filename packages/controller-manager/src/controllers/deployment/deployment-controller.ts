/**
 * The Deployment controller: one ReplicaSet per pod template (named by the template's hash, carrying
 * a revision), rolled by the strategy — RollingUpdate within maxSurge/maxUnavailable, or Recreate —
 * with proportional scaling, pausing, revision history cleanup, and the status and conditions
 * (Available, Progressing with ProgressDeadlineExceeded) that `kubectl rollout status` reads.
 */
import { isDeepStrictEqual } from 'node:util';
import { formatTime, getControllerOf, isAlreadyExists, isNotFound, objectKey, splitObjectKey, type Condition } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { claimObjects, controllerRef, isPodActive, type PodView } from '../../pod-utils.js';
import {
  actualReplicas,
  availableReplicas,
  byCreation,
  bySize,
  computeTemplateHash,
  DESIRED_REPLICAS_ANNOTATION,
  equalIgnoreHash,
  getCondition,
  isComplete,
  isProgressing,
  MAX_REPLICAS_ANNOTATION,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newRsAnnotations,
  newRsNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  readyReplicas,
  replicaSetProportion,
  REVISION_ANNOTATION,
  revisionOf,
  scaleDownOld,
  setCondition,
  specReplicas,
  type Deployment,
  type DeploymentStatus,
  type ReplicaSet,
} from './rollout-math.js';

const DEPLOYMENTS = res('deployments.apps');
const REPLICA_SETS = res('replicasets.apps');
const PODS = res('pods');

/** Rolls Deployments out through ReplicaSets. */
export class DeploymentController implements Controller {
  readonly name = 'deployment-controller';
  readonly queue: WorkQueue<string>;
  private readonly deployments: SharedInformer<Deployment>;
  private readonly replicaSets: SharedInformer<ReplicaSet>;
  private readonly pods: SharedInformer<PodView>;
  private readonly recorder: EventRecorder;
  /** Deployments (this sync's copies) for which this sync created the new ReplicaSet. */
  private readonly createdNewRs = new WeakSet<Deployment>();

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.deployments = ctx.informers.informerFor<Deployment>(DEPLOYMENTS);
    this.replicaSets = ctx.informers.informerFor<ReplicaSet>(REPLICA_SETS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.deployments.addEventHandler({
      onAdd: (d) => this.queue.add(objectKey(d)),
      onUpdate: (_a, b) => this.queue.add(objectKey(b)),
      onDelete: (d) => this.queue.add(objectKey(deletedObject(d))),
    });
    const onRs = (rs: ReplicaSet) => {
      const ref = getControllerOf(rs);
      if (ref?.kind === 'Deployment') this.queue.add(`${rs.metadata.namespace}/${ref.name}`);
      else for (const d of this.deployments.lister.list(rs.metadata.namespace ?? '')) this.queue.add(objectKey(d));
    };
    this.replicaSets.addEventHandler({ onAdd: onRs, onUpdate: (_a, b) => onRs(b), onDelete: (rs) => onRs(deletedObject(rs)) });
    // Recreate waits for old pods to go away.
    this.pods.addEventHandler({
      onDelete: (p) => {
        const pod = deletedObject(p);
        const rsRef = getControllerOf(pod);
        if (rsRef?.kind !== 'ReplicaSet') return;
        const rs = this.replicaSets.lister.get(pod.metadata.namespace ?? '', rsRef.name);
        const dRef = rs ? getControllerOf(rs) : undefined;
        if (dRef?.kind === 'Deployment') this.queue.add(`${pod.metadata.namespace}/${dRef.name}`);
      },
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.deployments.waitForSync(signal), this.replicaSets.waitForSync(signal), this.pods.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  private now(): string {
    return formatTime(new Date(this.ctx.clock.now()));
  }

  /** Reconciles one Deployment. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.deployments.lister.get(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached) as Deployment;
    const ref = controllerRef(d, 'apps/v1', 'Deployment');
    const candidates = this.replicaSets.lister.list(namespace) as ReplicaSet[];
    const owned = (await claimObjects(this.ctx.client, REPLICA_SETS, d, ref, d.spec.selector, candidates)).map((rs) => structuredClone(rs));
    if (d.metadata.deletionTimestamp) {
      await this.syncStatus(d, owned, undefined);
      return;
    }
    if (d.spec.paused) {
      const newRs = this.findNewRs(d, owned);
      await this.scale(d, newRs, owned);
      await this.syncStatus(d, owned, newRs, true);
      return;
    }
    if ((d.spec.strategy?.type ?? 'RollingUpdate') === 'Recreate') await this.rolloutRecreate(d, owned);
    else await this.rolloutRolling(d, owned);
  }

  /** The ReplicaSet whose template equals the Deployment's (ignoring the hash label), oldest first. */
  private findNewRs(d: Deployment, rss: ReplicaSet[]): ReplicaSet | undefined {
    return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
  }

  private oldRss(rss: ReplicaSet[], newRs: ReplicaSet | undefined): ReplicaSet[] {
    return rss.filter((rs) => rs.metadata.uid !== newRs?.metadata.uid);
  }

  /** Finds or creates the new ReplicaSet, keeping its revision and annotations current. */
  private async getNewRs(d: Deployment, rss: ReplicaSet[], create: boolean): Promise<ReplicaSet | undefined> {
    const existing = this.findNewRs(d, rss);
    const old = this.oldRss(rss, existing);
    const revision = String(Math.max(maxRevision(old) + 1, existing ? revisionOf(existing) : 0));
    const desired = String(d.spec.replicas ?? 1);
    const maxReplicas = String((d.spec.replicas ?? 1) + maxSurge(d));
    if (existing) {
      const a = existing.metadata.annotations ?? {};
      // The Deployment's own annotations (e.g. kubernetes.io/change-cause) and the revision here;
      // the size annotations change with the size (scaleRs), so that a scaling event stays visible
      // to isScalingEvent.
      const annotations = newRsAnnotations(d, a, revision);
      if (!isDeepStrictEqual(annotations, a) || existing.spec.minReadySeconds !== d.spec.minReadySeconds) {
        const updated = await this.ctx.client.update(REPLICA_SETS, {
          ...existing,
          metadata: { ...existing.metadata, annotations },
          spec: { ...existing.spec, ...(d.spec.minReadySeconds !== undefined ? { minReadySeconds: d.spec.minReadySeconds } : {}) },
        });
        Object.assign(existing, updated);
      }
      await this.setDeploymentRevision(d, revision);
      return existing;
    }
    if (!create) return undefined;
    const collision = d.status?.collisionCount;
    const hash = computeTemplateHash(d.spec.template, collision);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const newRs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: { ...(d.spec.template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
        annotations: { ...newRsAnnotations(d, {}, revision), [DESIRED_REPLICAS_ANNOTATION]: desired, [MAX_REPLICAS_ANNOTATION]: maxReplicas },
        ownerReferences: [controllerRef(d, 'apps/v1', 'Deployment')],
      },
      spec: { replicas: 0, selector, template, ...(d.spec.minReadySeconds !== undefined ? { minReadySeconds: d.spec.minReadySeconds } : {}) },
    };
    // Start at the size a rollout may have right now.
    newRs.spec.replicas = newRsNewReplicas(d, [...old], newRs);
    try {
      const created = await this.ctx.client.create(REPLICA_SETS, d.metadata.namespace ?? '', newRs);
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${created.spec.replicas}`);
      await this.setDeploymentRevision(d, revision);
      this.createdNewRs.add(d);
      rss.push(created);
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // A ReplicaSet with that name but another template: a hash collision. Count it and retry.
      const clash = await this.ctx.client.get<ReplicaSet>(REPLICA_SETS, d.metadata.namespace ?? '', newRs.metadata.name!);
      if (getControllerOf(clash)?.uid === d.metadata.uid && equalIgnoreHash(clash.spec.template, d.spec.template)) return clash;
      const status = { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 };
      await this.ctx.client.updateStatus(DEPLOYMENTS, { ...d, status });
      throw err;
    }
  }

  private async setDeploymentRevision(d: Deployment, revision: string): Promise<void> {
    if (d.metadata.annotations?.[REVISION_ANNOTATION] === revision) return;
    const updated = await this.ctx.client.patch<Deployment>(DEPLOYMENTS, d.metadata.namespace ?? '', d.metadata.name ?? '', { metadata: { annotations: { [REVISION_ANNOTATION]: revision } } }, 'merge');
    d.metadata = updated.metadata;
  }

  private async scaleRs(d: Deployment, rs: ReplicaSet, replicas: number): Promise<boolean> {
    const from = rs.spec.replicas ?? 0;
    const desired = String(d.spec.replicas ?? 1);
    const maxReplicas = String((d.spec.replicas ?? 1) + maxSurge(d));
    const a = rs.metadata.annotations ?? {};
    if (from === replicas && a[DESIRED_REPLICAS_ANNOTATION] === desired && a[MAX_REPLICAS_ANNOTATION] === maxReplicas) return false;
    const updated = await this.ctx.client.update(REPLICA_SETS, {
      ...rs,
      metadata: { ...rs.metadata, annotations: { ...a, [DESIRED_REPLICAS_ANNOTATION]: desired, [MAX_REPLICAS_ANNOTATION]: maxReplicas } },
      spec: { ...rs.spec, replicas },
    });
    Object.assign(rs, updated);
    if (from !== replicas) this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${replicas}`);
    return from !== replicas;
  }

  /**
   * Scaling without a template change (Kubernetes' `scale`): when at most one ReplicaSet is active,
   * it (or the newest) takes the whole size; a saturated new ReplicaSet scales the old ones to zero;
   * otherwise active ReplicaSets change in proportion to the size they were last scaled for (the
   * max-replicas annotation), leftovers going to the largest.
   */
  private async scale(d: Deployment, newRs: ReplicaSet | undefined, rss: ReplicaSet[]): Promise<boolean> {
    const replicas = d.spec.replicas ?? 1;
    const old = this.oldRss(rss, newRs);
    const active = rss.filter((rs) => (rs.spec.replicas ?? 0) > 0);
    const activeOrLatest = active.length === 1 ? active[0] : active.length === 0 ? (newRs ?? [...old].sort(byCreation).at(-1)) : undefined;
    if (activeOrLatest) {
      if ((activeOrLatest.spec.replicas ?? 0) === replicas) return false;
      return this.scaleRs(d, activeOrLatest, replicas);
    }
    if (newRs && (newRs.spec.replicas ?? 0) === replicas && newRs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION] === String(replicas) && (newRs.status?.availableReplicas ?? 0) === replicas) {
      let changed = false;
      for (const rs of old) if ((rs.spec.replicas ?? 0) > 0) changed = (await this.scaleRs(d, rs, 0)) || changed;
      return changed;
    }
    if ((d.spec.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return false;
    const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
    const toAdd = allowed - specReplicas(active);
    const sorted = [...active].sort(bySize(toAdd > 0));
    let added = 0;
    const sizes = new Map<string, number>();
    for (const rs of sorted) {
      const share = replicaSetProportion(d, rs, toAdd, added);
      sizes.set(rs.metadata.uid!, (rs.spec.replicas ?? 0) + share);
      added += share;
    }
    const largest = sorted[0]!;
    sizes.set(largest.metadata.uid!, Math.max(0, sizes.get(largest.metadata.uid!)! + toAdd - added));
    let changed = false;
    for (const rs of sorted) changed = (await this.scaleRs(d, rs, sizes.get(rs.metadata.uid!)!)) || changed;
    return changed;
  }

  private async rolloutRolling(d: Deployment, rss: ReplicaSet[]): Promise<void> {
    const newRs = await this.getNewRs(d, rss, true);
    const old = this.oldRss(rss, newRs);
    // A pure scale while a rollout is complete, or proportional scaling while one is running.
    if (newRs && (await this.isScalingEvent(d, rss)) && (await this.scale(d, newRs, rss))) {
      await this.syncStatus(d, rss, newRs);
      return;
    }
    if (newRs) {
      const target = newRsNewReplicas(d, rss, newRs);
      if (await this.scaleRs(d, newRs, target)) {
        await this.syncStatus(d, rss, newRs);
        return;
      }
    }
    if (newRs) {
      const down = scaleDownOld(d, old, newRs);
      let scaled = false;
      for (const rs of old) {
        const size = down.get(rs.metadata.name!);
        if (size !== undefined) scaled = (await this.scaleRs(d, rs, size)) || scaled;
      }
      if (scaled) {
        await this.syncStatus(d, rss, newRs);
        return;
      }
    }
    const status = this.calculateStatus(d, rss, newRs);
    if (isComplete(d, status)) await this.cleanup(d, old);
    await this.syncStatus(d, rss, newRs);
  }

  private async rolloutRecreate(d: Deployment, rss: ReplicaSet[]): Promise<void> {
    const existingNew = this.findNewRs(d, rss);
    const old = this.oldRss(rss, existingNew);
    let scaledDown = false;
    for (const rs of old) if ((rs.spec.replicas ?? 0) > 0) scaledDown = (await this.scaleRs(d, rs, 0)) || scaledDown;
    if (scaledDown) {
      await this.syncStatus(d, rss, existingNew);
      return;
    }
    // Wait until every old pod is gone before the new ones start.
    const oldUids = new Set(old.map((rs) => rs.metadata.uid));
    const oldPods = this.pods.lister.list(d.metadata.namespace ?? '').filter((p) => {
      const ref = getControllerOf(p);
      return ref !== undefined && oldUids.has(ref.uid) && (isPodActive(p as PodView) || (p as PodView).metadata.deletionTimestamp !== undefined);
    });
    // Kubernetes' oldPodsRunning: old ReplicaSets still reporting pods, or old pods still there.
    if (oldPods.length > 0 || actualReplicas(old) > 0) {
      await this.syncStatus(d, rss, existingNew);
      return;
    }
    const newRs = await this.getNewRs(d, rss, true);
    if (newRs) await this.scaleRs(d, newRs, d.spec.replicas ?? 1);
    const status = this.calculateStatus(d, rss, newRs);
    if (isComplete(d, status)) await this.cleanup(d, old);
    await this.syncStatus(d, rss, newRs);
  }

  /** True when the Deployment's size differs from what its active ReplicaSets were last sized for. */
  private async isScalingEvent(d: Deployment, rss: ReplicaSet[]): Promise<boolean> {
    const desired = String(d.spec.replicas ?? 1);
    return rss.filter((rs) => (rs.spec.replicas ?? 0) > 0).some((rs) => {
      const a = rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION];
      return a !== undefined && a !== desired;
    });
  }

  /** Deletes old, empty ReplicaSets beyond revisionHistoryLimit, oldest first. */
  private async cleanup(d: Deployment, old: ReplicaSet[]): Promise<void> {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const empty = old.filter((rs) => (rs.spec.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
    const extra = empty.length - limit;
    for (let i = 0; i < extra; i++) {
      try {
        await this.ctx.client.delete(REPLICA_SETS, empty[i]!.metadata.namespace ?? '', empty[i]!.metadata.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private calculateStatus(d: Deployment, rss: ReplicaSet[], newRs: ReplicaSet | undefined): DeploymentStatus {
    const available = availableReplicas(rss);
    const total = specReplicas(rss);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation ?? 0,
      replicas: actualReplicas(rss),
      updatedReplicas: newRs ? actualReplicas([newRs]) : 0,
      readyReplicas: readyReplicas(rss),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: [...(d.status?.conditions ?? [])],
    };
    if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
    const now = this.now();
    const minAvailable = (d.spec.replicas ?? 1) - maxUnavailable(d);
    status.conditions = setCondition(
      status.conditions!,
      available >= minAvailable
        ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now, lastTransitionTime: now }
        : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: now, lastTransitionTime: now },
    );
    return status;
  }

  /** Writes status and the Progressing condition; requeues to check the progress deadline. */
  private async syncStatus(d: Deployment, rss: ReplicaSet[], newRs: ReplicaSet | undefined, paused = false): Promise<void> {
    const status = this.calculateStatus(d, rss, newRs);
    const now = this.now();
    const progressing = getCondition(d.status, 'Progressing');
    let cond: Condition | undefined;
    if (paused) {
      cond = { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused', lastUpdateTime: now, lastTransitionTime: now };
    } else {
      const rsName = newRs?.metadata.name ?? '';
      if (isComplete(d, status)) {
        cond = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.`, lastUpdateTime: now, lastTransitionTime: now };
      } else if (this.createdNewRs.has(d) || isProgressing(d, status) || !progressing || progressing.reason === 'DeploymentPaused' || progressing.reason === 'DeploymentResumed') {
        // A new rollout (a ReplicaSet created now) restarts the progress deadline, whatever came before.
        const created = newRs && (this.createdNewRs.has(d) || !progressing);
        cond = { type: 'Progressing', status: 'True', reason: created ? 'NewReplicaSetCreated' : 'ReplicaSetUpdated', message: created ? `Created new replica set "${rsName}"` : `ReplicaSet "${rsName}" is progressing.`, lastUpdateTime: now, lastTransitionTime: now };
      } else if (progressing.status === 'True' && progressing.reason !== 'NewReplicaSetAvailable' && d.spec.progressDeadlineSeconds !== undefined) {
        const last = Date.parse(progressing.lastUpdateTime ?? progressing.lastTransitionTime ?? now);
        if (this.ctx.clock.now() - last > d.spec.progressDeadlineSeconds * 1000) {
          cond = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.`, lastUpdateTime: now, lastTransitionTime: now };
          this.recorder.event(d, 'Warning', 'ProgressDeadlineExceeded', `Deployment ${d.metadata.name} has timed out progressing.`);
        }
      }
    }
    if (cond) status.conditions = setCondition(status.conditions ?? [], cond);
    // Only a real change bumps lastUpdateTime: compare without timestamps.
    const strip = (s: DeploymentStatus | undefined) => ({ ...s, conditions: (s?.conditions ?? []).map((c) => ({ ...c, lastUpdateTime: undefined, lastTransitionTime: undefined })).sort((a, b) => a.type.localeCompare(b.type)) });
    if (!isDeepStrictEqual(strip(status), strip(d.status))) {
      try {
        await this.ctx.client.updateStatus(DEPLOYMENTS, { ...d, status });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    // Check the progress deadline again later while the rollout is not complete.
    if (!paused && !isComplete(d, status) && d.spec.progressDeadlineSeconds !== undefined) this.queue.addAfter(objectKey(d), Math.min(d.spec.progressDeadlineSeconds * 1000 + 1000, 60_000));
    // Pods becoming available after minReadySeconds change availability without events.
    if ((d.spec.minReadySeconds ?? 0) > 0 && (status.readyReplicas ?? 0) > (status.availableReplicas ?? 0)) this.queue.addAfter(objectKey(d), (d.spec.minReadySeconds ?? 0) * 1000 + 100);
  }
}
