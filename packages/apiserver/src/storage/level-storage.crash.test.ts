// Crash safety of LevelStorage with a real process killed by SIGKILL under load. The child
// (level-storage.crash-child.mjs) runs on plain Node, so this test first transpiles storage.ts and
// level-storage.ts into a temporary directory whose node_modules points at this package's.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelStorage } from './level-storage.js';
import type { StorageEvent } from './storage.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..', '..');

interface Ack {
  type: StorageEvent['type'];
  key: string;
  revision: number;
}

interface Round {
  openRevision: number;
  acks: Ack[];
  signal: NodeJS.Signals | null;
}

let buildDir: string;
let dbDir: string;

beforeAll(() => {
  buildDir = mkdtempSync(join(tmpdir(), 'flotilla-crash-build-'));
  dbDir = mkdtempSync(join(tmpdir(), 'flotilla-crash-db-'));
  for (const name of ['storage', 'level-storage']) {
    const source = readFileSync(join(here, `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: `${name}.ts`,
    });
    writeFileSync(join(buildDir, `${name}.js`), outputText);
  }
  writeFileSync(join(buildDir, 'package.json'), '{"type":"module"}');
  symlinkSync(join(packageDir, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
});

afterAll(() => {
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(dbDir, { recursive: true, force: true });
});

/** Runs the child until it has acknowledged `killAfter` writes, then kills it with SIGKILL. */
function crashRound(round: number, killAfter: number): Promise<Round> {
  const child = spawn(
    process.execPath,
    [join(here, 'level-storage.crash-child.mjs'), pathToFileURL(join(buildDir, 'level-storage.js')).href, dbDir, String(round), '64'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let openRevision = -1;
  const acks: Ack[] = [];
  let pending = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [what, a, b, c] = line.split(' ');
      if (what === 'open') openRevision = Number(a);
      else if (what === 'ack') acks.push({ type: a as Ack['type'], key: b!, revision: Number(c) });
    }
    if (acks.length >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (acks.length < killAfter) reject(new Error(`child ended early (code ${code}, signal ${signal}, ${acks.length} acks): ${stderr}`));
      else resolve({ openRevision, acks, signal });
    });
  });
}

/** Checks the reopened store against everything the child acknowledged; returns its revision. */
async function verify(round: Round, previousRevision: number): Promise<number> {
  const s = new LevelStorage({ path: dbDir });
  await s.open();
  try {
    const revision = s.currentRevision();
    expect(round.signal).toBe('SIGKILL');
    // The child saw exactly the state left by the previous round: revisions survive restarts.
    expect(round.openRevision).toBe(previousRevision);
    expect(Math.min(...round.acks.map((a) => a.revision))).toBeGreaterThan(previousRevision);
    expect(revision).toBeGreaterThanOrEqual(Math.max(...round.acks.map((a) => a.revision)));

    // The log holds every revision once, in order: no batch was lost or half applied.
    const all = await s.history(0);
    expect(all.length).toBe(revision);
    const gaps = all.filter((e, i) => e.revision !== i + 1).map((e) => e.revision);
    expect(gaps).toEqual([]);

    // Every acknowledged write is there with its revision.
    const wrong = round.acks.filter((a) => all[a.revision - 1]?.type !== a.type || all[a.revision - 1]?.key !== a.key);
    expect(wrong).toEqual([]);

    // Encoders received the revisions the writes were stored under.
    const misencoded = all.filter((e) => e.type !== 'delete' && (JSON.parse(e.value) as { rev: number }).rev !== e.revision);
    expect(misencoded.map((e) => e.revision)).toEqual([]);

    // The live index matches a replay of the log.
    const replayed = new Map<string, { value: string; modRevision: number; createRevision: number }>();
    for (const e of all) {
      if (e.type === 'delete') replayed.delete(e.key);
      else replayed.set(e.key, { value: e.value, modRevision: e.revision, createRevision: e.createRevision });
    }
    const listed = await s.list('/crash/');
    expect(listed.revision).toBe(revision);
    expect(new Map(listed.items.map((i) => [i.key, { value: i.value, modRevision: i.modRevision, createRevision: i.createRevision }]))).toEqual(replayed);

    // A watcher that last saw a pre-crash revision resumes with exactly the events after it.
    const resumeAt = round.acks[Math.floor(round.acks.length / 2)]!.revision;
    expect(await s.history(resumeAt)).toEqual(all.slice(resumeAt));
    return revision;
  } finally {
    await s.close();
  }
}

describe('LevelStorage crash safety (SIGKILL under load)', () => {
  it('keeps every acknowledged write and whole batches across three crashes', async () => {
    let revision = 0;
    for (const [round, killAfter] of [
      [1, 400],
      [2, 1500],
      [3, 200 + Math.floor(Math.random() * 3000)],
    ] as const) {
      const result = await crashRound(round, killAfter);
      revision = await verify(result, revision);
    }
    expect(revision).toBeGreaterThan(2000);
  }, 60_000);
});
