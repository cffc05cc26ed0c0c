// Storage micro benchmark: durable creates through LevelStorage (group commit) next to raw
// classic-level synced batches with the same values and concurrency, and LevelStorage.open() time
// for a large key space. Runs against the built package:
//   pnpm build   (or: npx tsc -b packages/apiserver)
//   node bench/storage-bench.mjs [--writers 64] [--seconds 4] [--open-keys 100000] [--dir DIR]
// --dir puts the databases on another file system (default: the system temp directory).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flags, ms, percentile, ROOT } from './lib.mjs';

const opts = flags(process.argv.slice(2));
const WRITERS = Number(opts.writers ?? 64);
const SECONDS = Number(opts.seconds ?? 4);
const OPEN_KEYS = Number(opts['open-keys'] ?? 100_000);
const BASE = opts.dir ?? tmpdir();

const apiserverRequire = createRequire(join(ROOT, 'packages/apiserver/package.json'));
const { ClassicLevel } = await import(pathToFileURL(apiserverRequire.resolve('classic-level')).href);
let LevelStorage;
try {
  ({ LevelStorage } = await import(pathToFileURL(join(ROOT, 'packages/apiserver/dist/storage/level-storage.js')).href));
} catch (err) {
  console.error('build first (pnpm build or npx tsc -b packages/apiserver):', err.message);
  process.exit(1);
}

/** A pod-like JSON object of about 2 KB whose metadata carries the resourceVersion. */
function podValue(i, revision) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `bench-${i}`,
      namespace: 'default',
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(revision),
      labels: { app: 'bench', tier: 'web', shard: String(i % 7) },
      annotations: { 'bench/index': String(i) },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example/bench/app:1.2.3',
          command: ['/bin/app', '--listen=:8080', '--log-level=info'],
          ports: [{ name: 'http', containerPort: 8080 }],
          env: Array.from({ length: 20 }, (_, j) => ({ name: `SETTING_${j}`, value: `value-${j}-${'x'.repeat(48)}` })),
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
        },
      ],
    },
  });
}

/** `writers` loops issuing `write(i)` until `seconds` elapse; latencies in ms. */
async function timed(seconds, writers, write) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const t0 = performance.now();
        await write(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

function report(name, { latencies, seconds }, extra = '') {
  const rate = latencies.length / seconds;
  console.log(
    `${name.padEnd(44)} ${String(Math.round(rate)).padStart(7)}/s  p50 ${ms(percentile(latencies, 50)).padStart(9)}  p99 ${ms(percentile(latencies, 99)).padStart(9)}  (${latencies.length} writes)${extra}`,
  );
}

function tempDb(name) {
  return mkdtempSync(join(BASE, `flotilla-storage-bench-${name}-`));
}

const sample = podValue(0, 1);
console.log(`value size ${sample.length} bytes, ${WRITERS} concurrent writers, ${SECONDS} s per run, node ${process.version}`);

// 1. LevelStorage: create with an encoder (the value embeds its revision), resolved once synced.
{
  const dir = tempDb('level-storage');
  const s = new LevelStorage({ path: dir });
  await s.open();
  const result = await timed(SECONDS, WRITERS, (i) => s.create(`/registry/pods/default/bench-${i}`, (rev) => podValue(i, rev)));
  const { batches, writes } = s.stats();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
  report('LevelStorage.create (group commit)', result, `  ${(writes / batches).toFixed(1)} writes/batch`);
}

// 2. Raw classic-level: one synced batch per write (LevelDB's own writer queue may merge them).
{
  const dir = tempDb('raw-single');
  const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  const result = await timed(SECONDS, WRITERS, (i) =>
    db.batch([{ type: 'put', key: `/registry/pods/default/bench-${i}`, value: podValue(i, i + 1) }], { sync: true }),
  );
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  report('classic-level batch(sync) per write', result);
}

// 3. Raw classic-level, grouped by hand: writes queued while a synced batch is in flight go into the
// next one (the same policy as LevelStorage, without preconditions, log or index).
{
  const dir = tempDb('raw-grouped');
  const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  let queue = [];
  let flushing = false;
  let batches = 0;
  const flush = async () => {
    flushing = true;
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      await db.batch(group.map((w) => w.op), { sync: true });
      batches++;
      for (const w of group) w.resolve();
    }
    flushing = false;
  };
  const result = await timed(SECONDS, WRITERS, (i) => new Promise((resolve) => {
    queue.push({ op: { type: 'put', key: `/registry/pods/default/bench-${i}`, value: podValue(i, i + 1) }, resolve });
    if (!flushing) void flush();
  }));
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  report('classic-level batch(sync) grouped', result, `  ${(result.latencies.length / batches).toFixed(1)} writes/batch`);
}

// 4. open() of a store holding OPEN_KEYS live keys (plus their log records).
{
  const dir = tempDb('open');
  let s = new LevelStorage({ path: dir });
  await s.open();
  const t0 = performance.now();
  const chunk = 5000;
  for (let start = 0; start < OPEN_KEYS; start += chunk) {
    const writes = [];
    for (let i = start; i < Math.min(OPEN_KEYS, start + chunk); i++) writes.push(s.create(`/registry/pods/ns-${i % 50}/pod-${i}`, (rev) => podValue(i, rev)));
    await Promise.all(writes);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  await s.close();
  s = new LevelStorage({ path: dir });
  const t1 = performance.now();
  await s.open();
  const openMs = performance.now() - t1;
  const revision = s.currentRevision();
  const t2 = performance.now();
  const listed = await s.list('/registry/pods/');
  const listMs = performance.now() - t2;
  await s.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`loaded ${OPEN_KEYS} keys in ${loadSeconds.toFixed(1)} s (${Math.round(OPEN_KEYS / loadSeconds)}/s in bursts of ${chunk})`);
  console.log(`LevelStorage.open() with ${OPEN_KEYS} keys: ${ms(openMs)} (revision ${revision}); list of all: ${ms(listMs)} (${listed.items.length} items)`);
}
