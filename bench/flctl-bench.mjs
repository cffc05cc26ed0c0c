// flctl benchmark: cold start (`flctl version --client`, median of N runs) next to the stock
// `kubectl version --client`, and `flctl get pods` over many pods (wall time of the whole command
// and the API server's Table response time for the same request).
// Usage: node bench/flctl-bench.mjs [--runs 20] [--pods 5000] [--concurrency 32]
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { flags, ms, percentile, podJson, ROOT, runConcurrent, startAndWait, tempDir } from './lib.mjs';

const f = flags(process.argv.slice(2));
const RUNS = Number(f.runs ?? 20);
const PODS = Number(f.pods ?? 5000);
const CONCURRENCY = Number(f.concurrency ?? 32);
const FLCTL = join(ROOT, 'packages/cli/bin/flctl.js');

function timeRuns(cmd, args, runs, env = process.env) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  }
  return times;
}

const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
console.log(`flctl cold start (version --client), ${RUNS} runs:`);
timeRuns(process.execPath, [FLCTL, 'version', '--client'], 2); // warm the page cache
const flctlStart = timeRuns(process.execPath, [FLCTL, 'version', '--client'], RUNS);
console.log(`  flctl   median ${ms(percentile(flctlStart, 50))}  p90 ${ms(percentile(flctlStart, 90))}  (goal < 300 ms)`);
const nodeBare = timeRuns(process.execPath, ['-e', '0'], RUNS);
console.log(`  node -e 0 median ${ms(percentile(nodeBare, 50))} (the floor of any Node CLI)`);
if (kubectl) {
  timeRuns(kubectl, ['version', '--client'], 2);
  const k = timeRuns(kubectl, ['version', '--client'], RUNS);
  console.log(`  kubectl median ${ms(percentile(k, 50))}  p90 ${ms(percentile(k, 90))}`);
} else console.log('  kubectl not installed');

const dir = tempDir('flctl');
const { child: server, match } = await startAndWait(process.execPath, [join(ROOT, 'packages/apiserver/bin/flotilla-apiserver.js'), '--data-dir', dir.path, '--secure-port', '0', '--log-level', 'warn'], /listening on (https:\/\/\S+)/);
try {
  const url = match[1];
  const kubeconfig = join(dir.path, 'admin.kubeconfig');
  const token = /token: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))[1];
  const ca = readFileSync(join(dir.path, 'pki', 'ca.crt'), 'utf8');
  const dispatcher = new Agent({ connect: { ca }, connections: CONCURRENCY });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const created = await runConcurrent(PODS, CONCURRENCY, async (i) => {
    const res = await request(`${url}/api/v1/namespaces/default/pods`, { method: 'POST', headers, body: podJson(`bench-${i}`, { nodeName: `node-${i % 50}` }), dispatcher });
    await res.body.text();
    if (res.statusCode !== 201) throw new Error(`create pod: ${res.statusCode}`);
  });
  console.log(`\ncreated ${PODS} pods in ${created.seconds.toFixed(1)} s (concurrency ${CONCURRENCY})`);

  // The server's time for the same request flctl makes (Table, limit=500 pages).
  const serverTimes = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    let cont = '';
    do {
      const res = await request(`${url}/api/v1/namespaces/default/pods?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, { headers: { ...headers, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' }, dispatcher });
      const body = await res.body.json();
      cont = body.metadata?.continue ?? '';
    } while (cont);
    serverTimes.push(performance.now() - t0);
  }
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  const flctlGet = timeRuns(process.execPath, [FLCTL, 'get', 'pods'], 5, env);
  const lines = execFileSync(process.execPath, [FLCTL, 'get', 'pods'], { env, maxBuffer: 256 * 1024 * 1024 }).toString().trim().split('\n').length - 1;
  console.log(`flctl get pods (${lines} rows): median wall ${ms(percentile(flctlGet, 50))}; server Table pages median ${ms(percentile(serverTimes, 50))}`);
  if (kubectl) {
    const kGet = timeRuns(kubectl, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir.path, 'kcache'), 'get', 'pods'], 5);
    console.log(`kubectl get pods: median wall ${ms(percentile(kGet, 50))}`);
  }
  await dispatcher.close();
} finally {
  server.kill('SIGTERM');
  dir.remove();
}
