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
// images (built on first use); run `npx -y pnpm@10 build` first. Everything it creates is labelled
// io.flotilla.test=true with this run's node name and removed at the end, with its link.
// TIME_WAIT reuse: see reuseTimeWait in bench/lib.mjs (set for the run; `--tw-reuse false` keeps the kernel's).
// Usage: node bench/service-proxy-bench.mjs [--seconds 10] [--connections 8] [--mode userspace|iptables|both (default)] [--client wrk|node] [--tw-reuse false]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { closedLoop, flags, getOk, loadClient, measureProxyCase, ms, removeMemoryVolumes, ROOT, startAgent, startApiServer, startControllerManager, reuseTimeWait, tempDir, usText, waitUntil, wrkLoad } from './lib.mjs';
import { ensureTestImages, httpdDeployment, nodeContainerIds, removeNodeContainers, waitHttpdPods } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const SECONDS = Math.min(10, Number(opts.seconds ?? 10));
const CONNECTIONS = Number(opts.connections ?? 8);
const MODES = opts.mode && opts.mode !== 'both' ? [opts.mode] : ['userspace', 'iptables'];
for (const m of MODES) if (m !== 'userspace' && m !== 'iptables') throw new Error(`--mode: ${m}? (userspace, iptables or both)`);
const CLIENT = loadClient(opts.client);
const TW_REUSE = reuseTimeWait(opts['tw-reuse'] !== 'false');
const NS = 'proxy-bench';
const REPLICAS = 3;

const { DockerClient } = await import(join(ROOT, 'packages/agent/dist/runtime/docker-client.js'));
const { RestClient, loadClientConfig, res } = await import(join(ROOT, 'packages/client/dist/index.js'));
const { cleanupIptables } = await import(join(ROOT, 'packages/agent/dist/proxy/iptables-rules.js'));
const engine = new DockerClient();

/** CONNECTIONS connections for `seconds`, a fresh connection per request: requests/s, latency percentiles (ms), errors, client CPU seconds. */
async function load(url, seconds) {
  if (CLIENT === 'wrk') return wrkLoad(url, { connections: CONNECTIONS, seconds });
  return closedLoop(CONNECTIONS, seconds, () => getOk(url, { agent: false }, 5000));
}

const row = (name, r) =>
  console.log(`${name.padEnd(32)} ${String(Math.round(r.rps)).padStart(7)} req/s   p50 ${ms(r.p50).padStart(9)}   p99 ${ms(r.p99).padStart(9)}   errors ${r.errors}/${r.ok + r.errors}   CPU µs/request agent ${usText(r.agentUs)} pods ${usText(r.podsUs)} client ${usText(r.clientUs)}`);

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
    const podIPs = await waitHttpdPods(client, res, { namespace: NS, replicas: REPLICAS, port: 80 });
    const direct = `http://${podIPs[0]}:80/`;
    const viaProxy = `http://${svc.spec.clusterIP}:8080/`;
    await waitUntil(viaProxy, async () => (await fetch(viaProxy)).ok);
    const podContainers = await nodeContainerIds(engine, NODE);
    const addresses = [...podIPs, svc.spec.clusterIP];

    console.log(`${mode} mode: ${REPLICAS} busybox httpd pods (direct: ${podIPs[0]}), ClusterIP ${svc.spec.clusterIP}, ${CLIENT} client, ${CONNECTIONS} connections, ${SECONDS} s per case; ${TW_REUSE}`);
    const measure = (url) => measureProxyCase({ load: (seconds) => load(url, seconds), seconds: SECONDS, addresses, pids: children.map((c) => c.pid), agentPid: agent.pid, podContainers });
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
    removeMemoryVolumes(NODE);
  }
}

try {
  await ensureTestImages();
  for (const mode of MODES) await bench(mode);
} finally {
  await engine.close();
}
