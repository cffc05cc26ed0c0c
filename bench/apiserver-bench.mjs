#!/usr/bin/env node
// API server benchmark (issue: API server). Starts a real flotilla-apiserver (built dist) on a
// fresh data directory and measures, in one run on this machine, with ~2 KB pod objects:
//   1. durable pod creates/s and latency with 64 concurrent clients, next to
//      (a) raw LevelDB synced writes of the same JSON from 64 concurrent writers, and
//      (b) Debian's etcd (if installed) taking the same puts from 64 concurrent clients;
//   2. get p99;
//   3. list latency for 3k pods in a namespace and for every pod cluster-wide (up to 100k);
//   4. watch delivery latency, commit -> received (the commit time is the server's, from its
//      --commit-times-file, on the monotonic clock the readers also read) and write sent -> received,
//      with 100 watchers at 1k events/s, and with 5,000 field-filtered watchers plus 10 unfiltered
//      (each after a 2 s warm-up at the same rate, reported but not counted);
//   5. RSS at idle, at 10k and at the largest pod count (KB per pod).
// Usage: node bench/apiserver-bench.mjs [--quick] [--pods 100000] [--creates 20000]
//   [--only creates,leveldb,etcd,gets,list,watch,watch-filtered,memory] (creates always run: the other
//   phases read those pods) [--cpu-prof DIR] (the API server writes a V8 CPU profile there on exit)
//   [--watch-readers 1] (threads that read the watches; 0 = the thread that sends the writes)
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { openWatches, watchDispatcher } from './watch-reader.mjs';
import { cpuSeconds, flags, ms, percentile, podJson, ROOT, rssKiB, runConcurrent, startAndWait, tempDir } from './lib.mjs';

const opts = flags(process.argv.slice(2));
const quick = Boolean(opts.quick);
const CREATES = Number(opts.creates ?? (quick ? 3000 : 20000));
// Writes before each measured write phase (API server and etcd alike), not counted: the measured
// figures are steady-state ones, not those of a process that is still compiling its hot paths.
const WARMUP = Math.min(3000, Math.floor(CREATES / 5));
const TOTAL_PODS = Number(opts.pods ?? (quick ? 12000 : 100000));
const CONCURRENCY = 64;
const ONLY = typeof opts.only === 'string' ? new Set(opts.only.split(',')) : undefined;
const want = (phase) => !ONLY || ONLY.has(phase);
const results = [];
const report = (name, value, note = '') => {
  results.push({ name, value, note });
  console.log(`${name.padEnd(58)} ${String(value).padStart(16)}  ${note}`);
};

// ---------------------------------------------------------------- API server
const dir = tempDir('apiserver');
// The server appends each committed batch's last revision and commit time (monotonic clock) here.
const COMMIT_TIMES = join(dir.path, 'commit-times.log');
const { child: server, match } = await startAndWait(process.execPath, [...(opts['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', opts['cpu-prof']] : []), join(ROOT, 'packages/apiserver/bin/flotilla-apiserver.js'), '--data-dir', dir.path, '--secure-port', '0', '--log-level', 'warn', '--commit-times-file', COMMIT_TIMES], /listening on (https:\/\/\S+)/);
const base = match[1];
const token = /token: (\S+)/.exec(readFileSync(join(dir.path, 'admin.kubeconfig'), 'utf8'))[1];
const ca = readFileSync(join(dir.path, 'pki', 'ca.crt'), 'utf8');
const agent = new Agent({ connect: { ca }, connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
const watchAgent = watchDispatcher(ca);
const auth = { authorization: `Bearer ${token}` };

async function api(method, path, body, contentType = 'application/json') {
  const r = await request(`${base}${path}`, { method, dispatcher: agent, headers: { ...auth, 'content-type': contentType, accept: 'application/json' }, body });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text.slice(0, 300)}`);
  return text;
}

async function createNamespace(name) {
  await api('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name } }));
}

console.log(`Flotilla API server benchmark — ${new Date().toISOString()} — node ${process.version}, ${CONCURRENCY} clients\n`);
report('RSS idle', `${(rssKiB(server.pid) / 1024).toFixed(1)} MiB`);

// 1. Creates.
await createNamespace('bench');
await createNamespace('warmup');
const sample = podJson('sample-pod-name-0000');
report('pod object size', `${Buffer.byteLength(sample)} bytes`);
{
  // Bodies are built before the clock starts, as the etcd phase's values are.
  const warmups = Array.from({ length: WARMUP }, (_, i) => podJson(`pod-${i}`));
  await runConcurrent(WARMUP, CONCURRENCY, (i) => api('POST', '/api/v1/namespaces/warmup/pods', warmups[i]));
  const bodies = Array.from({ length: CREATES }, (_, i) => podJson(`pod-${i}`));
  const cpu0 = cpuSeconds(server.pid);
  const own0 = process.cpuUsage();
  const { latencies, seconds } = await runConcurrent(CREATES, CONCURRENCY, (i) => api('POST', '/api/v1/namespaces/bench/pods', bodies[i]));
  const own = process.cpuUsage(own0);
  const rate = CREATES / seconds;
  report('durable creates/s (64 clients, HTTPS)', rate.toFixed(0), `${CREATES} pods in ${seconds.toFixed(1)} s, after ${WARMUP} not counted`);
  report('create latency p50 / p99', `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))}`);
  const serverCpu = cpuSeconds(server.pid) - cpu0;
  report('API server CPU per create', `${((serverCpu / CREATES) * 1e6).toFixed(0)} µs`, `${((serverCpu / seconds) * 100).toFixed(0)}% of a core (all its threads); load generator ${(((own.user + own.system) / 1e6 / seconds) * 100).toFixed(0)}% of a core`);
  results.creates = rate;
}

// 1a. Raw LevelDB, same values, same concurrency.
if (want('leveldb')) {
  const require = createRequire(join(ROOT, 'packages/apiserver/package.json'));
  const { ClassicLevel } = require('classic-level');
  const ldir = tempDir('leveldb');
  const db = new ClassicLevel(ldir.path, { valueEncoding: 'utf8' });
  await db.open();
  const values = Array.from({ length: CREATES }, (_, i) => podJson(`pod-${i}`));
  const single = await runConcurrent(CREATES, CONCURRENCY, (i) => db.put(`/registry/core/pods/bench/pod-${i}`, values[i], { sync: true }));
  report('raw LevelDB synced puts/s (64 writers)', (CREATES / single.seconds).toFixed(0), `p99 ${ms(percentile(single.latencies, 99))}`);
  // Grouped: what one synced batch per 64 writes gives.
  const batches = Math.ceil(CREATES / CONCURRENCY);
  const grouped = await runConcurrent(batches, 1, (b) => db.batch(values.slice(b * CONCURRENCY, (b + 1) * CONCURRENCY).map((v, j) => ({ type: 'put', key: `/g/${b}/${j}`, value: v })), { sync: true }));
  report('raw LevelDB synced batches of 64: writes/s', (CREATES / grouped.seconds).toFixed(0));
  await db.close();
  ldir.remove();
  results.leveldb = CREATES / single.seconds;
  report('ratio: API server creates / raw LevelDB synced puts', (results.creates / results.leveldb).toFixed(2));
}

// 1b. etcd, if Debian's etcd-server is installed.
if (want('etcd')) {
  let etcdBin;
  try {
    etcdBin = (await import('node:child_process')).execSync('command -v etcd', { encoding: 'utf8' }).trim();
  } catch {
    etcdBin = undefined;
  }
  if (!etcdBin) {
    report('etcd puts/s', 'skipped', 'etcd not installed (apt-get install etcd-server)');
  } else {
    const edir = tempDir('etcd');
    const port = 23000 + Math.floor(Math.random() * 1000);
    const etcd = (await import('node:child_process')).spawn(etcdBin, ['--data-dir', edir.path, '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-cluster', `default=http://127.0.0.1:${port + 1}`, '--log-level', 'error'], { stdio: 'ignore' });
    const etcdAgent = new Agent({ connections: CONCURRENCY });
    const put = async (k, v) => {
      const r = await request(`http://127.0.0.1:${port}/v3/kv/put`, { method: 'POST', dispatcher: etcdAgent, body: JSON.stringify({ key: Buffer.from(k).toString('base64'), value: Buffer.from(v).toString('base64') }) });
      const t = await r.body.text();
      if (r.statusCode !== 200) throw new Error(`etcd put ${r.statusCode}: ${t}`);
    };
    for (let i = 0; ; i++) {
      try {
        await put('/warmup', 'x');
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const values = Array.from({ length: CREATES }, (_, i) => podJson(`pod-${i}`));
    await runConcurrent(WARMUP, CONCURRENCY, (i) => put(`/registry/pods/warmup/pod-${i}`, values[i]));
    const { latencies, seconds } = await runConcurrent(CREATES, CONCURRENCY, (i) => put(`/registry/pods/bench/pod-${i}`, values[i]));
    report('etcd 3.4 puts/s (64 clients, JSON gateway)', (CREATES / seconds).toFixed(0), `p99 ${ms(percentile(latencies, 99))}`);
    report('ratio: API server creates / etcd puts', (results.creates / (CREATES / seconds)).toFixed(2));
    etcd.kill('SIGKILL');
    await etcdAgent.close();
    edir.remove();
  }
}

// 2. Gets, with 64 clients (throughput) and with 8 (latency without queueing on 2 cores).
for (const clients of want('gets') ? [CONCURRENCY, 8] : []) {
  const n = quick ? 5000 : 20000;
  const cpu0 = cpuSeconds(server.pid);
  const { latencies, seconds } = await runConcurrent(n, clients, (i) => api('GET', `/api/v1/namespaces/bench/pods/pod-${(i * 7919) % CREATES}`));
  report(`gets/s (${clients} clients)`, (n / seconds).toFixed(0), `API server CPU ${(((cpuSeconds(server.pid) - cpu0) / n) * 1e6).toFixed(0)} µs per get`);
  report(`get latency p50 / p99 (${clients} clients)`, `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))}`);
}

// 3. List of 3k pods in one namespace.
if (want('list')) {
  await createNamespace('list3k');
  await runConcurrent(3000, CONCURRENCY, (i) => api('POST', '/api/v1/namespaces/list3k/pods', podJson(`l-${i}`)));
  const lat = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const text = await api('GET', '/api/v1/namespaces/list3k/pods');
    lat.push(performance.now() - t0);
    if (i === 0 && JSON.parse(text).items.length !== 3000) throw new Error('list3k returned the wrong count');
  }
  report('list 3k pods in a namespace p50 / p99 (20 runs)', `${ms(percentile(lat, 50))} / ${ms(percentile(lat, 99))}`);
}

// 4a. 100 watchers, 1k events/s.
// The watches are read in WATCH_READERS worker threads (0 = in this thread, beside the writer), each
// with its share of the watches: a watcher in Kubernetes is its own client, and one thread that both
// paces the writes and reads 100 streams adds its own queueing to the figure being measured. One
// reader thread beat two in alternating runs (p99 26–38 ms against 28–47 ms, less CPU): on two
// cores shared with the server, a second reader thread is one more to wake and schedule.
// The writes run without a break for the warm-up and the measured seconds; what a write and its
// events count for is decided by when the write was sent. (A pause or a message round trip between
// warm-up and measurement made the first ~300 ms measured a transient of its own, where most writes
// over 20 ms clustered.)
const WATCH_WARMUP_S = 2;
const WATCH_READERS = Number(opts['watch-readers'] ?? 1);

/** Opens `paths` as watches; `stop()` closes them and returns [sent, latency, rv, arrivedMono] records, flattened. */
async function openWatchers(paths) {
  if (WATCH_READERS === 0) {
    const watches = await openWatches(base, paths, auth, watchAgent);
    return { stop: async () => { watches.close(); return watches.pairs; } };
  }
  const shares = Array.from({ length: WATCH_READERS }, (_, i) => paths.filter((_, j) => j % WATCH_READERS === i));
  const workers = shares.filter((s) => s.length > 0).map((share) => new Worker(new URL('./watch-reader.mjs', import.meta.url), { workerData: { base, token, ca, paths: share } }));
  const next = (w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await Promise.all(workers.map(next));
  return {
    stop: async () => (await Promise.all(workers.map((w) => { const p = next(w); w.postMessage('stop'); return p; }))).flatMap((a) => Array.from(a)),
  };
}

/**
 * Sends `total` writes at `eventsPerSecond` (at most 256 in flight), numbered from 0; calls `atWrite`
 * just before write number `markAt` goes out. Waits for the last answer, then a second for its events.
 */
async function paced(eventsPerSecond, total, makeWriter, markAt, atWrite) {
  const started = performance.now();
  let sent = 0;
  const inflight = new Set();
  while (sent < total) {
    const due = Math.floor(((performance.now() - started) / 1000) * eventsPerSecond);
    while (sent < Math.min(due, total)) {
      if (sent === markAt) atWrite();
      const p = makeWriter(sent++);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (inflight.size > 256) await Promise.race(inflight);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inflight);
  await new Promise((r) => setTimeout(r, 1000));
}

/**
 * The server's commit times so far (--commit-times-file): a function from a revision to the
 * monotonic time (ms) its batch became durable.
 */
function commitTimes() {
  const revs = [];
  const times = [];
  for (const line of readFileSync(COMMIT_TIMES, 'utf8').split('\n')) {
    const [rev, t] = line.split(' ');
    if (t !== undefined) {
      revs.push(Number(rev));
      times.push(Number(t));
    }
  }
  return (rv) => {
    // The first batch whose last revision is at or after rv holds it.
    let lo = 0;
    let hi = revs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (revs[mid] < rv) lo = mid + 1;
      else hi = mid;
    }
    if (revs[lo] < rv) throw new Error(`no commit time for revision ${rv}`);
    return times[lo];
  };
}

/**
 * Opens the watchers and writes at `eventsPerSecond` for WATCH_WARMUP_S + `durationS` seconds. The
 * first WATCH_WARMUP_S seconds warm up the JIT on the write and fan-out paths on both sides: their
 * figures are reported apart and not counted.
 */
async function watchPhase(label, watchers, eventsPerSecond, durationS, makeWriter) {
  const readers = await openWatchers(watchers);
  await new Promise((r) => setTimeout(r, 500));
  const warmWrites = eventsPerSecond * WATCH_WARMUP_S;
  const writes = [];
  const timedWriter = (i) => {
    const t0 = performance.now();
    return makeWriter(i).then(() => {
      if (i >= warmWrites) writes.push(performance.now() - t0);
    });
  };
  let measuredFrom = Infinity;
  let cpu0 = 0;
  let own0;
  await paced(eventsPerSecond, warmWrites + eventsPerSecond * durationS, timedWriter, warmWrites, () => {
    measuredFrom = performance.timeOrigin + performance.now();
    cpu0 = cpuSeconds(server.pid);
    own0 = process.cpuUsage();
  });
  const cpu = cpuSeconds(server.pid) - cpu0;
  const own = process.cpuUsage(own0);
  const records = await readers.stop();
  await new Promise((r) => setTimeout(r, 300)); // the server appends commit times every 100 ms
  const commitTime = commitTimes();
  const warm = [];
  const lat = [];
  const fromCommit = [];
  for (let i = 0; i < records.length; i += 4) {
    if (records[i] < measuredFrom) warm.push(records[i + 1]);
    else {
      lat.push(records[i + 1]);
      fromCommit.push(records[i + 3] - commitTime(records[i + 2]));
    }
  }
  report(`${label}: warm-up (${WATCH_WARMUP_S} s, not counted) p50 / p99`, `${ms(percentile(warm, 50))} / ${ms(percentile(warm, 99))}`);
  report(`${label}: events received`, lat.length);
  report(`${label}: delivery p50 / p99 (commit -> received)`, `${ms(percentile(fromCommit, 50))} / ${ms(percentile(fromCommit, 99))}`, `min ${ms(fromCommit.reduce((a, v) => Math.min(a, v), Infinity))}, max ${ms(fromCommit.reduce((a, v) => Math.max(a, v), 0))}; commit = the server's time for the batch becoming durable`);
  report(`${label}: write sent -> event received p50 / p99`, `${ms(percentile(lat, 50))} / ${ms(percentile(lat, 99))}`, `the writes themselves (sent -> acknowledged): p50 ${ms(percentile(writes, 50))}, p99 ${ms(percentile(writes, 99))}`);
  report(`${label}: API server CPU`, `${((cpu / durationS) * 100).toFixed(0)}% of a core`, `${((cpu / Math.max(lat.length, 1)) * 1e6).toFixed(1)} µs per delivered event; load generator ${(((own.user + own.system) / 1e6 / durationS) * 100).toFixed(0)}% of a core (${WATCH_READERS === 0 ? 'watches read in its main thread' : `${WATCH_READERS} watch reader thread${WATCH_READERS === 1 ? '' : 's'}`})`);
}

if (want('watch')) {
  await createNamespace('watch');
  const N = 200;
  await runConcurrent(N, CONCURRENCY, (i) => api('POST', '/api/v1/namespaces/watch/pods', podJson(`w-${i}`)));
  const rv = JSON.parse(await api('GET', '/api/v1/namespaces/watch/pods?limit=1')).metadata.resourceVersion;
  const watchers = Array.from({ length: 100 }, () => `/api/v1/namespaces/watch/pods?watch=true&resourceVersion=${rv}`);
  await watchPhase('100 watchers @ 1k events/s', watchers, 1000, quick ? 5 : 10, (i) =>
    api('PATCH', `/api/v1/namespaces/watch/pods/w-${i % N}`, JSON.stringify({ metadata: { annotations: { 'bench/sent': String(performance.timeOrigin + performance.now()) } } }), 'application/merge-patch+json'),
  );
}

// 4b. 5,000 node-filtered watchers + 10 unfiltered (agents + controllers).
if (want('watch-filtered')) {
  const NODES = quick ? 1000 : 5000;
  await createNamespace('nodes');
  const PODS = 2000;
  await runConcurrent(PODS, CONCURRENCY, (i) => api('POST', '/api/v1/namespaces/nodes/pods', podJson(`n-${i}`, { nodeName: `node-${i % NODES}` })));
  const rv = JSON.parse(await api('GET', '/api/v1/namespaces/nodes/pods?limit=1')).metadata.resourceVersion;
  const watchers = [
    ...Array.from({ length: NODES }, (_, i) => `/api/v1/pods?watch=true&resourceVersion=${rv}&fieldSelector=spec.nodeName%3Dnode-${i}`),
    ...Array.from({ length: 10 }, () => `/api/v1/namespaces/nodes/pods?watch=true&resourceVersion=${rv}`),
  ];
  const rssBefore = rssKiB(server.pid);
  await watchPhase(`${NODES} filtered + 10 watchers @ 1k events/s`, watchers, 1000, quick ? 5 : 10, (i) =>
    api('PATCH', `/api/v1/namespaces/nodes/pods/n-${i % PODS}`, JSON.stringify({ metadata: { annotations: { 'bench/sent': String(performance.timeOrigin + performance.now()) } } }), 'application/merge-patch+json'),
  );
  report(`RSS for ${NODES} open watches`, `${((rssKiB(server.pid) - rssBefore) / 1024).toFixed(1)} MiB`);
}

// 5. Memory at 10k and at TOTAL_PODS pods; cluster-wide list.
if (want('memory')) {
  let count = CREATES + WARMUP + (want('list') ? 3000 : 0) + (want('watch') ? 200 : 0) + (want('watch-filtered') ? 2000 : 0);
  const fill = async (target) => {
    if (count >= target) return;
    const start = count;
    await runConcurrent(target - start, CONCURRENCY, (i) => api('POST', `/api/v1/namespaces/bench/pods`, podJson(`fill-${start + i}`)));
    count = target;
  };
  const stored = async () => JSON.parse(await api('GET', '/api/v1/pods?limit=1')).metadata.remainingItemCount + 1;
  await fill(10_000);
  global.gc?.();
  const rss10k = rssKiB(server.pid);
  report('RSS at 10k pods', `${(rss10k / 1024).toFixed(1)} MiB`, `${(rss10k / (await stored())).toFixed(1)} KiB per pod (whole process)`);
  await fill(TOTAL_PODS);
  const n = await stored();
  const rssN = rssKiB(server.pid);
  report(`RSS at ${n} pods`, `${(rssN / 1024).toFixed(1)} MiB`, `${(rssN / n).toFixed(1)} KiB per pod (whole process); marginal ${((rssN - rss10k) / (n - 10_000)).toFixed(1)} KiB/pod`);
  const lat = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const text = await api('GET', '/api/v1/pods');
    lat.push(performance.now() - t0);
    if (i === 0) report(`cluster-wide list size`, `${(text.length / 1e6).toFixed(1)} MB`);
  }
  report(`list all ${n} pods (3 runs) p50 / max`, `${ms(percentile(lat, 50))} / ${ms(Math.max(...lat))}`);
  const paged = [];
  let cont = '';
  const t0 = performance.now();
  for (;;) {
    const t1 = performance.now();
    const page = JSON.parse(await api('GET', `/api/v1/pods?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`));
    paged.push(performance.now() - t1);
    cont = page.metadata.continue;
    if (!cont) break;
  }
  report(`list all pods in pages of 500 (kubectl): total / page p99`, `${ms(performance.now() - t0)} / ${ms(percentile(paged, 99))}`);
}

server.kill('SIGTERM');
await agent.close();
await watchAgent.destroy();
await new Promise((r) => server.on('exit', r));
dir.remove();
console.log('\ndone');
