/**
 * flctl's streaming commands against a real API server and agent on the Docker engine: exec (exit
 * codes, stdin, a TTY under `script`), attach, port-forward to a pod and through a Service's named
 * targetPort, logs -f, and top pods/nodes from metrics.k8s.io.
 *
 * The agent listens on 127.0.0.1 with `--node-ip 127.0.0.1`, no service proxy, no DNS and no
 * Ingress ports, so nothing binds host ports beyond loopback; pods are on the Docker bridge. Every
 * container carries `io.flotilla.test=true` and this run's node name; the suite removes exactly those.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { findOnPath, REPO_ROOT, runUnderScript, startProcess, type RunningProcess, type tempDir } from './harness/processes.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const FLCTL = join(REPO_ROOT, 'packages', 'cli', 'bin', 'flctl.js');
const docker = hasDockerSocket();
if (!docker) console.warn('skipping flctl streaming end-to-end tests: no Docker socket at /var/run/docker.sock');
const kubectlPath = findKubectl();
const hasScript = findOnPath('script') !== undefined;
const NODE = `flctl-streams-${process.pid}`;
const NS = 'flctl-streams';

const WEB = 'mkdir -p /www && echo hello-www > /www/index.html && httpd -p 80 -h /www && i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.3; done';
const TICKER = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.3; done';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const cluster = new DockerTestCluster('flctl-streams', NODE, { apiServerSubdir: 'apiserver' });
let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;

function run(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [FLCTL, '--kubeconfig', server.kubeconfig, ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await run(args, input);
  if (r.code !== 0) throw new Error(`flctl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A long-running flctl (port-forward, logs -f, attach), stopped by the test. */
function flctl(args: string[]): RunningProcess {
  return startProcess(FLCTL, ['--kubeconfig', server.kubeconfig, ...args]);
}

function pod(name: string, script: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', script], ...extra }] },
  });
}

describe.skipIf(!docker)('flctl exec, attach, port-forward, logs -f and top against an agent', () => {
  beforeAll(async () => {
    ({ server, dir } = await cluster.start());
    await cluster.startAgent(['--metrics-interval', '2s']);
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }));
    await ok(['apply', '-f', '-'], pod('web', WEB, { ports: [{ name: 'http', containerPort: 80 }] }));
    await ok(['apply', '-f', '-'], pod('ticker', TICKER));
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS }, spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 8080, targetPort: 'http' }] } }));
    for (const name of ['web', 'ticker']) await ok(['-n', NS, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s']);
  });

  afterAll(() => cluster.stop());

  it('exec prints the output and passes the exit code through', async () => {
    const r = await run(['-n', NS, 'exec', 'web', '--', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toBe('oops\ncommand terminated with exit code 3\n');
    expect(r.code).toBe(3);
    expect(await ok(['-n', NS, 'exec', 'pod/web', '-c', 'main', '--', 'cat', '/www/index.html'])).toBe('hello-www\n');
    const missing = await run(['-n', NS, 'exec', 'ghost', '--', 'true']);
    expect(missing).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): pods "ghost" not found\n' });
    const noCommand = await run(['-n', NS, 'exec', 'web']);
    expect(noCommand).toMatchObject({ code: 1, stderr: 'error: you must specify at least one command for the container\n' });
  });

  it('exec -i passes stdin and closes it at EOF', async () => {
    const r = await run(['-n', NS, 'exec', '-i', 'web', '--', 'cat'], 'data\nmore data\n');
    expect(r).toMatchObject({ code: 0, stdout: 'data\nmore data\n' });
    const big = 'x'.repeat(300_000);
    const counted = await run(['-n', NS, 'exec', '-i', 'web', '--', 'wc', '-c'], big);
    expect(counted.stdout.trim()).toBe(String(big.length));
  });

  it('exec -i -t without a terminal falls back to no TTY, like kubectl', async () => {
    const r = await run(['-n', NS, 'exec', '-it', 'web', '--', 'sh', '-c', 'tty || true'], '');
    expect(r.stderr).toContain('Unable to use a TTY - input is not a terminal or the right kind of file');
    expect(r.stdout).toBe('not a tty\n');
  });

  it.skipIf(!hasScript)('exec -it runs under a TTY (script -qec) with the terminal size', async () => {
    const cmd = `${process.execPath} ${FLCTL} --kubeconfig ${server.kubeconfig} -n ${NS} exec -it web -- sh -c 'tty; sleep 1; stty size; exit 5'`;
    const r = await runUnderScript(`stty rows 33 cols 101; ${cmd}`);
    expect(r.out).toMatch(/\/dev\/pts\/\d+/);
    expect(r.out).toMatch(/33 101/);
    expect(r.out).toContain('command terminated with exit code 5');
    expect(r.code).toBe(5);
  });

  it('attach streams the output of the running container', async () => {
    const a = flctl(['-n', NS, 'attach', 'ticker']);
    try {
      await waitFor('attached output', () => (a.stdout().match(/tick \d+/g) ?? []).length >= 3, { timeoutMs: 20_000 });
    } finally {
      await a.stop();
    }
  });

  it('port-forward to a pod: 0:80 picks a local port, and each connection reaches the pod', async () => {
    const pf = flctl(['-n', NS, 'port-forward', 'web', '0:80']);
    try {
      const port = Number((await pf.waitForOutput(/Forwarding from 127\.0\.0\.1:(\d+) -> 80\n/, 20_000))[1]);
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/index.html`, { headers: { connection: 'close' } });
        expect(r.status).toBe(200);
        expect(await r.text()).toBe('hello-www\n');
      }
      const parallel = await Promise.all([1, 2, 3, 4].map(() => fetch(`http://127.0.0.1:${port}/index.html`, { headers: { connection: 'close' } }).then((r) => r.text())));
      expect(parallel).toEqual(Array(4).fill('hello-www\n'));
      expect(pf.stdout()).toContain(`Handling connection for ${port}`);
    } finally {
      expect(await pf.stop('SIGINT')).toBe(0);
    }
  });

  it('port-forward svc/NAME resolves the named targetPort of a ready pod', async () => {
    const pf = flctl(['-n', NS, 'port-forward', 'svc/web', ':8080']);
    try {
      const port = Number((await pf.waitForOutput(/Forwarding from 127\.0\.0\.1:(\d+) -> 80\n/, 20_000))[1]);
      const r = await fetch(`http://127.0.0.1:${port}/index.html`, { headers: { connection: 'close' } });
      expect(await r.text()).toBe('hello-www\n');
    } finally {
      await pf.stop();
    }
    const bad = await run(['-n', NS, 'port-forward', 'svc/web', '9999']);
    expect(bad).toMatchObject({ code: 1, stderr: 'error: Service web does not have a service port 9999\n' });
  });

  it('logs -f streams new lines', async () => {
    const f = flctl(['-n', NS, 'logs', '-f', 'web', '--tail', '1']);
    try {
      await waitFor('followed lines', () => (f.stdout().match(/line \d+/g) ?? []).length >= 4, { timeoutMs: 20_000 });
    } finally {
      await f.stop();
    }
    const tail = await ok(['-n', NS, 'logs', 'web', '--tail', '2']);
    expect(tail).toMatch(/^line \d+\nline \d+\n$/);
  });

  it('top pods and top nodes print usage from metrics.k8s.io', async () => {
    const out = await waitFor('pod metrics', async () => {
      const r = await run(['-n', NS, 'top', 'pods']);
      return r.code === 0 && /^web\s/m.test(r.stdout) && /^ticker\s/m.test(r.stdout) ? r.stdout : undefined;
    }, { timeoutMs: 90_000, intervalMs: 1000 });
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s+$/);
    expect(out).toMatch(/^web\s+\d+m\s+\d+Mi\s+$/m);
    const containers = await ok(['-n', NS, 'top', 'pod', 'web', '--containers']);
    expect(containers).toMatch(/^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s+\nweb\s+main\s+\d+m\s+\d+Mi\s+\n$/);
    const all = await ok(['top', 'pods', '-A', '-l', 'app=ticker', '--sort-by', 'memory', '--no-headers']);
    expect(all).toMatch(new RegExp(`^${NS}\\s+ticker\\s+\\d+m\\s+\\d+Mi\\s+\\n$`));
    const nodes = await waitFor('node metrics', async () => {
      const r = await run(['top', 'nodes']);
      return r.code === 0 && r.stdout.includes(NODE) ? r.stdout : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    expect(nodes).toMatch(/^NAME\s+CPU\(cores\)\s+CPU%\s+MEMORY\(bytes\)\s+MEMORY%\s+\n/);
    expect(nodes).toMatch(new RegExp(`^${NODE}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%\\s+$`, 'm'));
    const badSort = await run(['top', 'pods', '--sort-by', 'name']);
    expect(badSort).toMatchObject({ code: 1, stderr: 'error: --sort-by accepts only cpu or memory\n' });
  });

  it.skipIf(!kubectlPath)('matches stock kubectl: top headers, exit code messages and argument errors', async () => {
    const kubectl = new Kubectl(kubectlPath!, server.kubeconfig, dir.path);
    for (const args of [['-n', NS, 'top', 'pods'], ['top', 'nodes'], ['top', 'pods', '-A', '--containers']]) {
      const header = (text: string) => text.split('\n')[0];
      expect(header(await ok(args))).toBe(header(await kubectl.ok(args)));
    }
    for (const args of [['-n', NS, 'exec', 'web', '--', 'sh', '-c', 'exit 4'], ['-n', NS, 'exec', 'web', '-c', 'nope', '--', 'true'], ['-n', NS, 'port-forward', 'svc/web', '9999'], ['-n', NS, 'port-forward', 'web', 'x:80']]) {
      const theirs = await kubectl.run(args);
      expect(await run(args)).toEqual({ code: theirs.code, stdout: theirs.stdout, stderr: theirs.stderr });
    }
  });
});
