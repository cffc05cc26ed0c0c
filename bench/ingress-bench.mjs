#!/usr/bin/env node
// Ingress benchmark: requests/s and latency through the agent's Ingress proxies vs straight to one
// pod, in the same run. A real API server, controller manager (Deployment, EndpointSlices) and one
// agent per Ingress proxy (`--proxies nginx,node`, default both where nginx is installed; each with
// its ingress on free loopback ports; the first runs the pods); a Deployment of 3 busybox httpd pods
// (a 512-byte file) behind a Service and an Ingress for host bench.test. Cases, CONNECTIONS
// concurrent connections for DURATION seconds each: direct http://POD_IP:8080/ to the first pod,
// then per proxy through http://127.0.0.1:INGRESS_PORT/ with `Host: bench.test` (round robin over
// the 3 pods) and over HTTPS, then direct again (the baseline is the mean of both direct runs, so
// drift on a shared machine shows). With wrk, a second baseline hits the 3 pods straight (one wrk
// per pod, the connections split), before and after the proxied cases. The figure of merit is the throughput cost of the proxy hop
// (goal: < 20 %). The proxy's CPU is the agent's plus its children's (nginx).
//
// Load generator: wrk (Debian: `apt-get install -y wrk`; one thread, cheap on the 2 cores the
// client, the proxy and the pods share), else a Node closed loop (`--client node` forces it; it costs
// the client ~3x wrk's CPU per request, which lowers the direct rate and so the measured cost).
// busybox httpd answers `Connection: close` and forks per connection: direct, each request is a new
// connection; through the Ingress the client's connections are kept alive and the proxy opens a new
// one to a pod per request. wrk's latency starts at the request's first byte (a new connection's
// handshake is outside it); the Node client's includes it.
// Rounds (`--rounds`, default 3): the whole sequence of cases runs that many times, and each proxied
// case's cost is taken against the direct runs of its own round (minutes apart at most), then
// averaged over the rounds; single runs of these cases vary by ±5 % on a shared 2-core machine.
// TIME_WAIT: a client that closes first keeps its side in TIME_WAIT for 60 s. With the kernel's
// default the next connect() to the same pod searches longer for a free source port, so each case
// then starts (after a 1 s warm-up) once the sockets towards the pods have left TIME_WAIT; with
// reuse (set for the run, below) a TIME_WAIT port is taken again at once and no case waits. Every
// case also starts once the API server, controller manager and agent are idle.
// Printed per case: requests/s, p50/p99, errors, cost vs direct, the proxy's CPU (agent + nginx; % of a core and
// µs per request), the pods' and the client's CPU per request, the sockets left in TIME_WAIT.
// Everything it creates is labelled io.flotilla.test=true and this run's node name, and removed at
// the end. Run `npx -y pnpm@10 build` first (it also bundles the agent).
// TIME_WAIT reuse: see reuseTimeWait in bench/lib.mjs (set for the run; `--tw-reuse false` keeps the kernel's).
// Usage: node bench/ingress-bench.mjs [--rounds 3] [--duration 10] [--connections 8] [--client wrk|node] [--proxies nginx,node] [--tw-reuse false]
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { findExecutable } from '../packages/agent/dist/find-executable.js';
import { closedLoop, flags, getOk, loadClient, measureProxyCase, removeMemoryVolumes, startAgent, startApiServer, startControllerManager, reuseTimeWait, tempDir, usText, waitUntil, wrkLoad } from './lib.mjs';
import { agentRuntime, ensureTestImages, httpdDeployment, nodeContainerIds, removeNodeContainers, waitHttpdPods } from './lib-images.mjs';

const opts = flags(process.argv.slice(2));
const DURATION = Math.min(Number(opts.duration ?? 10), 30);
const CONNECTIONS = Number(opts.connections ?? 8);
const ROUNDS = Math.max(1, Math.min(Number(opts.rounds ?? 3), 10));
const CLIENT = loadClient(opts.client);
const NODE = `ingress-bench-${process.pid}`;
const NS = 'ingress-bench';
const HOST = 'bench.test';
const REPLICAS = 3;
const PROXIES = (opts.proxies ?? (findExecutable('nginx') ? 'nginx,node' : 'node')).split(',');
const TW_REUSE = reuseTimeWait(opts['tw-reuse'] !== 'false');

const { DockerClient } = await agentRuntime();
const engine = new DockerClient();
const dir = tempDir('ingress');
const children = [];
let client;

/** One load run against `url` (Host header `host`): requests/s, p50/p99 (ms), ok, errors, client CPU seconds (wrk only). */
async function load(url, { host, seconds = DURATION } = {}) {
  if (CLIENT === 'wrk') return wrkLoad(url, { connections: CONNECTIONS, seconds, headers: host ? { Host: host } : {} });
  const tls = url.startsWith('https:');
  const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false, ...(host ? { servername: host } : {}) }) : new HttpAgent({ keepAlive: true, maxSockets: CONNECTIONS });
  const r = await closedLoop(CONNECTIONS, seconds, () => getOk(url, { agent, ...(host ? { headers: { host } } : {}) }));
  agent.destroy();
  return r;
}

/**
 * One load run spread over `urls` at once (the connections split between them; wrk only: one wrk
 * per URL): the summed rate, requests, errors and client CPU; p50/p99 are the highest of the runs'.
 */
async function loadSpread(urls, seconds = DURATION) {
  if (CLIENT !== 'wrk') throw new Error('loadSpread needs wrk');
  const share = (i) => Math.floor(CONNECTIONS / urls.length) + (i < CONNECTIONS % urls.length ? 1 : 0);
  const runs = await Promise.all(urls.map((url, i) => wrkLoad(url, { connections: share(i), seconds })));
  const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
  const max = (k) => runs.reduce((a, r) => Math.max(a, r[k]), 0);
  return { rps: sum('rps'), p50: max('p50'), p99: max('p99'), ok: sum('ok'), errors: sum('errors'), cpuSeconds: sum('cpuSeconds') };
}

/** Status code of one GET with a Host header (and SNI over HTTPS). */
function status(url, host) {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { headers: { host }, agent: false, rejectUnauthorized: false, servername: host }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

async function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await client?.close().catch(() => undefined);
  await removeNodeContainers(engine, NODE);
  await engine.close();
  dir.remove();
  removeMemoryVolumes(NODE);
}

try {
  await ensureTestImages();
  const server = await startApiServer(dir.path);
  children.push(server.child);
  const { kubeconfig } = server;
  const { child: cm } = await startControllerManager(kubeconfig);
  children.push(cm);
  // One agent per proxy kind; the first is the pods' node, the others only proxy.
  const proxies = [];
  for (const [i, kind] of PROXIES.entries()) {
    const { child: agent, match } = await startAgent(kubeconfig, i === 0 ? NODE : `${NODE}-${kind}`, i === 0 ? dir.path : `${dir.path}/${kind}`, [
      '--port', '0',
      '--ingress-http-port', 'auto',
      '--ingress-https-port', 'auto',
      '--ingress-bind-address', '127.0.0.1',
      '--ingress-proxy', kind,
      '--log-level', 'warn',
    ], /ingress listening on (http:\/\/\S+) (https:\/\/\S+)/);
    children.push(agent);
    proxies.push({ kind, agent, httpUrl: match[1], httpsUrl: match[2] });
  }

  client = new RestClient(loadClientConfig({ kubeconfig }));
  await client.create(res('namespaces'), '', { metadata: { name: NS } });
  await client.create(res('deployments.apps'), NS, httpdDeployment({ node: NODE, replicas: REPLICAS, port: 8080, index: `head -c 512 /dev/zero | tr '\\0' x > /www/index.html` }));
  await client.create(res('services'), NS, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await client.create(res('ingresses.networking.k8s.io'), NS, {
    metadata: { name: 'web' },
    spec: { rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
  const podIPs = await waitHttpdPods(client, res, { namespace: NS, replicas: REPLICAS, port: 8080, path: '/index.html' });
  for (const p of proxies) await waitUntil(`pods serving through the ${p.kind} ingress`, async () => (await status(`${p.httpUrl}/index.html`, HOST)) === 200, { timeoutMs: 90_000, intervalMs: 250 });
  const podContainers = await nodeContainerIds(engine, NODE);

  const direct = `http://${podIPs[0]}:8080/index.html`;
  // With wrk, also straight to all 3 pods at once (one wrk each): the proxies spread their new
  // connections over 3 pods, and a client that closes first leaves TIME_WAIT sockets per destination,
  // so this baseline is the one shaped like the proxied cases.
  const spread = CLIENT === 'wrk' ? podIPs.map((ip) => `http://${ip}:8080/index.html`) : undefined;
  const round = [
    { name: 'direct to one pod', url: direct, agent: proxies[0].agent, baseline: 'one' },
    ...(spread ? [{ name: 'direct to the 3 pods', urls: spread, agent: proxies[0].agent, baseline: 'spread' }] : []),
    ...proxies.flatMap((p) => [
      { name: `${p.kind} HTTP (3 pods)`, url: `${p.httpUrl}/index.html`, host: HOST, proxied: true, agent: p.agent },
      { name: `${p.kind} HTTPS (3 pods)`, url: `${p.httpsUrl}/index.html`, host: HOST, proxied: true, agent: p.agent },
    ]),
  ];
  // Each round starts and ends with the direct runs (the last round's closing ones are the next's opening ones).
  const closing = round.filter((c) => c.baseline).map((c) => ({ ...c, name: c.name.replace(/pods?$/, (m) => `${m} again`) }));
  const results = [];
  for (let n = 0; n < ROUNDS; n++) {
    for (const c of [...(n === 0 ? round : round.filter((x) => !x.baseline)), ...closing]) {
      const run = (seconds) => (c.urls ? loadSpread(c.urls, seconds) : load(c.url, { host: c.host, seconds }));
      const r = await measureProxyCase({ load: run, seconds: DURATION, addresses: podIPs, pids: children.map((p) => p.pid), agentPid: c.agent.pid, podContainers });
      if (r.errors > 0) r.probe = await status(c.url ?? c.urls[0], c.host ?? 'x').catch((err) => err.code ?? err.message);
      results.push({ ...c, ...r, round: n });
    }
  }
  const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
  /** The mean rate of the `kind` baseline runs around round `n` (its opening and closing ones). */
  const baseline = (kind, n) => {
    const rs = results.filter((r) => r.baseline === kind && (r.round === n || (r.round === n - 1 && r.name.endsWith('again'))));
    return rs.length ? mean(rs.map((r) => r.rps)) : undefined;
  };
  const f = (v) => `${v.toFixed(1)} ms`;
  const pct = (v) => `${v.toFixed(1)} %`;
  console.log(`\nIngress benchmark: ${CLIENT} client, ${CONNECTIONS} connections, ${DURATION} s per case, ${ROUNDS} round(s), 512-byte busybox httpd response; ingress over ${REPLICAS} pods; direct to one pod and (wrk) to all ${REPLICAS}; ${TW_REUSE}`);
  console.log(`${'round case'.padEnd(30)} ${'req/s'.padStart(7)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'errors'.padStart(7)} ${'vs direct'.padStart(10)} ${'proxy CPU'.padStart(10)}   CPU µs/request: proxy (agent + nginx) / pods / client`);
  for (const r of results) {
    const base = baseline('one', r.round);
    const cost = r.proxied ? pct(((r.rps - base) / base) * 100) : '';
    console.log(`${`${r.round + 1}  ${r.name}`.padEnd(30)} ${r.rps.toFixed(0).padStart(7)} ${f(r.p50).padStart(8)} ${f(r.p99).padStart(8)} ${String(r.errors).padStart(7)} ${cost.padStart(10)} ${`${r.agentPct.toFixed(0)} %`.padStart(10)}   ${usText(r.agentUs)} / ${usText(r.podsUs)} / ${usText(r.clientUs)}   TIME_WAIT after: ${r.timeWait}${r.waited >= 1 ? ` (waited ${r.waited.toFixed(0)} s before)` : ''}${r.probe !== undefined ? `; a request after it: ${r.probe}` : ''}`);
  }
  console.log('');
  for (const name of round.filter((c) => c.proxied).map((c) => c.name)) {
    const runs = results.filter((r) => r.name === name);
    /** Each round's cost in % against the `kind` baseline of that round (undefined without that baseline). */
    const costs = (kind) => {
      const bases = runs.map((r) => baseline(kind, r.round));
      return bases.includes(undefined) ? undefined : runs.map((r, i) => ((bases[i] - r.rps) / bases[i]) * 100);
    };
    const summary = (cs) => `${pct(mean(cs))}${cs.length > 1 ? ` (rounds ${cs.map((c) => c.toFixed(1)).join(', ')})` : ''}`;
    const verdict = (cs) => (mean(cs) < 20 ? 'met' : 'NOT met');
    const one = costs('one');
    const three = costs('spread');
    console.log(`${name}: throughput cost vs straight to one pod ${summary(one)}${three ? `, vs straight to the 3 pods ${summary(three)}` : ''} — goal < 20 % (vs one pod, as the issue sets it): ${verdict(one)}${three ? `; vs the 3 pods: ${verdict(three)}` : ''}`);
  }
} finally {
  await cleanup();
}
