/**
 * The controller work queue (client-go `util/workqueue` semantics): a key waiting is queued once;
 * a key being processed is never handed to a second worker; a key added while processing is
 * queued again after `done`. Delayed adds and per-key exponential back-off combined with an overall
 * token bucket.
 */
import { realClock, type Clock, type TimerHandle } from '../clock.js';
import { TokenBucket } from '../token-bucket.js';

/** Options of a work queue. */
export interface WorkQueueOptions {
  clock?: Clock;
  /** First back-off of a failing key (ms, default 5). */
  baseDelayMs?: number;
  /** Largest back-off (ms, default 1000 s). */
  maxDelayMs?: number;
  /** Overall retry rate (default 10 qps, burst 100). */
  qps?: number;
  burst?: number;
}

/** A de-duplicating, rate-limited work queue of keys. */
export class WorkQueue<K = string> {
  private queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly waiting = new Map<K, { at: number; timer: TimerHandle }>();
  private waiters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  private readonly bucket: TokenBucket;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.baseDelay = options.baseDelayMs ?? 5;
    this.maxDelay = options.maxDelayMs ?? 1_000_000;
    const clock = this.clock;
    this.bucket = new TokenBucket(options.qps ?? 10, options.burst ?? 100, () => clock.now());
  }

  /** Queues a key (no-op when it is already waiting). */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) this.hand(key);
  }

  /** Gives a dirty key to a waiting worker, or queues it. */
  private hand(key: K): void {
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Queues a key after `ms` (an earlier pending add wins). */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** The back-off a key gets now: max(per-key exponential, overall bucket). */
  private when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const exp = Math.min(this.maxDelay, this.baseDelay * 2 ** n);
    return Math.max(exp, this.bucket.reserve());
  }

  /** Queues a key again after its back-off. */
  addRateLimited(key: K): void {
    this.addAfter(key, this.when(key));
  }

  /** Clears a key's failure history (after a successful sync). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** How many times the key was rate-limited since the last forget. */
  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key; resolves undefined once shut down and empty. */
  get(): Promise<K | undefined> {
    const k = this.queue.shift();
    if (k !== undefined) {
      this.dirty.delete(k);
      this.processing.add(k);
      return Promise.resolve(k);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key processed; a re-add that came meanwhile queues it again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.hand(key);
  }

  /** Keys waiting (not counting delayed ones). */
  len(): number {
    return this.queue.length;
  }

  /** Stops accepting keys; waiting workers get undefined. Queued keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    this.queue = [];
    this.dirty.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }

  /** True after shutDown(). */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
