#!/usr/bin/env node
// Agent benchmark, shaped like Kubernetes' pod startup SLO (latency per pod): a real API server and
// one real agent driving the Docker engine; pods (busybox `sleep 3600`, imagePullPolicy Never,
// spec.nodeName preset, so no scheduler) are created in two phases — one at a time (the next once
// the previous is Running: the agent's own latency, engine unloaded), then at a steady RATE pods/s
// without waiting (the SLO's load shape). Each pod's latency runs from sending its POST to the
// first watch event showing phase Running. Baseline in the same run, in the same two phases,
// straight through the engine API (the compiled agent DockerClient, no docker CLI): create+start
// of one container, and of a pod-like pair (pause sandbox on the bridge + the app container in
// `NetworkMode: container:<sandbox>`). Then the agent's idle cost with the paced pods running
// (CPU% of a core over 10 s from /proc/PID/stat, RSS from /proc/PID/status, heap from /metrics).
// --trace-engine puts a counting pass-through socket between the agent and the engine and prints
// the engine calls per pod (diagnosis; adds a hop, so not for the headline numbers). RSS is split into
// anonymous memory (the agent's own: V8 heap, malloc) and file-backed pages (mostly the node binary's
// code and data the process has touched, shared with other Node.js processes). The /metrics scrape
// comes after the RSS window: it loads prom-client in the agent (first scrape), which the heap figure
// then includes.
// Everything it creates is labelled io.flotilla.test=true (plus this node's or this run's label)
// and removed at the end; nothing else on the engine is touched. Run `npx -y pnpm@10 build` first (it also bundles the agent).
// Usage: node bench/agent-bench.mjs [--pods 30] [--rate 5] [--idle-seconds 10] [--trace-engine] [--no-token]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import { cpus } from 'node:os';
import { request } from 'undici';
import { apiClient, cpuSeconds, flags, ms, percentile, removeMemoryVolumes, rssKiB, startAgent, startApiServer, startControllerManager, tempDir } from './lib.mjs';
import { agentEntry } from '../packages/agent/dist/agent-entry.js';
import { agentRuntime, ensureTestImages, PAUSE_IMAGE, removeLabelled, removeNodeContainers, TEST_IMAGE, TEST_LABEL } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const PODS = Number(opts.pods ?? 30);
const RATE = Number(opts.rate ?? 5);
const IDLE_SECONDS = Number(opts['idle-seconds'] ?? 10);
const TRACE = opts['trace-engine'] === true;
/** --no-token: pods without the service account token volume (automountServiceAccountToken: false), to see what it costs. */
const NO_TOKEN = opts['no-token'] === true;
const ENGINE_SOCKET = '/var/run/docker.sock';
const NODE = `bench-node-${process.pid}`;
const RUN_LABEL = 'io.flotilla.bench';
const RUN_ID = `agent-bench-${process.pid}`;
const COMMAND = ['sleep', '3600'];
const NS = 'agent-bench';
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const pad = (s, n) => String(s).padEnd(n);
/** RssAnon and RssFile of a process in KiB. */
function rssParts(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { anon: kib('RssAnon'), file: kib('RssFile') };
}
/** Wall-clock milliseconds with sub-ms resolution (comparable with the engine's event times). */
const now = () => performance.timeOrigin + performance.now();

const { DockerClient } = await agentRuntime();
const engine = new DockerClient();
const dir = tempDir('agent');
const children = [];
let undiciAgents = [];

/** Runs `fn(i)` for i in 0..count-1, starting one every 1000/RATE ms (not waiting for the previous). */
async function paced(count, fn) {
  const gap = 1000 / RATE;
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < count; i++) {
    const wait = t0 + i * gap - performance.now();
    if (wait > 0) await sleep(wait);
    all.push(fn(i));
  }
  return Promise.all(all);
}

function stats(latencies) {
  return { n: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) };
}

// ---- baseline: the engine alone ----

const baseLabels = { [TEST_LABEL]: 'true', [RUN_LABEL]: RUN_ID };

async function engineSingle(i) {
  const t0 = performance.now();
  const { Id } = await engine.createContainer(`${RUN_ID}-single-${i}`, { Image: TEST_IMAGE, Entrypoint: COMMAND, Labels: baseLabels, HostConfig: { RestartPolicy: { Name: 'no' } } });
  await engine.startContainer(Id);
  return performance.now() - t0;
}

/** Per-call times of the engine pairs (create sandbox, start it, create app, start it), by phase. */
const pairSegments = { seq: [], paced: [] };

async function enginePair(i, mode) {
  const t = [performance.now()];
  const sb = await engine.createContainer(`${RUN_ID}-pause-${i}`, { Image: PAUSE_IMAGE, Hostname: `pair-${i}`, Labels: baseLabels, HostConfig: { NetworkMode: 'bridge', IpcMode: 'shareable', RestartPolicy: { Name: 'no' } } });
  t.push(performance.now());
  await engine.startContainer(sb.Id);
  t.push(performance.now());
  const ns = `container:${sb.Id}`;
  const app = await engine.createContainer(`${RUN_ID}-app-${i}`, { Image: TEST_IMAGE, Entrypoint: COMMAND, Labels: baseLabels, HostConfig: { NetworkMode: ns, IpcMode: ns, RestartPolicy: { Name: 'no' } } });
  t.push(performance.now());
  await engine.startContainer(app.Id);
  t.push(performance.now());
  pairSegments[mode]?.push([t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3]]);
  return t[4] - t[0];
}


// ---- engine-call tracing (--trace-engine): a pass-through proxy socket counting requests ----

/** Starts a unix-socket proxy in front of the engine; `counts` maps "METHOD /path" (ids elided) to calls. */
async function engineProxy(path) {
  const counts = new Map();
  const sockets = new Set();
  const server = createServer((down) => {
    const up = connect(ENGINE_SOCKET);
    sockets.add(up).add(down);
    down.on('data', (chunk) => {
      const re = /(?:^|\r\n)(GET|POST|PUT|DELETE|HEAD) (\/v[\d.]+)?(\/[^?\s]*)\S* HTTP\/1\.1\r\n/g;
      for (const m of chunk.toString('latin1').matchAll(re)) {
        const key = `${m[1]} ${m[3].replace(/^\/(containers|images)\/(?!json$|create$)(.+?)(\/[a-z]+)?$/, (_, kind, _id, op) => `/${kind}/{id}${op ?? ''}`).replace(/\/exec\/[^/]+/, '/exec/{id}')}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    });
    down.pipe(up).pipe(down);
    const end = () => {
      up.destroy();
      down.destroy();
    };
    up.on('error', end);
    down.on('error', end);
  });
  await new Promise((r) => server.listen(path, r));
  return {
    counts,
    close: () => {
      for (const so of sockets) so.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

// ---- the agent ----

async function agentRun() {
  const server = await startApiServer(dir.path);
  children.push(server.child);
  const client = apiClient(server, { connections: 16 });
  undiciAgents = [client.http, client.watchHttp];
  const api = client.json;
  // Pods mount a service account token volume, as on any cluster: the controller manager's
  // serviceaccount and root-ca-cert-publisher controllers provide the account and the CA ConfigMap.
  const { child: cm } = await startControllerManager(server.kubeconfig, ['--controllers', 'serviceaccount,root-ca-cert-publisher', '--leader-elect', 'false']);
  children.push(cm);
  await api('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: NS } }));
  for (let i = 0; i < 100; i++) {
    const got = await api('GET', `/api/v1/namespaces/${NS}/serviceaccounts/default`).catch(() => undefined);
    if (got?.metadata?.name === 'default') break;
    await sleep(100);
  }

  const proxy = TRACE ? await engineProxy(join(dir.path, 'engine.sock')) : undefined;
  const { child: agent, match: am } = await startAgent(server.kubeconfig, NODE, dir.path, [
    ...(proxy ? ['--docker-socket', join(dir.path, 'engine.sock')] : []),
    // Keep everything on loopback and the containers made here: no DNS on the bridge gateway,
    // no service VIPs, no Ingress ports, the endpoint on 127.0.0.1.
    '--node-ip', '127.0.0.1',
    '--bind-address', '127.0.0.1',
    '--enable-dns', 'false',
    '--proxy-mode', 'none',
    '--ingress-http-port', '0',
    '--ingress-https-port', '0',
    '--port', '0',
    '--log-level', 'warn',
  ]);
  children.push(agent);
  const agentUrl = am[1].replace(/^https:/, 'http:'); // /healthz and /metrics answer plain HTTP on the same port
  await sleep(1000); // let its start-up (informers, orphan scan) settle
  const rssBefore = rssKiB(agent.pid);
  const partsBefore = rssParts(agent.pid);

  // The engine's own record of the agent's containers: create/start time per pod and container.
  const engineTimes = new Map();
  const evAbort = new AbortController();
  void (async () => {
    try {
      for await (const e of engine.events({ filters: { type: ['container'], event: ['create', 'start'], label: [`io.flotilla.node=${NODE}`] }, signal: evAbort.signal })) {
        const a = e.Actor.Attributes ?? {};
        const key = `${a['io.kubernetes.pod.name']}/${a['io.kubernetes.container.name'] === 'POD' ? 'sandbox' : 'app'}/${e.Action}`;
        if (!engineTimes.has(key)) engineTimes.set(key, e.timeNano / 1e6);
      }
    } catch {
      // aborted
    }
  })();
  const segments = (names) =>
    names.map((n) => {
      const [sc, ss, ac, as] = ['sandbox/create', 'sandbox/start', 'app/create', 'app/start'].map((k) => engineTimes.get(`${n}/${k}`));
      return [sc - sent.get(n), ss - sc, ac - ss, as - ac, running.get(n) - as];
    });

  // Watch the namespace: the first event with phase Running per pod.
  const rv = (await api('GET', `/api/v1/namespaces/${NS}/pods?limit=1`)).metadata.resourceVersion;
  const running = new Map();
  const watch = await client.watch(`/api/v1/namespaces/${NS}/pods?watch=true&resourceVersion=${rv}`, (line) => {
    const t = now();
    const ev = JSON.parse(line);
    const name = ev.object?.metadata?.name;
    if (name && ev.type !== 'DELETED' && ev.object?.status?.phase === 'Running' && !running.has(name)) running.set(name, t);
  });
  const waitRunning = async (names, ms) => {
    const deadline = performance.now() + ms;
    while (names.some((n) => !running.has(n)) && performance.now() < deadline) await sleep(5);
    const missing = names.filter((n) => !running.has(n));
    if (missing.length) throw new Error(`${missing.length} pods not Running after ${ms / 1000} s: ${missing.slice(0, 5).join(', ')}`);
  };
  const createPod = (name) =>
    api('POST', `/api/v1/namespaces/${NS}/pods`, JSON.stringify({
      metadata: { name },
      spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, ...(NO_TOKEN ? { automountServiceAccountToken: false } : {}), containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: COMMAND }] },
    }));
  const calls = () => (proxy ? new Map(proxy.counts) : undefined);
  const diffCalls = (before) => (proxy ? [...proxy.counts].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]) : undefined);

  // Phase 1: one pod at a time (each created once the previous one is Running), then all deleted.
  const sent = new Map();
  const seqNames = Array.from({ length: PODS }, (_, i) => `seq-${i}`);
  let before = calls();
  for (const name of seqNames) {
    sent.set(name, now());
    await createPod(name);
    await waitRunning([name], 60_000);
  }
  const seqCalls = diffCalls(before);
  const seq = seqNames.map((n) => running.get(n) - sent.get(n));
  await Promise.all(seqNames.map((n) => api('DELETE', `/api/v1/namespaces/${NS}/pods/${n}`)));
  const gone = performance.now() + 120_000;
  while ((await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${NODE}`] } })).length > 0) {
    if (performance.now() > gone) throw new Error('the agent did not remove the containers of deleted pods in 120 s');
    await sleep(250);
  }
  await sleep(1000);

  // Phase 2: RATE pods/s, each created on schedule whether or not earlier ones are Running.
  const names = Array.from({ length: PODS }, (_, i) => `paced-${i}`);
  before = calls();
  const cpu0 = cpuSeconds(agent.pid);
  const t0 = performance.now();
  await paced(PODS, async (i) => {
    sent.set(names[i], now());
    await createPod(names[i]);
  });
  await waitRunning(names, 120_000);
  const startWall = (performance.now() - t0) / 1000;
  const startCpu = cpuSeconds(agent.pid) - cpu0;
  const pacedCalls = diffCalls(before);
  watch.destroy();
  const pacedLat = names.map((n) => running.get(n) - sent.get(n));

  // Idle with the pods running (a 10 s window holds one periodic resync of every pod).
  await sleep(2000);
  const rss = [];
  const parts = [];
  before = calls();
  const c0 = cpuSeconds(agent.pid);
  const i0 = performance.now();
  for (let s = 0; s < IDLE_SECONDS; s++) {
    await sleep(1000);
    rss.push(rssKiB(agent.pid));
    parts.push(rssParts(agent.pid));
  }
  const idleCore = (cpuSeconds(agent.pid) - c0) / ((performance.now() - i0) / 1000);
  const idleCalls = diffCalls(before);
  const metrics = await request(`${agentUrl}/metrics`).then((x) => x.body.text(), () => '');
  const metric = (n) => Number(new RegExp(`^${n}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  await proxy?.close();
  evAbort.abort();
  return {
    seq, paced: pacedLat, seqSegments: segments(seqNames), pacedSegments: segments(names), startWall, startCpu, idleCore, rssBefore,
    rssMean: rss.reduce((a, b) => a + b, 0) / rss.length, rssMax: Math.max(...rss), partsAtMax: parts[rss.indexOf(Math.max(...rss))], partsBefore,
    heapUsed: metric('nodejs_heap_size_used_bytes'), heapTotal: metric('nodejs_heap_size_total_bytes'), external: metric('nodejs_external_memory_bytes'),
    seqCalls, pacedCalls, idleCalls,
  };
}

async function cleanup() {
  // The agent first (it leaves containers running when stopped), then its containers and ours.
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await Promise.race([new Promise((r) => c.once('exit', r)), sleep(5000)]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
  const removed = (await removeNodeContainers(engine, NODE).catch(() => 0)) + (await removeLabelled(engine, [`${TEST_LABEL}=true`, `${RUN_LABEL}=${RUN_ID}`]).catch(() => 0));
  for (const a of undiciAgents) await a.destroy().catch(() => undefined);
  await engine.close();
  dir.remove();
  removeMemoryVolumes(NODE);
  return removed;
}

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  void cleanup().finally(() => process.exit(130));
});

try {
  const images = await ensureTestImages();
  const version = await engine.version();
  console.log(`Flotilla agent benchmark — ${new Date().toISOString()} — ${PODS} pods per phase; engine ${version.Version}, ${cpus().length} CPUs${images.built ? ' (test images built)' : ''}${TRACE ? '; engine calls traced through a proxy socket' : ''}`);
  // The bin runs the bundle only when it is up to date (src/agent-entry.ts); a bare `tsc -b` leaves it stale.
  const entry = agentEntry(new URL('../packages/agent/dist/', import.meta.url));
  console.log(`agent runs ${entry.pathname.includes('/dist/bundle/') ? 'the bundle (dist/bundle/main.js)' : 'the unbundled dist/main.js: the bundle is missing or stale, run `npx -y pnpm@10 build` for the figures of a built agent'}\n`);

  // Warm-up: one container through the engine (first-use costs are not the agent's).
  await engineSingle(-1);
  await removeLabelled(engine, [`${TEST_LABEL}=true`, `${RUN_LABEL}=${RUN_ID}`]);
  const base = {};
  for (const [key, fn] of [['single', engineSingle], ['pair', enginePair]]) {
    const seq = [];
    for (let i = 0; i < PODS; i++) seq.push(await fn(i, 'seq'));
    await removeLabelled(engine, [`${TEST_LABEL}=true`, `${RUN_LABEL}=${RUN_ID}`]);
    const pacedLat = await paced(PODS, (i) => fn(PODS + i, 'paced'));
    await removeLabelled(engine, [`${TEST_LABEL}=true`, `${RUN_LABEL}=${RUN_ID}`]);
    base[key] = { seq: stats(seq), paced: stats(pacedLat) };
  }

  const r = await agentRun();
  const a = { seq: stats(r.seq), paced: stats(r.paced) };

  const row = (label, s, goal = '') => console.log(`${pad(label, 48)}${pad(ms(s.p50), 11)}${pad(ms(s.p99), 11)}${pad(ms(s.max), 11)}${goal}`);
  for (const [mode, title] of [['seq', 'one at a time (next after the previous is Running)'], ['paced', `paced, ${RATE}/s (not waiting for earlier ones)`]]) {
    console.log(`${pad(`start latency — ${title}`, 48)}${pad('p50', 11)}${pad('p99', 11)}${pad('max', 11)}goal`);
    row('  engine: create+start, 1 container', base.single[mode]);
    row('  engine: pause + app in its netns (a pod)', base.pair[mode]);
    const s = a[mode];
    const pair = base.pair[mode];
    row('  agent: POST pod -> phase Running (watch)', s, `p50 ≤ 400 ms ${s.p50 <= 400 ? 'OK' : 'MISSED'}; p99 ≤ pair p99 + 600 = ${ms(pair.p99 + 600)} ${s.p99 <= pair.p99 + 600 ? 'OK' : 'MISSED'}`);
    console.log(`  agent vs pair: p50 ×${(s.p50 / pair.p50).toFixed(2)} (+${ms(s.p50 - pair.p50)}), p99 ×${(s.p99 / pair.p99).toFixed(2)}, p99(agent) − p99(pair) = ${ms(s.p99 - pair.p99)}\n`);
  }
  const med = (rows, j) => percentile(rows.map((r) => r[j]).filter(Number.isFinite), 50);
  console.log(`median time per step (engine event times; 'create'/'start' events fire when the call completes)`);
  console.log(`${pad('', 30)}${pad('POST→sandbox created', 22)}${pad('sandbox start', 15)}${pad('→app created', 14)}${pad('app start', 12)}app started→Running seen`);
  for (const [mode, label] of [['seq', 'one at a time'], ['paced', `paced ${RATE}/s`]]) {
    const rows = r[`${mode}Segments`];
    const b = pairSegments[mode];
    console.log(`${pad(`  engine pair, ${label}`, 30)}${pad(ms(med(b, 0)), 22)}${pad(ms(med(b, 1)), 15)}${pad(ms(med(b, 2)), 14)}${pad(ms(med(b, 3)), 12)}—`);
    console.log(`${pad(`  agent, ${label}`, 30)}${pad(ms(med(rows, 0)), 22)}${pad(ms(med(rows, 1)), 15)}${pad(ms(med(rows, 2)), 14)}${pad(ms(med(rows, 3)), 12)}${ms(med(rows, 4))}`);
  }
  console.log('');
  console.log(`agent, paced phase:  all ${PODS} Running ${r.startWall.toFixed(2)} s after the first POST; agent CPU ${r.startCpu.toFixed(2)} s (${((r.startCpu / r.startWall) * 100).toFixed(0)}% of a core)`);
  const rssGoal = 60 * 1024;
  console.log(`agent idle, ${PODS} pods: CPU ${(r.idleCore * 100).toFixed(1)}% of a core over ${IDLE_SECONDS} s; RSS mean ${(r.rssMean / 1024).toFixed(1)} MiB, max ${(r.rssMax / 1024).toFixed(1)} MiB (anon ${(r.partsAtMax.anon / 1024).toFixed(1)} + file ${(r.partsAtMax.file / 1024).toFixed(1)}; ${(r.rssBefore / 1024).toFixed(1)} MiB before any pod, anon ${(r.partsBefore.anon / 1024).toFixed(1)} + file ${(r.partsBefore.file / 1024).toFixed(1)}; heap used ${(r.heapUsed / 1048576).toFixed(1)} of ${(r.heapTotal / 1048576).toFixed(1)} MiB) — goal ≤ 60 MiB ${r.rssMax <= rssGoal ? 'OK' : 'MISSED'}`);
  if (TRACE) {
    for (const [label, list] of [['one at a time', r.seqCalls], [`paced ${RATE}/s`, r.pacedCalls], [`idle ${IDLE_SECONDS} s`, r.idleCalls]]) {
      const total = list.reduce((n, [, v]) => n + v, 0);
      console.log(`\nengine calls by the agent, ${label}: ${total} (${(total / PODS).toFixed(1)} per pod)`);
      for (const [k, v] of list) console.log(`  ${pad(k, 44)}${pad(v, 6)}${(v / PODS).toFixed(2)}/pod`);
    }
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  if (!interrupted) {
    const removed = await cleanup();
    console.log(`\ncleanup: removed ${removed} containers, stopped ${children.length} processes, removed ${dir.path}`);
  }
}
