import { describe, expect, it } from 'vitest';
import { parseFieldSelector, parseLabelSelector } from '@flotilla/api';
import { CacheEvent, ResourceCache, type CachedObject, type Delivery, type WatchSink } from './resource-cache.js';

const PREFIX = '/registry/core/pods/';

function indexer(json: string, revision: number): CachedObject {
  const o = JSON.parse(json) as { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec?: { nodeName?: string } };
  return {
    id: `${o.metadata.namespace}/${o.metadata.name}`,
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    json,
    revision,
    labels: o.metadata.labels,
    fields: { 'metadata.name': o.metadata.name, 'metadata.namespace': o.metadata.namespace, 'spec.nodeName': o.spec?.nodeName ?? '' },
  };
}

function podJson(ns: string, name: string, rv: number, labels: Record<string, string> = {}, nodeName = ''): string {
  return JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: ns, resourceVersion: String(rv), labels }, spec: { nodeName } });
}

class RecordingSink implements WatchSink {
  events: { type: string; name: string; rv: number }[] = [];
  bookmarks: number[] = [];
  closed = false;
  deliver(ds: readonly Delivery[]): void {
    for (const d of ds) {
      const o = JSON.parse(d.event.jsonFor(d.type)) as { metadata: { name: string; resourceVersion: string } };
      this.events.push({ type: d.type, name: o.metadata.name, rv: Number(o.metadata.resourceVersion) });
    }
  }
  bookmark(revision: number): void {
    this.bookmarks.push(revision);
  }
  close(): void {
    this.closed = true;
  }
}

const flush = () => new Promise<void>((r) => queueMicrotask(r));

function seeded(): { cache: ResourceCache; rev: number } {
  const cache = new ResourceCache(PREFIX, indexer, 'spec.nodeName', 0, 100);
  let rev = 0;
  for (const [ns, name] of [['b', 'p2'], ['a', 'p3'], ['a', 'p1'], ['c', 'p1'], ['a', 'p2']] as const) {
    rev++;
    cache.apply('create', `${PREFIX}${ns}/${name}`, podJson(ns, name, rev, { app: name }), rev);
  }
  return { cache, rev };
}

describe('ResourceCache lists', () => {
  it('returns objects in namespace/name order, optionally within one namespace', () => {
    const { cache, rev } = seeded();
    expect(cache.list({}, rev).items.map((o) => o.id)).toEqual(['a/p1', 'a/p2', 'a/p3', 'b/p2', 'c/p1']);
    expect(cache.list({ namespace: 'a' }, rev).items.map((o) => o.id)).toEqual(['a/p1', 'a/p2', 'a/p3']);
    expect(cache.list({ namespace: 'b' }, rev).items.map((o) => o.id)).toEqual(['b/p2']);
    expect(cache.list({ namespace: 'zz' }, rev).items).toEqual([]);
  });

  it('paginates with limit and continue, counting what remains', () => {
    const { cache, rev } = seeded();
    const first = cache.list({}, rev, 2);
    expect(first.items.map((o) => o.id)).toEqual(['a/p1', 'a/p2']);
    expect(first.continueAfter).toBe('a/p2');
    expect(first.remaining).toBe(3);
    const second = cache.list({}, rev, 2, first.continueAfter);
    expect(second.items.map((o) => o.id)).toEqual(['a/p3', 'b/p2']);
    const third = cache.list({}, rev, 2, second.continueAfter);
    expect(third.items.map((o) => o.id)).toEqual(['c/p1']);
    expect(third.continueAfter).toBeUndefined();
  });

  it('filters by label and field selectors', () => {
    const { cache, rev } = seeded();
    expect(cache.list({ labelSelector: parseLabelSelector('app in (p1,p3)') }, rev).items.map((o) => o.id)).toEqual(['a/p1', 'a/p3', 'c/p1']);
    expect(cache.list({ fieldSelector: parseFieldSelector('metadata.name=p2') }, rev).items.map((o) => o.id)).toEqual(['a/p2', 'b/p2']);
    expect(cache.list({ namespace: 'a', fieldSelector: parseFieldSelector('metadata.name!=p2') }, rev).items.map((o) => o.id)).toEqual(['a/p1', 'a/p3']);
  });
});

describe('ResourceCache watches', () => {
  it('sends the current state as ADDED, then live changes, in order', async () => {
    const { cache, rev } = seeded();
    const sink = new RecordingSink();
    cache.watch({ namespace: 'a' }, sink, { currentRevision: rev, allowBookmarks: false });
    expect(sink.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED p1', 'ADDED p2', 'ADDED p3']);
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 1, { app: 'x' }), rev + 1);
    cache.apply('create', `${PREFIX}b/p9`, podJson('b', 'p9', rev + 2), rev + 2);
    cache.apply('delete', `${PREFIX}a/p2`, podJson('a', 'p2', 2), rev + 3);
    await flush();
    expect(sink.events.slice(3)).toEqual([
      { type: 'MODIFIED', name: 'p1', rv: rev + 1 },
      { type: 'DELETED', name: 'p2', rv: rev + 3 },
    ]);
  });

  it('replays events after a resourceVersion from the window', async () => {
    const { cache } = seeded();
    const sink = new RecordingSink();
    cache.watch({}, sink, { fromRevision: 3, currentRevision: 5, allowBookmarks: false });
    expect(sink.events.map((e) => `${e.type} ${e.name} ${e.rv}`)).toEqual(['ADDED p1 4', 'ADDED p2 5']);
    expect(cache.replayFloor).toBe(0);
  });

  it('turns label transitions into ADDED and DELETED for a filtered watcher', async () => {
    const { cache, rev } = seeded();
    const sink = new RecordingSink();
    cache.watch({ labelSelector: parseLabelSelector('tier=web') }, sink, { currentRevision: rev, allowBookmarks: false });
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 1, { tier: 'web' }), rev + 1);
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 2, { tier: 'web', x: 'y' }), rev + 2);
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 3, { tier: 'db' }), rev + 3);
    await flush();
    expect(sink.events.map((e) => `${e.type} ${e.rv}`)).toEqual([`ADDED ${rev + 1}`, `MODIFIED ${rev + 2}`, `DELETED ${rev + 3}`]);
  });

  it('routes events to field-indexed watchers only when their node matches', async () => {
    const { cache, rev } = seeded();
    const n1 = new RecordingSink();
    const n2 = new RecordingSink();
    cache.watch({ fieldSelector: parseFieldSelector('spec.nodeName=n1') }, n1, { fromRevision: rev, currentRevision: rev, allowBookmarks: false });
    cache.watch({ fieldSelector: parseFieldSelector('spec.nodeName=n2') }, n2, { fromRevision: rev, currentRevision: rev, allowBookmarks: false });
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 1, {}, 'n1'), rev + 1);
    cache.apply('update', `${PREFIX}a/p2`, podJson('a', 'p2', rev + 2, {}, 'n2'), rev + 2);
    // Moving a pod away from n1 (a rebind cannot happen, but the index must still see the old value).
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 3, {}, 'n2'), rev + 3);
    await flush();
    expect(n1.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED p1', 'DELETED p1']);
    expect(n2.events.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED p2', 'ADDED p1']);
  });

  it('shares one serialized line per event and type across watchers', async () => {
    const { cache, rev } = seeded();
    const seen: string[] = [];
    const sink: WatchSink = { deliver: (ds) => ds.forEach((d) => seen.push(d.event.line(d.type))), bookmark() {}, close() {} };
    cache.watch({}, sink, { fromRevision: rev, currentRevision: rev, allowBookmarks: false });
    cache.watch({}, sink, { fromRevision: rev, currentRevision: rev, allowBookmarks: false });
    const e = cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 1), rev + 1);
    await flush();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(e.line('MODIFIED')).toBe(seen[0]);
  });

  it('frames a line as one HTTP chunk whose size counts UTF-8 bytes, built once per type', () => {
    const o = indexer(podJson('a', 'x', 7, { note: 'grüße-✓' }), 7);
    const e = new CacheEvent('MODIFIED', 7, o, o);
    const chunk = e.chunk('MODIFIED');
    const text = chunk.toString('utf8');
    const head = text.slice(0, text.indexOf('\r\n'));
    const body = chunk.subarray(head.length + 2, chunk.length - 2);
    expect(parseInt(head, 16)).toBe(Buffer.byteLength(e.line('MODIFIED')));
    expect(body.toString('utf8')).toBe(e.line('MODIFIED'));
    expect(chunk.subarray(-2).toString('latin1')).toBe('\r\n');
    expect(e.chunk('MODIFIED')).toBe(chunk);
    expect(e.chunk('ADDED').toString('utf8')).toContain('{"type":"ADDED"');
  });

  it('gives DELETED events the resourceVersion of the delete', () => {
    const o = indexer(podJson('a', 'x', 7), 7);
    const e = new CacheEvent('DELETED', 9, o, o);
    expect(JSON.parse(e.jsonFor('DELETED')).metadata.resourceVersion).toBe('9');
  });

  it('sends bookmarks only to watchers that asked for them', () => {
    const { cache, rev } = seeded();
    const a = new RecordingSink();
    const b = new RecordingSink();
    cache.watch({}, a, { fromRevision: rev, currentRevision: rev, allowBookmarks: true });
    cache.watch({}, b, { fromRevision: rev, currentRevision: rev, allowBookmarks: false });
    cache.bookmarkAll(42);
    expect(a.bookmarks).toEqual([42]);
    expect(b.bookmarks).toEqual([]);
  });

  it('moves the replay floor as the window fills, and catches up watchers from history', async () => {
    const cache = new ResourceCache(PREFIX, indexer, undefined, 0, 3);
    for (let r = 1; r <= 6; r++) cache.apply('create', `${PREFIX}a/p${r}`, podJson('a', `p${r}`, r), r);
    expect(cache.replayFloor).toBe(3);
    const sink = new RecordingSink();
    const w = cache.addCatchingUp({}, sink, false, 1);
    // Events 2..3 come from storage history; 4..6 from the window.
    const history = [2, 3].map((r) => cache.eventFromHistory('create', podJson('a', `p${r}`, r), r, undefined, undefined));
    expect(cache.finishCatchUp(w, history, 3)).toBe(true);
    expect(sink.events.map((e) => e.rv)).toEqual([2, 3, 4, 5, 6]);
    cache.apply('create', `${PREFIX}a/p7`, podJson('a', 'p7', 7), 7);
    await flush();
    expect(sink.events.map((e) => e.rv)).toEqual([2, 3, 4, 5, 6, 7]);
  });
});

describe('ResourceCache lists at an earlier revision (paginated lists)', () => {
  /** Pages through listAt until done: every page at `revision`, each continuing after the last. */
  function pages(cache: ResourceCache, revision: number, limit: number, selection = {}): { ids: string[][]; remaining: (number | undefined)[] } {
    const ids: string[][] = [];
    const remaining: (number | undefined)[] = [];
    let after: string | undefined;
    for (;;) {
      const page = cache.listAt(selection, revision, cache.changesSince(revision)!, limit, after);
      ids.push(page.items.map((o) => `${o.id}@${o.revision}`));
      remaining.push(page.remaining);
      expect(page.revision).toBe(revision);
      if (page.continueAfter === undefined) return { ids, remaining };
      after = page.continueAfter;
    }
  }

  it('undoes the changes after the revision: deleted objects come back, new ones stay out, modified ones show their old state', () => {
    const { cache, rev } = seeded();
    const at = rev; // a/p1@3 a/p2@5 a/p3@2 b/p2@1 c/p1@4
    cache.apply('delete', `${PREFIX}a/p2`, podJson('a', 'p2', 5, { app: 'p2' }), rev + 1);
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 2, { app: 'changed' }), rev + 2);
    cache.apply('create', `${PREFIX}a/p15`, podJson('a', 'p15', rev + 3), rev + 3);
    cache.apply('create', `${PREFIX}b/p1`, podJson('b', 'p1', rev + 4), rev + 4);
    cache.apply('update', `${PREFIX}a/p1`, podJson('a', 'p1', rev + 5, { app: 'again' }), rev + 5);
    expect(cache.list({}, rev + 5).items.map((o) => o.id)).toEqual(['a/p1', 'a/p15', 'a/p3', 'b/p1', 'b/p2', 'c/p1']);

    const all = pages(cache, at, 2);
    expect(all.ids).toEqual([['a/p1@3', 'a/p2@5'], ['a/p3@2', 'b/p2@1'], ['c/p1@4']]);
    expect(all.remaining).toEqual([3, 1, undefined]);
    expect(pages(cache, at, 0).ids).toEqual([['a/p1@3', 'a/p2@5', 'a/p3@2', 'b/p2@1', 'c/p1@4']]);
    expect(pages(cache, at, 1, { namespace: 'a' }).ids).toEqual([['a/p1@3'], ['a/p2@5'], ['a/p3@2']]);
    // Selectors see the objects as they were: a/p1 had app=p1 then.
    expect(pages(cache, at, 1, { labelSelector: parseLabelSelector('app in (p1,p2)') }).ids.flat()).toEqual(['a/p1@3', 'a/p2@5', 'b/p2@1', 'c/p1@4']);
    expect(pages(cache, rev + 5, 1, { labelSelector: parseLabelSelector('app in (p1,p2)') }).ids.flat()).toEqual(['b/p2@1', 'c/p1@4']);
    // At a revision in between, the changes up to it stay.
    expect(pages(cache, rev + 3, 10).ids).toEqual([[`a/p1@${rev + 2}`, `a/p15@${rev + 3}`, 'a/p3@2', 'b/p2@1', 'c/p1@4']]);
  });

  it('has no window changes for a revision older than the window', () => {
    const cache = new ResourceCache(PREFIX, indexer, undefined, 0, 3);
    for (let rev = 1; rev <= 5; rev++) cache.apply('create', `${PREFIX}a/p${rev}`, podJson('a', `p${rev}`, rev), rev);
    expect(cache.changesSince(1)).toBeUndefined();
    expect(cache.changesSince(2)!.map((e) => e.revision)).toEqual([3, 4, 5]);
    expect(cache.changesSince(5)).toEqual([]);
  });
});
