import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATA_DIR_NAME, writeAtomic, type Payload } from './atomic-writer.js';
import { VolumeError } from './errors.js';

const TS_RE = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{9}$/;

function payload(entries: Record<string, string>, mode = 0o644): Payload {
  return new Map(Object.entries(entries).map(([k, v]) => [k, { data: Buffer.from(v), mode }]));
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tsDirs(d: string): Promise<string[]> {
  return (await readdir(d)).filter((n) => TS_RE.test(n));
}

describe('writeAtomic', () => {
  it('writes files into a timestamped dir behind ..data and links each top-level key', async () => {
    const target = join(dir, 'vol');
    expect(await writeAtomic(target, payload({ a: 'A', 'sub/b': 'B' }))).toBe(true);
    const ts = await tsDirs(target);
    expect(ts).toHaveLength(1);
    expect(await readlink(join(target, DATA_DIR_NAME))).toBe(ts[0]);
    expect(await readlink(join(target, 'a'))).toBe('..data/a');
    expect(await readlink(join(target, 'sub'))).toBe('..data/sub');
    expect(await readFile(join(target, 'a'), 'utf8')).toBe('A');
    expect(await readFile(join(target, 'sub/b'), 'utf8')).toBe('B');
    expect((await readdir(target)).sort()).toEqual([DATA_DIR_NAME, ts[0], 'a', 'sub'].sort());
  });

  it('sets the exact modes despite the umask', async () => {
    const target = join(dir, 'vol');
    const p: Payload = new Map([
      ['open', { data: Buffer.from('x'), mode: 0o777 }],
      ['secret', { data: Buffer.from('y'), mode: 0o400 }],
    ]);
    const old = process.umask(0o077);
    try {
      await writeAtomic(target, p);
    } finally {
      process.umask(old);
    }
    expect((await stat(join(target, 'open'))).mode & 0o777).toBe(0o777);
    expect((await stat(join(target, 'secret'))).mode & 0o777).toBe(0o400);
  });

  it('does not rewrite an unchanged payload', async () => {
    const target = join(dir, 'vol');
    await writeAtomic(target, payload({ a: 'A' }));
    const before = await tsDirs(target);
    expect(await writeAtomic(target, payload({ a: 'A' }))).toBe(false);
    expect(await tsDirs(target)).toEqual(before);
    // a mode change alone is a change
    expect(await writeAtomic(target, payload({ a: 'A' }, 0o600))).toBe(true);
    expect((await stat(join(target, 'a'))).mode & 0o777).toBe(0o600);
  });

  it('updates contents, removes stale keys and the old timestamped dir', async () => {
    const target = join(dir, 'vol');
    await writeAtomic(target, payload({ keep: '1', gone: 'x', 'olddir/f': 'y' }));
    const [oldTs] = await tsDirs(target);
    await writeAtomic(target, payload({ keep: '2', fresh: 'new' }));
    const [newTs, ...more] = await tsDirs(target);
    expect(more).toEqual([]);
    expect(newTs).not.toBe(oldTs);
    expect(await readFile(join(target, 'keep'), 'utf8')).toBe('2');
    expect(await readFile(join(target, 'fresh'), 'utf8')).toBe('new');
    await expect(lstat(join(target, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(target, 'olddir'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(join(target, oldTs!))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(target)).sort()).toEqual([DATA_DIR_NAME, newTs, 'fresh', 'keep'].sort());
  });

  it('writes an empty payload as an empty volume and empties a full one', async () => {
    const target = join(dir, 'vol');
    await writeAtomic(target, payload({}));
    expect((await readdir(target)).filter((n) => !n.startsWith('..'))).toEqual([]);
    await writeAtomic(target, payload({ a: 'A' }));
    await writeAtomic(target, payload({}));
    expect((await readdir(target)).filter((n) => !n.startsWith('..'))).toEqual([]);
    expect(await tsDirs(target)).toHaveLength(1);
  });

  it('repairs a deleted user-visible link even when the payload is unchanged', async () => {
    const target = join(dir, 'vol');
    await writeAtomic(target, payload({ a: 'A' }));
    await unlink(join(target, 'a'));
    expect(await writeAtomic(target, payload({ a: 'A' }))).toBe(false);
    expect(await readFile(join(target, 'a'), 'utf8')).toBe('A');
  });

  it('rejects unsafe paths', async () => {
    for (const bad of ['/abs', '../up', 'a/../../b', '..hidden', '']) {
      await expect(writeAtomic(join(dir, 'vol'), payload({ [bad]: 'x' })), bad).rejects.toBeInstanceOf(VolumeError);
    }
    await expect(writeAtomic(join(dir, 'vol'), payload({ a: '1', 'a/b': '2' }))).rejects.toThrow(/both a file and the directory/);
  });

  it('keeps concurrent readers consistent: a key is always the old or the new content', async () => {
    const target = join(dir, 'vol');
    await writeAtomic(target, payload({ key: 'v0'.repeat(2000) }));
    const result = await readWhile(join(target, 'key'), async () => {
      for (let i = 1; i <= 150; i++) await writeAtomic(target, payload({ key: `v${i % 2}`.repeat(2000) }));
    });
    expect(result.reads).toBeGreaterThan(100);
    expect(result.bad).toEqual([]);
  });

  it('(control) the reader detects a non-atomic writer', async () => {
    const file = join(dir, 'plain');
    await writeFile(file, 'v0'.repeat(2000));
    const result = await readWhile(file, async (stop) => {
      for (let i = 1; !stop() && i < 200_000; i++) {
        await unlink(file);
        await writeFile(file, `v${i % 2}`.repeat(2000));
      }
    });
    expect(result.bad.length).toBeGreaterThan(0);
  });
});

/**
 * Reads `file` in a tight loop on another thread while `work` runs; a read is bad if it fails or is
 * not one of the complete contents `v0…`/`v1…`. `work` may stop early once a bad read was seen.
 */
async function readWhile(file: string, work: (stop: () => boolean) => Promise<void>): Promise<{ reads: number; bad: string[] }> {
  const flags = new Int32Array(new SharedArrayBuffer(8)); // [0] stop, [1] bad reads so far
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const flags = new Int32Array(workerData.sab);
    const good = new Set(['v0'.repeat(2000), 'v1'.repeat(2000)]);
    let reads = 0; const bad = [];
    parentPort.postMessage('ready');
    while (Atomics.load(flags, 0) === 0) {
      try {
        const s = readFileSync(workerData.file, 'utf8');
        if (!good.has(s)) bad.push('content:' + s.slice(0, 10) + '(' + s.length + ')');
      } catch (e) { bad.push(e.code || String(e)); }
      if (bad.length) Atomics.store(flags, 1, bad.length);
      reads++;
    }
    parentPort.postMessage({ reads, bad: bad.slice(0, 20) });`;
  const worker = new Worker(code, { eval: true, workerData: { file, sab: flags.buffer } });
  const messages: unknown[] = [];
  const done = new Promise<{ reads: number; bad: string[] }>((resolve, reject) => {
    worker.on('message', (m) => (m === 'ready' ? messages.push(m) : resolve(m as { reads: number; bad: string[] })));
    worker.on('error', reject);
  });
  while (messages.length === 0) await new Promise((r) => setTimeout(r, 5));
  const deadline = Date.now() + 10_000;
  try {
    await work(() => Atomics.load(flags, 1) > 0 || Date.now() > deadline);
  } finally {
    Atomics.store(flags, 0, 1);
  }
  const result = await done;
  await worker.terminate();
  return result;
}
