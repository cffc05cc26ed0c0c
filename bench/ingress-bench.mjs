#!/usr/bin/env node
// Ingress benchmark: requests/s and latency through the agent's Ingress proxy vs straight to the
// pod, in the same run. A real API server, controller manager (EndpointSlices) and agent (ingress
// on free loopback ports); one busybox httpd pod (a 512-byte file) behind a Service and an
// Ingress for host bench.test. A closed loop of CONNECTIONS concurrent clients runs DURATION
// seconds per case: direct http://POD_IP:8080/, through http://127.0.0.1:INGRESS_PORT/ with
// `Host: bench.test`, over HTTPS (SNI, default certificate), then direct again (the baseline is
// the mean of both direct runs, so drift on a shared machine shows). The figure of merit is the
// throughput cost of the proxy hop (goal: < 20 %). Agent CPU during each ingress case is printed.
// Why not autocannon: busybox httpd answers `Connection: close` (and forks per connection, listen
// backlog 9), and autocannon's latency accounting across its reconnects reports ~1 s medians for
// the direct case where a plain client measures single milliseconds. The loop here uses
// node:http with a keep-alive agent, which reconnects per request exactly when the server closes.
// Everything it creates is labelled io.flotilla.test=true and this run's node name, and removed at
// the end. Run `npx tsc -b` first.
// Usage: node bench/ingress-bench.mjs [--duration 10] [--connections 8]
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { closedLoop, cpuSeconds, flags, getOk, startAgent, startApiServer, startControllerManager, tempDir, waitUntil } from './lib.mjs';
import { agentRuntime, ensureTestImages, removeNodeContainers, TEST_IMAGE } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const DURATION = Math.min(Number(opts.duration ?? 10), 30);
const CONNECTIONS = Number(opts.connections ?? 8);
const NODE = `ingress-bench-${process.pid}`;
const NS = 'ingress-bench';
const HOST = 'bench.test';

const { DockerClient } = await agentRuntime();
const engine = new DockerClient();
const dir = tempDir('ingress');
const children = [];
let client;

/** A closed loop of CONNECTIONS clients for `seconds`: requests/s, p50/p99 latency (ms), errors. */
async function load(url, { host, seconds = DURATION } = {}) {
  const tls = url.startsWith('https:');
  const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false, ...(host ? { servername: host } : {}) }) : new HttpAgent({ keepAlive: true, maxSockets: CONNECTIONS });
  const r = await closedLoop(CONNECTIONS, seconds, () => getOk(url, { agent, ...(host ? { headers: { host } } : {}) }));
  agent.destroy();
  return { ...r, total: r.ok };
}

/** Status code of one GET with a Host header. */
function status(url, host) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host }, agent: false }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

const waitFor = (what, fn) => waitUntil(what, fn, { timeoutMs: 90_000, intervalMs: 250 });

async function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await client?.close().catch(() => undefined);
  await removeNodeContainers(engine, NODE);
  await engine.close();
  dir.remove();
}

try {
  await ensureTestImages();
  const server = await startApiServer(dir.path);
  children.push(server.child);
  const { kubeconfig } = server;
  const { child: cm } = await startControllerManager(kubeconfig);
  children.push(cm);
  const { child: agent, match } = await startAgent(kubeconfig, NODE, dir.path, [
    '--port', '0',
    '--ingress-http-port', 'auto',
    '--ingress-https-port', 'auto',
    '--ingress-bind-address', '127.0.0.1',
    '--log-level', 'warn',
  ], /ingress listening on (http:\/\/\S+) (https:\/\/\S+)/);
  children.push(agent);
  const [httpUrl, httpsUrl] = [match[1], match[2]];

  client = new RestClient(loadClientConfig({ kubeconfig }));
  await client.create(res('namespaces'), '', { metadata: { name: NS } });
  await client.create(res('pods'), NS, {
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', `mkdir -p /www && head -c 512 /dev/zero | tr '\\0' x > /www/index.html && exec httpd -f -p 8080 -h /www`] }],
    },
  });
  await client.create(res('services'), NS, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await client.create(res('ingresses.networking.k8s.io'), NS, {
    metadata: { name: 'web' },
    spec: { rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
  const podIP = await waitFor('pod IP', async () => (await client.get(res('pods'), NS, 'web')).status?.podIP);
  await waitFor('pod serving directly', async () => (await fetch(`http://${podIP}:8080/index.html`)).ok);
  await waitFor('pod serving through the ingress', async () => (await status(`${httpUrl}/index.html`, HOST)) === 200);

  const cases = [
    { name: 'direct to pod IP', url: `http://${podIP}:8080/index.html` },
    { name: 'through ingress (HTTP)', url: `${httpUrl}/index.html`, host: HOST, agent: true },
    { name: 'through ingress (HTTPS)', url: `${httpsUrl}/index.html`, host: HOST, agent: true },
    { name: 'direct to pod IP (again)', url: `http://${podIP}:8080/index.html` },
  ];
  const results = [];
  for (const c of cases) {
    await load(c.url, { host: c.host, seconds: 1 }); // warm-up
    const cpu0 = c.agent ? cpuSeconds(agent.pid) : 0;
    const t0 = performance.now();
    const r = await load(c.url, { host: c.host });
    const wall = (performance.now() - t0) / 1000;
    results.push({ name: c.name, ...r, agentCpu: c.agent ? (100 * (cpuSeconds(agent.pid) - cpu0)) / wall : undefined, direct: !c.agent });
  }
  const directs = results.filter((r) => r.direct);
  const base = directs.reduce((a, r) => a + r.rps, 0) / directs.length;
  const f = (v) => `${v.toFixed(1)} ms`;
  console.log(`\nIngress benchmark: ${CONNECTIONS} concurrent clients, ${DURATION} s per case, 512-byte busybox httpd response, one pod`);
  console.log(`${'case'.padEnd(26)} ${'req/s'.padStart(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'requests'.padStart(9)} ${'errors'.padStart(7)} ${'vs direct'.padStart(10)} ${'agent CPU'.padStart(10)}`);
  for (const r of results) {
    const cost = r.direct ? '' : `${(((r.rps - base) / base) * 100).toFixed(1)} %`;
    console.log(`${r.name.padEnd(26)} ${r.rps.toFixed(0).padStart(8)} ${f(r.p50).padStart(9)} ${f(r.p99).padStart(9)} ${String(r.total).padStart(9)} ${String(r.errors).padStart(7)} ${cost.padStart(10)} ${(r.agentCpu === undefined ? '' : `${r.agentCpu.toFixed(0)} %`).padStart(10)}`);
  }
  const httpCost = ((base - results[1].rps) / base) * 100;
  console.log(`\nHTTP throughput cost of the ingress hop vs the mean direct rate: ${httpCost.toFixed(1)} % (goal < 20 %): ${httpCost < 20 ? 'met' : 'NOT met'}`);
} finally {
  await cleanup();
}
