/**
 * Logs, exec, attach-style streams and port-forward through the API server to the agent, with the
 * stock kubectl (every installed 1.27–1.33 binary: WebSocket and SPDY/3.1, raw and tunnelled) and
 * @kubernetes/client-node; and the agent's endpoint refusing callers without the API server's
 * client certificate.
 *
 * The agent runs with `--node-ip 127.0.0.1` so API server → agent traffic stays on loopback; pods
 * are on the Docker bridge. Every container carries `io.flotilla.test=true` and this run's node
 * name; the suite removes exactly those.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { issueCertificate } from '@flotilla/api/pki';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { findKubectl, Kubectl, kubectlVersions } from './harness/kubectl.js';
import { findOnPath, runUnderScript, type RunningProcess, type tempDir } from './harness/processes.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const docker = hasDockerSocket();
const kubectlPath = findKubectl();
const NODE = `streams-e2e-${process.pid}`;
const NS = 'streams';

const hasScript = findOnPath('script') !== undefined;

const cluster = new DockerTestCluster('streams', NODE, { apiServerSubdir: 'apiserver' });
let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let agent: RunningProcess;
let agentUrl: string;
let kubectl: Kubectl;

function container(name: string, script: string): Record<string, unknown> {
  return { name, image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', script] };
}

function podManifest(name: string, containers: Record<string, unknown>[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers } });
}

const WEB = 'mkdir -p /www && echo hello-www > /www/index.html && httpd -p 80 -h /www && i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.3; done';

function kubectlFor(path: string): Kubectl {
  return new Kubectl(path, server.kubeconfig, dir.path);
}

/** GET against the agent's endpoint with optional client certificate. */
function agentGet(path: string, options: { plain?: boolean; cert?: { cert: string; key: string } } = {}): Promise<{ status: number; body: string }> {
  const url = new URL(path, options.plain ? agentUrl.replace('https:', 'http:') : agentUrl);
  return new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = options.plain ? httpRequest(url, done) : httpsRequest(url, { rejectUnauthorized: false, ...(options.cert ?? {}) }, done);
    req.on('error', reject);
    req.end();
  });
}

async function waitRunning(name: string): Promise<void> {
  await kubectl.ok(['-n', NS, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s'], { timeoutMs: 100_000 });
}

describe.skipIf(!docker || !kubectlPath)('logs, exec and port-forward through the API server', () => {
  beforeAll(async () => {
    ({ server, dir } = await cluster.start());
    kubectl = kubectlFor(kubectlPath!);
    const started = await cluster.startAgent();
    agent = started.process;
    agentUrl = started.url;
    await kubectl.ok(['create', 'namespace', NS]);
    const manifests = [
      podManifest('web', [container('main', WEB)]),
      podManifest('two', [container('a', 'echo from-a; echo a > /tmp/who; sleep 3600'), container('b', 'echo from-b; echo b > /tmp/who; sleep 3600')]),
      podManifest('crash', [container('main', 'echo "run $(cat /proc/uptime)"; sleep 1; exit 1')]),
    ];
    for (const m of manifests) await kubectl.ok(['apply', '-f', '-'], { input: m });
    await waitRunning('web');
    await waitRunning('two');
  });

  afterAll(() => cluster.stop());

  it('kubectl logs: whole, --tail, -c, --timestamps, and errors as Status', async () => {
    await waitFor('web logs', async () => (await kubectl.ok(['-n', NS, 'logs', 'web'])).includes('line 3'), { timeoutMs: 20_000 });
    const tail = await kubectl.ok(['-n', NS, 'logs', 'web', '--tail', '2']);
    expect(tail.trim().split('\n')).toHaveLength(2);
    const stamped = await kubectl.ok(['-n', NS, 'logs', 'web', '--tail', '1', '--timestamps']);
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line \d+\n$/);
    expect(await kubectl.ok(['-n', NS, 'logs', 'two', '-c', 'b'])).toBe('from-b\n');
    const noContainer = await kubectl.run(['-n', NS, 'logs', 'two', '--all-containers=false', '--prefix=false', '-c', 'nope']);
    expect(noContainer.code).not.toBe(0);
    expect(noContainer.stderr).toContain('container nope is not valid for pod two');
    const missingPod = await kubectl.run(['-n', NS, 'logs', 'ghost']);
    expect(missingPod.stderr).toContain('pods "ghost" not found');
    // Several containers and none named: 400 from the API server (raw, since kubectl picks the first itself).
    const raw = await fetchApi(`/api/v1/namespaces/${NS}/pods/two/log`);
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.body)).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: expect.stringContaining('a container name must be specified for pod two') });
    const limited = await fetchApi(`/api/v1/namespaces/${NS}/pods/web/log?limitBytes=4`);
    expect(limited.body).toBe('line');
  });

  it('kubectl logs -f streams new lines', async () => {
    const f = kubectl.spawn(['-n', NS, 'logs', '-f', 'web', '--tail', '1']);
    try {
      await waitFor('followed lines', () => (f.output().match(/line \d+/g) ?? []).length >= 3, { timeoutMs: 15_000 });
    } finally {
      f.child.kill();
    }
  });

  it('kubectl logs -p shows the previous instance after a restart', async () => {
    await waitFor('a restart', async () => {
      const pod = JSON.parse(await kubectl.ok(['-n', NS, 'get', 'pod', 'crash', '-o', 'json'])) as { status?: { containerStatuses?: { restartCount: number }[] } };
      return (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1;
    }, { timeoutMs: 90_000 });
    const previous = await kubectl.ok(['-n', NS, 'logs', 'crash', '-p']);
    expect(previous).toMatch(/^run \S+/);
    const noPrevious = await kubectl.run(['-n', NS, 'logs', 'web', '-p']);
    expect(noPrevious.stderr).toContain('previous terminated container "main" in pod "web" not found');
  });

  describe.each(kubectlVersions())('kubectl $name', ({ name, path }) => {
    it('debug adds an ephemeral container that sees its target\'s processes, and debug -i attaches to one', async () => {
      const k = kubectlFor(path);
      const dbg = `dbg-${name.replace(/\W/g, '')}`;
      await k.ok(['-n', NS, 'debug', 'web', `--image=${TEST_IMAGE}`, '--image-pull-policy=Never', '-c', dbg, '--target=main', '--', 'sh', '-c', 'ps -o pid,args; sleep 3600']);
      await waitFor(`${dbg} running`, async () => {
        const pod = JSON.parse(await k.ok(['-n', NS, 'get', 'pod', 'web', '-o', 'json'])) as { status?: { ephemeralContainerStatuses?: { name: string; state: { running?: unknown } }[] } };
        return pod.status?.ephemeralContainerStatuses?.some((c) => c.name === dbg && c.state.running) ?? false;
      }, { timeoutMs: 30_000 });
      // The target's processes (busybox httpd) are visible from the debug container.
      await waitFor('ps output', async () => (await k.ok(['-n', NS, 'logs', 'web', '-c', dbg])).includes('httpd -p 80'), { timeoutMs: 15_000 });
      const shell = `sh-${name.replace(/\W/g, '')}`;
      const attached = await k.run(['-n', NS, 'debug', '-i', 'two', `--image=${TEST_IMAGE}`, '--image-pull-policy=Never', '-c', shell, '--', 'sh'], { input: 'echo from-debug-$((40+2)); exit 0\n', timeoutMs: 60_000 });
      expect(attached.stdout).toContain('from-debug-42');
    }, 120_000);

    it('exec prints output and returns the exit code', async () => {
      const r = await kubectlFor(path).run(['-n', NS, 'exec', 'web', '--', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
      expect(r.stdout).toBe('hi\n');
      expect(r.stderr).toContain('oops');
      expect(r.code).toBe(3);
      const two = await kubectlFor(path).run(['-n', NS, 'exec', 'two', '-c', 'b', '--', 'cat', '/tmp/who']);
      expect(two.stdout).toBe('b\n');
    });

    it('exec -i passes stdin', async () => {
      const r = await kubectlFor(path).run(['-n', NS, 'exec', '-i', 'web', '--', 'sh', '-c', 'cat; echo done'], { input: 'piped input\nsecond line\n' });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('piped input\nsecond line\ndone\n');
    });

    it.skipIf(!hasScript)('exec -it runs under a TTY', async () => {
      const cmd = `${path} --kubeconfig ${server.kubeconfig} --cache-dir ${join(dir.path, 'kubectl-cache')} -n ${NS} exec -it web -- sh -c 'tty; exit 5'`;
      const r = await runUnderScript(cmd, { ...process.env, HOME: dir.path });
      expect(r.out).toMatch(/\/dev\/pts\/\d+/);
      expect(r.code).toBe(5);
    });

    it('port-forward reaches the pod', async () => {
      const pf = kubectlFor(path).spawn(['-n', NS, 'port-forward', 'pod/web', '0:80']);
      try {
        await waitFor('port-forward', () => /Forwarding from 127\.0\.0\.1:\d+/.test(pf.output()), { timeoutMs: 20_000 });
        const port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(pf.output())![1]);
        for (let i = 0; i < 2; i++) {
          const r = await fetch(`http://127.0.0.1:${port}/index.html`);
          expect(r.status).toBe(200);
          expect(await r.text()).toBe('hello-www\n');
        }
      } finally {
        pf.child.kill();
      }
    });
  });

  it('@kubernetes/client-node Log and Exec', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(server.kubeconfig);
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    await new k8s.Log(kc).log(NS, 'two', 'a', out, { follow: false });
    await waitFor('client-node logs', () => text === 'from-a\n', { timeoutMs: 10_000 });

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let execOut = '';
    stdout.on('data', (d: Buffer) => (execOut += d.toString()));
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(kc).exec(NS, 'web', 'main', ['sh', '-c', 'echo client-node; exit 7'], stdout, stderr, null, false, (s) => resolve(s)).catch(reject);
    });
    expect(execOut).toBe('client-node\n');
    expect(status.status).toBe('Failure');
    expect(status.details?.causes?.[0]).toMatchObject({ reason: 'ExitCode', message: '7' });
  });

  it('the agent refuses callers without the API server client certificate', async () => {
    const path = `/containerLogs/${NS}/web/main?tailLines=1`;
    expect((await agentGet(path, { plain: true })).status).toBe(401);
    expect((await agentGet(path)).status).toBe(401);
    const pki = join(server.dataDir, 'pki');
    const ca = { cert: readFileSync(join(pki, 'ca.crt'), 'utf8'), key: readFileSync(join(pki, 'ca.key'), 'utf8') };
    const someone = await issueCertificate(ca, { commonName: 'someone', usage: 'client' });
    const forbidden = await agentGet(path, { cert: someone });
    expect(forbidden.status).toBe(403);
    const apiserverCert = { cert: readFileSync(join(pki, 'apiserver-kubelet-client.crt'), 'utf8'), key: readFileSync(join(pki, 'apiserver-kubelet-client.key'), 'utf8') };
    const allowed = await agentGet(path, { cert: apiserverCert });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toMatch(/^line \d+\n$/);
    // /healthz stays open, over HTTPS and plain HTTP.
    expect((await agentGet('/healthz', { plain: true })).status).toBe(200);
    expect(existsSync(join(dir.path, 'agent', 'pki', 'agent.crt'))).toBe(true);
  });
});

/** GET on the API server with the admin token (raw answers: status and body). */
function fetchApi(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server.url), { ca: server.caPem, headers: { Authorization: `Bearer ${server.token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
