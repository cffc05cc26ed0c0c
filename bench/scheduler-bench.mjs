#!/usr/bin/env node
// Scheduler benchmark, shaped like kube-scheduler's scheduler_perf SchedulingBasic: for 1,000 pods
// over 500, 1,000 and 5,000 hollow nodes, end to end through a real API server (pod created -> bound
// -> binding seen by a watch), prints throughput in 1-second windows (average, p50, p90) and p99
// creation-to-binding latency; also the scheduler's decision rate alone (in process, no API), how
// long 5,000 hollow nodes take to become Ready and what their heartbeats cost. As in scheduler_perf,
// each run first creates and schedules init pods (500 at 500 nodes, 1,000 otherwise, as SchedulingBasic
// does), then measures the next 1,000: the figures are those of a running cluster, not of the first
// requests a freshly started API server and scheduler see.
// Usage: node bench/scheduler-bench.mjs [--nodes 500,1000,5000] [--pods 1000] [--init-pods N]
import { join } from 'node:path';
import { apiClient, cpuSeconds, flags, ms, percentile, ROOT, runConcurrent, startApiServer, startHollowNodes, startScheduler, tempDir } from './lib.mjs';

const opts = flags(process.argv.slice(2));
const NODE_COUNTS = String(opts.nodes ?? '500,1000,5000').split(',').map(Number);
const PODS = Number(opts.pods ?? 1000);
const initPodsFor = (nodes) => Number(opts['init-pods'] ?? (nodes <= 500 ? 500 : 1000));

function pad(s, n) {
  return String(s).padEnd(n);
}

async function decisionRate(nodes) {
  const { SchedulerCache, Framework, defaultProfile, podInfoOf } = await import(join(ROOT, 'packages/scheduler/dist/index.js'));
  const cache = new SchedulerCache();
  for (let i = 0; i < nodes; i++) {
    cache.upsertNode({ metadata: { name: `n${i}`, labels: { 'kubernetes.io/hostname': `n${i}`, 'topology.kubernetes.io/zone': `z${i % 3}` } }, status: { allocatable: { cpu: '4', memory: '16Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] } });
  }
  const fw = new Framework(defaultProfile());
  const t0 = performance.now();
  for (let i = 0; i < PODS; i++) {
    const pod = { metadata: { name: `p${i}`, namespace: 'b', uid: `u${i}`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs', controller: true }] }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } };
    const r = fw.schedule(podInfoOf(pod), cache.nodeInfos());
    if (r.kind !== 'scheduled') throw new Error(r.message);
    cache.assume(pod, r.node.name);
  }
  return PODS / ((performance.now() - t0) / 1000);
}

async function endToEnd(nodes) {
  const dir = tempDir(`sched-${nodes}`);
  const apiserver = await startApiServer(dir.path);
  const server = apiserver.child;
  const { kubeconfig } = apiserver;
  const client = apiClient(apiserver);
  const api = client.text;
  const t0 = performance.now();
  const { child: hollow } = await startHollowNodes(kubeconfig, nodes, ['--pod-start-delay', '600000']);
  const readySeconds = (performance.now() - t0) / 1000;
  const { child: scheduler } = await startScheduler(kubeconfig);
  await api('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'bench' } }));
  // Heartbeat cost of the fleet while idle.
  const hb0 = cpuSeconds(hollow.pid);
  await new Promise((r) => setTimeout(r, 10_000));
  const heartbeatCore = (cpuSeconds(hollow.pid) - hb0) / 10;
  // Watch bindings.
  const rv = JSON.parse(await api('GET', '/api/v1/namespaces/bench/pods?limit=1')).metadata.resourceVersion;
  const bound = new Map();
  const watch = await client.watch(`/api/v1/namespaces/bench/pods?watch=true&resourceVersion=${rv}`, (line) => {
    const m = /"nodeName":"([^"]+)"/.exec(line);
    const n = /"name":"((?:init|bench)-\d+)"/.exec(line);
    if (m && n && !bound.has(n[1])) bound.set(n[1], performance.now());
  });
  const podBody = (name) => JSON.stringify({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } });
  // Init pods: created and bound before the measured ones.
  const initPods = initPodsFor(nodes);
  await runConcurrent(initPods, 64, (i) => api('POST', '/api/v1/namespaces/bench/pods', podBody(`init-${i}`)));
  const initDeadline = performance.now() + 120_000;
  while (bound.size < initPods && performance.now() < initDeadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  for (const k of bound.keys()) bound.delete(k);
  const created = new Map();
  const schedCpu0 = cpuSeconds(scheduler.pid);
  const cpu0 = { server: cpuSeconds(server.pid), hollow: cpuSeconds(hollow.pid), own: process.cpuUsage() };
  const start = performance.now();
  await runConcurrent(PODS, 64, async (i) => {
    const name = `bench-${i}`;
    await api('POST', '/api/v1/namespaces/bench/pods', podBody(name));
    created.set(name, performance.now());
  });
  const deadline = performance.now() + 120_000;
  while (bound.size < PODS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const schedCpu = cpuSeconds(scheduler.pid) - schedCpu0;
  const own = process.cpuUsage(cpu0.own);
  const cpuPerPod = {
    server: (cpuSeconds(server.pid) - cpu0.server) / PODS,
    scheduler: schedCpu / PODS,
    hollow: (cpuSeconds(hollow.pid) - cpu0.hollow) / PODS,
    load: (own.user + own.system) / 1e6 / PODS,
  };
  watch.destroy();
  const times = [...bound.values()].sort((a, b) => a - b);
  const windows = [];
  const first = times[0];
  const last = times[times.length - 1];
  // Full 1-second windows only (a last partial window would understate the rate).
  for (let t = first; t + 1000 <= last; t += 1000) windows.push(times.filter((x) => x >= t && x < t + 1000).length);
  if (windows.length === 0) windows.push(Math.round(times.length / Math.max(0.001, (last - first) / 1000)));
  const latencies = [...bound.entries()].filter(([n]) => created.has(n)).map(([n, t]) => Math.max(0, t - created.get(n)));
  const result = {
    nodes,
    readySeconds,
    heartbeatCore,
    bound: bound.size,
    avg: bound.size / Math.max(0.001, (last - start) / 1000),
    p50: percentile(windows, 50),
    p90: percentile(windows, 90),
    p99: percentile(latencies, 99),
    schedCpu,
    cpuPerPod,
    initPods,
  };
  for (const c of [scheduler, hollow, server]) c.kill('SIGTERM');
  await client.close();
  await new Promise((r) => setTimeout(r, 500));
  dir.remove();
  return result;
}

console.log(`Flotilla scheduler benchmark — ${new Date().toISOString()} — ${PODS} pods per run\n`);
console.log(`${pad('nodes', 8)}${pad('decisions/s (in process)', 26)}`);
for (const n of NODE_COUNTS) console.log(`${pad(n, 8)}${pad((await decisionRate(n)).toFixed(0), 26)}`);
console.log('');
console.log(`${pad('nodes', 8)}${pad('init pods', 11)}${pad('Ready after', 13)}${pad('heartbeats', 12)}${pad('bound', 8)}${pad('pods/s avg', 12)}${pad('p50', 8)}${pad('p90', 8)}${pad('p99 create->bound', 20)}CPU per pod: API server / scheduler / hollow nodes / load generator`);
for (const n of NODE_COUNTS) {
  const r = await endToEnd(n);
  console.log(`${pad(n, 8)}${pad(r.initPods, 11)}${pad(`${r.readySeconds.toFixed(1)} s`, 13)}${pad(`${(r.heartbeatCore * 100).toFixed(1)}% core`, 12)}${pad(r.bound, 8)}${pad(r.avg.toFixed(0), 12)}${pad(r.p50, 8)}${pad(r.p90, 8)}${pad(ms(r.p99), 20)}${['server', 'scheduler', 'hollow', 'load'].map((k) => `${(r.cpuPerPod[k] * 1e6).toFixed(0)} µs`).join(' / ')}`);
}
