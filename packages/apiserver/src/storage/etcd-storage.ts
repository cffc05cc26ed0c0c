/**
 * Storage on an etcd v3 cluster (for several API servers sharing one state), through etcd's JSON
 * gateway with undici — no gRPC dependency. etcd provides the revision, the conditional writes
 * (transactions on create/mod revision), history (watch from a revision) and compaction. One watch
 * on the key prefix feeds subscribers; a write resolves only after that watch has delivered its
 * revision, so the API server's cache reads its own writes like with LevelStorage.
 */
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { StorageError, type KeyValue, type Storage, type StorageEvent, type StorageStats, type ValueEncoder } from './storage.js';

interface EtcdKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
}

interface EtcdEvent {
  type?: 'PUT' | 'DELETE';
  kv: EtcdKv;
  prev_kv?: EtcdKv;
}

interface WatchResponse {
  result?: { header?: { revision?: string }; created?: boolean; canceled?: boolean; compact_revision?: string; cancel_reason?: string; events?: EtcdEvent[] };
  error?: { message?: string };
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

function unb64(s: string | undefined): string {
  return s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8');
}

/** The first key after every key with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]! += 1;
      return b.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

/** The `result` of each line of an etcd watch stream. */
async function* watchResults(body: AsyncIterable<Buffer>): AsyncGenerator<NonNullable<WatchResponse['result']>> {
  let buf = '';
  for await (const chunk of body) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const res = (JSON.parse(line) as WatchResponse).result;
      if (res) yield res;
    }
  }
}

/**
 * Stored values carry `"resourceVersion":"0"`; reads set the real one (etcd assigns the revision at
 * commit, after the value is sent).
 */
function withRevision(value: string, rev: number): string {
  try {
    const obj = JSON.parse(value) as { metadata?: { resourceVersion?: string } };
    if (obj && typeof obj === 'object' && obj.metadata) {
      obj.metadata.resourceVersion = String(rev);
      return JSON.stringify(obj);
    }
  } catch {
    // Not JSON: stored as is.
  }
  return value;
}

/** Options of an EtcdStorage. */
export interface EtcdStorageOptions {
  /** Client URLs (`http://127.0.0.1:2379`); the first reachable one is used. */
  endpoints: string[];
  /** Key prefix this store owns (default `/registry/`). */
  prefix?: string;
  logger?: Logger;
}

/** Storage on etcd v3. */
export class EtcdStorage implements Storage {
  private readonly agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  private readonly watchAgent = new Agent({ connections: 4, bodyTimeout: 0, headersTimeout: 0 });
  private endpoint: string;
  private readonly prefix: string;
  private readonly log: Logger | undefined;
  private readonly listeners = new Set<(events: readonly StorageEvent[]) => void>();
  private revision = 0;
  private compacted = 0;
  private closed = false;
  private closing = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private watchAbort = new AbortController();
  private readonly waiters = new Map<number, (() => void)[]>();
  private writes = 0;
  private batches = 0;

  constructor(private readonly options: EtcdStorageOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdStorage needs at least one endpoint');
    this.endpoint = options.endpoints[0]!.replace(/\/$/, '');
    this.prefix = options.prefix ?? '/registry/';
    this.log = options.logger;
  }

  private async call<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new StorageError('Closed', 'storage is closed');
    let lastErr: unknown;
    for (const ep of [this.endpoint, ...this.options.endpoints.filter((e) => e !== this.endpoint)]) {
      try {
        const r = await request(`${ep.replace(/\/$/, '')}${path}`, { method: 'POST', dispatcher: this.agent, body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, ...(signal ? { signal } : {}) });
        const text = await r.body.text();
        if (r.statusCode !== 200) {
          const msg = (JSON.parse(text || '{}') as { message?: string; error?: string }).message ?? text;
          if (/compacted/.test(msg)) throw new StorageError('Compacted', msg);
          throw new StorageError('Unavailable', `etcd ${path}: HTTP ${r.statusCode}: ${msg}`);
        }
        this.endpoint = ep.replace(/\/$/, '');
        return JSON.parse(text) as T;
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Compacted') throw err;
        lastErr = err;
      }
    }
    throw lastErr instanceof StorageError ? lastErr : new StorageError('Unavailable', `etcd unreachable at ${this.options.endpoints.join(', ')}`, undefined, { cause: lastErr });
  }

  async open(): Promise<void> {
    const r = await this.call<{ header: { revision: string } }>('/v3/kv/range', { key: b64(this.prefix), range_end: prefixEnd(this.prefix), limit: '1', keys_only: true });
    this.revision = Number(r.header.revision);
    void this.runWatch(this.revision);
  }

  /** Follows every change under the prefix, reconnecting from the last revision seen. */
  private async runWatch(from: number): Promise<void> {
    let next = from + 1;
    while (!this.closed) {
      try {
        const r = await request(`${this.endpoint}/v3/watch`, {
          method: 'POST',
          dispatcher: this.watchAgent,
          signal: this.watchAbort.signal,
          body: JSON.stringify({ create_request: { key: b64(this.prefix), range_end: prefixEnd(this.prefix), start_revision: String(next), prev_kv: true, progress_notify: true } }),
        });
        for await (const res of watchResults(r.body)) {
          if (res.compact_revision && Number(res.compact_revision) > 0) {
            this.log?.error({ compactRevision: res.compact_revision }, 'etcd watch fell behind compaction');
            next = Number(res.compact_revision);
          }
          const events = (res.events ?? []).map((e) => this.toEvent(e));
          if (events.length > 0) {
            this.publish(events);
            next = events[events.length - 1]!.revision + 1;
          }
          const headerRev = Number(res.header?.revision ?? 0);
          // A progress notification (no events, not the creation reply) means every event up to its
          // header was delivered. The creation reply's header is only the store's revision at that
          // moment: events up to it may still be on their way, so it must not release writers.
          if (!res.created && events.length === 0 && headerRev > this.revision) this.advance(headerRev);
        }
      } catch (err) {
        if (this.closed) return;
        this.log?.warn({ err }, 'etcd watch failed; reconnecting');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private toEvent(e: EtcdEvent): StorageEvent {
    const rev = Number(e.kv.mod_revision);
    const key = unb64(e.kv.key);
    if (e.type === 'DELETE') {
      const prevRev = Number(e.prev_kv?.mod_revision ?? 0);
      const last = withRevision(unb64(e.prev_kv?.value), prevRev);
      return { type: 'delete', key, revision: rev, createRevision: Number(e.prev_kv?.create_revision ?? 0), value: last, prevValue: last, prevRevision: prevRev };
    }
    const create = Number(e.kv.create_revision);
    const value = withRevision(unb64(e.kv.value), rev);
    const ev: StorageEvent = { type: create === rev ? 'create' : 'update', key, revision: rev, createRevision: create, value };
    if (e.prev_kv) {
      ev.prevRevision = Number(e.prev_kv.mod_revision);
      ev.prevValue = withRevision(unb64(e.prev_kv.value), ev.prevRevision);
    }
    return ev;
  }

  private publish(events: StorageEvent[]): void {
    this.batches++;
    this.writes += events.length;
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        this.log?.error({ err }, 'storage subscriber failed');
      }
    }
    this.advance(events[events.length - 1]!.revision);
  }

  private advance(rev: number): void {
    if (rev <= this.revision) return;
    this.revision = rev;
    for (const [r, ws] of this.waiters) {
      if (r <= rev) {
        this.waiters.delete(r);
        for (const w of ws) w();
      }
    }
  }

  /** Resolves once the watch has delivered `rev` to subscribers. */
  private seen(rev: number): Promise<void> {
    if (rev <= this.revision) return Promise.resolve();
    return new Promise((resolve) => {
      const ws = this.waiters.get(rev) ?? [];
      ws.push(resolve);
      this.waiters.set(rev, ws);
    });
  }

  /** Runs one write; close() waits for the writes in flight before it stops the watch. */
  private async write<T>(op: () => Promise<T>): Promise<T> {
    if (this.closing) throw new StorageError('Closed', 'storage is closed');
    const p = op();
    this.inflight.add(p);
    try {
      return await p;
    } finally {
      this.inflight.delete(p);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return this.closeDone;
    this.closing = true;
    this.closeDone = this.finishClose();
    return this.closeDone;
  }

  private closeDone: Promise<void> = Promise.resolve();

  private async finishClose(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    this.closed = true;
    this.watchAbort.abort();
    await this.agent.close();
    await this.watchAgent.destroy();
  }

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  stats(): StorageStats {
    return { batches: this.batches, writes: this.writes };
  }

  subscribe(listener: (events: readonly StorageEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private kvOf(kv: EtcdKv): KeyValue {
    const mod = Number(kv.mod_revision);
    return { key: unb64(kv.key), value: withRevision(unb64(kv.value), mod), modRevision: mod, createRevision: Number(kv.create_revision) };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.call<{ kvs?: EtcdKv[] }>('/v3/kv/range', { key: b64(key) });
    return r.kvs?.[0] ? this.kvOf(r.kvs[0]) : undefined;
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<{ items: KeyValue[]; revision: number; more: boolean }> {
    const from = options.startAfter !== undefined ? `${options.startAfter}\u0000` : prefix;
    const body: Record<string, unknown> = { key: b64(from), range_end: prefixEnd(prefix) };
    if (options.limit !== undefined) body['limit'] = String(options.limit);
    const r = await this.call<{ header: { revision: string }; kvs?: EtcdKv[]; more?: boolean }>('/v3/kv/range', body);
    return { items: (r.kvs ?? []).map((kv) => this.kvOf(kv)), revision: Number(r.header.revision), more: r.more === true };
  }

  private encode(value: string | ValueEncoder): string {
    return typeof value === 'string' ? value : value(0);
  }

  create(key: string, value: string | ValueEncoder): Promise<KeyValue> {
    return this.write(() => this.doCreate(key, value));
  }

  private async doCreate(key: string, value: string | ValueEncoder): Promise<KeyValue> {
    const v = this.encode(value);
    const r = await this.call<{ header: { revision: string }; succeeded?: boolean; responses?: { response_range?: { kvs?: EtcdKv[] } }[] }>('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(v) } }],
      failure: [{ request_range: { key: b64(key) } }],
    });
    if (!r.succeeded) {
      const cur = r.responses?.[0]?.response_range?.kvs?.[0];
      throw new StorageError('KeyExists', `key ${key} exists`, cur ? this.kvOf(cur) : undefined);
    }
    const rev = Number(r.header.revision);
    await this.seen(rev);
    return { key, value: withRevision(v, rev), modRevision: rev, createRevision: rev };
  }

  update(key: string, value: string | ValueEncoder, expectedModRevision: number): Promise<KeyValue> {
    return this.write(() => this.doUpdate(key, value, expectedModRevision));
  }

  private async doUpdate(key: string, value: string | ValueEncoder, expectedModRevision: number): Promise<KeyValue> {
    const v = this.encode(value);
    const r = await this.call<{ header: { revision: string }; succeeded?: boolean; responses?: { response_range?: { kvs?: EtcdKv[] } }[] }>('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'MOD', mod_revision: String(expectedModRevision), result: 'EQUAL' }],
      success: [{ request_put: { key: b64(key), value: b64(v), prev_kv: true } }],
      failure: [{ request_range: { key: b64(key) } }],
    });
    if (!r.succeeded) {
      const cur = r.responses?.[0]?.response_range?.kvs?.[0];
      if (!cur) throw new StorageError('NotFound', `key ${key} not found`);
      throw new StorageError('Conflict', `key ${key} changed`, this.kvOf(cur));
    }
    const rev = Number(r.header.revision);
    await this.seen(rev);
    const cur = await this.get(key);
    return { key, value: withRevision(v, rev), modRevision: rev, createRevision: cur?.createRevision ?? rev };
  }

  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    return this.write(() => this.doDelete(key, expectedModRevision));
  }

  private async doDelete(key: string, expectedModRevision?: number): Promise<{ revision: number; prev: KeyValue }> {
    const compare = expectedModRevision === undefined ? [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'GREATER' }] : [{ key: b64(key), target: 'MOD', mod_revision: String(expectedModRevision), result: 'EQUAL' }];
    const r = await this.call<{ header: { revision: string }; succeeded?: boolean; responses?: { response_delete_range?: { prev_kvs?: EtcdKv[] }; response_range?: { kvs?: EtcdKv[] } }[] }>('/v3/kv/txn', {
      compare,
      success: [{ request_delete_range: { key: b64(key), prev_kv: true } }],
      failure: [{ request_range: { key: b64(key) } }],
    });
    if (!r.succeeded) {
      const cur = r.responses?.[0]?.response_range?.kvs?.[0];
      if (!cur) throw new StorageError('NotFound', `key ${key} not found`);
      throw new StorageError('Conflict', `key ${key} changed`, this.kvOf(cur));
    }
    const prev = r.responses?.[0]?.response_delete_range?.prev_kvs?.[0];
    if (!prev) throw new StorageError('NotFound', `key ${key} not found`);
    const rev = Number(r.header.revision);
    await this.seen(rev);
    return { revision: rev, prev: this.kvOf(prev) };
  }

  async history(after: number, options: { prefix?: string; limit?: number } = {}): Promise<StorageEvent[]> {
    if (this.closed) throw new StorageError('Closed', 'storage is closed');
    if (after < this.compacted) throw new StorageError('Compacted', `revision ${after} is compacted (compacted revision ${this.compacted})`);
    const upTo = this.revision;
    if (after >= upTo) return [];
    const prefix = options.prefix ?? this.prefix;
    const abort = new AbortController();
    const out: StorageEvent[] = [];
    try {
      const r = await request(`${this.endpoint}/v3/watch`, {
        method: 'POST',
        dispatcher: this.watchAgent,
        signal: abort.signal,
        // Every key, filtered here: the revision `upTo` belongs to some key, so the stream is known to reach it.
        body: JSON.stringify({ create_request: { key: b64('\u0000'), range_end: b64('\u0000'), start_revision: String(after + 1), prev_kv: true } }),
      });
      // The watch only reports events; stop once the history reaches the revision of the call.
      const deadline = setTimeout(() => abort.abort(), 10_000);
      try {
        for await (const res of watchResults(r.body)) {
          if (res.compact_revision && Number(res.compact_revision) > 0) throw new StorageError('Compacted', `revision ${after} is compacted (compacted revision ${res.compact_revision})`);
          let reached = false;
          for (const e of res.events ?? []) {
            const ev = this.toEvent(e);
            if (ev.revision >= upTo) reached = true;
            if (ev.revision > upTo || !ev.key.startsWith(prefix)) continue;
            out.push(ev);
            if (options.limit !== undefined && out.length >= options.limit) return out;
          }
          if (reached) return out;
        }
      } finally {
        clearTimeout(deadline);
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (abort.signal.aborted) return out;
      throw new StorageError('Unavailable', 'etcd history read failed', undefined, { cause: err });
    } finally {
      abort.abort();
    }
    return out;
  }

  async compact(revision: number): Promise<void> {
    if (revision <= this.compacted) return;
    try {
      await this.call('/v3/kv/compaction', { revision: String(revision), physical: false });
    } catch (err) {
      if (!(err instanceof StorageError && err.code === 'Compacted')) throw err;
    }
    this.compacted = revision;
  }
}
