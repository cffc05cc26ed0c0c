/**
 * The ReplicaSet controller (and, with a map selector, the ReplicationController controller): keeps
 * the number of active pods matching a ReplicaSet's selector at its replicas — creating in
 * slow-start batches, deleting the least valuable pods first — adopts and releases pods by selector
 * and owner reference, and reports replicas, ready, available and fully labeled counts.
 */
import { isDeepStrictEqual } from 'node:util';
import { groupVersionOf, isNotFound, labelSelectorFromObject, objectKey, splitObjectKey, type KubeObject, type LabelSelectorObject, type ResourceInfo } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { Expectations } from '../../expectations.js';
import { watchOwnedPods } from '../../owned-pods.js';
import { claimObjects, controllerRef, deletionOrder, isPodActive, isPodAvailable, isPodReady, podFromTemplate, slowStartBatch, type PodTemplate, type PodView } from '../../pod-utils.js';

const PODS = res('pods');
/** Pods created or deleted per sync at most (Kubernetes' burstReplicas). */
const BURST_REPLICAS = 500;

/** The ReplicaSet fields the controller reads. */
interface ReplicaSetView extends KubeObject {
  spec: { replicas?: number; minReadySeconds?: number; selector?: LabelSelectorObject | Record<string, string>; template?: PodTemplate };
  status?: { replicas?: number; fullyLabeledReplicas?: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number; conditions?: unknown[] };
}

/** Which workload kind this controller manages. */
export interface ReplicaSetKind {
  name: string;
  resource: ResourceInfo;
}

/** ReplicaSets. */
export const REPLICA_SETS: ReplicaSetKind = { name: 'replicaset-controller', resource: res('replicasets.apps') };
/** ReplicationControllers (map selectors). */
export const REPLICATION_CONTROLLERS: ReplicaSetKind = { name: 'replicationcontroller-controller', resource: res('replicationcontrollers') };

function selectorObject(rs: ReplicaSetView): LabelSelectorObject | undefined {
  const sel = rs.spec.selector;
  if (!sel) return undefined;
  if ('matchLabels' in sel || 'matchExpressions' in sel) return sel as LabelSelectorObject;
  return { matchLabels: sel as Record<string, string> };
}

/** Keeps ReplicaSets' pods at their replica counts. */
export class ReplicaSetController implements Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly expectations: Expectations;
  private readonly sets: SharedInformer<ReplicaSetView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly recorder: EventRecorder;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly kind: ReplicaSetKind = REPLICA_SETS,
  ) {
    this.name = kind.name;
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.expectations = new Expectations(ctx.clock);
    this.recorder = ctx.recorder(kind.name);
    this.sets = ctx.informers.informerFor<ReplicaSetView>(kind.resource);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.sets.addEventHandler({
      onAdd: (rs) => this.enqueue(rs),
      onUpdate: (_a, b) => this.enqueue(b),
      onDelete: (rs) => {
        const o = deletedObject(rs);
        this.expectations.delete(objectKey(o));
        this.enqueue(o);
      },
    });
    watchOwnedPods(this.pods, {
      queue: this.queue,
      owners: this.sets,
      kind: this.kind.resource.kind,
      enqueueMatching: (p) => this.enqueueMatching(p),
      creationObserved: (owner) => this.expectations.creationObserved(owner),
      deletionObserved: (owner, pod) => this.expectations.deletionObserved(owner, pod),
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  private enqueue(rs: KubeObject): void {
    this.queue.add(objectKey(rs));
  }

  private enqueueMatching(p: PodView): void {
    if (!isPodActive(p)) return;
    for (const rs of this.sets.lister.list(p.metadata.namespace ?? '')) {
      const sel = selectorObject(rs as ReplicaSetView);
      if (sel && labelSelectorFromObject(sel).matches(p.metadata.labels)) this.enqueue(rs);
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.sets.waitForSync(signal), this.pods.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Reconciles one ReplicaSet. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.sets.lister.get(namespace, name);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const rs = structuredClone(cached) as ReplicaSetView;
    const apiVersion = groupVersionOf(this.kind.resource);
    const ref = controllerRef(rs, apiVersion, this.kind.resource.kind);
    const candidates = this.pods.lister.list(namespace).filter((p) => isPodActive(p as PodView)) as PodView[];
    const pods = await claimObjects(this.ctx.client, PODS, rs, ref, selectorObject(rs), candidates);
    const deleted = this.expectations.satisfied(key) && !rs.metadata.deletionTimestamp ? await this.manageReplicas(key, rs, pods, ref) : new Set<string>();
    // Pods deleted just now no longer count: a status that still counted them would let the
    // Deployment controller believe more replicas are available than will be.
    await this.updateStatus(rs, pods.filter((p) => !deleted.has(p.metadata.uid ?? '')));
  }

  /** Creates or deletes pods towards spec.replicas; returns the uids of the pods it deleted. */
  private async manageReplicas(key: string, rs: ReplicaSetView, pods: PodView[], ref: ReturnType<typeof controllerRef>): Promise<Set<string>> {
    const deleted = new Set<string>();
    const want = rs.spec.replicas ?? 1;
    const diff = pods.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, BURST_REPLICAS);
      this.expectations.expectCreations(key, n);
      const template = rs.spec.template ?? {};
      const { done, error } = await slowStartBatch(Array.from({ length: n }), async () => {
        const pod = podFromTemplate(template, rs.metadata.namespace ?? '', ref);
        const created = await this.ctx.client.create(PODS, rs.metadata.namespace ?? '', pod);
        this.recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
      });
      // Creations that will never be observed.
      for (let i = done; i < n; i++) this.expectations.creationObserved(key);
      if (error) {
        this.recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${(error as Error).message}`);
        throw error;
      }
    } else if (diff > 0) {
      const n = Math.min(diff, BURST_REPLICAS);
      const victims = [...pods].sort(deletionOrder).slice(0, n);
      this.expectations.expectDeletions(key, victims.map((p) => objectKey(p)));
      const results = await Promise.allSettled(
        victims.map(async (p) => {
          try {
            await this.ctx.client.delete(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '', { preconditions: { uid: p.metadata.uid ?? '' } });
            deleted.add(p.metadata.uid ?? '');
            this.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
          } catch (err) {
            this.expectations.deletionObserved(key, objectKey(p));
            if (!isNotFound(err)) throw err;
          }
        }),
      );
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
    }
    return deleted;
  }

  private async updateStatus(rs: ReplicaSetView, pods: PodView[]): Promise<void> {
    const now = this.ctx.clock.now();
    const minReady = rs.spec.minReadySeconds ?? 0;
    const templateLabels = rs.spec.template?.metadata?.labels ?? {};
    const status = {
      ...(rs.status ?? {}),
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length,
      readyReplicas: pods.filter(isPodReady).length,
      availableReplicas: pods.filter((p) => isPodAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation ?? 0,
    };
    if (minReady > 0 && status.readyReplicas > status.availableReplicas) this.queue.addAfter(objectKey(rs), minReady * 1000);
    if (isDeepStrictEqual(status, rs.status)) return;
    try {
      await this.ctx.client.updateStatus(this.kind.resource, { ...rs, status });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
