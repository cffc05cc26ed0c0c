// Shared helpers of the benchmarks: percentiles, process control, RSS, a small flag parser.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

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

/** A temporary directory and its cleanup. */
export function tempDir(name) {
  const path = mkdtempSync(join(tmpdir(), `flotilla-bench-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts a process and resolves when its stdout matches `re`. */
export function startAndWait(cmd, args, re, options = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
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
      const m = re.source.includes('stderr') ? null : null;
      void m;
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
