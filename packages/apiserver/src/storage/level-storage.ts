/**
 * The embedded storage of the API server on LevelDB, shaped like kine: every write appends one
 * record to an event log keyed by its revision (`e/<rev>`, holding the value), and moves the key's
 * live pointer (`k/<key>` → modRevision, createRevision). Concurrent writes are grouped into one
 * synced batch (group commit); a write is acknowledged only after its batch is on disk. History is
 * read from the log, so watches resume across restarts; compaction drops superseded records.
 */
import { ClassicLevel } from 'classic-level';
import type { Logger } from 'pino';
import { StorageError, type KeyValue, type Storage, type StorageEvent, type StorageStats, type ValueEncoder } from './storage.js';

/** The part of an abstract-level database this store uses (classic-level on disk, memory-level in tests). */
export interface LevelDatabase {
  open(): Promise<void>;
  close(): Promise<void>;
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  iterator(options: { gt?: string; gte?: string; lt?: string; lte?: string }): AsyncIterableIterator<[string, string]> & { close(): Promise<void> };
  batch(ops: { type: 'put' | 'del'; key: string; value?: string }[], options?: { sync?: boolean }): Promise<void>;
}

type Db = LevelDatabase;

/** A log record. */
interface EventRecord {
  /** c = create, u = update, d = delete. */
  t: 'c' | 'u' | 'd';
  k: string;
  /** The value written (absent for deletes). */
  v?: string;
  /** createRevision of the key. */
  cr: number;
  /** modRevision before this write (updates and deletes). */
  pr?: number;
}

/** A live-index record. */
interface IndexRecord {
  m: number;
  c: number;
}

type PendingOp =
  | { kind: 'create'; key: string; value: string | ValueEncoder; resolve: (kv: KeyValue) => void; reject: (e: unknown) => void }
  | { kind: 'update'; key: string; value: string | ValueEncoder; expected: number; resolve: (kv: KeyValue) => void; reject: (e: unknown) => void }
  | { kind: 'delete'; key: string; expected: number | undefined; resolve: (r: { revision: number; prev: KeyValue }) => void; reject: (e: unknown) => void };

const EVENT_PREFIX = 'e/';
const INDEX_PREFIX = 'k/';
const META_REVISION = 'm/revision';
const META_COMPACTED = 'm/compacted';
/** Recently written values by revision, so prevValue rarely needs a read. */
const RECENT_VALUES = 8192;

/** `e/` + 16 hex digits: log records sort by revision. */
function eventKey(rev: number): string {
  return EVENT_PREFIX + rev.toString(16).padStart(16, '0');
}

function revFromEventKey(k: string): number {
  return parseInt(k.slice(EVENT_PREFIX.length), 16);
}

/** The first string after every string starting with `prefix` (an exclusive upper bound). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Options of a LevelStorage. */
export interface LevelStorageOptions {
  /** Directory of an on-disk database (classic-level). */
  path?: string;
  /** Or an already constructed database (e.g. memory-level in tests), with utf8 keys and values. */
  db?: LevelDatabase;
  logger?: Logger;
}

/** Storage on LevelDB with group commit. */
export class LevelStorage implements Storage {
  private readonly db: Db;
  private readonly log: Logger | undefined;
  private readonly index = new Map<string, IndexRecord>();
  private readonly recent = new Map<number, string>();
  private readonly listeners = new Set<(events: readonly StorageEvent[]) => void>();
  private queue: PendingOp[] = [];
  private committing: Promise<void> | undefined;
  private revision = 0;
  private compacted = 0;
  private closed = false;
  private batchCount = 0;
  private writeCount = 0;
  private compacting: Promise<void> | undefined;

  constructor(options: LevelStorageOptions) {
    if (options.db) this.db = options.db;
    else if (options.path) this.db = new ClassicLevel<string, string>(options.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Db;
    else throw new Error('LevelStorage needs a path or a db');
    this.log = options.logger;
  }

  async open(): Promise<void> {
    const started = Date.now();
    await this.db.open();
    const [rev, compacted] = await this.db.getMany([META_REVISION, META_COMPACTED]);
    this.revision = rev ? Number(rev) : 0;
    this.compacted = compacted ? Number(compacted) : 0;
    for await (const [k, v] of this.db.iterator({ gte: INDEX_PREFIX, lt: prefixEnd(INDEX_PREFIX) })) {
      this.index.set(String(k).slice(INDEX_PREFIX.length), JSON.parse(v) as IndexRecord);
    }
    this.log?.info({ keys: this.index.size, revision: this.revision, compacted: this.compacted, ms: Date.now() - started }, 'storage opened');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.committing) await this.committing;
    if (this.compacting) await this.compacting.catch(() => undefined);
    await this.db.close();
  }

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  stats(): StorageStats {
    return { batches: this.batchCount, writes: this.writeCount };
  }

  subscribe(listener: (events: readonly StorageEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async values(revs: readonly number[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = new Array(revs.length);
    const missing: number[] = [];
    revs.forEach((r, i) => {
      const v = this.recent.get(r);
      if (v !== undefined) out[i] = v;
      else missing.push(i);
    });
    if (missing.length > 0) {
      const records = await this.db.getMany(missing.map((i) => eventKey(revs[i]!)));
      missing.forEach((i, j) => {
        const rec = records[j];
        out[i] = rec === undefined ? undefined : (JSON.parse(rec) as EventRecord).v;
      });
    }
    return out;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    for (let attempt = 0; attempt < 3; attempt++) {
      const rec = this.index.get(key);
      if (!rec) return undefined;
      const [value] = await this.values([rec.m]);
      if (value !== undefined) return { key, value, modRevision: rec.m, createRevision: rec.c };
    }
    throw new StorageError('Unavailable', `value of ${key} vanished during compaction`);
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<{ items: KeyValue[]; revision: number; more: boolean }> {
    this.checkOpen();
    const limit = options.limit ?? Infinity;
    for (let attempt = 0; attempt < 3; attempt++) {
      const revision = this.revision;
      const entries: { key: string; rec: IndexRecord }[] = [];
      let more = false;
      const gte = INDEX_PREFIX + prefix;
      const iter = this.db.iterator({ ...(options.startAfter !== undefined ? { gt: INDEX_PREFIX + options.startAfter } : { gte }), lt: prefixEnd(gte) });
      try {
        for await (const [k, v] of iter) {
          const key = String(k).slice(INDEX_PREFIX.length);
          if (!key.startsWith(prefix)) continue;
          if (entries.length >= limit) {
            more = true;
            break;
          }
          entries.push({ key, rec: JSON.parse(v) as IndexRecord });
        }
      } finally {
        await iter.close();
      }
      const values = await this.values(entries.map((e) => e.rec.m));
      if (values.every((v) => v !== undefined)) {
        return { items: entries.map((e, i) => ({ key: e.key, value: values[i]!, modRevision: e.rec.m, createRevision: e.rec.c })), revision, more };
      }
    }
    throw new StorageError('Unavailable', 'list raced with compaction three times');
  }

  create(key: string, value: string | ValueEncoder): Promise<KeyValue> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'create', key, value, resolve, reject }));
  }

  update(key: string, value: string | ValueEncoder, expectedModRevision: number): Promise<KeyValue> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'update', key, value, expected: expectedModRevision, resolve, reject }));
  }

  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'delete', key, expected: expectedModRevision, resolve, reject }));
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('Closed', 'storage is closed');
  }

  private enqueue(op: PendingOp): void {
    if (this.closed) {
      op.reject(new StorageError('Closed', 'storage is closed'));
      return;
    }
    this.queue.push(op);
    if (!this.committing) this.committing = this.commitLoop();
  }

  /** Drains the queue batch by batch; a batch holds everything queued while the previous one was written. */
  private async commitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const ops = this.queue;
        this.queue = [];
        await this.commitBatch(ops);
      }
    } finally {
      this.committing = undefined;
    }
  }

  private async commitBatch(ops: PendingOp[]): Promise<void> {
    // Previous values of keys written in this batch (for events), fetched in one read.
    const prevRevs = new Set<number>();
    for (const op of ops) {
      const rec = this.index.get(op.key);
      if (rec && op.kind !== 'create' && !this.recent.has(rec.m)) prevRevs.add(rec.m);
    }
    const prevList = [...prevRevs];
    let fetched: (string | undefined)[] = [];
    try {
      fetched = prevList.length > 0 ? await this.values(prevList) : [];
    } catch (err) {
      for (const op of ops) op.reject(new StorageError('Unavailable', 'reading previous values failed', undefined, { cause: err }));
      return;
    }
    const prevValues = new Map<number, string | undefined>(prevList.map((r, i) => [r, fetched[i]]));
    const valueAt = (rev: number): string | undefined => this.recent.get(rev) ?? prevValues.get(rev);

    // Live state as this batch sees it: the index plus earlier writes of the batch.
    const overlay = new Map<string, (IndexRecord & { v: string }) | null>();
    const current = (key: string): (IndexRecord & { v: string }) | undefined => {
      if (overlay.has(key)) return overlay.get(key) ?? undefined;
      const rec = this.index.get(key);
      if (!rec) return undefined;
      return { ...rec, v: valueAt(rec.m) ?? '' };
    };
    let next = this.revision;
    const writes: { type: 'put' | 'del'; key: string; value?: string }[] = [];
    const events: StorageEvent[] = [];
    const done: (() => void)[] = [];
    for (const op of ops) {
      const cur = current(op.key);
      if (op.kind === 'create') {
        if (cur) {
          op.reject(new StorageError('KeyExists', `key ${op.key} exists`, { key: op.key, value: cur.v, modRevision: cur.m, createRevision: cur.c }));
          continue;
        }
        const rev = ++next;
        const value = typeof op.value === 'string' ? op.value : op.value(rev);
        writes.push({ type: 'put', key: eventKey(rev), value: JSON.stringify({ t: 'c', k: op.key, v: value, cr: rev } satisfies EventRecord) });
        writes.push({ type: 'put', key: INDEX_PREFIX + op.key, value: JSON.stringify({ m: rev, c: rev } satisfies IndexRecord) });
        overlay.set(op.key, { m: rev, c: rev, v: value });
        events.push({ type: 'create', key: op.key, revision: rev, createRevision: rev, value });
        const kv: KeyValue = { key: op.key, value, modRevision: rev, createRevision: rev };
        done.push(() => op.resolve(kv));
      } else if (op.kind === 'update') {
        if (!cur) {
          op.reject(new StorageError('NotFound', `key ${op.key} not found`));
          continue;
        }
        if (cur.m !== op.expected) {
          op.reject(new StorageError('Conflict', `key ${op.key} is at revision ${cur.m}, not ${op.expected}`, { key: op.key, value: cur.v, modRevision: cur.m, createRevision: cur.c }));
          continue;
        }
        const rev = ++next;
        const value = typeof op.value === 'string' ? op.value : op.value(rev);
        writes.push({ type: 'put', key: eventKey(rev), value: JSON.stringify({ t: 'u', k: op.key, v: value, cr: cur.c, pr: cur.m } satisfies EventRecord) });
        writes.push({ type: 'put', key: INDEX_PREFIX + op.key, value: JSON.stringify({ m: rev, c: cur.c } satisfies IndexRecord) });
        overlay.set(op.key, { m: rev, c: cur.c, v: value });
        events.push({ type: 'update', key: op.key, revision: rev, createRevision: cur.c, value, prevValue: cur.v, prevRevision: cur.m });
        const kv: KeyValue = { key: op.key, value, modRevision: rev, createRevision: cur.c };
        done.push(() => op.resolve(kv));
      } else {
        if (!cur) {
          op.reject(new StorageError('NotFound', `key ${op.key} not found`));
          continue;
        }
        if (op.expected !== undefined && cur.m !== op.expected) {
          op.reject(new StorageError('Conflict', `key ${op.key} is at revision ${cur.m}, not ${op.expected}`, { key: op.key, value: cur.v, modRevision: cur.m, createRevision: cur.c }));
          continue;
        }
        const rev = ++next;
        writes.push({ type: 'put', key: eventKey(rev), value: JSON.stringify({ t: 'd', k: op.key, cr: cur.c, pr: cur.m } satisfies EventRecord) });
        writes.push({ type: 'del', key: INDEX_PREFIX + op.key });
        overlay.set(op.key, null);
        events.push({ type: 'delete', key: op.key, revision: rev, createRevision: cur.c, value: cur.v, prevValue: cur.v, prevRevision: cur.m });
        const prev: KeyValue = { key: op.key, value: cur.v, modRevision: cur.m, createRevision: cur.c };
        done.push(() => op.resolve({ revision: rev, prev }));
      }
    }
    if (writes.length === 0) return;
    writes.push({ type: 'put', key: META_REVISION, value: String(next) });
    try {
      await this.db.batch(writes, { sync: true });
    } catch (err) {
      // Nothing of this batch is durable: fail its writers, keep the in-memory state as it was.
      const failure = new StorageError('Unavailable', 'writing to the database failed', undefined, { cause: err });
      this.log?.error({ err, writes: events.length }, 'storage batch failed');
      for (const op of ops) op.reject(failure);
      return;
    }
    // Durable: publish.
    this.revision = next;
    for (const [key, rec] of overlay) {
      if (rec === null) this.index.delete(key);
      else this.index.set(key, { m: rec.m, c: rec.c });
    }
    for (const e of events) if (e.type !== 'delete') this.remember(e.revision, e.value);
    this.batchCount++;
    this.writeCount += events.length;
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        this.log?.error({ err }, 'storage subscriber failed');
      }
    }
    for (const d of done) d();
  }

  private remember(rev: number, value: string): void {
    this.recent.set(rev, value);
    if (this.recent.size > RECENT_VALUES) {
      const oldest = this.recent.keys().next().value as number;
      this.recent.delete(oldest);
    }
  }

  async history(after: number, options: { prefix?: string; limit?: number } = {}): Promise<StorageEvent[]> {
    this.checkOpen();
    if (after < this.compacted) throw new StorageError('Compacted', `revision ${after} is compacted (compacted revision ${this.compacted})`);
    const limit = options.limit ?? Infinity;
    const upTo = this.revision;
    const records: { rev: number; rec: EventRecord }[] = [];
    const iter = this.db.iterator({ gt: eventKey(after), lte: eventKey(upTo) });
    try {
      for await (const [k, v] of iter) {
        const rec = JSON.parse(v) as EventRecord;
        if (options.prefix !== undefined && !rec.k.startsWith(options.prefix)) continue;
        records.push({ rev: revFromEventKey(String(k)), rec });
        if (records.length >= limit) break;
      }
    } finally {
      await iter.close();
    }
    if (after < this.compacted) throw new StorageError('Compacted', `revision ${after} was compacted while reading history`);
    const prevRevs = records.filter((r) => r.rec.pr !== undefined).map((r) => r.rec.pr!);
    const prevValues = await this.values(prevRevs);
    const prevByRev = new Map(prevRevs.map((r, i) => [r, prevValues[i]]));
    return records.map(({ rev, rec }) => {
      const prevValue = rec.pr !== undefined ? prevByRev.get(rec.pr) : undefined;
      const type = rec.t === 'c' ? 'create' : rec.t === 'u' ? 'update' : 'delete';
      const e: StorageEvent = { type, key: rec.k, revision: rev, createRevision: rec.cr, value: rec.t === 'd' ? prevValue ?? '' : rec.v ?? '' };
      if (rec.pr !== undefined) {
        e.prevRevision = rec.pr;
        if (prevValue !== undefined) e.prevValue = prevValue;
      }
      return e;
    });
  }

  compact(revision: number): Promise<void> {
    this.compacting = (this.compacting ?? Promise.resolve()).then(() => this.compactTo(revision));
    return this.compacting;
  }

  /**
   * Drops log records that no one can need once history before `revision` is gone: a record
   * superseded by a later write at or before `revision`, and deletes at or before it.
   */
  private async compactTo(revision: number): Promise<void> {
    const target = Math.min(revision, this.revision);
    if (target <= this.compacted || this.closed) return;
    let dels: string[] = [];
    const flush = async (final: boolean) => {
      const ops: { type: 'put' | 'del'; key: string; value?: string }[] = dels.map((key) => ({ type: 'del' as const, key }));
      if (final) ops.push({ type: 'put', key: META_COMPACTED, value: String(target) });
      dels = [];
      if (ops.length > 0) await this.db.batch(ops);
    };
    const from = this.compacted;
    // From now on history before `target` is gone: readers get Compacted instead of partial results.
    this.compacted = target;
    const iter = this.db.iterator({ gt: eventKey(from), lte: eventKey(target) });
    let removed = 0;
    try {
      for await (const [k, v] of iter) {
        const rec = JSON.parse(v) as EventRecord;
        if (rec.pr !== undefined) dels.push(eventKey(rec.pr));
        if (rec.t === 'd') dels.push(String(k));
        if (dels.length >= 1000) {
          removed += dels.length;
          await flush(false);
        }
      }
    } finally {
      await iter.close();
    }
    removed += dels.length;
    await flush(true);
    this.log?.debug({ revision: target, removed }, 'compacted');
  }
}
