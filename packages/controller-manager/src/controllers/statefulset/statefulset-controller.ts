/**
 * The StatefulSet controller: pods with stable names (`<set>-<ordinal>`), hostnames and claims
 * (`<template>-<set>-<ordinal>`, created before their pod and never deleted), created in ordinal
 * order and waiting for readiness (OrderedReady) or all at once (Parallel), removed from the highest
 * ordinal down; rolling updates from the highest ordinal down to the partition, one pod at a time,
 * or OnDelete; template history in ControllerRevisions; replica and revision counts in status.
 *
 * persistentVolumeClaimRetentionPolicy is treated as Retain/Retain whatever it says: the controller
 * never deletes (nor sets owners on) the claims it created.
 */
import { isDeepStrictEqual } from 'node:util';
import { isAlreadyExists, isNotFound, labelSelectorFromObject, objectKey, splitObjectKey, type KubeObject, type LabelSelectorObject, type OwnerReference } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { CONTROLLER_REVISION_HASH_LABEL, CONTROLLER_REVISIONS, syncRevisions, templateFromRevision, truncateHistory, type ControllerRevision, type RevisionHistory } from '../../history.js';
import { claimObjects, controllerRef, isPodAvailable, isPodReady, podFromTemplate, readySince, slowStartBatch, type PodTemplate, type PodView } from '../../pod-utils.js';
import { watchOwnedPods } from '../../owned-pods.js';

const PODS = res('pods');
const PVCS = res('persistentvolumeclaims');
const STATEFUL_SETS = res('statefulsets.apps');

/** Label naming a StatefulSet pod (lets a Service select one replica). */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** Label carrying a StatefulSet pod's ordinal. */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

/** A volumeClaimTemplate. */
interface ClaimTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

/** The StatefulSet status the controller writes. */
interface StatefulSetStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
  [k: string]: unknown;
}

/** The StatefulSet fields the controller reads. */
interface StatefulSetView extends KubeObject {
  spec: {
    replicas?: number;
    selector?: LabelSelectorObject;
    template?: PodTemplate;
    serviceName?: string;
    podManagementPolicy?: string;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
    volumeClaimTemplates?: ClaimTemplate[];
    revisionHistoryLimit?: number;
    minReadySeconds?: number;
  };
  status?: StatefulSetStatus;
}

/** The ordinal of a pod of `set` (from its name), or -1 when the pod is not one of the set's. */
function ordinalOf(set: Readonly<KubeObject>, pod: Readonly<KubeObject>): number {
  const name = pod.metadata.name ?? '';
  const prefix = `${set.metadata.name}-`;
  if (!name.startsWith(prefix)) return -1;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : -1;
}

function isTerminating(p: PodView): boolean {
  return Boolean(p.metadata.deletionTimestamp);
}

function isRunningAndReady(p: PodView): boolean {
  return p.status?.phase === 'Running' && isPodReady(p);
}

function isHealthy(p: PodView | undefined): boolean {
  return p !== undefined && isRunningAndReady(p) && !isTerminating(p);
}

function isFinished(p: PodView): boolean {
  return p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
}

function revisionOf(p: PodView): string | undefined {
  return p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL];
}

/** A copy of `p` marked as terminating (after we deleted it in this sync). */
function markDeleted(p: PodView, now: number): PodView {
  return { ...p, metadata: { ...p.metadata, deletionTimestamp: new Date(now).toISOString() } };
}

/** Keeps StatefulSets' pods and claims. */
export class StatefulSetController implements Controller {
  readonly name = 'statefulset-controller';
  readonly queue: WorkQueue<string>;
  private readonly sets: SharedInformer<StatefulSetView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly claims: SharedInformer<KubeObject>;
  private readonly revisions: SharedInformer<ControllerRevision>;
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.sets = ctx.informers.informerFor<StatefulSetView>(STATEFUL_SETS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.claims = ctx.informers.informerFor<KubeObject>(PVCS);
    this.revisions = ctx.informers.informerFor<ControllerRevision>(CONTROLLER_REVISIONS);
    this.sets.addEventHandler({
      onAdd: (s) => this.queue.add(objectKey(s)),
      onUpdate: (_a, b) => this.queue.add(objectKey(b)),
      onDelete: (s) => this.queue.add(objectKey(deletedObject(s))),
    });
    watchOwnedPods(this.pods, {
      queue: this.queue,
      owners: this.sets,
      kind: 'StatefulSet',
      enqueueMatching: (p) => this.enqueueMatching(p),
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  /** Enqueues the sets that could adopt an orphan pod. */
  private enqueueMatching(p: PodView): void {
    if (p.metadata.deletionTimestamp) return;
    for (const set of this.sets.lister.list(p.metadata.namespace ?? '')) {
      if (set.spec.selector && ordinalOf(set, p) >= 0 && labelSelectorFromObject(set.spec.selector).matches(p.metadata.labels)) this.queue.add(objectKey(set));
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.sets.waitForSync(signal), this.pods.waitForSync(signal), this.claims.waitForSync(signal), this.revisions.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Reconciles one StatefulSet. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.sets.lister.get(namespace, name);
    // A set being deleted is left to the garbage collector.
    if (!cached || cached.metadata.deletionTimestamp) return;
    const set = structuredClone(cached) as StatefulSetView;
    const ref = controllerRef(set, 'apps/v1', 'StatefulSet');
    const candidates = this.pods.lister.list(namespace).filter((p) => ordinalOf(set, p) >= 0) as PodView[];
    const pods = await claimObjects(this.ctx.client, PODS, set, ref, set.spec.selector, candidates);
    const history = await syncRevisions(
      this.ctx.client,
      {
        owner: set,
        ref,
        selector: set.spec.selector,
        template: set.spec.template,
        collisionCount: set.status?.collisionCount ?? 0,
        ...(set.status?.currentRevision ? { currentName: set.status.currentRevision } : {}),
      },
      this.revisions.lister.list(namespace) as ControllerRevision[],
    );
    let failure: unknown;
    try {
      await this.reconcile(set, ref, pods, history);
    } catch (err) {
      failure = err;
    }
    // Status reflects what was observed even when a write failed; then the failure is retried.
    await this.updateStatus(set, pods, history);
    if (failure) throw failure;
    const live = new Set<string>([history.current.metadata.name ?? '', history.update.metadata.name ?? '']);
    for (const p of pods) {
      const r = revisionOf(p);
      if (r) live.add(r);
    }
    await truncateHistory(this.ctx.client, history.revisions, live, set.spec.revisionHistoryLimit ?? 10);
  }

  /** Creates, deletes and updates pods toward the spec (Kubernetes' updateStatefulSet). */
  private async reconcile(set: StatefulSetView, ref: OwnerReference, pods: PodView[], history: RevisionHistory): Promise<void> {
    const key = objectKey(set);
    const now = this.ctx.clock.now();
    const count = set.spec.replicas ?? 1;
    const minReady = set.spec.minReadySeconds ?? 0;
    const monotonic = set.spec.podManagementPolicy !== 'Parallel';
    const replicas: (PodView | undefined)[] = Array.from({ length: count }, () => undefined);
    const condemned: PodView[] = [];
    for (const p of pods) {
      const ord = ordinalOf(set, p);
      if (ord < count) replicas[ord] = p;
      else condemned.push(p);
    }
    // Highest ordinal first.
    condemned.sort((a, b) => ordinalOf(set, b) - ordinalOf(set, a));

    const isAvailable = (p: PodView): boolean => {
      if (!isRunningAndReady(p)) return false;
      if (isPodAvailable(p, minReady, now)) return true;
      const since = readySince(p) ?? now;
      this.queue.addAfter(key, Math.max(0, since + minReady * 1000 - now) + 100);
      return false;
    };
    // The lowest-ordinal unhealthy pod (a missing replica counts, and matches no condemned pod).
    const firstBad = replicas.findIndex((p) => !isHealthy(p));
    const firstUnhealthy = firstBad >= 0 ? replicas[firstBad] : [...condemned].reverse().find((p) => !isHealthy(p));

    const processReplica = async (ord: number): Promise<boolean> => {
      const pod = replicas[ord];
      if (!pod) {
        await this.createPod(set, ref, ord, history);
        return monotonic;
      }
      if (isFinished(pod)) {
        // Deleted now and recreated by the next sync, once the deletion is observed.
        if (!isTerminating(pod)) {
          await this.deletePod(set, pod);
          replicas[ord] = markDeleted(pod, now);
        }
        return true;
      }
      if (pod.status?.phase === 'Pending' || !pod.status?.phase) await this.createClaims(set, ord);
      if (isTerminating(pod)) return monotonic;
      if (monotonic && !isAvailable(pod)) return true;
      await this.fixIdentity(set, pod, ord);
      return false;
    };
    if (await this.runForAll(replicas.map((_p, i) => i), processReplica, monotonic)) return;

    // Scale down, highest ordinal first; OrderedReady waits for every predecessor to be healthy.
    const processCondemned = async (pod: PodView): Promise<boolean> => {
      if (isTerminating(pod)) return monotonic;
      if (monotonic && pod !== firstUnhealthy && !isAvailable(pod)) return true;
      await this.deletePod(set, pod);
      return monotonic;
    };
    if (await this.runForAll(condemned, processCondemned, monotonic)) return;

    if (set.spec.updateStrategy?.type === 'OnDelete') return;
    // Rolling update: replace the highest-ordinal pod not at the update revision, one at a time.
    const partition = set.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    for (let ord = count - 1; ord >= partition; ord--) {
      const pod = replicas[ord];
      // Created or deleted in this sync: wait for it.
      if (!pod) return;
      if (revisionOf(pod) !== history.update.metadata.name && !isTerminating(pod)) {
        await this.deletePod(set, pod);
        return;
      }
      if (!isHealthy(pod) || !isAvailable(pod)) return;
    }
  }

  /** Runs `fn` in order, stopping when it asks to (monotonic), or in slow-start batches. Returns true to stop. */
  private async runForAll<T>(items: readonly T[], fn: (x: T) => Promise<boolean>, monotonic: boolean): Promise<boolean> {
    if (monotonic) {
      for (const x of items) if (await fn(x)) return true;
      return false;
    }
    const { error } = await slowStartBatch(items, async (x) => {
      await fn(x);
    });
    if (error) throw error;
    return false;
  }

  private podName(set: StatefulSetView, ord: number): string {
    return `${set.metadata.name}-${ord}`;
  }

  private claimName(set: StatefulSetView, t: ClaimTemplate, ord: number): string {
    return `${t.metadata?.name ?? ''}-${set.metadata.name}-${ord}`;
  }

  /** Creates the pod of ordinal `ord` at the revision its position calls for, after its claims. */
  private async createPod(set: StatefulSetView, ref: OwnerReference, ord: number, history: RevisionHistory): Promise<void> {
    const ns = set.metadata.namespace ?? '';
    const name = this.podName(set, ord);
    const partition = set.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    const isRolling = set.spec.updateStrategy?.type !== 'OnDelete';
    // Below the partition, pods keep the current revision.
    const revision = isRolling && ord < partition ? history.current : history.update;
    const template = templateFromRevision(revision);
    const pod = podFromTemplate(template, ns, ref, {
      name,
      extraLabels: { [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ord), [CONTROLLER_REVISION_HASH_LABEL]: revision.metadata.name ?? '' },
    });
    const spec = pod['spec'] as { hostname?: string; subdomain?: string; volumes?: { name: string; [k: string]: unknown }[] };
    spec.hostname = name;
    if (set.spec.serviceName) spec.subdomain = set.spec.serviceName;
    const templates = set.spec.volumeClaimTemplates ?? [];
    if (templates.length > 0) {
      const names = new Set(templates.map((t) => t.metadata?.name ?? ''));
      spec.volumes = [
        ...templates.map((t) => ({ name: t.metadata?.name ?? '', persistentVolumeClaim: { claimName: this.claimName(set, t, ord) } })),
        ...(spec.volumes ?? []).filter((v) => !names.has(v.name)),
      ];
    }
    try {
      await this.createClaims(set, ord);
      await this.ctx.client.create(PODS, ns, pod);
    } catch (err) {
      // An existing pod of that name is one the cache has not shown us yet: wait for it.
      if (!isAlreadyExists(err)) this.recorder.event(set, 'Warning', 'FailedCreate', `create Pod ${name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
      throw err;
    }
    this.recorder.event(set, 'Normal', 'SuccessfulCreate', `create Pod ${name} in StatefulSet ${set.metadata.name} successful`);
  }

  /** Creates the claims of ordinal `ord` that do not exist. */
  private async createClaims(set: StatefulSetView, ord: number): Promise<void> {
    const ns = set.metadata.namespace ?? '';
    for (const t of set.spec.volumeClaimTemplates ?? []) {
      const claimName = this.claimName(set, t, ord);
      const existing = this.claims.lister.get(ns, claimName);
      if (existing) {
        if (existing.metadata.deletionTimestamp) throw new Error(`pvc ${claimName} is being deleted`);
        continue;
      }
      const claim: KubeObject = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: claimName,
          namespace: ns,
          labels: { ...(t.metadata?.labels ?? {}), ...(set.spec.selector?.matchLabels ?? {}) },
          ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
        },
        spec: structuredClone(t.spec ?? {}),
      };
      try {
        await this.ctx.client.create(PVCS, ns, claim);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        this.recorder.event(set, 'Warning', 'FailedCreate', `create Claim ${claimName} for Pod ${this.podName(set, ord)} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
        throw err;
      }
      this.recorder.event(set, 'Normal', 'SuccessfulCreate', `create Claim ${claimName} Pod ${this.podName(set, ord)} in StatefulSet ${set.metadata.name} success`);
    }
  }

  /** Restores the identity labels of a pod if someone changed them. */
  private async fixIdentity(set: StatefulSetView, pod: PodView, ord: number): Promise<void> {
    const name = this.podName(set, ord);
    const labels = pod.metadata.labels ?? {};
    if (labels[POD_NAME_LABEL] === name && labels[POD_INDEX_LABEL] === String(ord)) return;
    try {
      await this.ctx.client.patch(PODS, pod.metadata.namespace ?? '', name, { metadata: { uid: pod.metadata.uid, labels: { [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ord) } } }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async deletePod(set: StatefulSetView, pod: PodView): Promise<void> {
    const name = pod.metadata.name ?? '';
    try {
      await this.ctx.client.delete(PODS, pod.metadata.namespace ?? '', name, { preconditions: { uid: pod.metadata.uid ?? '' } });
    } catch (err) {
      if (isNotFound(err)) return;
      this.recorder.event(set, 'Warning', 'FailedDelete', `delete Pod ${name} in StatefulSet ${set.metadata.name} failed error: ${(err as Error).message}`);
      throw err;
    }
    this.recorder.event(set, 'Normal', 'SuccessfulDelete', `delete Pod ${name} in StatefulSet ${set.metadata.name} successful`);
  }

  /** Computes status from the observed pods and writes it if it changed. */
  private async updateStatus(set: StatefulSetView, pods: PodView[], history: RevisionHistory): Promise<void> {
    const now = this.ctx.clock.now();
    const minReady = set.spec.minReadySeconds ?? 0;
    const currentName = history.current.metadata.name ?? '';
    const updateName = history.update.metadata.name ?? '';
    const status: StatefulSetStatus = {
      ...(set.status ?? {}),
      observedGeneration: set.metadata.generation ?? 0,
      replicas: pods.length,
      readyReplicas: pods.filter(isRunningAndReady).length,
      availableReplicas: pods.filter((p) => isRunningAndReady(p) && isPodAvailable(p, minReady, now)).length,
      currentReplicas: pods.filter((p) => !isTerminating(p) && revisionOf(p) === currentName).length,
      updatedReplicas: pods.filter((p) => !isTerminating(p) && revisionOf(p) === updateName).length,
      currentRevision: currentName,
      updateRevision: updateName,
      collisionCount: history.collisionCount,
    };
    // A finished rolling update makes the update revision current.
    if (set.spec.updateStrategy?.type !== 'OnDelete' && status.updatedReplicas === status.replicas && status.readyReplicas === status.replicas) {
      status.currentReplicas = status.updatedReplicas;
      status.currentRevision = updateName;
    }
    if (isDeepStrictEqual(status, set.status)) return;
    try {
      await this.ctx.client.updateStatus(STATEFUL_SETS, { ...set, status });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
