/**
 * Shared informers: one cache per resource (and selection) fed by a reflector, with event handlers
 * (add / update / delete) and a lister. Handlers run synchronously and must only enqueue work.
 */
import { labelSelectorFromObject, objectKey, type KubeObject, type LabelSelector, type ResourceInfo } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { realClock, type Clock } from '../clock.js';
import type { KubeClient } from '../rest-client.js';
import { IndexedStore, NAMESPACE_INDEX, type IndexFunc } from './indexed-store.js';
import { Reflector } from './reflector.js';

/** What a delete handler gets when the final state is unknown (missed during a relist). */
export interface DeletedFinalStateUnknown<T> {
  key: string;
  obj: T;
  tombstone: true;
}

/** True for a tombstone. */
export function isTombstone<T>(v: T | DeletedFinalStateUnknown<T>): v is DeletedFinalStateUnknown<T> {
  return typeof v === 'object' && v !== null && (v as { tombstone?: unknown }).tombstone === true;
}

/** The object of a delete notification, whether tombstone or not. */
export function deletedObject<T>(v: T | DeletedFinalStateUnknown<T>): T {
  return isTombstone(v) ? v.obj : v;
}

/** Event handlers of an informer. */
export interface EventHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T | DeletedFinalStateUnknown<T>): void;
}

/** Read access to an informer's cache. */
export class Lister<T extends KubeObject> {
  constructor(private readonly store: IndexedStore<T>) {}

  /** The object `namespace/name` (or `name` for cluster-scoped). */
  get(namespace: string, name: string): Readonly<T> | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Objects in a namespace (all when undefined), optionally filtered by a label selector. */
  list(namespace?: string, selector?: LabelSelector): readonly Readonly<T>[] {
    const items = namespace === undefined ? this.store.list() : this.store.byIndex(NAMESPACE_INDEX, namespace);
    return selector && !selector.isEmpty() ? items.filter((o) => selector.matches(o.metadata.labels)) : items;
  }

  /** Objects whose index contains a value. */
  byIndex(index: string, value: string): readonly Readonly<T>[] {
    return this.store.byIndex(index, value);
  }

  /** Objects matching a LabelSelector object (workload selectors). */
  listBySelectorObject(namespace: string, selector: Parameters<typeof labelSelectorFromObject>[0]): readonly Readonly<T>[] {
    return this.list(namespace, labelSelectorFromObject(selector));
  }
}

/** Options of a shared informer. */
export interface SharedInformerOptions {
  resource: ResourceInfo;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Calls onUpdate(obj, obj) for every object this often (0 = never). */
  resyncMs?: number;
  logger: Logger;
  clock?: Clock;
}

/** One cache of one resource selection, shared by every controller that needs it. */
export class SharedInformer<T extends KubeObject = KubeObject> {
  readonly store = new IndexedStore<T>();
  readonly lister: Lister<T>;
  private readonly handlers: EventHandlers<T>[] = [];
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private started = false;
  private readonly clock: Clock;

  constructor(
    private readonly client: KubeClient,
    readonly options: SharedInformerOptions,
  ) {
    this.lister = new Lister(this.store);
    this.clock = options.clock ?? realClock;
  }

  /** Adds handlers; objects already cached are delivered to onAdd at once. */
  addEventHandler(h: EventHandlers<T>): void {
    this.handlers.push(h);
    if (this.synced && h.onAdd) for (const o of this.store.list()) h.onAdd(o);
  }

  /** Adds a secondary index to the cache. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    this.store.addIndexer(name, fn);
  }

  /** True once the first list has been delivered. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once synced (or rejects when the signal aborts). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(new Error('aborted before the informer synced')), { once: true });
    });
  }

  private notifyAdd(o: T): void {
    for (const h of this.handlers) h.onAdd?.(o);
  }

  private notifyUpdate(a: T, b: T): void {
    for (const h of this.handlers) h.onUpdate?.(a, b);
  }

  private notifyDelete(o: T | DeletedFinalStateUnknown<T>): void {
    for (const h of this.handlers) h.onDelete?.(o);
  }

  /** Starts the reflector (once); runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.started) return;
    this.started = true;
    const o = this.options;
    const reflector = new Reflector<T>(
      this.client,
      {
        replace: (items) => {
          const seen = new Set<string>();
          for (const item of items) {
            const key = objectKey(item);
            seen.add(key);
            const old = this.store.upsert(item);
            if (!old) this.notifyAdd(item);
            else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.notifyUpdate(old, item);
          }
          for (const key of this.store.keys()) {
            if (seen.has(key)) continue;
            const gone = this.store.remove(key)!;
            this.notifyDelete({ key, obj: gone, tombstone: true });
          }
          if (!this.synced) {
            this.synced = true;
            for (const w of this.syncWaiters.splice(0)) w();
          }
        },
        added: (obj) => {
          const old = this.store.upsert(obj);
          if (old) this.notifyUpdate(old, obj);
          else this.notifyAdd(obj);
        },
        modified: (obj) => {
          const old = this.store.upsert(obj);
          if (old) this.notifyUpdate(old, obj);
          else this.notifyAdd(obj);
        },
        deleted: (obj) => {
          this.store.remove(objectKey(obj));
          this.notifyDelete(obj);
        },
      },
      { resource: o.resource, logger: o.logger, clock: this.clock, ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}), ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}) },
    );
    let resync: { cancel(): void } | undefined;
    const scheduleResync = () => {
      if (!o.resyncMs) return;
      resync = this.clock.setTimer(() => {
        for (const obj of this.store.list()) this.notifyUpdate(obj, obj);
        scheduleResync();
      }, o.resyncMs);
    };
    scheduleResync();
    try {
      await reflector.run(signal);
    } finally {
      resync?.cancel();
    }
  }
}

/** Creates informers once per resource selection and starts them together. */
export class SharedInformerFactory {
  private readonly informers = new Map<string, SharedInformer<KubeObject>>();
  private runs: Promise<void>[] = [];
  private signal: AbortSignal | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly defaults: { resyncMs?: number; clock?: Clock } = {},
  ) {}

  /** The shared informer of a resource (and optional namespace/selectors). */
  informerFor<T extends KubeObject = KubeObject>(resource: ResourceInfo, selection: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): SharedInformer<T> {
    const key = `${resource.group}/${resource.plural}|${selection.namespace ?? ''}|${selection.labelSelector ?? ''}|${selection.fieldSelector ?? ''}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new SharedInformer<KubeObject>(this.client, { resource, logger: this.logger, ...selection, ...this.defaults });
      this.informers.set(key, inf);
      if (this.signal) this.runs.push(inf.run(this.signal));
    }
    return inf as unknown as SharedInformer<T>;
  }

  /** Starts every informer created so far (and any created later). */
  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const inf of this.informers.values()) this.runs.push(inf.run(signal));
  }

  /** Waits until every informer has synced. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  /** Resolves when every informer has stopped. */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.runs);
  }
}

