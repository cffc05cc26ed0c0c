// Shared helpers of the benchmarks: percentiles, process control, RSS, a small flag parser, the
// components as processes, an API client, a closed-loop HTTP load generator.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The label every container a benchmark's agent makes carries (as the tests' do). */
export const TEST_LABEL = 'io.flotilla.test';
/** The busybox test image (see lib-images.mjs). */
export const TEST_IMAGE = 'flotilla-test/busybox:1';
/** The pod sandbox test image (see lib-images.mjs). */
export const PAUSE_IMAGE = 'flotilla-test/pause:1';

/** Path of a workspace binary's launcher script (`packages/PKG/bin/NAME.js`). */
export function bin(pkg, name) {
  return join(ROOT, 'packages', pkg, 'bin', `${name}.js`);
}

/** p-th percentile (0..100) of a numeric array (sorted copy). */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** Formats milliseconds. */
export function ms(v) {
  return Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : 'n/a';
}

/** Runs `fn` with `concurrency` workers over `count` items; returns per-item latencies (ms) and wall time. */
export async function runConcurrent(count, concurrency, fn) {
  const latencies = new Array(count);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const t0 = performance.now();
        await fn(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/** Resident set size of a process in KiB. */
export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU seconds (user+system) a process has used. */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds of a process and of its descendants alive now (an agent and the nginx it runs). */
export function treeCpuSeconds(pid) {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    try {
      total += cpuSeconds(p);
      for (const t of readdirSync(`/proc/${p}/task`)) stack.push(...readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** A temporary directory and its cleanup. */
export function tempDir(name) {
  const path = mkdtempSync(join(tmpdir(), `flotilla-bench-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts a process and resolves when its stdout matches `re`. */
export function startAndWait(cmd, args, re, options = {}) {
  // FLOTILLA_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=DIR") goes to every component started
  // with this Node; V8 options cannot be passed through NODE_OPTIONS.
  const nodeArgs = cmd === process.execPath ? (process.env.FLOTILLA_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(cmd, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start:\n${out}\n${err}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}:\n${out}\n${err.slice(-3000)}`)));
  });
}

/** Parses `--key value` and `--flag` arguments. */
export function flags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const k = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[k] = argv[++i];
    else out[k] = true;
  }
  return out;
}

/** Removes a bench node's memory-backed volumes (the agent's /dev/shm/flotilla/NODE_NAME, on tmpfs) once its pods are gone. */
export function removeMemoryVolumes(nodeName) {
  rmSync(join('/dev/shm/flotilla', nodeName), { recursive: true, force: true });
}

/** A ~2 KB pod manifest. */
export function podJson(name, extra = {}) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench', tier: 'web', shard: String(name.length % 7) }, annotations: { 'bench/sent': String(Date.now()), ...(extra.annotations ?? {}) } },
    spec: {
      nodeName: extra.nodeName,
      containers: [
        {
          name: 'app',
          image: 'registry.example/bench/app:1.2.3',
          command: ['/bin/app', '--listen=:8080', '--log-level=info'],
          ports: [{ name: 'http', containerPort: 8080 }],
          env: Array.from({ length: 12 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${'x'.repeat(40)}` })),
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 },
        },
      ],
    },
  });
}

/** Starts flotilla-apiserver with its data in `dataDir`: its process, URL, admin kubeconfig path, token and CA. */
export async function startApiServer(dataDir) {
  const { child, match } = await startAndWait(process.execPath, [bin('apiserver', 'flotilla-apiserver'), '--data-dir', dataDir, '--secure-port', '0', '--log-level', 'warn'], /listening on (https:\/\/\S+)/);
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  const token = /token: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))[1];
  const ca = readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8');
  return { child, url: match[1], kubeconfig, token, ca };
}

/**
 * An undici client of a `startApiServer` server with its admin token: `http` pools `connections`,
 * `watchHttp` has no body timeout. `text(method, path, body, contentType)` sends `body` (a string
 * as is, anything else as JSON) and resolves the response text, rejecting on a status >= 300;
 * `json` parses it; `watch(path, onLine)` opens a watch and calls `onLine` for every event line,
 * resolving its body (destroy it to stop).
 */
export function apiClient(server, { connections = 64 } = {}) {
  const http = new Agent({ connect: { ca: server.ca }, connections });
  const watchHttp = new Agent({ connect: { ca: server.ca }, bodyTimeout: 0 });
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  const text = async (method, path, body, contentType) => {
    const r = await request(`${server.url}${path}`, { method, dispatcher: http, headers: { ...headers, ...(contentType ? { 'content-type': contentType } : {}) }, body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body) });
    const t = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${t.slice(0, 300)}`);
    return t;
  };
  const watch = async (path, onLine) => {
    const w = await request(`${server.url}${path}`, { dispatcher: watchHttp, headers });
    let buf = '';
    w.body.setEncoding('utf8');
    w.body.on('data', (c) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
    });
    w.body.on('error', () => {});
    return w.body;
  };
  return {
    http,
    watchHttp,
    text,
    json: async (method, path, body, contentType) => JSON.parse(await text(method, path, body, contentType)),
    watch,
    close: async () => {
      await http.close();
      await watchHttp.destroy();
    },
  };
}

/** Starts flotilla-hollow-nodes (`count` nodes); resolves once they are registered. */
export function startHollowNodes(kubeconfig, count, extraArgs = []) {
  return startAndWait(process.execPath, [bin('agent', 'flotilla-hollow-nodes'), '--kubeconfig', kubeconfig, '--count', String(count), ...extraArgs, '--log-level', 'warn'], /hollow nodes registered/);
}

/** Starts flotilla-scheduler (no leader election); resolves once it runs. */
export function startScheduler(kubeconfig) {
  return startAndWait(process.execPath, [bin('scheduler', 'flotilla-scheduler'), '--kubeconfig', kubeconfig, '--leader-elect', 'false', '--port', '0', '--log-level', 'warn'], /scheduler running/);
}

/** Starts flotilla-controller-manager; resolves once it runs. */
export function startControllerManager(kubeconfig, extraArgs = []) {
  return startAndWait(process.execPath, [bin('controller-manager', 'flotilla-controller-manager'), '--kubeconfig', kubeconfig, ...extraArgs, '--port', '0', '--log-level', 'warn'], /controller manager running/);
}

/**
 * Starts flotilla-agent as `nodeName` with its state in `dataDir`/agent, the test pause image and
 * the test label on its containers, and `extraArgs`; resolves ({ child, match }) once stdout
 * matches `ready` (by default the line naming its endpoint).
 */
export function startAgent(kubeconfig, nodeName, dataDir, extraArgs = [], ready = /agent running on (https?:\/\/\S+)/) {
  // Host-wide features stay off unless a bench asks for them (a bench agent must not leave iptables
  // chains, DNS listeners or ports 80/443 behind).
  const given = new Set(extraArgs.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
  const isolation = Object.entries({ '--proxy-mode': 'none', '--enable-dns': 'false', '--ingress-http-port': '0', '--ingress-https-port': '0' }).filter(([flag]) => !given.has(flag)).flat();
  return startAndWait(process.execPath, [
    bin('agent', 'flotilla-agent'),
    '--kubeconfig', kubeconfig,
    '--node-name', nodeName,
    '--data-dir', join(dataDir, 'agent'),
    '--pod-infra-image', PAUSE_IMAGE,
    '--container-labels', `${TEST_LABEL}=true`,
    ...isolation,
    ...extraArgs,
  ], ready);
}

/** Polls `fn` every `intervalMs` until it resolves a truthy value (returned); a rejection counts as not yet. */
export async function waitUntil(what, fn, { timeoutMs = 60_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    const v = await fn().catch((err) => void (last = err));
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** One GET (http or https by the URL) with node:http(s) `options`; resolves true on status 200, false on any other answer or error; `timeoutMs` aborts a slower one. */
export function getOk(url, options = {}, timeoutMs) {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, { ...options, ...(timeoutMs ? { timeout: timeoutMs } : {}) }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode === 200));
      r.on('error', () => resolve(false));
    });
    if (timeoutMs) req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * A closed-loop load generator: `connections` workers each run `send()` (resolving true on
 * success) back to back for `seconds`. Resolves requests/s and p50/p99 latency (ms) of the
 * successes, their count (`ok`), the failures (`errors`) and the CPU seconds this process used.
 */
export async function closedLoop(connections, seconds, send) {
  const cpu0 = process.cpuUsage();
  const latencies = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (await send()) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rps: latencies.length / wall, p50: percentile(latencies, 50), p99: percentile(latencies, 99), ok: latencies.length, errors, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Whether `wrk` (Debian: `apt-get install -y wrk`) is on the PATH. */
export function hasWrk() {
  const r = spawnSync('wrk', ['--version'], { stdio: 'ignore' });
  return !r.error;
}

/** The load generator a `--client` option names (`wrk` or `node`; wrk when installed by default). */
export function loadClient(option) {
  const client = option ?? (hasWrk() ? 'wrk' : 'node');
  if (client !== 'wrk' && client !== 'node') throw new Error(`--client: ${client}? (wrk or node)`);
  if (client === 'wrk' && !hasWrk()) throw new Error('--client wrk: wrk is not installed (apt-get install -y wrk)');
  return client;
}

/** `'5.2ms'`, `'830.00us'`, `'1.20s'` -> milliseconds. */
function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

/**
 * One wrk run (one thread, `connections` connections, `seconds`, extra `headers`): requests/s, p50/p99
 * latency (ms; wrk times a request from its first byte written to the response's end, so a new
 * connection's handshake is not in it), successes (`ok`), failures (`errors`: socket errors and
 * non-2xx/3xx answers) and the CPU seconds wrk itself used. Against a server that closes each
 * connection, wrk reconnects per request. Spell a Host header `Host`: wrk adds its own `Host` (the
 * URL's) unless one of exactly that spelling is given, and which of two comes first varies by run.
 */
export function wrkLoad(url, { connections = 8, seconds = 10, headers = {} } = {}) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  // The shell prints its own /proc stat after wrk exits: its children's CPU times are wrk's.
  const quoted = ['wrk', ...args].map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `${quoted}; s=$?; cat /proc/$$/stat; exit $s`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk exited ${code}: ${err || out}`));
      const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = (sock ? sock.slice(1).reduce((a, n) => a + Number(n), 0) : 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const stat = out.trim().split('\n').pop().split(') ')[1]?.split(' ') ?? [];
      resolve({
        rps: Number(rps[1]),
        p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
        p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
        ok: total,
        errors,
        cpuSeconds: (Number(stat[13]) + Number(stat[14])) / 100,
      });
    });
  });
}

/** `/proc/net/tcp`'s spelling of an IPv4 address (`172.17.0.2` -> `020011AC`). */
function procNetIp(ip) {
  return ip.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('').toUpperCase();
}

/** This network namespace's TCP sockets in TIME_WAIT towards any of `ips` (IPv4). */
export function timeWaitCount(ips) {
  const want = new Set(ips.map(procNetIp));
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '06' && want.has(f[2]?.split(':')[0])) n++;
  }
  return n;
}

/**
 * Waits (up to `timeoutMs`, default 65 s: TIME_WAIT lasts 60 s) until fewer than `below` sockets
 * towards `ips` are in TIME_WAIT; resolves the seconds waited. A client that closes first leaves its
 * side in TIME_WAIT, and connect() then searches longer for a free source port towards the same
 * address: a run after one that closed thousands of connections to a pod starts handicapped.
 */
export async function waitTimeWaitDrained(ips, { below = 100, timeoutMs = 65_000 } = {}) {
  const t0 = Date.now();
  while (timeWaitCount(ips) >= below && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 1000));
  return (Date.now() - t0) / 1000;
}

const TW_REUSE = '/proc/sys/net/ipv4/tcp_tw_reuse';

/**
 * The proxy benchmarks' clients open thousands of connections a second to a few addresses, and
 * busybox httpd makes every request a new connection. A side that closes first keeps its port in
 * TIME_WAIT for 60 s; with the kernel's default (`tcp_tw_reuse=2`: reuse for loopback only),
 * connect() must then find a port no TIME_WAIT socket to the same address holds, and once those
 * fill the even half of the ephemeral range its search dominates the client's CPU (measured: wrk
 * straight to one pod at 140 µs per request over 8 s and 367 µs over 20 s, against 73 µs with
 * reuse). That measures the client's port search, not the pods or the proxy, and it hits a direct
 * baseline (all to one address, in the client) and a proxy (its upstream connections) unequally. So
 * the benchmarks set `tcp_tw_reuse=1` (reuse a TIME_WAIT port for a new outgoing connection when
 * TCP timestamps show it safe; ingress-nginx's tuning guide sets the same) in this network
 * namespace for the run, unless `enabled` is false, and put it back when the process exits.
 * Returns a line saying what was done.
 */
export function reuseTimeWait(enabled = true) {
  let before;
  try {
    before = readFileSync(TW_REUSE, 'utf8').trim();
  } catch {
    return 'tcp_tw_reuse: not readable here, left as it is';
  }
  if (!enabled || before === '1') return `tcp_tw_reuse=${before} (the kernel's setting, left as it is)`;
  try {
    writeFileSync(TW_REUSE, '1');
  } catch (err) {
    return `tcp_tw_reuse=${before}: cannot set 1 (${err.code ?? err.message}), left as it is`;
  }
  process.once('exit', () => writeFileSync(TW_REUSE, before));
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  return `tcp_tw_reuse=1 for this run (was ${before}; put back at exit; --tw-reuse false keeps the kernel's)`;
}

/** Whether this network namespace reuses TIME_WAIT ports for new outgoing connections (`tcp_tw_reuse=1`). */
export function timeWaitReused() {
  try {
    return readFileSync(TW_REUSE, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** CPU seconds the Docker containers `ids` have used (cgroup v1 cpuacct or v2 cpu.stat); undefined when not readable. */
export function containerCpuSeconds(ids) {
  let total = 0;
  for (const id of ids) {
    const paths = [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, `/sys/fs/cgroup/docker/${id}/cpu.stat`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`];
    let v;
    for (const p of paths) {
      try {
        const text = readFileSync(p, 'utf8');
        v = p.endsWith('cpu.stat') ? Number(/usage_usec (\d+)/.exec(text)?.[1]) / 1e6 : Number(text) / 1e9;
        break;
      } catch {
        // Try the next layout.
      }
    }
    if (v === undefined || Number.isNaN(v)) return undefined;
    total += v;
  }
  return total;
}

/**
 * Waits (up to `timeoutMs`) until the processes `pids` together use less than `belowPct` % of a core
 * over a `windowMs` window (a component still settling after a burst skews the next measurement);
 * resolves the seconds waited.
 */
export async function waitQuiet(pids, { belowPct = 5, windowMs = 1000, timeoutMs = 30_000 } = {}) {
  const t0 = Date.now();
  const total = () => pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  for (;;) {
    const c0 = total();
    await new Promise((r) => setTimeout(r, windowMs));
    if ((100 * (total() - c0)) / (windowMs / 1000) < belowPct || Date.now() - t0 > timeoutMs) return (Date.now() - t0) / 1000;
  }
}

/**
 * One case of the proxy benchmarks: `load(1)` to warm up, then, once the sockets towards `addresses`
 * have left TIME_WAIT (unless TIME_WAIT ports are reused) and the processes `pids` are quiet,
 * `load(seconds)`. Resolves its result with the seconds waited (`waited`), the TIME_WAIT count after
 * (`timeWait`), the agent's CPU in % of a core (`agentPct`) and CPU µs per request of the agent, the
 * pod containers `podContainers` and the client (`agentUs`, `podsUs`, `clientUs`; NaN when the
 * pods' cgroups are not readable).
 */
export async function measureProxyCase({ load, seconds, addresses, pids, agentPid, podContainers }) {
  await load(1);
  // With reuse, a TIME_WAIT port is taken again at once and the search stays short (reuseTimeWait).
  const waited = timeWaitReused() ? 0 : await waitTimeWaitDrained(addresses);
  await waitQuiet(pids);
  const agent0 = treeCpuSeconds(agentPid);
  const pods0 = containerCpuSeconds(podContainers);
  const t0 = performance.now();
  const r = await load(seconds);
  const wall = (performance.now() - t0) / 1000;
  const agentCpu = treeCpuSeconds(agentPid) - agent0;
  const pods1 = containerCpuSeconds(podContainers);
  const n = r.ok + r.errors;
  const podsUs = pods0 === undefined || pods1 === undefined ? NaN : (1e6 * (pods1 - pods0)) / n;
  return { ...r, waited, timeWait: timeWaitCount(addresses), agentPct: (100 * agentCpu) / wall, agentUs: (1e6 * agentCpu) / n, podsUs, clientUs: (1e6 * r.cpuSeconds) / n };
}

/** Microseconds as a whole number, `-` when unknown. */
export function usText(v) {
  return Number.isFinite(v) ? v.toFixed(0) : '-';
}
