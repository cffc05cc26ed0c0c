/**
 * The scheduling queue (kube-scheduler's PriorityQueue): an active heap ordered by priority then
 * arrival, a back-off heap for pods that just failed, and a holding area for unschedulable pods
 * that returns them when a cluster change could make them fit (or after a maximum wait).
 */
import type { Pod } from './types.js';

/** A queued pod and its scheduling history. */
export interface QueuedPod {
  key: string;
  pod: Pod;
  priority: number;
  /** When it first entered the queue (ms). */
  initialAttempt: number;
  /** When it was last added or moved to the active queue (ms) — FIFO order within a priority. */
  timestamp: number;
  attempts: number;
  /** When its back-off ends (ms). */
  backoffUntil: number;
}

/** Clock (tests inject a fake). */
export interface QueueClock {
  now(): number;
}

class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  remove(pred: (x: T) => boolean): T | undefined {
    const a = this.items;
    const i = a.findIndex(pred);
    if (i < 0) return undefined;
    const x = a[i]!;
    const last = a.pop()!;
    if (i < a.length) {
      a[i] = last;
      this.siftDown(i);
      this.siftUp(i);
    }
    return x;
  }

  private siftUp(start: number): void {
    const a = this.items;
    let i = start;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  private siftDown(start: number): void {
    const a = this.items;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
      if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }

  drain(pred: (x: T) => boolean): T[] {
    const out: T[] = [];
    while (this.size > 0 && pred(this.peek()!)) out.push(this.pop()!);
    return out;
  }

  values(): readonly T[] {
    return this.items;
  }
}

function schedulingRelevant(p: Pod): string {
  return JSON.stringify([p.spec, p.metadata.labels, p.metadata.annotations]);
}

/** Options of the queue. */
export interface SchedulingQueueOptions {
  clock?: QueueClock;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Unschedulable pods are retried at least this often. */
  maxUnschedulableMs?: number;
}

/** The queue of pods waiting to be scheduled. */
export class SchedulingQueue {
  private readonly active = new Heap<QueuedPod>((a, b) => a.priority > b.priority || (a.priority === b.priority && a.timestamp < b.timestamp));
  private readonly backoff = new Heap<QueuedPod>((a, b) => a.backoffUntil < b.backoffUntil);
  private readonly unschedulable = new Map<string, QueuedPod & { since: number }>();
  /** Every pod the queue knows, wherever it is (including in flight). */
  private readonly known = new Map<string, QueuedPod>();
  private readonly inFlight = new Set<string>();
  /** Incremented on every cluster event that may make pods schedulable. */
  private moveCycle = 0;
  private readonly attemptCycle = new Map<string, number>();
  private waiters: ((p: QueuedPod | undefined) => void)[] = [];
  private closed = false;
  private readonly clock: QueueClock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxUnschedulableMs: number;

  constructor(options: SchedulingQueueOptions = {}) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.maxUnschedulableMs = options.maxUnschedulableMs ?? 5 * 60_000;
  }

  /** Sizes of the three areas, for metrics. */
  lengths(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size };
  }

  private pushActive(q: QueuedPod): void {
    q.timestamp = this.clock.now();
    this.active.push(q);
    const w = this.waiters.shift();
    if (w) w(this.active.pop());
  }

  private removeEverywhere(key: string): void {
    this.active.remove((x) => x.key === key);
    this.backoff.remove((x) => x.key === key);
    this.unschedulable.delete(key);
  }

  /** A new pending pod. */
  add(key: string, pod: Pod): void {
    if (this.closed) return;
    const existing = this.known.get(key);
    if (existing) {
      this.update(key, pod);
      return;
    }
    const now = this.clock.now();
    const q: QueuedPod = { key, pod, priority: pod.spec?.priority ?? 0, initialAttempt: now, timestamp: now, attempts: 0, backoffUntil: 0 };
    this.known.set(key, q);
    this.pushActive(q);
  }

  /**
   * A pending pod changed. An unschedulable pod is retried at once only when something that affects
   * scheduling changed (spec, labels, annotations) — not for status updates such as our own
   * PodScheduled=False condition.
   */
  update(key: string, pod: Pod): void {
    const q = this.known.get(key);
    if (!q) {
      this.add(key, pod);
      return;
    }
    const relevant = schedulingRelevant(q.pod) !== schedulingRelevant(pod);
    q.pod = pod;
    q.priority = pod.spec?.priority ?? 0;
    if (relevant && this.unschedulable.has(key)) {
      this.unschedulable.delete(key);
      this.moveOut(q);
    }
  }

  /** The pod is gone or no longer pending. */
  delete(key: string): void {
    this.removeEverywhere(key);
    this.known.delete(key);
    this.attemptCycle.delete(key);
  }

  /** True when the queue tracks the pod (waiting or in flight). */
  has(key: string): boolean {
    return this.known.has(key);
  }

  /** The next pod to schedule; waits while empty; undefined after close(). */
  pop(): Promise<QueuedPod | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    this.flushBackoff();
    const q = this.active.pop();
    if (q) return Promise.resolve(this.take(q));
    return new Promise((resolve) => this.waiters.push((p) => resolve(p ? this.take(p) : undefined)));
  }

  private take(q: QueuedPod): QueuedPod {
    q.attempts++;
    this.inFlight.add(q.key);
    this.attemptCycle.set(q.key, this.moveCycle);
    return q;
  }

  /** The pod was bound (or dropped): forget it. */
  done(key: string): void {
    this.inFlight.delete(key);
    this.known.delete(key);
    this.attemptCycle.delete(key);
  }

  /**
   * The pod did not fit. It waits in the unschedulable area unless a cluster event happened while it
   * was being scheduled (then it goes to back-off, as the event may have made it fit).
   */
  requeueUnschedulable(key: string): void {
    this.inFlight.delete(key);
    const q = this.known.get(key);
    if (!q) return;
    const cycle = this.attemptCycle.get(key) ?? 0;
    if (this.moveCycle > cycle) this.toBackoff(q);
    else this.unschedulable.set(key, Object.assign(q, { since: this.clock.now() }));
  }

  /** Scheduling failed for another reason (API error): back off and retry. */
  requeueError(key: string): void {
    this.inFlight.delete(key);
    const q = this.known.get(key);
    if (q) this.toBackoff(q);
  }

  private backoffDuration(q: QueuedPod): number {
    let d = this.initialBackoffMs;
    for (let i = 1; i < q.attempts && d < this.maxBackoffMs; i++) d *= 2;
    return Math.min(d, this.maxBackoffMs);
  }

  private toBackoff(q: QueuedPod): void {
    q.backoffUntil = this.clock.now() + this.backoffDuration(q);
    this.backoff.push(q);
  }

  private moveOut(q: QueuedPod): void {
    if (q.backoffUntil > this.clock.now()) this.backoff.push(q);
    else this.pushActive(q);
  }

  /** A cluster change (node added/updated, pod deleted...) may make unschedulable pods fit. */
  moveAllToActiveOrBackoff(): void {
    this.moveCycle++;
    const pods = [...this.unschedulable.values()];
    this.unschedulable.clear();
    for (const q of pods) this.moveOut(q);
  }

  /** Moves pods whose back-off ended, and unschedulable pods that waited too long. Call periodically. */
  flushBackoff(): void {
    const now = this.clock.now();
    for (const q of this.backoff.drain((x) => x.backoffUntil <= now)) this.pushActive(q);
    for (const [key, q] of this.unschedulable) {
      if (now - q.since >= this.maxUnschedulableMs) {
        this.unschedulable.delete(key);
        this.pushActive(q);
      }
    }
  }

  /** Ends pop() waiters with undefined; later adds are ignored. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }
}
