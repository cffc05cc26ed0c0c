/**
 * Controller expectations (client-go's ControllerExpectations): after a controller creates or
 * deletes pods it waits to see those changes in its informer before acting again, so a lagging
 * cache never causes double creates or deletes. Expectations expire after five minutes.
 */
import type { Clock } from '@flotilla/client';

interface Expectation {
  adds: number;
  dels: Set<string>;
  at: number;
}

const TTL_MS = 5 * 60_000;

/** Expectations by controller key. */
export class Expectations {
  private readonly byKey = new Map<string, Expectation>();

  constructor(private readonly clock: Clock) {}

  /** True when the controller may act on its key (nothing pending, or pending for too long). */
  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    if (e.adds <= 0 && e.dels.size === 0) return true;
    return this.clock.now() - e.at > TTL_MS;
  }

  /** Expect `n` creations. */
  expectCreations(key: string, n: number): void {
    this.byKey.set(key, { adds: n, dels: new Set(), at: this.clock.now() });
  }

  /** Expect deletions of these pods (by key ns/name). */
  expectDeletions(key: string, podKeys: string[]): void {
    this.byKey.set(key, { adds: 0, dels: new Set(podKeys), at: this.clock.now() });
  }

  /** A creation was observed (or will never happen). */
  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e) e.adds--;
  }

  /** A deletion was observed (or will never happen). */
  deletionObserved(key: string, podKey: string): void {
    this.byKey.get(key)?.dels.delete(podKey);
  }

  /** Forgets a key (its owner is gone). */
  delete(key: string): void {
    this.byKey.delete(key);
  }
}
