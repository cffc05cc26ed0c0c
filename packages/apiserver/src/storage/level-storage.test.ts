import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { LevelStorage, type LevelDatabase } from './level-storage.js';
import { StorageError, type Storage, type StorageEvent } from './storage.js';

interface Harness {
  open(): Promise<Storage>;
  /** Closes and reopens the same database. */
  reopen(s: Storage): Promise<Storage>;
  cleanup(): Promise<void>;
}

function memoryHarness(): Harness {
  // memory-level keeps data across close/open of the same instance.
  const db = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as LevelDatabase;
  return {
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
    afterEach(async () => {
      await s?.close().catch(() => undefined);
      await h?.cleanup();
    });
    const setup = async () => {
      h = makeHarness();
      s = await h.open();
      return s;
    };

    it('creates, gets, updates and deletes with revisions', async () => {
      await setup();
      expect(s.currentRevision()).toBe(0);
      const a = await s.create('/a', 'A1');
      expect(a).toEqual({ key: '/a', value: 'A1', modRevision: 1, createRevision: 1 });
      const b = await s.update('/a', 'A2', 1);
      expect(b).toEqual({ key: '/a', value: 'A2', modRevision: 2, createRevision: 1 });
      expect(await s.get('/a')).toEqual(b);
      const d = await s.delete('/a', 2);
      expect(d).toEqual({ revision: 3, prev: b });
      expect(await s.get('/a')).toBeUndefined();
      expect(s.currentRevision()).toBe(3);
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
      expect((err as StorageError).current).toMatchObject({ key: '/k', value: 'v', modRevision: 1 });
      expect(s.currentRevision()).toBe(1);
    });

    it('calls value encoders once with the assigned revision', async () => {
      await setup();
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
      expect(all.revision).toBe(5);
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
      await s.update('/h/a', 'a2', 1);
      await s.delete('/h/a');
      const h1 = await s.history(0, { prefix: '/h/' });
      expect(h1.map((e) => [e.type, e.revision, e.value, e.prevValue])).toEqual([
        ['create', 1, 'a1', undefined],
        ['update', 3, 'a2', 'a1'],
        ['delete', 4, 'a2', 'a2'],
      ]);
      expect((await s.history(2)).map((e) => e.revision)).toEqual([3, 4]);
      expect((await s.history(0, { limit: 2 })).map((e) => e.revision)).toEqual([1, 2]);
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
      expect([...revs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      // Group commit: far fewer synced batches than writes.
      expect(s.stats().writes).toBe(200);
      expect(s.stats().batches).toBeLessThan(50);
    });

    it('checks preconditions against earlier writes of the same batch', async () => {
      await setup();
      await s.create('/g', 'v1');
      const [u1, u2, c] = await Promise.allSettled([s.update('/g', 'v2', 1), s.update('/g', 'v3', 1), s.create('/g', 'again')]);
      expect(u1.status).toBe('fulfilled');
      expect(u2.status).toBe('rejected');
      expect(c.status).toBe('rejected');
      expect((await s.get('/g'))!.value).toBe('v2');
    });

    it('restores everything after reopening', async () => {
      await setup();
      await s.create('/r/a', 'a');
      await s.create('/r/b', 'b');
      await s.update('/r/a', 'a2', 1);
      await s.delete('/r/b');
      s = await h.reopen(s);
      expect(s.currentRevision()).toBe(4);
      expect((await s.list('/r/')).items.map((i) => [i.key, i.value, i.modRevision])).toEqual([['/r/a', 'a2', 3]]);
      expect((await s.history(0)).map((e) => e.type)).toEqual(['create', 'create', 'update', 'delete']);
      expect((await s.create('/r/c', 'c')).modRevision).toBe(5);
    });

    it('compacts superseded history but keeps live values and later events', async () => {
      await setup();
      await s.create('/z/a', 'a1'); // 1
      await s.update('/z/a', 'a2', 1); // 2
      await s.create('/z/b', 'b1'); // 3
      await s.delete('/z/b'); // 4
      await s.update('/z/a', 'a3', 2); // 5
      await s.compact(4);
      expect(s.compactedRevision()).toBe(4);
      expect(await codeOf(s.history(3))).toBe('Compacted');
      const after = await s.history(4);
      expect(after.map((e) => [e.type, e.revision, e.prevValue])).toEqual([['update', 5, 'a2']]);
      expect((await s.get('/z/a'))!.value).toBe('a3');
      s = await h.reopen(s);
      expect(s.compactedRevision()).toBe(4);
      expect((await s.list('/z/')).items.map((i) => i.value)).toEqual(['a3']);
      const events: StorageEvent[] = [];
      s.subscribe((e) => events.push(...e));
      await s.update('/z/a', 'a4', 5);
      expect(events[0]).toMatchObject({ type: 'update', prevValue: 'a3', prevRevision: 5 });
    });

    it('refuses use after close', async () => {
      await setup();
      await s.close();
      expect(await codeOf(s.create('/x', 'y'))).toBe('Closed');
    });
  });
}

contract('memory-level', memoryHarness);
contract('classic-level on disk', diskHarness);
