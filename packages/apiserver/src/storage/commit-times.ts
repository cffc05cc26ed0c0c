/**
 * Commit times, a diagnostic for benchmarks (`--commit-times-file FILE`): one line per committed
 * batch of writes, `LAST_REVISION MONOTONIC_MS`, appended to FILE. The time is taken when storage
 * hands the batch to its subscribers, which it does once the batch is durable and before anything
 * else sees it (this subscriber is registered first), on the machine's monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC on Linux), the clock every process of the machine reads. A
 * watcher on the same machine can then time an event from its commit to its arrival, where a client
 * alone can only time it from the write being sent (which adds the write's own latency).
 * Lines are buffered and appended every 100 ms and when closed.
 */
import { appendFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Storage } from './storage.js';

/** The monotonic clock in milliseconds, as commit times are written. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Records `storage`'s commit times in `file` until `close()`, which resolves once all are written. */
export function recordCommitTimes(storage: Storage, file: string, log: Logger): { close(): Promise<void> } {
  let lines: string[] = [];
  const unsubscribe = storage.subscribe((events) => {
    const last = events[events.length - 1];
    if (last) lines.push(`${last.revision} ${monotonicMs().toFixed(3)}\n`);
  });
  let writing = Promise.resolve();
  const flush = (): void => {
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    writing = writing.then(() => appendFile(file, text)).catch((err: unknown) => log.warn({ err, file }, 'cannot append commit times'));
  };
  const timer = setInterval(flush, 100);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      unsubscribe();
      flush();
      await writing;
    },
  };
}
