#!/usr/bin/env node
// Service proxy benchmark: what the agent's service proxy costs, in userspace mode (bytes copied by
// the agent) and iptables mode (kernel DNAT; its chains are named after the run's node name and
// removed at the end, with their jumps). A real API server, controller manager (Deployment,
// EndpointSlices) and agent (its own VIP link) on the Docker engine; a Deployment of 3 busybox
// `httpd` pods behind a ClusterIP Service. In the same run and with the same settings, CONNECTIONS
// connections for SECONDS each drive (1) one pod's IP directly, (2) the ClusterIP (VIP -> proxy ->
// the 3 pods), (3) that pod directly again (drift on a shared machine shows); it prints
// requests/s, p50/p99 latency and errors of each, the throughput cost against the mean direct
// rate (goal: < 20%), the agent's CPU while proxying and the CPU per request of the agent, the
// pods and the client. busybox httpd answers one request per connection, so every request is a
// new connection, through the proxy too (accept + connect + splice in userspace mode) — the
// proxy's worst case.
// Load generator: wrk (Debian: `apt-get install -y wrk`), else a Node closed loop (`--client node`
// forces it); see bench/ingress-bench.mjs for the difference. Each case starts (after a 1 s
// warm-up) once the sockets towards the pods and the VIP have left TIME_WAIT (a client that closes
// first leaves thousands, and connect() to the same address then searches longer for a free source
// port) and the API server, controller manager and agent are idle.
// Addresses are the VIP and the containers' bridge IPs. Needs root (VIP link), Docker and the test
// images (built on first use); run `npx tsc -b` first. Everything it creates is labelled
// io.flotilla.test=true with this run's node name and removed at the end, with its link.
// Usage: node bench/service-proxy-bench.mjs [--seconds 10] [--connections 8] [--mode userspace|iptables|both (default)] [--client wrk|node]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { closedLoop, containerCpuSeconds, cpuSeconds, flags, getOk, hasWrk, ms, ROOT, startAgent, startApiServer, startControllerManager, tempDir, TEST_IMAGE, TEST_LABEL, timeWaitCount, waitQuiet, waitTimeWaitDrained, waitUntil, wrkLoad } from './lib.mjs';
import { ensureTestImages, httpdDeployment, removeNodeContainers } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const SECONDS = Math.min(10, Number(opts.seconds ?? 10));
const CONNECTIONS = Number(opts.connections ?? 8);
const MODES = opts.mode && opts.mode !== 'both' ? [opts.mode] : ['userspace', 'iptables'];
for (const m of MODES) if (m !== 'userspace' && m !== 'iptables') throw new Error(`--mode: ${m}? (userspace, iptables or both)`);
const CLIENT = opts.client ?? (hasWrk() ? 'wrk' : 'node');
if (CLIENT !== 'wrk' && CLIENT !== 'node') throw new Error(`--client: ${CLIENT}? (wrk or node)`);
if (CLIENT === 'wrk' && !hasWrk()) throw new Error('--client wrk: wrk is not installed (apt-get install -y wrk)');
const NS = 'proxy-bench';
const REPLICAS = 3;

const { DockerClient } = await import(join(ROOT, 'packages/agent/dist/runtime/docker-client.js'));
const { RestClient, loadClientConfig, res } = await import(join(ROOT, 'packages/client/dist/index.js'));
const { cleanupIptables } = await import(join(ROOT, 'packages/agent/dist/proxy/iptables-rules.js'));
const engine = new DockerClient();

/** CONNECTIONS connections for `seconds`, a fresh connection per request: requests/s, latency percentiles (ms), errors, client CPU seconds. */
async function load(url, seconds) {
  if (CLIENT === 'wrk') return wrkLoad(url, { connections: CONNECTIONS, seconds });
  const cpu0 = process.cpuUsage();
  const r = await closedLoop(CONNECTIONS, seconds, () => getOk(url, { agent: false }, 5000));
  const cpu = process.cpuUsage(cpu0);
  return { ...r, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

const us = (v) => (Number.isFinite(v) ? v.toFixed(0) : '-');
const row = (name, r) =>
  console.log(`${name.padEnd(32)} ${String(Math.round(r.rps)).padStart(7)} req/s   p50 ${ms(r.p50).padStart(9)}   p99 ${ms(r.p99).padStart(9)}   errors ${r.errors}/${r.ok + r.errors}   CPU µs/request agent ${us(r.agentUs)} pods ${us(r.podsUs)} client ${us(r.clientUs)}`);

/** One full run (API server, controller manager, agent in `mode`, 3 pods, Service); everything removed at the end. */
async function bench(mode) {
  const NODE = `proxy-bench-${mode === 'iptables' ? 'ipt-' : ''}${process.pid}`;
  const LINK = `fl${mode === 'iptables' ? 'c' : 'b'}${process.pid % 1_000_000}`;
  const dir = tempDir(`proxy-${mode}`);
  const children = [];
  let client;
  try {
    const server = await startApiServer(dir.path);
    children.push(server.child);
    const { kubeconfig } = server;
    client = new RestClient(loadClientConfig({ kubeconfig }));
    const { child: cm } = await startControllerManager(kubeconfig);
    children.push(cm);
    const { child: agent } = await startAgent(kubeconfig, NODE, dir.path, [
      '--proxy-mode', mode,
      '--proxy-interface', LINK,
      '--port', '0',
      '--log-level', 'warn',
    ]);
    children.push(agent);

    await client.create(res('namespaces'), '', { metadata: { name: NS } });
    await client.create(res('deployments.apps'), NS, httpdDeployment({ node: NODE, replicas: REPLICAS, port: 80, index: 'echo hello from the bench pod > /www/index.html', declarePort: true }));
    const svc = await client.create(res('services'), NS, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 8080, targetPort: 80 }] } });
    const podIPs = await waitUntil(`${REPLICAS} pods with IPs`, async () => {
      const pods = (await client.list(res('pods'), { namespace: NS })).items.filter((p) => p.status?.phase === 'Running' && p.status?.podIP);
      return pods.length === REPLICAS ? pods.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map((p) => p.status.podIP) : undefined;
    }, { timeoutMs: 90_000 });
    for (const ip of podIPs) await waitUntil(`pod ${ip}`, async () => (await fetch(`http://${ip}:80/`)).ok);
    await waitUntil(`${REPLICAS} ready endpoints`, async () => {
      const slices = (await client.list(res('endpointslices.discovery.k8s.io'), { namespace: NS })).items;
      return slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length === REPLICAS;
    });
    const direct = `http://${podIPs[0]}:80/`;
    const viaProxy = `http://${svc.spec.clusterIP}:8080/`;
    await waitUntil(viaProxy, async () => (await fetch(viaProxy)).ok);
    const podContainers = (await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${NODE}`] } })).map((c) => c.Id);
    const addresses = [...podIPs, svc.spec.clusterIP];

    console.log(`${mode} mode: ${REPLICAS} busybox httpd pods (direct: ${podIPs[0]}), ClusterIP ${svc.spec.clusterIP}, ${CLIENT} client, ${CONNECTIONS} connections, ${SECONDS} s per case`);
    const measure = async (url) => {
      await load(url, 1); // warm-up
      const waited = await waitTimeWaitDrained(addresses);
      await waitQuiet(children.map((c) => c.pid));
      const agent0 = cpuSeconds(agent.pid);
      const pods0 = containerCpuSeconds(podContainers);
      const t0 = performance.now();
      const r = await load(url, SECONDS);
      const wall = (performance.now() - t0) / 1000;
      const agentCpu = cpuSeconds(agent.pid) - agent0;
      const pods1 = containerCpuSeconds(podContainers);
      const n = r.ok + r.errors;
      return { ...r, waited, timeWait: timeWaitCount(addresses), agentPct: (100 * agentCpu) / wall, agentUs: (1e6 * agentCpu) / n, podsUs: pods0 === undefined || pods1 === undefined ? NaN : (1e6 * (pods1 - pods0)) / n, clientUs: (1e6 * r.cpuSeconds) / n };
    };
    const d1 = await measure(direct);
    const p = await measure(viaProxy);
    const d2 = await measure(direct);
    row('direct to one pod', d1);
    row(`through the ClusterIP (${mode})`, p);
    row('direct to one pod again', d2);
    const base = (d1.rps + d2.rps) / 2;
    const cost = (1 - p.rps / base) * 100;
    console.log(`${mode} proxy cost: ${cost.toFixed(1)}% throughput vs the mean direct rate (goal < 20%), p99 ${p.p99 >= d1.p99 ? '+' : '-'}${ms(Math.abs(p.p99 - d1.p99))}; agent CPU while proxying ${p.agentPct.toFixed(0)}% of a core; TIME_WAIT after each case ${d1.timeWait} / ${p.timeWait} / ${d2.timeWait}`);
  } finally {
    await client?.close().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await removeNodeContainers(engine, NODE).catch(() => undefined);
    // iptables mode keeps its rules after the agent stops: remove this node's chains and jumps only.
    if (mode === 'iptables') await cleanupIptables(NODE).catch((err) => console.error(`iptables cleanup: ${err.message}`));
    try {
      execFileSync('ip', ['link', 'del', 'dev', LINK], { stdio: 'ignore' });
    } catch {
      // Never created.
    }
    dir.remove();
  }
}

try {
  await ensureTestImages();
  for (const mode of MODES) await bench(mode);
} finally {
  await engine.close();
}
