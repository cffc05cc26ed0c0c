/**
 * The Job controller: runs pods until `completions` succeed, `parallelism` at a time; recreates
 * failed pods with exponential back-off until `backoffLimit`; enforces `activeDeadlineSeconds`;
 * honours `suspend`; deletes finished jobs after `ttlSecondsAfterFinished`. Finished pods are
 * counted exactly once through the `batch.kubernetes.io/job-tracking` finalizer (as Kubernetes does),
 * so pod garbage collection cannot change a job's counts.
 */
import { isDeepStrictEqual } from 'node:util';
import { formatTime, getControllerOf, isNotFound, objectKey, splitObjectKey, type KubeObject, type LabelSelectorObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { Expectations } from '../../expectations.js';
import { claimObjects, controllerRef, deletionOrder, isPodActive, isPodReady, podFromTemplate, type PodTemplate, type PodView } from '../../pod-utils.js';

const JOBS = res('jobs.batch');
const PODS = res('pods');
/** The finalizer that keeps a finished pod until the job has counted it. */
export const TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
const MAX_BACKOFF_MS = 6 * 60_000;

interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
}

interface JobView extends KubeObject {
  spec: {
    parallelism?: number;
    completions?: number;
    activeDeadlineSeconds?: number;
    backoffLimit?: number;
    selector?: LabelSelectorObject;
    template?: PodTemplate;
    ttlSecondsAfterFinished?: number;
    suspend?: boolean;
  };
  status?: {
    conditions?: JobCondition[];
    startTime?: string;
    completionTime?: string;
    active?: number;
    succeeded?: number;
    failed?: number;
    ready?: number;
    terminating?: number;
    uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
  };
}

function finishedCondition(job: JobView): JobCondition | undefined {
  return job.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/**
 * When a pod finished (Kubernetes' `getFinishedTime`): its containers' latest termination, else
 * when Ready turned False, else its deletion request, else its creation.
 */
function finishedTime(p: PodView): number {
  const status = p.status as { containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[]; conditions?: { type: string; status: string; lastTransitionTime?: string }[] } | undefined;
  const ends = (status?.containerStatuses ?? []).map((c) => c.state?.terminated?.finishedAt).filter((x): x is string => !!x).map((x) => Date.parse(x));
  if (ends.length > 0) return Math.max(...ends);
  const notReady = status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'False')?.lastTransitionTime;
  if (notReady) return Date.parse(notReady);
  // A deletionTimestamp lies a grace period after the deletion request, which is when it ended.
  const deletion = p.metadata.deletionTimestamp;
  if (deletion) return Date.parse(deletion) - (p.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return Date.parse(p.metadata.creationTimestamp ?? '0');
}

/**
 * A failed pod: phase Failed, or deleted before it succeeded (Kubernetes' `isPodFailed`: deleted pods
 * count as failures, as they may never reach the Failed phase).
 */
function isPodFailed(p: PodView): boolean {
  return p.status?.phase === 'Failed' || (p.metadata.deletionTimestamp !== undefined && p.status?.phase !== 'Succeeded');
}

/** Runs Jobs to completion. */
export class JobController implements Controller {
  readonly name = 'job-controller';
  readonly queue: WorkQueue<string>;
  private readonly jobs: SharedInformer<JobView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly expectations: Expectations;
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.expectations = new Expectations(ctx.clock);
    this.recorder = ctx.recorder(this.name);
    this.jobs = ctx.informers.informerFor<JobView>(JOBS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.jobs.addEventHandler({
      onAdd: (j) => this.queue.add(objectKey(j)),
      onUpdate: (_a, b) => this.queue.add(objectKey(b)),
      onDelete: (j) => this.expectations.delete(objectKey(deletedObject(j))),
    });
    const owner = (p: PodView) => {
      const ref = getControllerOf(p);
      return ref?.kind === 'Job' ? `${p.metadata.namespace}/${ref.name}` : undefined;
    };
    this.pods.addEventHandler({
      onAdd: (p) => {
        const k = owner(p);
        if (k) {
          this.expectations.creationObserved(k);
          this.queue.add(k);
        }
      },
      onUpdate: (_a, b) => {
        const k = owner(b);
        if (!k) return;
        // A pod marked for graceful deletion no longer counts as active: the deletion is observed now.
        if (b.metadata.deletionTimestamp) this.expectations.deletionObserved(k, objectKey(b));
        this.queue.add(k);
      },
      onDelete: (p) => {
        const pod = deletedObject(p);
        const k = owner(pod);
        if (k) {
          this.expectations.deletionObserved(k, objectKey(pod));
          this.queue.add(k);
        }
      },
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.jobs.waitForSync(signal), this.pods.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  private now(): string {
    return formatTime(new Date(this.ctx.clock.now()));
  }

  private async removeTracking(pods: PodView[]): Promise<void> {
    for (const p of pods) {
      if (!(p.metadata.finalizers ?? []).includes(TRACKING_FINALIZER)) continue;
      try {
        await this.ctx.client.patch(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '', [{ op: 'test', path: '/metadata/uid', value: p.metadata.uid }, { op: 'replace', path: '/metadata/finalizers', value: (p.metadata.finalizers ?? []).filter((f) => f !== TRACKING_FINALIZER) }], 'json');
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code !== 404 && code !== 422) throw err;
      }
    }
  }

  /** Reconciles one Job. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.jobs.lister.get(namespace, name);
    if (!cached) return;
    const job = structuredClone(cached) as JobView;
    const ref = controllerRef(job, 'batch/v1', 'Job');
    const pods = (await claimObjects(this.ctx.client, PODS, job, ref, job.spec.selector, this.pods.lister.list(namespace) as PodView[])).map((p) => structuredClone(p));
    const finished = finishedCondition(job);
    if (finished) {
      await this.removeTracking(pods);
      await this.expireTtl(job, finished);
      return;
    }
    const status = structuredClone(job.status ?? {});
    // 1. Count finished pods exactly once, as Kubernetes does: a finished pod still holding the
    // tracking finalizer is first recorded in status.uncountedTerminatedPods (written before the
    // finalizer is removed); a recorded pod whose finalizer is gone (or that is gone) moves to the
    // counters. A crash between any two steps neither loses nor double-counts a pod.
    let succeeded = status.succeeded ?? 0;
    let failed = status.failed ?? 0;
    const byUid = new Map(pods.map((p) => [p.metadata.uid ?? '', p]));
    const holds = (uid: string) => (byUid.get(uid)?.metadata.finalizers ?? []).includes(TRACKING_FINALIZER);
    const uncounted: { succeeded: string[]; failed: string[] } = { succeeded: [], failed: [] };
    for (const uid of status.uncountedTerminatedPods?.succeeded ?? []) {
      if (holds(uid)) uncounted.succeeded.push(uid);
      else succeeded++;
    }
    for (const uid of status.uncountedTerminatedPods?.failed ?? []) {
      if (holds(uid)) uncounted.failed.push(uid);
      else failed++;
    }
    const recorded = new Set([...(status.uncountedTerminatedPods?.succeeded ?? []), ...(status.uncountedTerminatedPods?.failed ?? [])]);
    for (const p of pods) {
      const uid = p.metadata.uid ?? '';
      const succeededPod = p.status?.phase === 'Succeeded';
      if ((!succeededPod && !isPodFailed(p)) || !holds(uid) || recorded.has(uid)) continue;
      (succeededPod ? uncounted.succeeded : uncounted.failed).push(uid);
    }
    const pendingSucceeded = uncounted.succeeded.length;
    const pendingFailed = uncounted.failed.length;
    const totalSucceeded = succeeded + pendingSucceeded;
    const totalFailed = failed + pendingFailed;
    // Pods whose finalizer may go once the status recording them is written.
    const release = pods.filter((p) => [...uncounted.succeeded, ...uncounted.failed].includes(p.metadata.uid ?? ''));
    // Complete/Failed only once every finished pod is counted (the interim conditions say so first).
    const settled = pendingSucceeded === 0 && pendingFailed === 0;
    const active = pods.filter(isPodActive);
    const now = this.ctx.clock.now();
    const conditions = [...(status.conditions ?? [])];
    // A resumed job starts its activeDeadlineSeconds afresh (Kubernetes resets startTime on resume).
    const resuming = !job.spec.suspend && conditions.some((c) => c.type === 'Suspended' && c.status === 'True');
    if (resuming) status.startTime = this.now();
    status.startTime ??= job.spec.suspend ? undefined : this.now();
    if (status.startTime === undefined) delete status.startTime;
    const setCond = (c: JobCondition) => {
      const i = conditions.findIndex((x) => x.type === c.type);
      const prev = i >= 0 ? conditions[i] : undefined;
      const next = { ...c, lastProbeTime: this.now(), lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime ?? this.now() : this.now() };
      if (i >= 0) conditions[i] = next;
      else conditions.push(next);
    };
    const deleteActive = async () => {
      for (const p of active) {
        await this.ctx.client.delete(PODS, namespace, p.metadata.name ?? '').catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      }
    };
    // Pods created or deleted in this sync count at once (as Kubernetes' manageJob reports them).
    let activeCount = active.length;
    let failure: { reason: string; message: string } | undefined;
    const backoffLimit = job.spec.backoffLimit ?? 6;
    if (totalFailed > backoffLimit) failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    else if (job.spec.activeDeadlineSeconds !== undefined && !job.spec.suspend && status.startTime && now - Date.parse(status.startTime) >= job.spec.activeDeadlineSeconds * 1000) failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    const completions = job.spec.completions;
    const complete = completions !== undefined ? totalSucceeded >= completions : totalSucceeded > 0 && active.length === 0;
    if (failure) {
      await deleteActive();
      setCond({ type: 'FailureTarget', status: 'True', reason: failure.reason, message: failure.message });
      if (settled && active.length === 0) {
        setCond({ type: 'Failed', status: 'True', reason: failure.reason, message: failure.message });
        this.recorder.event(job, 'Warning', failure.reason, failure.message);
      }
    } else if (complete) {
      if (completions !== undefined) await deleteActive();
      setCond({ type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' });
      if (settled) {
        setCond({ type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' });
        status.completionTime = this.now();
        this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
      }
    } else if (job.spec.suspend) {
      await deleteActive();
      setCond({ type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended' });
    } else {
      if (resuming) setCond({ type: 'Suspended', status: 'False', reason: 'JobResumed', message: 'Job resumed' });
      if (this.expectations.satisfied(key)) activeCount = await this.manage(key, job, ref, active, totalSucceeded, totalFailed, pods);
    }
    const next: NonNullable<JobView['status']> = {
      ...status,
      conditions,
      active: failure || (complete && completions !== undefined) || job.spec.suspend ? 0 : activeCount,
      succeeded,
      failed,
      ready: active.filter(isPodReady).length,
      terminating: pods.filter((p) => p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').length,
      uncountedTerminatedPods: uncounted,
    };
    if (!isDeepStrictEqual(next, job.status)) {
      try {
        await this.ctx.client.updateStatus(JOBS, { ...job, status: next });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return;
      }
    }
    // Only now that the status records them may the finished pods' finalizers go.
    await this.removeTracking(release);
    if (failure || (complete && completions !== undefined)) await this.removeTracking(active.filter((p) => p.metadata.deletionTimestamp === undefined));
    if (job.spec.activeDeadlineSeconds !== undefined && !job.spec.suspend && status.startTime && !failure && !complete) {
      this.queue.addAfter(key, Math.max(0, Date.parse(status.startTime) + job.spec.activeDeadlineSeconds * 1000 - now) + 50);
    }
  }

  /** Creates or deletes pods towards the wanted parallelism; returns the active count after it. */
  private async manage(key: string, job: JobView, ref: ReturnType<typeof controllerRef>, active: PodView[], succeeded: number, failed: number, pods: PodView[]): Promise<number> {
    const parallelism = job.spec.parallelism ?? 1;
    const completions = job.spec.completions;
    const want = completions !== undefined ? Math.max(0, Math.min(parallelism, completions - succeeded)) : succeeded > 0 ? 0 : parallelism;
    const diff = want - active.length;
    if (diff > 0) {
      // After failures, wait base * 2^(failures-1) (capped) since the last failure before creating more.
      if (failed > 0) {
        const lastFailure = Math.max(0, ...pods.filter(isPodFailed).map(finishedTime));
        const delay = Math.min(MAX_BACKOFF_MS, this.ctx.options.jobBackoffBaseMs * 2 ** (failed - 1));
        const wait = lastFailure + delay - this.ctx.clock.now();
        if (wait > 0) {
          this.queue.addAfter(key, wait + 10);
          return active.length;
        }
      }
      this.expectations.expectCreations(key, diff);
      const template: PodTemplate = structuredClone(job.spec.template ?? {});
      template.metadata = { ...(template.metadata ?? {}), finalizers: [...new Set([...(template.metadata?.finalizers ?? []), TRACKING_FINALIZER])] };
      let created = 0;
      try {
        for (let i = 0; i < diff; i++) {
          const pod = podFromTemplate(template, job.metadata.namespace ?? '', ref, { generateName: `${job.metadata.name}-` });
          const p = await this.ctx.client.create(PODS, job.metadata.namespace ?? '', pod);
          created++;
          this.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${p.metadata.name}`);
        }
      } finally {
        for (let i = created; i < diff; i++) this.expectations.creationObserved(key);
      }
      return active.length + created;
    } else if (diff < 0) {
      const victims = [...active].sort(deletionOrder).slice(0, -diff);
      this.expectations.expectDeletions(key, victims.map((p) => objectKey(p)));
      for (const p of victims) {
        try {
          await this.ctx.client.delete(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '');
        } catch (err) {
          this.expectations.deletionObserved(key, objectKey(p));
          if (!isNotFound(err)) throw err;
        }
      }
      return active.length - victims.length;
    }
    return active.length;
  }

  /** Deletes a finished job once ttlSecondsAfterFinished passed (the TTL-after-finished controller). */
  private async expireTtl(job: JobView, finished: JobCondition): Promise<void> {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return;
    const at = Date.parse(job.status?.completionTime ?? finished.lastTransitionTime ?? this.now()) + ttl * 1000;
    const wait = at - this.ctx.clock.now();
    if (wait > 0) {
      this.queue.addAfter(objectKey(job), wait + 10);
      return;
    }
    try {
      await this.ctx.client.delete(JOBS, job.metadata.namespace ?? '', job.metadata.name ?? '', { propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
