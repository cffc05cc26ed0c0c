import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { EtcdStorage } from './etcd-storage.js';
import { LevelStorage, type LevelDatabase, type LevelReadOptions, type LevelSnapshot, type LevelWrite } from './level-storage.js';
import { StorageError, type Storage, type StorageEvent } from './storage.js';

/** Maps a test's keys under a private prefix of a shared store (etcd runs once for all tests). */
class PrefixedStorage implements Storage {
  constructor(private readonly s: Storage, private readonly p: string) {}
  private strip<T extends { key: string }>(x: T): T {
    return { ...x, key: x.key.slice(this.p.length) };
  }
  open() { return this.s.open(); }
  close() { return this.s.close(); }
  currentRevision() { return this.s.currentRevision(); }
  compactedRevision() { return this.s.compactedRevision(); }
  async get(k: string) { const r = await this.s.get(this.p + k); return r && this.strip(r); }
  async list(prefix: string, o?: { startAfter?: string; limit?: number }) {
    const r = await this.s.list(this.p + prefix, { ...o, ...(o?.startAfter !== undefined ? { startAfter: this.p + o.startAfter } : {}) });
    return { ...r, items: r.items.map((i) => this.strip(i)) };
  }
  private async unprefixErrors<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof StorageError && err.current) throw new StorageError(err.code, err.message, this.strip(err.current));
      throw err;
    }
  }
  async create(k: string, v: Parameters<Storage['create']>[1]) { return this.strip(await this.unprefixErrors(this.s.create(this.p + k, v))); }
  async update(k: string, v: Parameters<Storage['update']>[1], e: number) { return this.strip(await this.unprefixErrors(this.s.update(this.p + k, v, e))); }
  async delete(k: string, e?: number) { const r = await this.unprefixErrors(this.s.delete(this.p + k, e)); return { ...r, prev: this.strip(r.prev) }; }
  async history(after: number, o?: { prefix?: string; limit?: number }) { return (await this.s.history(after, { ...o, prefix: this.p + (o?.prefix ?? '') })).map((e) => this.strip(e)); }
  subscribe(l: (e: readonly StorageEvent[]) => void) { return this.s.subscribe((es) => l(es.filter((e) => e.key.startsWith(this.p)).map((e) => this.strip(e)))); }
  compact(r: number) { return this.s.compact(r); }
  stats() { return this.s.stats(); }
}

interface Harness {
  /** LevelStorage passes the final revision to value encoders and groups writes into batches. */
  embedded: boolean;
  open(): Promise<Storage>;
  /** Closes and reopens the same database. */
  reopen(s: Storage): Promise<Storage>;
  cleanup(): Promise<void>;
}

function memoryHarness(): Harness {
  // memory-level keeps data across close/open of the same instance.
  const db = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as LevelDatabase;
  return {
    embedded: true,
    open: async () => {
      const s = new LevelStorage({ db });
      await s.open();
      return s;
    },
    reopen: async (s) => {
      await s.close();
      const n = new LevelStorage({ db });
      await n.open();
      return n;
    },
    cleanup: async () => {},
  };
}

function diskHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-storage-'));
  const make = async () => {
    const s = new LevelStorage({ db: new ClassicLevel<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as LevelDatabase });
    await s.open();
    return s;
  };
  return {
    embedded: true,
    open: make,
    reopen: async (s) => {
      await s.close();
      return make();
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof StorageError ? err.code : `unexpected: ${String(err)}`;
  }
}

function contract(name: string, makeHarness: () => Harness): void {
  describe(`Storage contract on ${name}`, () => {
    let h: Harness;
    let s: Storage;
    /** The revision before the test's first write (etcd may not start at 0). */
    let r0 = 0;
    afterEach(async () => {
      await s?.close().catch(() => undefined);
      await h?.cleanup();
    });
    const setup = async () => {
      h = makeHarness();
      s = await h.open();
      r0 = s.currentRevision();
      return s;
    };

    it('creates, gets, updates and deletes with revisions', async () => {
      await setup();
      const a = await s.create('/a', 'A1');
      expect(a).toEqual({ key: '/a', value: 'A1', modRevision: r0 + 1, createRevision: r0 + 1 });
      const b = await s.update('/a', 'A2', r0 + 1);
      expect(b).toEqual({ key: '/a', value: 'A2', modRevision: r0 + 2, createRevision: r0 + 1 });
      expect(await s.get('/a')).toEqual(b);
      const d = await s.delete('/a', r0 + 2);
      expect(d).toEqual({ revision: r0 + 3, prev: b });
      expect(await s.get('/a')).toBeUndefined();
      expect(s.currentRevision()).toBe(r0 + 3);
    });

    it('enforces preconditions with coded errors', async () => {
      await setup();
      await s.create('/k', 'v');
      expect(await codeOf(s.create('/k', 'x'))).toBe('KeyExists');
      expect(await codeOf(s.update('/k', 'x', 99))).toBe('Conflict');
      expect(await codeOf(s.update('/missing', 'x', 1))).toBe('NotFound');
      expect(await codeOf(s.delete('/k', 99))).toBe('Conflict');
      expect(await codeOf(s.delete('/missing'))).toBe('NotFound');
      const err = await s.update('/k', 'x', 99).catch((e: StorageError) => e);
      expect((err as StorageError).current).toMatchObject({ key: '/k', value: 'v', modRevision: r0 + 1 });
      expect(s.currentRevision()).toBe(r0 + 1);
    });

    it('calls value encoders once with the assigned revision', async () => {
      await setup();
      if (!h.embedded) return;
      const seen: number[] = [];
      const kv = await s.create('/e', (rev) => {
        seen.push(rev);
        return `rev=${rev}`;
      });
      expect(kv.value).toBe('rev=1');
      await expect(s.create('/e', (rev) => `never ${rev}`)).rejects.toThrow();
      expect(seen).toEqual([1]);
    });

    it('lists by prefix in key order, paginated', async () => {
      await setup();
      for (const k of ['/p/c', '/p/a', '/q/x', '/p/b', '/pz']) await s.create(k, k);
      const all = await s.list('/p/');
      expect(all.items.map((i) => i.key)).toEqual(['/p/a', '/p/b', '/p/c']);
      expect(all.revision).toBe(r0 + 5);
      const page = await s.list('/p/', { limit: 2 });
      expect(page.items.map((i) => i.key)).toEqual(['/p/a', '/p/b']);
      expect(page.more).toBe(true);
      const rest = await s.list('/p/', { startAfter: '/p/b', limit: 2 });
      expect(rest.items.map((i) => i.key)).toEqual(['/p/c']);
      expect(rest.more).toBe(false);
    });

    it('replays history by revision, with previous values, prefix and limit', async () => {
      await setup();
      await s.create('/h/a', 'a1');
      await s.create('/x/b', 'b1');
      await s.update('/h/a', 'a2', r0 + 1);
      await s.delete('/h/a');
      const h1 = await s.history(r0, { prefix: '/h/' });
      expect(h1.map((e) => [e.type, e.revision - r0, e.value, e.prevValue])).toEqual([
        ['create', 1, 'a1', undefined],
        ['update', 3, 'a2', 'a1'],
        ['delete', 4, 'a2', 'a2'],
      ]);
      expect((await s.history(r0 + 2)).map((e) => e.revision - r0)).toEqual([3, 4]);
      expect((await s.history(r0, { limit: 2 })).map((e) => e.revision - r0)).toEqual([1, 2]);
    });

    it('delivers each batch to subscribers in order before writers resolve', async () => {
      await setup();
      const seen: number[] = [];
      s.subscribe((events) => seen.push(...events.map((e) => e.revision)));
      const writes = Array.from({ length: 200 }, (_, i) =>
        s.create(`/c/${i}`, `v${i}`).then((kv) => {
          // The subscriber already saw this revision when the writer resolves.
          expect(seen).toContain(kv.modRevision);
          return kv.modRevision;
        }),
      );
      const revs = await Promise.all(writes);
      expect([...revs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => r0 + i + 1));
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => r0 + i + 1));
      expect(s.stats().writes).toBe(200);
      // Group commit: far fewer synced batches than writes.
      if (h.embedded) expect(s.stats().batches).toBeLessThan(50);
    });

    it('checks preconditions against earlier writes of the same batch', async () => {
      await setup();
      await s.create('/g', 'v1');
      const [u1, u2, c] = await Promise.allSettled([s.update('/g', 'v2', r0 + 1), s.update('/g', 'v3', r0 + 1), s.create('/g', 'again')]);
      // Exactly one of two updates against the same revision wins (in a batch: the first queued).
      expect([u1.status, u2.status].sort()).toEqual(['fulfilled', 'rejected']);
      if (h.embedded) expect(u1.status).toBe('fulfilled');
      expect(c.status).toBe('rejected');
      expect((await s.get('/g'))!.value).toBe(u1.status === 'fulfilled' ? 'v2' : 'v3');
    });

    it('restores everything after reopening', async () => {
      await setup();
      await s.create('/r/a', 'a');
      await s.create('/r/b', 'b');
      await s.update('/r/a', 'a2', r0 + 1);
      await s.delete('/r/b');
      s = await h.reopen(s);
      expect(s.currentRevision()).toBe(r0 + 4);
      expect((await s.list('/r/')).items.map((i) => [i.key, i.value, i.modRevision - r0])).toEqual([['/r/a', 'a2', 3]]);
      expect((await s.history(r0)).map((e) => e.type)).toEqual(['create', 'create', 'update', 'delete']);
      const exists = await s.create('/r/a', 'again').catch((e: unknown) => e);
      expect(exists).toBeInstanceOf(StorageError);
      expect((exists as StorageError).current).toMatchObject({ key: '/r/a', value: 'a2', modRevision: r0 + 3 });
      expect((await s.create('/r/c', 'c')).modRevision).toBe(r0 + 5);
    });

    it('compacts superseded history but keeps live values and later events', async () => {
      await setup();
      await s.create('/z/a', 'a1'); // 1
      await s.update('/z/a', 'a2', r0 + 1); // 2
      await s.create('/z/b', 'b1'); // 3
      await s.delete('/z/b'); // 4
      await s.update('/z/a', 'a3', r0 + 2); // 5
      await s.compact(r0 + 4);
      expect(s.compactedRevision()).toBe(r0 + 4);
      expect(await codeOf(s.history(r0 + 3))).toBe('Compacted');
      const after = await s.history(r0 + 4);
      expect(after.map((e) => [e.type, e.revision - r0, e.prevValue])).toEqual([['update', 5, 'a2']]);
      expect((await s.get('/z/a'))!.value).toBe('a3');
      s = await h.reopen(s);
      if (h.embedded) expect(s.compactedRevision()).toBe(r0 + 4);
      expect((await s.list('/z/')).items.map((i) => i.value)).toEqual(['a3']);
      const events: StorageEvent[] = [];
      s.subscribe((e) => events.push(...e));
      await s.update('/z/a', 'a4', r0 + 5);
      expect(events[0]).toMatchObject({ type: 'update', prevValue: 'a3', prevRevision: r0 + 5 });
    });

    it('lists from one snapshot while writes continue', async () => {
      await setup();
      await Promise.all(Array.from({ length: 300 }, (_, i) => s.create(`/s/${String(i).padStart(3, '0')}`, 'v0')));
      const all = await s.list('/s/');
      // Ten writers update (and some delete) their keys one after another: many batches.
      const writers = Array.from({ length: 10 }, async (_, w) => {
        for (const kv of all.items.filter((_, i) => i % 10 === w)) {
          const u = await s.update(kv.key, 'v1', kv.modRevision);
          if (Number(kv.key.slice(3)) % 7 === 0) await s.delete(kv.key, u.modRevision);
        }
      });
      // Start the list from inside a commit, while the writers are mid-way.
      let listing: ReturnType<Storage['list']> | undefined;
      const unsubscribe = s.subscribe(() => {
        if (!listing && s.currentRevision() >= r0 + 350) listing = s.list('/s/');
      });
      await Promise.all(writers);
      unsubscribe();
      const listed = await listing!;
      expect(listed.revision).toBeGreaterThan(r0 + 300);
      expect(listed.revision).toBeLessThan(s.currentRevision());
      // The listed state is exactly the history replayed up to the listed revision.
      const replayed = new Map<string, { value: string; modRevision: number }>();
      for (const e of await s.history(r0, { prefix: '/s/' })) {
        if (e.revision > listed.revision) break;
        if (e.type === 'delete') replayed.delete(e.key);
        else replayed.set(e.key, { value: e.value, modRevision: e.revision });
      }
      expect(new Map(listed.items.map((i) => [i.key, { value: i.value, modRevision: i.modRevision }]))).toEqual(replayed);
      expect(listed.items.map((i) => i.key)).toEqual([...replayed.keys()].sort());
    });

    it('flushes queued writes on close', async () => {
      await setup();
      const writes = Array.from({ length: 50 }, (_, i) => s.create(`/f/${i}`, `v${i}`));
      await s.close();
      expect((await Promise.allSettled(writes)).map((r) => r.status)).toEqual(writes.map(() => 'fulfilled'));
      s = await h.reopen(s);
      expect((await s.list('/f/')).items).toHaveLength(50);
    });

    it('refuses use after close', async () => {
      await setup();
      await s.close();
      expect(await codeOf(s.create('/x', 'y'))).toBe('Closed');
    });
  });
}

/** A throwaway etcd (Debian's etcd-server) on loopback, when installed. */
function findEtcd(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const etcdBinary = findEtcd();
let etcdServer: { url: string; stop(): void } | undefined;

function etcdHarness(): Harness {
  // Each test gets its own key prefix on the shared etcd, so revisions are relative.
  const prefix = `/t${Math.random().toString(36).slice(2)}`;
  const make = async () => {
    const s = new EtcdStorage({ endpoints: [etcdServer!.url], prefix: `${prefix}/` });
    await s.open();
    return new PrefixedStorage(s, prefix);
  };
  return {
    embedded: false,
    open: make,
    reopen: async (s) => {
      await s.close();
      return make();
    },
    cleanup: async () => {},
  };
}

contract('memory-level', memoryHarness);
contract('classic-level on disk', diskHarness);
if (etcdBinary) {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-etcd-'));
    const port = 24000 + Math.floor(Math.random() * 2000);
    const child = spawn(etcdBinary, ['--data-dir', dir, '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-cluster', `default=http://127.0.0.1:${port + 1}`, '--log-level', 'error'], { stdio: 'ignore' });
    etcdServer = { url: `http://127.0.0.1:${port}`, stop: () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); } };
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`${etcdServer.url}/health`);
        if (r.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('etcd did not start');
  });
  afterAll(() => etcdServer?.stop());
  contract('etcd', etcdHarness);
} else {
  describe('Storage contract on etcd', () => {
    it.skip('needs etcd (apt-get install etcd-server)', () => {});
  });
}

/** A memory-level database whose batches can be held back or made to fail. */
class ControlledDb implements LevelDatabase {
  readonly inner = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as LevelDatabase;
  /** When set, batches wait for this promise after being applied (as if the sync were slow). */
  hold: Promise<void> | undefined;
  /** When it returns true for a batch, the batch fails without being applied. */
  failIf: ((ops: LevelWrite[], options?: { sync?: boolean }) => boolean) | undefined;
  open() { return this.inner.open(); }
  close() { return this.inner.close(); }
  snapshot() { return this.inner.snapshot(); }
  getMany(keys: string[], options?: { snapshot?: LevelSnapshot }) { return this.inner.getMany(keys, options); }
  iterator(options: LevelReadOptions) { return this.inner.iterator(options); }
  async batch(ops: LevelWrite[], options?: { sync?: boolean }) {
    if (this.failIf?.(ops, options)) throw new Error('injected write failure');
    await this.inner.batch(ops, options);
    if (this.hold) await this.hold;
  }
  /** Revisions of the log records present. */
  async logRevisions(): Promise<number[]> {
    const it = this.inner.iterator({ gte: 'e/', lt: 'e0' });
    const entries = await it.nextv(100_000);
    await it.close();
    return entries.map(([k]) => parseInt(k.slice(2), 16));
  }
}

describe('LevelStorage', () => {
  it('puts the writes of one event-loop turn, the first included, in one synced batch', async () => {
    const s = new LevelStorage({ db: new ControlledDb() });
    await s.open();
    const batches: number[][] = [];
    s.subscribe((events) => batches.push(events.map((e) => e.revision)));
    // Writes issued in separate callbacks of one turn, as requests read from several sockets are.
    const writes = await new Promise<Promise<unknown>[]>((resolve) => {
      const out: Promise<unknown>[] = [];
      for (let i = 0; i < 5; i++) queueMicrotask(() => out.push(s.create(`/t/${i}`, `v${i}`)));
      queueMicrotask(() => resolve(out));
    });
    await Promise.all(writes);
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
    // A later turn gets its own batch.
    await s.create('/t/5', 'v5');
    expect(batches).toEqual([[1, 2, 3, 4, 5], [6]]);
    expect(s.stats().batches).toBe(2);
    await s.close();
  });

  it('fails only the write whose encoder throws', async () => {
    const s = new LevelStorage({ db: new ControlledDb() });
    await s.open();
    const results = await Promise.allSettled([
      s.create('/a', (rev) => `a@${rev}`),
      s.create('/b', () => {
        throw new Error('cannot encode');
      }),
      s.create('/c', (rev) => `c@${rev}`),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'cannot encode' });
    expect((await s.list('/')).items.map((i) => i.value)).toEqual(['a@1', 'c@2']);
    expect(s.currentRevision()).toBe(2);
    await s.close();
  });

  it('rejects every writer of a failed batch and leaves the state as it was', async () => {
    const db = new ControlledDb();
    const s = new LevelStorage({ db });
    await s.open();
    await s.create('/a', 'a1');
    const events: StorageEvent[] = [];
    s.subscribe((e) => events.push(...e));
    db.failIf = () => true;
    const failed = await Promise.allSettled([s.update('/a', 'a2', 1), s.create('/b', 'b1')]);
    expect(failed.map((r) => r.status === 'rejected' && (r.reason as StorageError).code)).toEqual(['Unavailable', 'Unavailable']);
    expect(events).toEqual([]);
    expect(s.currentRevision()).toBe(1);
    expect(await s.get('/a')).toMatchObject({ value: 'a1', modRevision: 1 });
    expect(await s.get('/b')).toBeUndefined();
    db.failIf = undefined;
    // The revisions of the failed batch are handed out again.
    expect(await s.update('/a', 'a2', 1)).toMatchObject({ modRevision: 2 });
    expect((await s.history(0)).map((e) => [e.type, e.revision])).toEqual([['create', 1], ['update', 2]]);
    await s.close();
  });

  it('never lists at a revision ahead of currentRevision()', async () => {
    const db = new ControlledDb();
    const s = new LevelStorage({ db });
    await s.open();
    let release!: () => void;
    db.hold = new Promise((r) => (release = r));
    const write = s.create('/a', 'a');
    await new Promise((r) => setTimeout(r, 5));
    // The batch is in the database but not yet published.
    expect(s.currentRevision()).toBe(0);
    let listedAt: { revision: number; current: number } | undefined;
    const listing = s.list('/').then((r) => (listedAt = { revision: r.revision, current: s.currentRevision() }));
    await new Promise((r) => setTimeout(r, 5));
    expect(listedAt).toBeUndefined();
    release();
    await Promise.all([write, listing]);
    expect(listedAt).toEqual({ revision: 1, current: 1 });
    await s.close();
  });

  it('drops superseded log records and keeps what history after the compacted revision needs', async () => {
    const db = new ControlledDb();
    const s = new LevelStorage({ db });
    await s.open();
    await s.create('/a', 'a1'); // 1
    await s.update('/a', 'a2', 1); // 2
    await s.create('/b', 'b1'); // 3
    await s.delete('/b'); // 4
    await s.update('/a', 'a3', 2); // 5
    await s.create('/c', 'c1'); // 6
    await s.compact(4);
    // 2 stays: it is the previous value of 5, which is after the compacted revision.
    expect(await db.logRevisions()).toEqual([2, 5, 6]);
    await s.compact(6);
    expect(await db.logRevisions()).toEqual([5, 6]);
    expect((await s.list('/')).items.map((i) => i.value)).toEqual(['a3', 'c1']);
    expect(await s.history(6)).toEqual([]);
    await s.close();
  });

  it('finishes an interrupted compaction when it opens', async () => {
    const db = new ControlledDb();
    let s = new LevelStorage({ db });
    await s.open();
    for (let i = 1; i <= 10; i++) await s.create(`/k${i}`, 'v');
    for (let i = 1; i <= 10; i++) await s.update(`/k${i}`, 'w', i);
    // The compacted revision is recorded, then deleting records fails.
    db.failIf = (ops) => ops.some((o) => o.type === 'del');
    await expect(s.compact(20)).rejects.toThrow('injected');
    await s.close();
    await db.open();
    expect((await db.logRevisions()).length).toBe(20);
    db.failIf = undefined;
    s = new LevelStorage({ db });
    await s.open();
    expect(s.compactedRevision()).toBe(20);
    await s.compact(20); // queued behind the resumed compaction
    expect(await db.logRevisions()).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(await db.getMany(['m/compacting-from'])).toEqual([undefined]);
    expect((await s.list('/')).items.map((i) => i.value)).toEqual(Array(10).fill('w'));
    await s.close();
  });

  it('reads log records of the first format (one JSON object)', async () => {
    const db = new ControlledDb();
    await db.open();
    await db.batch([
      { type: 'put', key: `e/${(1).toString(16).padStart(16, '0')}`, value: JSON.stringify({ t: 'c', k: '/old', v: '{"a":1}', cr: 1 }) },
      { type: 'put', key: 'k//old', value: JSON.stringify({ m: 1, c: 1 }) },
      { type: 'put', key: 'm/revision', value: '1' },
    ]);
    const s = new LevelStorage({ db });
    await s.open();
    expect(await s.get('/old')).toEqual({ key: '/old', value: '{"a":1}', modRevision: 1, createRevision: 1 });
    await s.update('/old', '{"a":2}', 1);
    const [created, updated] = await s.history(0);
    expect(created).toMatchObject({ type: 'create', value: '{"a":1}' });
    expect(updated).toMatchObject({ type: 'update', value: '{"a":2}', prevValue: '{"a":1}', prevRevision: 1 });
    await s.close();
  });

  it('keeps delivering to other subscribers when one throws', async () => {
    const s = new LevelStorage({ db: new ControlledDb() });
    await s.open();
    const seen: number[] = [];
    s.subscribe(() => {
      throw new Error('bad subscriber');
    });
    s.subscribe((e) => seen.push(...e.map((x) => x.revision)));
    await s.create('/a', 'a');
    expect(seen).toEqual([1]);
    await s.close();
  });

  it("hands subscribers the object an encoder carries as the event's source", async () => {
    const s = new LevelStorage({ db: new ControlledDb() });
    await s.open();
    const events: StorageEvent[] = [];
    s.subscribe((e) => events.push(...e));
    const object = { name: 'a' };
    await s.create('/a', Object.assign((rev: number) => `{"name":"a","rv":${rev}}`, { source: object }));
    await s.update('/a', 'plain', 1);
    await s.delete('/a');
    expect(events.map((e) => [e.type, e.source])).toEqual([
      ['create', object],
      ['update', undefined],
      ['delete', undefined],
    ]);
    await s.close();
  });
});
