#!/usr/bin/env node
// Controller-manager benchmark: a Deployment of 1,000 replicas on 100 hollow nodes, end to end through
// a real API server, scheduler and controller manager — time from creating it until 1,000 pods are
// Running and Ready (seen by a watch), then the rolling update of all 1,000 to a new template (until the
// Deployment reports every replica updated and available and no old pod is left); with the
// controller manager's CPU and RSS. For scale, the same run also reports the API server's raw pod
// create rate for 1,000 pods from this process (the floor any controller is bound by).
// Usage: node bench/controller-manager-bench.mjs [--replicas 1000] [--nodes 100]
import { apiClient, cpuSeconds, flags, rssKiB, runConcurrent, startApiServer, startControllerManager, startHollowNodes, startScheduler, tempDir } from './lib.mjs';

const opts = flags(process.argv.slice(2));
const REPLICAS = Number(opts.replicas ?? 1000);
const NODES = Number(opts.nodes ?? 100);

const dir = tempDir('cm-bench');
const children = [];
const server = await startApiServer(dir.path);
children.push(server.child);
const { kubeconfig } = server;
const client = apiClient(server);
const api = client.json;

try {
  const { child: hollow } = await startHollowNodes(kubeconfig, NODES, ['--pods', '110', '--pod-start-delay', '0']);
  children.push(hollow);
  const { child: scheduler } = await startScheduler(kubeconfig);
  children.push(scheduler);
  const { child: cm } = await startControllerManager(kubeconfig, ['--leader-elect', 'false']);
  children.push(cm);

  // Baseline: raw pod creates from this process (no controller), in their own namespace.
  await api('POST', '/api/v1/namespaces', { metadata: { name: 'baseline' } });
  const b0 = performance.now();
  await runConcurrent(REPLICAS, 64, (i) => api('POST', '/api/v1/namespaces/baseline/pods', { metadata: { name: `p-${i}` }, spec: { nodeName: 'nowhere', containers: [{ name: 'c', image: 'app:A' }] } }));
  const baselineSeconds = (performance.now() - b0) / 1000;
  await api('DELETE', '/api/v1/namespaces/baseline');

  await api('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
  const rv = (await api('GET', '/api/v1/namespaces/bench/pods?limit=1')).metadata.resourceVersion;
  // Follow readiness of every pod by a watch: uid -> { ready, image }.
  const pods = new Map();
  const watch = await client.watch(`/api/v1/namespaces/bench/pods?watch=true&resourceVersion=${rv}`, (line) => {
    const ev = JSON.parse(line);
    const p = ev.object;
    if (ev.type === 'DELETED') pods.delete(p.metadata.uid);
    else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      const ready = !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
      pods.set(p.metadata.uid, { ready, image: p.spec.containers[0].image });
    }
  });
  const count = (image) => [...pods.values()].filter((p) => p.ready && (!image || p.image === image)).length;
  const waitUntil = async (what, check, timeoutMs = 300_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const cpu0 = cpuSeconds(cm.pid);
  const t0 = performance.now();
  await api('POST', '/apis/apps/v1/namespaces/bench/deployments', {
    metadata: { name: 'big' },
    spec: { replicas: REPLICAS, selector: { matchLabels: { app: 'big' } }, template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'c', image: 'app:A', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } } },
  });
  await waitUntil(`${REPLICAS} pods ready`, () => count('app:A') >= REPLICAS);
  const createSeconds = (performance.now() - t0) / 1000;
  const cpuCreate = cpuSeconds(cm.pid) - cpu0;
  const rssAfterCreate = rssKiB(cm.pid);

  const cpu1 = cpuSeconds(cm.pid);
  const t1 = performance.now();
  await api('PATCH', '/apis/apps/v1/namespaces/bench/deployments/big', { spec: { template: { spec: { containers: [{ name: 'c', image: 'app:B' }] } } } }, 'application/strategic-merge-patch+json');
  await waitUntil('rollout complete', async () => {
    if (count('app:B') < REPLICAS || [...pods.values()].some((p) => p.image !== 'app:B')) return false;
    const d = await api('GET', '/apis/apps/v1/namespaces/bench/deployments/big');
    const s = d.status ?? {};
    return s.observedGeneration === d.metadata.generation && s.updatedReplicas === REPLICAS && s.availableReplicas === REPLICAS && s.replicas === REPLICAS;
  });
  const updateSeconds = (performance.now() - t1) / 1000;
  const cpuUpdate = cpuSeconds(cm.pid) - cpu1;
  const rssPeak = Math.max(rssAfterCreate, rssKiB(cm.pid));
  watch.destroy();

  const line = (label, value, goal) => console.log(`${label.padEnd(62)}${value.padEnd(14)}${goal}`);
  console.log(`Flotilla controller-manager benchmark — ${new Date().toISOString()} — ${REPLICAS} replicas on ${NODES} hollow nodes\n`);
  line('measure', 'value', 'goal / baseline');
  line(`baseline: ${REPLICAS} raw pod creates (64 clients, no controllers)`, `${baselineSeconds.toFixed(2)} s`, `${(REPLICAS / baselineSeconds).toFixed(0)} pods/s`);
  line(`create Deployment -> ${REPLICAS} pods Running+Ready`, `${createSeconds.toFixed(2)} s`, '< 10 s');
  line(`rolling update of ${REPLICAS} pods (25% surge/unavailable)`, `${updateSeconds.toFixed(2)} s`, '< 20 s');
  line('controller-manager CPU during creation', `${cpuCreate.toFixed(2)} s`, `${((cpuCreate / createSeconds) * 100).toFixed(0)}% of a core`);
  line('controller-manager CPU during rolling update', `${cpuUpdate.toFixed(2)} s`, `${((cpuUpdate / updateSeconds) * 100).toFixed(0)}% of a core`);
  line('controller-manager RSS after creation / peak', `${(rssAfterCreate / 1024).toFixed(0)} MiB`, `${(rssPeak / 1024).toFixed(0)} MiB`);
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await client.close();
  await new Promise((r) => setTimeout(r, 500));
  dir.remove();
}
