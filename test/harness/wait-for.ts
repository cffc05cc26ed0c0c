/**
 * Polling helpers for end-to-end tests: wait for a condition, never sleep a fixed time.
 */

/**
 * Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`.
 * With `stableForMs`, the condition must hold at every poll for that long (a proxy whose reload is
 * still rolling over can answer from the new configuration, then from the old one once more).
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number; stableForMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  let holdsSince: number | undefined;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) {
        holdsSince ??= Date.now();
        if (Date.now() - holdsSince >= (options.stableForMs ?? 0)) return v as T;
      } else {
        holdsSince = undefined;
      }
    } catch (err) {
      holdsSince = undefined;
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: last error: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
