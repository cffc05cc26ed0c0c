/**
 * The API server's in-memory copy of everything in storage, one ResourceCache per resource, kept in
 * step with storage by a synchronous subscription (so a write is visible to reads and watches before
 * it is acknowledged). Loaded from storage at startup.
 */
import type { Logger } from 'pino';
import type { ResourceInfo } from '@flotilla/api';
import type { Storage, StorageEvent } from '../storage/storage.js';
import { ResourceCache, type ObjectIndexer } from './resource-cache.js';

/** `/registry/<group or core>/<plural>/`: where a resource's objects live in storage. */
export function storagePrefix(resource: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return `/registry/${resource.group === '' ? 'core' : resource.group}/${resource.plural}/`;
}

/** The storage key of one object. */
export function storageKey(resource: Pick<ResourceInfo, 'group' | 'plural' | 'namespaced'>, namespace: string, name: string): string {
  return resource.namespaced ? `${storagePrefix(resource)}${namespace}/${name}` : `${storagePrefix(resource)}${name}`;
}

/** What the cache needs per resource. */
export interface CachedResource {
  resource: ResourceInfo;
  indexer: ObjectIndexer;
  indexField?: string;
}

/** All resource caches, fed from one storage subscription. */
export class ObjectCache {
  private readonly byPrefix = new Map<string, ResourceCache>();
  private unsubscribe: (() => void) | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private revisionValue = 0;
  private readonly revisionWaiters: { revision: number; resolve: () => void }[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly logger: Logger,
  ) {}

  /** The revision of the last commit applied to the cache (equals storage's current revision). */
  get revision(): number {
    return this.revisionValue;
  }

  /** Creates the caches, loads every object from storage and subscribes to commits. */
  async start(resources: readonly CachedResource[], options: { bookmarkIntervalMs?: number } = {}): Promise<void> {
    const revision = this.storage.currentRevision();
    for (const r of resources) {
      const prefix = storagePrefix(r.resource);
      this.byPrefix.set(prefix, new ResourceCache(prefix, r.indexer, r.indexField, revision));
    }
    // Subscribe before loading so no commit can fall between; nothing writes before start() resolves.
    this.unsubscribe = this.storage.subscribe((events) => this.applyBatch(events));
    const started = Date.now();
    let loaded = 0;
    for (const [prefix, cache] of this.byPrefix) {
      let startAfter: string | undefined;
      for (;;) {
        const page = await this.storage.list(prefix, { startAfter, limit: 10_000 });
        for (const kv of page.items) cache.load(kv.key, kv.value, kv.modRevision);
        loaded += page.items.length;
        if (!page.more || page.items.length === 0) break;
        startAfter = page.items[page.items.length - 1]!.key;
      }
    }
    this.revisionValue = Math.max(this.revisionValue, revision);
    this.logger.info({ objects: loaded, revision: this.revisionValue, ms: Date.now() - started }, 'cache loaded');
    const interval = options.bookmarkIntervalMs ?? 10_000;
    this.bookmarkTimer = setInterval(() => this.bookmarkAll(), interval);
    this.bookmarkTimer.unref();
  }

  /** Stops following storage and closes every watch. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const c of this.byPrefix.values()) c.closeAll();
  }

  /** The cache of a resource. */
  cacheFor(resource: Pick<ResourceInfo, 'group' | 'plural'>): ResourceCache {
    const c = this.byPrefix.get(storagePrefix(resource));
    if (!c) throw new Error(`no cache for resource ${resource.group}/${resource.plural}`);
    return c;
  }

  /** Resolves once the cache has applied `revision` (or rejects after `timeoutMs`). */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revisionValue >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => resolve(true) };
      this.revisionWaiters.push(waiter);
      setTimeout(() => {
        const i = this.revisionWaiters.indexOf(waiter);
        if (i >= 0) {
          this.revisionWaiters.splice(i, 1);
          resolve(false);
        }
      }, timeoutMs).unref();
    });
  }

  /** Total watchers across resources. */
  watcherCount(): number {
    let n = 0;
    for (const c of this.byPrefix.values()) n += c.watcherCount;
    return n;
  }

  /** Sends a bookmark to every watcher that accepts them. */
  bookmarkAll(): void {
    for (const c of this.byPrefix.values()) c.bookmarkAll(this.revisionValue);
  }

  private applyBatch(events: readonly StorageEvent[]): void {
    for (const e of events) {
      const cache = this.cacheForKey(e.key);
      if (cache) {
        try {
          cache.apply(e.type, e.key, e.value, e.revision, e.source);
        } catch (err) {
          this.logger.error({ err, key: e.key, revision: e.revision }, 'cache apply failed');
        }
      }
      if (e.revision > this.revisionValue) this.revisionValue = e.revision;
    }
    if (this.revisionWaiters.length > 0) {
      for (let i = this.revisionWaiters.length - 1; i >= 0; i--) {
        const w = this.revisionWaiters[i]!;
        if (w.revision <= this.revisionValue) {
          this.revisionWaiters.splice(i, 1);
          w.resolve();
        }
      }
    }
  }

  private cacheForKey(key: string): ResourceCache | undefined {
    // /registry/<group>/<plural>/...
    let slashes = 0;
    for (let i = 0; i < key.length; i++) {
      if (key.charCodeAt(i) === 47 && ++slashes === 4) return this.byPrefix.get(key.slice(0, i + 1));
    }
    return undefined;
  }
}
