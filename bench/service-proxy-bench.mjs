#!/usr/bin/env node
// Service proxy benchmark: what the agent's service proxy costs, in userspace mode (bytes copied by
// the agent) and iptables mode (kernel DNAT; its chains are named after the run's node name and
// removed at the end, with their jumps). A real API server, controller
// manager (EndpointSlices) and agent (its own VIP link) on the Docker engine; one busybox
// `httpd` pod behind a ClusterIP Service. A closed-loop load generator (CONNECTIONS workers, each
// GET on a fresh connection, latency per request) drives, in the same run and with the same
// settings, (1) the pod IP directly and (2) the ClusterIP (VIP -> proxy -> the same pod); it
// prints requests/s, p50/p99 latency and errors of each, the throughput ratio and the agent's
// CPU while proxying. busybox httpd answers one request per connection, so every request is a
// new connection through the proxy (accept + connect + splice) — the proxy's worst case.
// (autocannon is not used: against a server that closes every connection its latency figures
// are not per request.)
// Goal: the proxy costs < 20% throughput. Addresses are the VIP and the container's bridge IP.
// Needs root (VIP link), Docker and the test images (run `npx vitest run test/service-proxy.e2e.test.ts`
// once, or any e2e test, to build them); run `npx tsc -b` first. Everything it creates is labelled
// io.flotilla.test=true with this run's node name and removed at the end, with its link.
// Usage: node bench/service-proxy-bench.mjs [--seconds 10] [--connections 16] [--mode userspace|iptables|both (default)]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { closedLoop, cpuSeconds, flags, getOk, ms, PAUSE_IMAGE, ROOT, startAgent, startApiServer, startControllerManager, tempDir, TEST_IMAGE, waitUntil } from './lib.mjs';
import { removeNodeContainers } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const SECONDS = Math.min(10, Number(opts.seconds ?? 10));
const CONNECTIONS = Number(opts.connections ?? 16);
const MODES = opts.mode && opts.mode !== 'both' ? [opts.mode] : ['userspace', 'iptables'];
for (const m of MODES) if (m !== 'userspace' && m !== 'iptables') throw new Error(`--mode: ${m}? (userspace, iptables or both)`);
const NS = 'proxy-bench';

const { DockerClient } = await import(join(ROOT, 'packages/agent/dist/runtime/docker-client.js'));
const { RestClient, loadClientConfig, res } = await import(join(ROOT, 'packages/client/dist/index.js'));
const { cleanupIptables } = await import(join(ROOT, 'packages/agent/dist/proxy/iptables-rules.js'));
const engine = new DockerClient();

/** CONNECTIONS closed-loop workers for `seconds`, each GET on a fresh connection: requests/s, latency percentiles (ms), errors. */
async function load(url, seconds) {
  const r = await closedLoop(CONNECTIONS, seconds, () => getOk(url, { agent: false }, 5000));
  return { ...r, total: r.ok + r.errors };
}

const row = (name, r) => console.log(`${name.padEnd(32)} ${String(Math.round(r.rps)).padStart(7)} req/s   p50 ${ms(r.p50).padStart(9)}   p99 ${ms(r.p99).padStart(9)}   errors ${r.errors}/${r.total}`);

/** One full run (API server, controller manager, agent in `mode`, pod, Service); everything removed at the end. */
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
    await client.create(res('pods'), NS, {
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'mkdir -p /www && echo hello from the bench pod > /www/index.html && exec httpd -f -p 80 -h /www'], ports: [{ containerPort: 80 }] }],
      },
    });
    const svc = await client.create(res('services'), NS, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 8080, targetPort: 80 }] } });
    const podIP = await waitUntil('the pod IP', async () => (await client.get(res('pods'), NS, 'web')).status?.podIP);
    const direct = `http://${podIP}:80/`;
    const viaProxy = `http://${svc.spec.clusterIP}:8080/`;
    for (const url of [direct, viaProxy]) await waitUntil(url, async () => (await fetch(url)).ok);

    console.log(`${mode} mode: busybox httpd pod ${podIP}, ClusterIP ${svc.spec.clusterIP}, ${CONNECTIONS} connections, ${SECONDS} s per case`);
    await load(direct, 2);
    await load(viaProxy, 2);
    const d = await load(direct, SECONDS);
    const cpu0 = cpuSeconds(agent.pid);
    const p = await load(viaProxy, SECONDS);
    const cpu = ((cpuSeconds(agent.pid) - cpu0) / SECONDS) * 100;
    row(`direct to the pod IP`, d);
    row(`through the ClusterIP (${mode})`, p);
    const cost = (1 - p.rps / d.rps) * 100;
    console.log(`${mode} proxy cost: ${cost.toFixed(1)}% throughput (goal < 20%), p99 +${ms(p.p99 - d.p99)}; agent CPU while proxying ${cpu.toFixed(0)}% of a core`);
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
  for (const image of [TEST_IMAGE, PAUSE_IMAGE]) await engine.inspectImage(image).catch(() => { throw new Error(`image ${image} missing: run an e2e test once to build the test images`); });
  for (const mode of MODES) await bench(mode);
} finally {
  await engine.close();
}
