/**
 * The in-memory view of one resource's objects, fed synchronously by storage commits: serves gets,
 * lists (ordered, paginated, filtered) and watches (initial state, replay from a window of recent
 * events, live fan-out with per-field indexing). Objects are kept as their stored JSON text plus the
 * labels and selectable fields filters need, so an event is serialized once for all watchers.
 */
import BTreeModule from 'sorted-btree';
import type { FieldSelector, LabelSelector } from '@flotilla/api';

// Node's ESM loader gives the CommonJS exports object; bundlers (vitest) give the class itself.
const BTree = ((BTreeModule as unknown as { default?: typeof BTreeModule.default }).default ?? BTreeModule) as typeof BTreeModule.default;
type Tree<K, V> = BTreeModule.default<K, V>;

/** One object as cached: its JSON (with metadata.resourceVersion) and what selectors read. */
export interface CachedObject {
  /** `ns/name` or `name`: the order of lists. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly json: string;
  readonly revision: number;
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** Selectable fields, including metadata.name and metadata.namespace. */
  readonly fields: Readonly<Record<string, string>>;
}

/** A watch event type on the wire. */
export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One committed change of this resource. */
export class CacheEvent {
  private lines: Partial<Record<CacheEventType, string>> | undefined;
  private chunks: Partial<Record<CacheEventType, Buffer>> | undefined;
  private deletedJsonText: string | undefined;

  constructor(
    readonly type: CacheEventType,
    readonly revision: number,
    /** New state; for DELETED the last state. */
    readonly object: CachedObject,
    /** State before a MODIFIED/DELETED. */
    readonly prev: CachedObject | undefined,
  ) {}

  /** The JSON of the object to emit for `type` (a DELETED event carries the delete's revision). */
  jsonFor(type: CacheEventType): string {
    if (this.type !== 'DELETED') return this.object.json;
    if (this.deletedJsonText === undefined) {
      const obj = JSON.parse(this.object.json) as { metadata?: { resourceVersion?: string } };
      if (obj.metadata) obj.metadata.resourceVersion = String(this.revision);
      this.deletedJsonText = JSON.stringify(obj);
    }
    void type;
    return this.deletedJsonText;
  }

  /** `{"type":T,"object":...}\n`, built once per delivered type and shared by every watcher. */
  line(type: CacheEventType): string {
    this.lines ??= {};
    let l = this.lines[type];
    if (l === undefined) {
      l = `{"type":"${type}","object":${this.jsonFor(type)}}\n`;
      this.lines[type] = l;
    }
    return l;
  }

  /**
   * `line(type)` framed as one HTTP/1.1 chunk (`SIZE\r\nLINE\r\n`), encoded once and written as is
   * to every chunked watch stream, so a fan-out costs one socket write per watcher and no copies.
   */
  chunk(type: CacheEventType): Buffer {
    this.chunks ??= {};
    let c = this.chunks[type];
    if (c === undefined) {
      const line = this.line(type);
      const size = Buffer.byteLength(line);
      const head = `${size.toString(16)}\r\n`;
      c = Buffer.allocUnsafe(head.length + size + 2);
      c.write(head, 0, 'latin1');
      c.write(line, head.length, 'utf8');
      c.write('\r\n', head.length + size, 'latin1');
      this.chunks[type] = c;
    }
    return c;
  }
}

/** What a watcher is delivered: the type as this watcher sees it, and the event. */
export interface Delivery {
  type: CacheEventType;
  event: CacheEvent;
}

/** The receiving end of a watch (HTTP chunked stream, WebSocket, in-process). */
export interface WatchSink {
  /** Delivers events in revision order. */
  deliver(deliveries: readonly Delivery[]): void;
  /** A bookmark: every event up to `revision` for this watcher has been delivered. */
  bookmark(revision: number): void;
  /** The watch ends; `error` is a Status-worthy error (e.g. 410) to send first, if any. */
  close(error?: Error): void;
}

/** Filters of one watch or list. */
export interface SelectionOptions {
  namespace?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
}

/** Result of a list page. */
export interface ListResult {
  items: CachedObject[];
  revision: number;
  /** The id after which the next page starts, when more items may remain. */
  continueAfter?: string;
  /** Items left after this page (only known without selectors). */
  remaining?: number;
}

/** A registered watch. */
export class Watcher {
  /** True once initial/replayed events are out and live delivery began. */
  live = false;
  /** Highest revision delivered (or replayed past). */
  lastRevision: number;
  private pending: Delivery[] | undefined;

  constructor(
    readonly selection: SelectionOptions,
    readonly sink: WatchSink,
    readonly allowBookmarks: boolean,
    startRevision: number,
    readonly indexValue: string | undefined,
  ) {
    this.lastRevision = startRevision;
  }

  /** True when the object passes this watcher's namespace, label and field filters. */
  matches(o: CachedObject | undefined): boolean {
    if (o === undefined) return false;
    const s = this.selection;
    if (s.namespace && o.namespace !== s.namespace) return false;
    if (s.labelSelector && !s.labelSelector.isEmpty() && !s.labelSelector.matches(o.labels)) return false;
    if (s.fieldSelector && !s.fieldSelector.isEmpty() && !s.fieldSelector.matches(o.fields)) return false;
    return true;
  }

  /** What this watcher should see of `e` (ADDED/DELETED when the object enters/leaves its filter). */
  translate(e: CacheEvent): Delivery | undefined {
    if (e.type === 'ADDED') return this.matches(e.object) ? { type: 'ADDED', event: e } : undefined;
    if (e.type === 'DELETED') return this.matches(e.object) ? { type: 'DELETED', event: e } : undefined;
    const now = this.matches(e.object);
    const before = this.matches(e.prev);
    if (now && before) return { type: 'MODIFIED', event: e };
    if (now) return { type: 'ADDED', event: e };
    if (before) return { type: 'DELETED', event: e };
    return undefined;
  }

  /** Queues a delivery; flushed by {@link flush}. Events at or below lastRevision are skipped. */
  push(d: Delivery): void {
    if (d.event.revision <= this.lastRevision) return;
    this.lastRevision = d.event.revision;
    (this.pending ??= []).push(d);
  }

  /** Hands queued deliveries to the sink in one call. */
  flush(): void {
    if (this.pending === undefined) return;
    const batch = this.pending;
    this.pending = undefined;
    this.sink.deliver(batch);
  }
}

/**
 * Builds the cache entry of an object from its JSON, or from `source`, the object the JSON was
 * serialized from when this process wrote it (then the JSON is not parsed again).
 */
export type ObjectIndexer = (json: string, revision: number, source?: unknown) => CachedObject;

const DEFAULT_WINDOW = 10_000;

/** Ids in code-unit order (what sorted-btree's default comparator does for strings, without its type checks). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One resource's objects and its watchers. `apply()` is called by the storage subscriber with
 * each committed change, in revision order.
 */
export class ResourceCache {
  private readonly items: Tree<string, CachedObject> = new BTree<string, CachedObject>(undefined, compareIds);
  /** Ring of the most recent events, oldest first. */
  private readonly window: CacheEvent[] = [];
  private windowStart = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly indexed = new Map<string, Set<Watcher>>();
  private readonly unindexed = new Set<Watcher>();
  private readonly dirty = new Set<Watcher>();
  private flushScheduled = false;
  /** Revision before the oldest event in the window (watches from here or later replay from memory). */
  private windowFloor: number;

  constructor(
    /** Storage key prefix, e.g. `/registry/core/pods/`. */
    readonly prefix: string,
    private readonly indexer: ObjectIndexer,
    /** A field whose exact value in a watcher's field selector routes events (e.g. spec.nodeName). */
    readonly indexField: string | undefined,
    initialRevision: number,
    private readonly windowSize = DEFAULT_WINDOW,
  ) {
    this.windowFloor = initialRevision;
  }

  /** Number of cached objects. */
  get size(): number {
    return this.items.size;
  }

  /** Number of registered watchers. */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Loads an object at startup (no event). */
  load(storageKey: string, json: string, revision: number): void {
    const o = this.indexer(json, revision);
    this.items.set(idOf(this.prefix, storageKey), o);
  }

  /** The cached object with this id, if live. */
  get(id: string): CachedObject | undefined {
    return this.items.get(id);
  }

  /** Applies a committed change and fans it out to watchers (flushed on the next turn). */
  apply(type: 'create' | 'update' | 'delete', storageKey: string, json: string, revision: number, source?: unknown): CacheEvent {
    const id = idOf(this.prefix, storageKey);
    const prev = this.items.get(id);
    let event: CacheEvent;
    if (type === 'delete') {
      const last = prev ?? this.indexer(json, revision);
      this.items.delete(id);
      event = new CacheEvent('DELETED', revision, last, prev);
    } else {
      const o = this.indexer(json, revision, source);
      this.items.set(id, o);
      event = new CacheEvent(type === 'create' || prev === undefined ? 'ADDED' : 'MODIFIED', revision, o, prev);
    }
    this.remember(event);
    this.dispatch(event);
    return event;
  }

  private remember(e: CacheEvent): void {
    if (this.window.length - this.windowStart >= this.windowSize) {
      this.windowFloor = this.window[this.windowStart]!.revision;
      this.windowStart++;
      if (this.windowStart > 4096 && this.windowStart * 2 > this.window.length) {
        this.window.splice(0, this.windowStart);
        this.windowStart = 0;
      }
    }
    this.window.push(e);
  }

  private dispatch(e: CacheEvent): void {
    if (this.watchers.size === 0) return;
    const targets: Iterable<Watcher>[] = [this.unindexed];
    if (this.indexField !== undefined && this.indexed.size > 0) {
      const a = e.object.fields[this.indexField] ?? '';
      const set = this.indexed.get(a);
      if (set) targets.push(set);
      const b = e.prev?.fields[this.indexField];
      if (b !== undefined && b !== a) {
        const setB = this.indexed.get(b);
        if (setB) targets.push(setB);
      }
    }
    for (const ws of targets) {
      for (const w of ws) {
        if (!w.live) continue;
        const d = w.translate(e);
        if (d) {
          w.push(d);
          this.dirty.add(w);
        }
      }
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.dirty.size === 0) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const ws = [...this.dirty];
      this.dirty.clear();
      for (const w of ws) w.flush();
    });
  }

  /**
   * Lists objects in id order, after `continueAfter`, at most `limit` (0 = all), filtered.
   * `revision` is the cache's revision (the global revision of the last applied commit).
   */
  list(selection: SelectionOptions, revision: number, limit = 0, continueAfter?: string): ListResult {
    const probe = new Watcher(selection, NULL_SINK, false, 0, undefined);
    const filtered = (selection.labelSelector && !selection.labelSelector.isEmpty()) || (selection.fieldSelector && !selection.fieldSelector.isEmpty());
    const items: CachedObject[] = [];
    let low = continueAfter;
    let high: string | undefined;
    if (selection.namespace) {
      const nsLow = `${selection.namespace}/`;
      if (low === undefined || low < nsLow) low = nsLow;
      high = `${selection.namespace}0`; // '0' follows '/' in code point order
    }
    let more = false;
    let lastId: string | undefined;
    const iter = this.items.entries(low);
    for (let r = iter.next(); !r.done; r = iter.next()) {
      const [id, o] = r.value;
      if (continueAfter !== undefined && id <= continueAfter) continue;
      if (high !== undefined && id >= high) break;
      if (filtered && !probe.matches(o)) continue;
      if (limit > 0 && items.length >= limit) {
        more = true;
        break;
      }
      items.push(o);
      lastId = id;
    }
    const result: ListResult = { items, revision };
    if (more && lastId !== undefined) {
      result.continueAfter = lastId;
      if (!filtered) result.remaining = this.countFrom(lastId, high);
    }
    return result;
  }

  /**
   * The window's events after `revision`, oldest first, or undefined when the window no longer
   * reaches back to it (the caller reads them from storage history instead).
   */
  changesSince(revision: number): CacheEvent[] | undefined {
    if (revision < this.windowFloor) return undefined;
    let lo = this.windowStart;
    let hi = this.window.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.window[mid]!.revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return this.window.slice(lo);
  }

  /**
   * A list page as the objects were at an earlier revision: the current objects with `changes` (this
   * resource's events after that revision, oldest first, from {@link changesSince} or storage history)
   * undone. A paginated list continues this way at its first page's revision, so its pages are one
   * consistent list however the objects change between them (Kubernetes reads them from an etcd
   * snapshot). Arguments and result as {@link list}.
   */
  listAt(selection: SelectionOptions, revision: number, changes: readonly CacheEvent[], limit = 0, continueAfter?: string): ListResult {
    if (changes.length === 0) return this.list(selection, revision, limit, continueAfter);
    // Each changed object's state then: before its first later event (null: it did not exist yet).
    const then = new Map<string, CachedObject | null>();
    for (const e of changes) {
      if (!then.has(e.object.id)) then.set(e.object.id, e.type === 'ADDED' ? null : (e.prev ?? e.object));
    }
    const restored = [...then].filter((x): x is [string, CachedObject] => x[1] !== null).sort((a, b) => compareIds(a[0], b[0]));
    const probe = new Watcher(selection, NULL_SINK, false, 0, undefined);
    const filtered = (selection.labelSelector && !selection.labelSelector.isEmpty()) || (selection.fieldSelector && !selection.fieldSelector.isEmpty());
    let low = continueAfter;
    let high: string | undefined;
    if (selection.namespace) {
      const nsLow = `${selection.namespace}/`;
      if (low === undefined || low < nsLow) low = nsLow;
      high = `${selection.namespace}0`;
    }
    const inRange = (id: string) => (low === undefined || id > low) && (high === undefined || id < high);
    // The current objects that did not change, merged in id order with the restored ones.
    const unchanged = (function* (items: Tree<string, CachedObject>) {
      const iter = items.entries(low);
      for (let r = iter.next(); !r.done; r = iter.next()) {
        const [id, o] = r.value;
        if (high !== undefined && id >= high) return;
        if (inRange(id) && !then.has(id)) yield o;
      }
    })(this.items);
    const others = restored.filter(([id]) => inRange(id)).map(([, o]) => o);
    let a = unchanged.next();
    let b = 0;
    const next = (): CachedObject | undefined => {
      if (a.done) return others[b++];
      if (b < others.length && compareIds(others[b]!.id, a.value.id) < 0) return others[b++];
      const o = a.value;
      a = unchanged.next();
      return o;
    };
    const items: CachedObject[] = [];
    let more = false;
    let remaining = 0;
    for (let o = next(); o !== undefined; o = next()) {
      if (filtered && !probe.matches(o)) continue;
      if (limit > 0 && items.length >= limit) {
        more = true;
        if (filtered) break;
        remaining++;
        continue;
      }
      items.push(o);
    }
    const result: ListResult = { items, revision };
    if (more) {
      result.continueAfter = items.at(-1)!.id;
      if (!filtered) result.remaining = remaining;
    }
    return result;
  }

  private countFrom(after: string, high: string | undefined): number {
    let n = 0;
    const iter = this.items.entries(after);
    for (let r = iter.next(); !r.done; r = iter.next()) {
      const id = r.value[0];
      if (id <= after) continue;
      if (high !== undefined && id >= high) break;
      n++;
    }
    return n;
  }

  /** The oldest revision a watch can start after and be replayed from memory. */
  get replayFloor(): number {
    return this.windowFloor;
  }

  /**
   * Starts a watch. With `fromRevision` undefined the current matching objects are delivered as
   * ADDED first. Otherwise events after `fromRevision` are replayed from the in-memory window; the
   * caller must check `fromRevision >= replayFloor` (older history comes from storage, see
   * {@link addCatchingUp}).
   */
  watch(selection: SelectionOptions, sink: WatchSink, options: { fromRevision?: number; currentRevision: number; allowBookmarks: boolean }): Watcher {
    const indexValue = this.indexField !== undefined ? selection.fieldSelector?.exactValue(this.indexField) : undefined;
    const w = new Watcher(selection, sink, options.allowBookmarks, 0, indexValue);
    if (options.fromRevision === undefined) {
      const initial = this.list(selection, options.currentRevision).items;
      const deliveries: Delivery[] = initial.map((o) => ({ type: 'ADDED' as const, event: new CacheEvent('ADDED', o.revision, o, undefined) }));
      if (deliveries.length > 0) sink.deliver(deliveries);
      w.lastRevision = options.currentRevision;
    } else {
      this.replayInto(w, options.fromRevision);
      w.lastRevision = Math.max(w.lastRevision, options.fromRevision);
      w.flush();
    }
    this.register(w);
    w.live = true;
    return w;
  }

  /**
   * Registers a watcher that is being caught up from storage history. It receives nothing until
   * {@link finishCatchUp}, which replays the history and then the in-memory window after it.
   */
  addCatchingUp(selection: SelectionOptions, sink: WatchSink, allowBookmarks: boolean, fromRevision: number): Watcher {
    const indexValue = this.indexField !== undefined ? selection.fieldSelector?.exactValue(this.indexField) : undefined;
    const w = new Watcher(selection, sink, allowBookmarks, fromRevision, indexValue);
    this.register(w);
    return w;
  }

  /**
   * Delivers history events (revision order, read from storage) to a catching-up watcher, then the
   * window's later events, then goes live. Returns false when the window no longer reaches back to
   * the end of the history (the caller ends the watch with 410 Expired).
   */
  finishCatchUp(w: Watcher, history: readonly CacheEvent[], historyRevision: number): boolean {
    for (const e of history) {
      const d = w.translate(e);
      if (d) w.push(d);
    }
    w.lastRevision = Math.max(w.lastRevision, historyRevision);
    if (w.lastRevision < this.windowFloor) return false;
    this.replayInto(w, w.lastRevision);
    w.flush();
    w.live = true;
    return true;
  }

  private replayInto(w: Watcher, fromRevision: number): void {
    // Binary search the window for the first event after fromRevision.
    let lo = this.windowStart;
    let hi = this.window.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.window[mid]!.revision <= fromRevision) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.window.length; i++) {
      const d = w.translate(this.window[i]!);
      if (d) w.push(d);
    }
  }

  private register(w: Watcher): void {
    this.watchers.add(w);
    if (w.indexValue !== undefined) {
      let set = this.indexed.get(w.indexValue);
      if (!set) this.indexed.set(w.indexValue, (set = new Set()));
      set.add(w);
    } else {
      this.unindexed.add(w);
    }
  }

  /** Removes a watcher (its sink is not closed here). */
  unregister(w: Watcher): void {
    this.watchers.delete(w);
    this.dirty.delete(w);
    if (w.indexValue !== undefined) {
      const set = this.indexed.get(w.indexValue);
      set?.delete(w);
      if (set && set.size === 0) this.indexed.delete(w.indexValue);
    } else {
      this.unindexed.delete(w);
    }
  }

  /** Sends a bookmark at `revision` to every live watcher that asked for bookmarks. */
  bookmarkAll(revision: number): void {
    for (const w of this.watchers) {
      if (!w.live || !w.allowBookmarks) continue;
      w.flush();
      w.lastRevision = Math.max(w.lastRevision, revision);
      w.sink.bookmark(revision);
    }
  }

  /** Closes every watcher (server shutdown). */
  closeAll(): void {
    for (const w of [...this.watchers]) {
      this.unregister(w);
      w.flush();
      w.sink.close();
    }
  }

  /** Builds a CacheEvent for a storage history record (for catching-up watchers). */
  eventFromHistory(type: 'create' | 'update' | 'delete', json: string, revision: number, prevJson: string | undefined, prevRevision: number | undefined): CacheEvent {
    const o = this.indexer(json, type === 'delete' ? prevRevision ?? revision : revision);
    const prev = prevJson !== undefined ? this.indexer(prevJson, prevRevision ?? 0) : undefined;
    if (type === 'delete') return new CacheEvent('DELETED', revision, o, prev);
    return new CacheEvent(type === 'create' ? 'ADDED' : 'MODIFIED', revision, o, prev);
  }

  /** Converts a storage key of this resource to its id. */
  idOf(storageKey: string): string {
    return idOf(this.prefix, storageKey);
  }
}

function idOf(prefix: string, storageKey: string): string {
  return storageKey.slice(prefix.length);
}

const NULL_SINK: WatchSink = { deliver() {}, bookmark() {}, close() {} };
