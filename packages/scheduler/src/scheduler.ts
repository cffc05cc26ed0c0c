/**
 * The scheduling loop: take the next pod from the queue, run the framework over the cached nodes,
 * assume the pod on the chosen node (so the next decision sees it), and bind asynchronously through
 * the API. Pods that fit nowhere get PodScheduled=False/Unschedulable and a FailedScheduling event
 * and wait for a cluster change.
 */
import type { Logger } from 'pino';
import { Framework, type Profile } from './framework.js';
import { podInfoOf } from './node-info.js';
import { SchedulerCache } from './scheduler-cache.js';
import { SchedulingQueue, type QueuedPod } from './scheduling-queue.js';
import type { Node, Pod } from './types.js';

/** What the scheduler does through the API server. */
export interface SchedulerActions {
  /** POST pods/NAME/binding. Throws on failure (conflict = already bound). */
  bind(pod: Pod, nodeName: string): Promise<void>;
  /** Sets PodScheduled=False reason Unschedulable with the message (status patch). */
  markUnschedulable(pod: Pod, message: string): Promise<void>;
  /** Records an Event on the pod. */
  event(pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Counters and timings for /metrics. */
export interface SchedulerObserver {
  attempt(result: 'scheduled' | 'unschedulable' | 'error', seconds: number): void;
  /** Time from the pod's first queueing to its successful binding. */
  e2eLatency(seconds: number): void;
}

/** Options of the scheduler. */
export interface SchedulerOptions {
  schedulerName: string;
  profile: Profile;
  actions: SchedulerActions;
  logger: Logger;
  observer?: SchedulerObserver;
  /** Bindings in flight at once. */
  maxConcurrentBinds?: number;
  random?: () => number;
}

/** `ns/name`. */
export function podKey(pod: Pod): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** The scheduler core, fed by informer events. */
export class Scheduler {
  readonly queue: SchedulingQueue;
  readonly cache = new SchedulerCache();
  private readonly framework: Framework;
  private readonly log: Logger;
  private bindsInFlight = 0;
  private readonly bindSlots: (() => void)[] = [];
  private running = false;
  private readonly maxBinds: number;

  constructor(private readonly options: SchedulerOptions) {
    this.queue = new SchedulingQueue();
    this.framework = new Framework(options.profile, options.random);
    this.log = options.logger;
    this.maxBinds = options.maxConcurrentBinds ?? 64;
  }

  /** True when the pod is ours to schedule: unbound, ours by name, not terminating, not gated. */
  isResponsibleFor(pod: Pod): boolean {
    const spec = pod.spec ?? {};
    return !spec.nodeName && (spec.schedulerName ?? 'default-scheduler') === this.options.schedulerName && !pod.metadata.deletionTimestamp && !isTerminal(pod) && (spec.schedulingGates ?? []).length === 0;
  }

  /** Informer: a pod was added or changed. */
  onPod(pod: Pod): void {
    const key = podKey(pod);
    if (pod.spec?.nodeName) {
      if (this.queue.has(key)) this.queue.done(key);
      if (isTerminal(pod) || pod.metadata.deletionTimestamp) {
        this.cache.removePod(pod);
        this.queue.moveAllToActiveOrBackoff();
      } else {
        this.cache.addOrUpdateBoundPod(pod);
      }
      return;
    }
    if (this.isResponsibleFor(pod)) this.queue.add(key, pod);
    else if (this.queue.has(key)) this.queue.delete(key);
  }

  /** Informer: a pod was deleted. */
  onPodDeleted(pod: Pod): void {
    const key = podKey(pod);
    this.queue.delete(key);
    if (pod.spec?.nodeName || this.cache.isAssumed(pod.metadata.uid ?? '')) {
      this.cache.removePod(pod);
      // Freed resources may let waiting pods fit.
      this.queue.moveAllToActiveOrBackoff();
    }
  }

  /** Informer: a node was added or changed. */
  onNode(node: Node): void {
    this.cache.upsertNode(node);
    this.queue.moveAllToActiveOrBackoff();
  }

  /** Informer: a PersistentVolumeClaim, PersistentVolume or StorageClass was added or changed. */
  onVolumeObject(): void {
    // A claim created or bound, a PV or class appearing may let pods waiting on volumes fit.
    this.queue.moveAllToActiveOrBackoff();
  }

  /** Informer: a node was deleted. */
  onNodeDeleted(node: Node): void {
    this.cache.removeNode(node.metadata.name ?? '');
  }

  /** Runs the loop until the queue is closed. */
  async run(signal: AbortSignal): Promise<void> {
    this.running = true;
    const ticker = setInterval(() => {
      this.queue.flushBackoff();
      for (const uid of this.cache.expireAssumed()) this.log.warn({ uid }, 'assumed pod expired without a confirmed binding');
    }, 500);
    signal.addEventListener('abort', () => this.queue.close(), { once: true });
    try {
      for (;;) {
        const q = await this.queue.pop();
        if (!q) break;
        await this.waitForBindSlot();
        this.scheduleOne(q);
      }
    } finally {
      clearInterval(ticker);
      this.running = false;
    }
  }

  private waitForBindSlot(): Promise<void> {
    if (this.bindsInFlight < this.maxBinds) return Promise.resolve();
    return new Promise((r) => this.bindSlots.push(r));
  }

  /** One scheduling cycle (synchronous decision, asynchronous binding). */
  scheduleOne(q: QueuedPod): void {
    const started = process.hrtime.bigint();
    const pod = q.pod;
    const key = q.key;
    if (!this.isResponsibleFor(pod)) {
      this.queue.done(key);
      return;
    }
    const info = podInfoOf(pod);
    const result = this.framework.schedule(info, this.cache.nodeInfos());
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    if (result.kind === 'unschedulable') {
      this.options.observer?.attempt('unschedulable', seconds());
      this.queue.requeueUnschedulable(key);
      this.log.debug({ pod: key, message: result.message }, 'pod is unschedulable');
      this.options.actions.event(pod, 'Warning', 'FailedScheduling', result.message);
      this.options.actions.markUnschedulable(pod, result.message).catch((err: unknown) => this.log.warn({ err, pod: key }, 'failed to update pod condition'));
      return;
    }
    const nodeName = result.node.name;
    const state = result.state;
    this.cache.assume(pod, nodeName, info);
    this.framework.reserve(state, nodeName);
    this.bindsInFlight++;
    let preBound = false;
    this.framework
      .preBind(state, nodeName)
      .then(() => {
        preBound = true;
        return this.options.actions.bind(pod, nodeName);
      })
      .then(
        () => {
          this.cache.finishBinding(info.uid);
          this.queue.done(key);
          this.options.observer?.attempt('scheduled', seconds());
          this.options.observer?.e2eLatency((Date.now() - q.initialAttempt) / 1000);
          this.options.actions.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${nodeName}`);
        },
        (err: unknown) => {
          this.framework.unreserve(state, nodeName);
          this.cache.forget(info.uid);
          this.options.observer?.attempt('error', seconds());
          const status = (err as { code?: number }).code;
          if (preBound && (status === 404 || status === 409)) {
            // Deleted or already bound meanwhile: the informer will tell us what happened.
            this.queue.done(key);
          } else {
            this.log.warn({ err, pod: key, node: nodeName }, preBound ? 'binding failed' : 'pre-binding failed');
            this.queue.requeueError(key);
          }
        },
      )
      .finally(() => {
        this.bindsInFlight--;
        this.bindSlots.shift()?.();
      });
  }

  /** True while run() is looping. */
  get isRunning(): boolean {
    return this.running;
  }
}
