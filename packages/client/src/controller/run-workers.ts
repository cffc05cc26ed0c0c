/**
 * The one worker loop every controller uses: take a key, sync it, forget it on success, back off
 * on failure, always mark it done.
 */
import type { Logger } from 'pino';
import type { WorkQueue } from '../workqueue/work-queue.js';

/** Observes syncs (for metrics). */
export interface SyncObserver {
  synced(controller: string, seconds: number, failed: boolean): void;
}

/** Options of runWorkers. */
export interface RunWorkersOptions<K> {
  name: string;
  queue: WorkQueue<K>;
  workers: number;
  sync: (key: K) => Promise<void>;
  logger: Logger;
  signal: AbortSignal;
  observer?: SyncObserver;
}

/** Runs `workers` loops until the signal aborts (then shuts the queue down and waits for them). */
export async function runWorkers<K>(o: RunWorkersOptions<K>): Promise<void> {
  const onAbort = () => o.queue.shutDown();
  if (o.signal.aborted) onAbort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    for (;;) {
      const key = await o.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      let failed = false;
      try {
        await o.sync(key);
        o.queue.forget(key);
      } catch (err) {
        failed = true;
        if (!o.queue.isShuttingDown) {
          o.logger.warn({ err, key, controller: o.name, requeues: o.queue.numRequeues(key) }, 'sync failed');
          o.queue.addRateLimited(key);
        }
      } finally {
        o.queue.done(key);
        o.observer?.synced(o.name, (performance.now() - started) / 1000, failed);
      }
    }
  };
  await Promise.all(Array.from({ length: o.workers }, worker));
}
