/**
 * The kubelet's per-container back-off: 10 s after the first failure, doubling to 5 minutes, and
 * forgotten once a container has run for 10 minutes (or its key is not used for twice the maximum).
 */

/** Back-off delays by key (`<pod uid>/<container>` for restarts, `<pod uid>/<image>` for pulls). */
export class Backoff {
  private readonly entries = new Map<string, { delayMs: number; until: number; lastUsed: number }>();

  constructor(
    private readonly initialMs = 10_000,
    private readonly maxMs = 300_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts or doubles the back-off of `key`; returns the delay now in force. */
  next(key: string): number {
    const t = this.now();
    const e = this.entries.get(key);
    const delayMs = !e || t - e.lastUsed > 2 * this.maxMs ? this.initialMs : Math.min(this.maxMs, e.delayMs * 2);
    this.entries.set(key, { delayMs, until: t + delayMs, lastUsed: t });
    return delayMs;
  }

  /** Milliseconds left before `key` may act again (0 when free). */
  remaining(key: string): number {
    const e = this.entries.get(key);
    return e ? Math.max(0, e.until - this.now()) : 0;
  }

  /** The current delay of `key` (for messages), or 0. */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** Forgets `key` (a container that ran long enough, a successful pull). */
  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key with this prefix (a pod that is gone). */
  resetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
