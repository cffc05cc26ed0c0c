/**
 * The DaemonSet controller: one pod per eligible node (see node-eligibility), pinned to its node by
 * required node affinity and bound by the scheduler; surplus pods on a node (all but the oldest),
 * failed pods, and pods on ineligible or deleted nodes are deleted. Rolling updates replace old pods
 * within maxUnavailable (deleting first) or maxSurge (creating first); OnDelete waits for pods to be
 * deleted. Template history lives in ControllerRevisions; pods carry `controller-revision-hash` and
 * `pod-template-generation`.
 */
import { isDeepStrictEqual } from 'node:util';
import { isNotFound, labelSelectorFromObject, objectKey, splitObjectKey, type KubeObject, type LabelSelectorObject, type OwnerReference } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { Expectations } from '../../expectations.js';
import { watchOwnedPods } from '../../owned-pods.js';
import { CONTROLLER_REVISION_HASH_LABEL, CONTROLLER_REVISIONS, syncRevisions, truncateHistory, type ControllerRevision, type RevisionHistory } from '../../history.js';
import { claimObjects, controllerRef, isPodAvailable, isPodReady, podFromTemplate, readySince, slowStartBatch, type PodTemplate, type PodView } from '../../pod-utils.js';
import { scaledValue } from '../deployment/rollout-math.js';
import { daemonPodTolerations, nodeNameAffinity, nodeShouldRunDaemonPod, targetNodeName, type NodeView, type PlacementSpec } from './node-eligibility.js';

const PODS = res('pods');
const NODES = res('nodes');
const DAEMON_SETS = res('daemonsets.apps');
/** Pods created or deleted per sync at most (Kubernetes' BurstReplicas). */
const BURST_REPLICAS = 250;

/** Label carrying the DaemonSet generation a pod was created from. */
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** The DaemonSet status the controller writes. */
interface DaemonSetStatus {
  currentNumberScheduled?: number;
  numberMisscheduled?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  numberAvailable?: number;
  updatedNumberScheduled?: number;
  numberUnavailable?: number;
  observedGeneration?: number;
  collisionCount?: number;
  [k: string]: unknown;
}

/** The DaemonSet fields the controller reads. */
interface DaemonSetView extends KubeObject {
  spec: {
    selector?: LabelSelectorObject;
    template?: PodTemplate;
    updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
  };
  status?: DaemonSetStatus;
}

function isTerminating(p: PodView): boolean {
  return Boolean(p.metadata.deletionTimestamp);
}

/** Scheduled pods first, then oldest first, then by name (Kubernetes' podByCreationTimestampAndPhase). */
function oldestFirst(a: PodView, b: PodView): number {
  const sa = a.spec?.nodeName ? 0 : 1;
  const sb = b.spec?.nodeName ? 0 : 1;
  if (sa !== sb) return sa - sb;
  const ca = a.metadata.creationTimestamp ?? '';
  const cb = b.metadata.creationTimestamp ?? '';
  if (ca !== cb) return ca < cb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

function isRolling(ds: DaemonSetView): boolean {
  return ds.spec.updateStrategy?.type !== 'OnDelete';
}

/** Keeps one pod of each DaemonSet on every node it belongs on. */
export class DaemonSetController implements Controller {
  readonly name = 'daemonset-controller';
  readonly queue: WorkQueue<string>;
  // Kubernetes keeps creations and deletions in one expectation; ours holds one kind per instance.
  private readonly creations: Expectations;
  private readonly deletions: Expectations;
  private readonly sets: SharedInformer<DaemonSetView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly nodes: SharedInformer<NodeView>;
  private readonly revisions: SharedInformer<ControllerRevision>;
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.creations = new Expectations(ctx.clock);
    this.deletions = new Expectations(ctx.clock);
    this.recorder = ctx.recorder(this.name);
    this.sets = ctx.informers.informerFor<DaemonSetView>(DAEMON_SETS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.nodes = ctx.informers.informerFor<NodeView>(NODES);
    this.revisions = ctx.informers.informerFor<ControllerRevision>(CONTROLLER_REVISIONS);
    this.sets.addEventHandler({
      onAdd: (ds) => this.queue.add(objectKey(ds)),
      onUpdate: (_a, b) => this.queue.add(objectKey(b)),
      onDelete: (ds) => {
        const key = objectKey(deletedObject(ds));
        this.creations.delete(key);
        this.deletions.delete(key);
        this.queue.add(key);
      },
    });
    watchOwnedPods(this.pods, {
      queue: this.queue,
      owners: this.sets,
      kind: 'DaemonSet',
      enqueueMatching: (p) => this.enqueueMatching(p),
      creationObserved: (owner) => this.creations.creationObserved(owner),
      deletionObserved: (owner, pod) => this.deletions.deletionObserved(owner, pod),
    });
    this.nodes.addEventHandler({
      onAdd: () => this.enqueueAll(),
      onUpdate: (a, b) => {
        // Heartbeats and status changes do not move daemon pods; labels and taints may.
        if (isDeepStrictEqual(a.metadata.labels, b.metadata.labels) && isDeepStrictEqual(a.spec?.taints, b.spec?.taints)) return;
        for (const ds of this.sets.lister.list()) {
          if (!isDeepStrictEqual(nodeShouldRunDaemonPod(a, ds.spec.template?.spec), nodeShouldRunDaemonPod(b, ds.spec.template?.spec))) this.queue.add(objectKey(ds));
        }
      },
      onDelete: () => this.enqueueAll(),
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  private enqueueAll(): void {
    for (const ds of this.sets.lister.list()) this.queue.add(objectKey(ds));
  }

  /** Enqueues the DaemonSets that could adopt an orphan pod. */
  private enqueueMatching(p: PodView): void {
    if (p.metadata.deletionTimestamp) return;
    for (const ds of this.sets.lister.list(p.metadata.namespace ?? '')) {
      if (ds.spec.selector && labelSelectorFromObject(ds.spec.selector).matches(p.metadata.labels)) this.queue.add(objectKey(ds));
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.sets.waitForSync(signal), this.pods.waitForSync(signal), this.nodes.waitForSync(signal), this.revisions.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  private satisfied(key: string): boolean {
    return this.creations.satisfied(key) && this.deletions.satisfied(key);
  }

  /** Reconciles one DaemonSet. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.sets.lister.get(namespace, name);
    if (!cached) {
      this.creations.delete(key);
      this.deletions.delete(key);
      return;
    }
    // A DaemonSet being deleted is left to the garbage collector.
    if (cached.metadata.deletionTimestamp) return;
    const ds = structuredClone(cached) as DaemonSetView;
    const ref = controllerRef(ds, 'apps/v1', 'DaemonSet');
    const nodes = this.nodes.lister.list() as NodeView[];
    const pods = await claimObjects(this.ctx.client, PODS, ds, ref, ds.spec.selector, this.pods.lister.list(namespace) as PodView[]);
    const history = await syncRevisions(
      this.ctx.client,
      { owner: ds, ref, selector: ds.spec.selector, template: ds.spec.template, collisionCount: ds.status?.collisionCount ?? 0 },
      this.revisions.lister.list(namespace) as ControllerRevision[],
    );
    const hash = history.update.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '';
    if (!this.satisfied(key)) {
      // Only status; observedGeneration waits until this generation is acted on.
      await this.updateStatus(ds, nodes, pods, hash, history, false);
      return;
    }
    let failure: unknown;
    try {
      const acted = await this.manage(ds, ref, nodes, pods, hash);
      // The rolling update works from the same snapshot, so only when `manage` changed nothing.
      if (!acted && isRolling(ds)) await this.rollingUpdate(ds, ref, nodes, pods, hash);
      await this.cleanupHistory(ds, pods, history);
    } catch (err) {
      failure = err;
    }
    await this.updateStatus(ds, nodes, pods, hash, history, true);
    if (failure) throw failure;
  }

  /** Pods by the node they are on or pinned to (pods with neither are left alone). */
  private podsByNode(pods: readonly PodView[], includeDeletedFinished: boolean): Map<string, PodView[]> {
    const out = new Map<string, PodView[]>();
    for (const p of pods) {
      const finished = p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';
      if (!includeDeletedFinished && finished && isTerminating(p)) continue;
      const node = targetNodeName(p.spec as PlacementSpec | undefined);
      if (!node) continue;
      const list = out.get(node);
      if (list) list.push(p);
      else out.set(node, [p]);
    }
    return out;
  }

  /** True when the pod is at the DaemonSet's current template (by revision hash or generation). */
  private isUpdated(ds: DaemonSetView, p: PodView, hash: string): boolean {
    const labels = p.metadata.labels ?? {};
    if (hash && labels[CONTROLLER_REVISION_HASH_LABEL] === hash) return true;
    return ds.metadata.generation !== undefined && labels[POD_TEMPLATE_GENERATION_LABEL] === String(ds.metadata.generation);
  }

  private maxSurge(ds: DaemonSetView, desired: number): number {
    if (!isRolling(ds)) return 0;
    return scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxSurge ?? 0, desired, true);
  }

  private maxUnavailable(ds: DaemonSetView, desired: number): number {
    if (!isRolling(ds)) return 0;
    const surge = this.maxSurge(ds, desired);
    const unavailable = scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, desired, true);
    // Both zero would never make progress.
    return surge === 0 && unavailable === 0 ? 1 : unavailable;
  }

  /** Creates missing daemon pods and deletes surplus, failed and misplaced ones. True if it did anything. */
  private async manage(ds: DaemonSetView, ref: OwnerReference, nodes: NodeView[], pods: PodView[], hash: string): Promise<boolean> {
    const byNode = this.podsByNode(pods, true);
    const allowsSurge = this.maxSurge(ds, 1) > 0;
    const now = this.ctx.clock.now();
    const needing: string[] = [];
    const toDelete: PodView[] = [];
    for (const node of nodes) {
      const nodeName = node.metadata.name ?? '';
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds.spec.template?.spec);
      const daemonPods = byNode.get(nodeName) ?? [];
      if (shouldRun && daemonPods.length === 0) {
        needing.push(nodeName);
      } else if (shouldContinueRunning) {
        const running: PodView[] = [];
        for (const p of daemonPods) {
          if (isTerminating(p)) continue;
          if (p.status?.phase === 'Failed') {
            // Replaced by the next sync, once the deletion is observed.
            this.recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${nodeName}, will try to kill it`);
            toDelete.push(p);
          } else running.push(p);
        }
        if (running.length <= 1) continue;
        running.sort(oldestFirst);
        if (!allowsSurge) {
          toDelete.push(...running.slice(1));
          continue;
        }
        // With surge, an old and a new pod may overlap until the new one is available.
        let oldestNew: PodView | undefined;
        let oldestOld: PodView | undefined;
        for (const p of running) {
          if (this.isUpdated(ds, p, hash)) {
            if (!oldestNew) {
              oldestNew = p;
              continue;
            }
          } else if (!oldestOld) {
            oldestOld = p;
            continue;
          }
          toDelete.push(p);
        }
        if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, ds.spec.minReadySeconds ?? 0, now))) toDelete.push(oldestOld);
      } else {
        toDelete.push(...daemonPods.filter((p) => !isTerminating(p)));
      }
    }
    // Pods pinned to nodes that no longer exist.
    const known = new Set(nodes.map((n) => n.metadata.name ?? ''));
    for (const [nodeName, daemonPods] of byNode) if (!known.has(nodeName)) toDelete.push(...daemonPods.filter((p) => !isTerminating(p)));
    await this.syncNodes(ds, ref, toDelete, needing, hash);
    return toDelete.length > 0 || needing.length > 0;
  }

  /**
   * Replaces old pods. Without surge: deletes old pods while the unavailable count stays within
   * maxUnavailable (unavailable old pods are always replaced), leaving creation to `manage`. With
   * surge: creates new pods beside old ones within maxSurge, deleting an old pod once its new one
   * is available.
   */
  private async rollingUpdate(ds: DaemonSetView, ref: OwnerReference, nodes: NodeView[], pods: PodView[], hash: string): Promise<void> {
    const byNode = this.podsByNode(pods, false);
    const desired = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds.spec.template?.spec).shouldRun).length;
    const maxSurge = this.maxSurge(ds, desired);
    const maxUnavailable = this.maxUnavailable(ds, desired);
    const minReady = ds.spec.minReadySeconds ?? 0;
    const now = this.ctx.clock.now();
    const isAvailable = (p: PodView): boolean => isPodAvailable(p, minReady, now);
    const split = (daemonPods: PodView[]): { newPod?: PodView; oldPod?: PodView; ok: boolean } => {
      let newPod: PodView | undefined;
      let oldPod: PodView | undefined;
      for (const p of daemonPods) {
        if (isTerminating(p)) continue;
        if (this.isUpdated(ds, p, hash)) {
          if (newPod) return { ok: false };
          newPod = p;
        } else {
          if (oldPod) return { ok: false };
          oldPod = p;
        }
      }
      return { ...(newPod ? { newPod } : {}), ...(oldPod ? { oldPod } : {}), ok: true };
    };

    if (maxSurge === 0) {
      let unavailable = 0;
      const replacements: PodView[] = [];
      const candidates: PodView[] = [];
      // Eligible nodes without a pod count too (Kubernetes only looks at nodes with pods): a pod
      // `manage` failed to create is unavailable, and must not let more old pods go.
      const eligibleEmpty = nodes.filter((n) => !byNode.has(n.metadata.name ?? '') && nodeShouldRunDaemonPod(n, ds.spec.template?.spec).shouldRun);
      for (const daemonPods of [...byNode.values(), ...eligibleEmpty.map(() => [])]) {
        const { newPod, oldPod, ok } = split(daemonPods);
        if (!ok || (!newPod && !oldPod) || (newPod && oldPod)) {
          // `manage` sorts this node out; count it as unavailable meanwhile.
          unavailable++;
        } else if (newPod) {
          if (!isAvailable(newPod)) unavailable++;
        } else if (oldPod) {
          if (!isAvailable(oldPod)) replacements.push(oldPod);
          else if (unavailable < maxUnavailable) candidates.push(oldPod);
        }
      }
      const room = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
      await this.syncNodes(ds, ref, [...replacements, ...candidates.slice(0, room)], [], hash);
      return;
    }

    let surging = 0;
    const toDelete: PodView[] = [];
    const allowed: string[] = [];
    const candidates: string[] = [];
    for (const [nodeName, daemonPods] of byNode) {
      const { newPod, oldPod, ok } = split(daemonPods);
      if (!ok) {
        surging++;
      } else if (!oldPod) {
        // Nothing to replace here.
      } else if (!newPod) {
        if (!isAvailable(oldPod)) allowed.push(nodeName);
        else if (surging < maxSurge) candidates.push(nodeName);
      } else if (!isAvailable(newPod)) {
        surging++;
      } else {
        toDelete.push(oldPod);
      }
    }
    const room = Math.max(0, Math.min(maxSurge - surging, candidates.length));
    await this.syncNodes(ds, ref, toDelete, [...allowed, ...candidates.slice(0, room)], hash);
  }

  /** Creates a pod on each of `nodeNames` and deletes `toDelete`, with expectations. */
  private async syncNodes(ds: DaemonSetView, ref: OwnerReference, toDelete: PodView[], nodeNames: string[], hash: string): Promise<void> {
    if (toDelete.length === 0 && nodeNames.length === 0) return;
    const key = objectKey(ds);
    const ns = ds.metadata.namespace ?? '';
    const creates = nodeNames.slice(0, BURST_REPLICAS);
    const deletes = [...new Map(toDelete.map((p) => [objectKey(p), p])).values()].slice(0, BURST_REPLICAS);
    this.creations.expectCreations(key, creates.length);
    this.deletions.expectDeletions(key, deletes.map((p) => objectKey(p)));
    const template = this.podTemplate(ds, hash);
    let failure: unknown;
    const { done, error } = await slowStartBatch(creates, async (nodeName) => {
      const pod = podFromTemplate(template, ns, ref, { generateName: `${ds.metadata.name}-` });
      const spec = pod['spec'] as PlacementSpec;
      spec.affinity = nodeNameAffinity(spec.affinity, nodeName);
      const created = await this.ctx.client.create(PODS, ns, pod);
      this.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    });
    // Creations that will never be observed.
    for (let i = done; i < creates.length; i++) this.creations.creationObserved(key);
    if (error) {
      this.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(error as Error).message}`);
      failure = error;
    }
    const results = await Promise.allSettled(
      deletes.map(async (p) => {
        try {
          await this.ctx.client.delete(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '', { preconditions: { uid: p.metadata.uid ?? '' } });
          this.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
        } catch (err) {
          this.deletions.deletionObserved(key, objectKey(p));
          if (isNotFound(err)) return;
          this.recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
          throw err;
        }
      }),
    );
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    failure ??= failed?.reason;
    if (failure) throw failure;
  }

  /** The template of new daemon pods: daemon tolerations, revision hash and generation labels. */
  private podTemplate(ds: DaemonSetView, hash: string): PodTemplate {
    const template = structuredClone(ds.spec.template ?? {});
    const spec = (template.spec ?? {}) as PlacementSpec;
    spec.tolerations = daemonPodTolerations(spec);
    template.spec = spec;
    template.metadata = {
      ...(template.metadata ?? {}),
      labels: {
        ...(template.metadata?.labels ?? {}),
        [CONTROLLER_REVISION_HASH_LABEL]: hash,
        ...(ds.metadata.generation !== undefined ? { [POD_TEMPLATE_GENERATION_LABEL]: String(ds.metadata.generation) } : {}),
      },
    };
    return template;
  }

  /** Deletes old revisions beyond revisionHistoryLimit that no pod uses. */
  private async cleanupHistory(ds: DaemonSetView, pods: PodView[], history: RevisionHistory): Promise<void> {
    const hashes = new Set(pods.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL]).filter((h): h is string => Boolean(h)));
    const live = new Set([history.update.metadata.name ?? '']);
    for (const r of history.revisions) if (hashes.has(r.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '')) live.add(r.metadata.name ?? '');
    await truncateHistory(this.ctx.client, history.revisions, live, ds.spec.revisionHistoryLimit ?? 10);
  }

  /** Computes status from the observed nodes and pods and writes it if it changed. */
  private async updateStatus(ds: DaemonSetView, nodes: NodeView[], pods: PodView[], hash: string, history: RevisionHistory, observed: boolean): Promise<void> {
    const byNode = this.podsByNode(pods, false);
    const now = this.ctx.clock.now();
    const minReady = ds.spec.minReadySeconds ?? 0;
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let updated = 0;
    for (const node of nodes) {
      const daemonPods = [...(byNode.get(node.metadata.name ?? '') ?? [])].sort(oldestFirst);
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds.spec.template?.spec);
      if (!shouldRun) {
        if (daemonPods.length > 0) misscheduled++;
        continue;
      }
      desired++;
      const pod = daemonPods[0];
      if (!pod) continue;
      current++;
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, minReady, now)) available++;
        else this.queue.addAfter(objectKey(ds), Math.max(0, (readySince(pod) ?? now) + minReady * 1000 - now) + 100);
      }
      if (this.isUpdated(ds, pod, hash)) updated++;
    }
    const status: DaemonSetStatus = {
      ...(ds.status ?? {}),
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: desired,
      numberReady: ready,
      numberAvailable: available,
      updatedNumberScheduled: updated,
      numberUnavailable: desired - available,
      observedGeneration: observed ? (ds.metadata.generation ?? 0) : (ds.status?.observedGeneration ?? 0),
    };
    if (history.collisionCount > 0 || ds.status?.collisionCount !== undefined) status.collisionCount = history.collisionCount;
    if (isDeepStrictEqual(status, ds.status)) return;
    try {
      await this.ctx.client.updateStatus(DAEMON_SETS, { ...ds, status });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
