/**
 * The agent's container runtime against the real Docker engine: local test images, pod sandboxes
 * sharing a network namespace with their containers, container config (env, command, working dir,
 * user), exit codes and reasons (Error, OOMKilled), stop with grace, logs, exec, events, stats,
 * label isolation between nodes, and pull failures. Everything created carries
 * `io.flotilla.test=true` and a node name unique to this run, and is removed at the end.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The agent's entry point does not export the runtime yet; import the modules directly (test code only).
import { DockerClient, DockerError } from '../packages/agent/src/runtime/docker-client.js';
import { DockerRuntime, LABEL_NODE } from '../packages/agent/src/runtime/docker-runtime.js';
import { createTar } from '../packages/agent/src/runtime/tar.js';
import type { ContainerConfig, ContainerStatus, LogChunk, PodSandboxConfig } from '../packages/agent/src/runtime/runtime.js';
import { ensurePauseImage, ensureTestImage, hasDockerSocket, TEST_IMAGE, TEST_LABEL, PAUSE_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const HAS_DOCKER = hasDockerSocket();
if (!HAS_DOCKER) {
  if (process.env['CI'] === 'true') throw new Error('agent runtime e2e: /var/run/docker.sock is missing (required under CI=true)');
  console.warn('agent runtime e2e: skipped: /var/run/docker.sock is missing');
}

const RUN = randomUUID().slice(0, 8);
const NODE = `e2e-node-${RUN}`;
const NAMESPACE = `e2e-${RUN}`;

describe.skipIf(!HAS_DOCKER)('agent runtime on Docker', () => {
  let client: DockerClient;
  let runtime: DockerRuntime;

  beforeAll(async () => {
    client = new DockerClient();
    await ensureTestImage();
    await ensurePauseImage();
    runtime = new DockerRuntime({ client, nodeName: NODE, podInfraImage: PAUSE_IMAGE, sandboxStopTimeoutSeconds: 5, extraLabels: { [TEST_LABEL]: 'true' } });
  });

  afterAll(async () => {
    if (!client) return;
    // Only what this run created: our test label and this run's node names.
    const ours = await client.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`] } });
    for (const c of ours) {
      if (c.Labels?.[LABEL_NODE]?.startsWith(NODE)) await client.removeContainer(c.Id, { force: true, volumes: true });
    }
    await client.close();
  });

  function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
    return { name, namespace: NAMESPACE, uid: randomUUID(), attempt: 0, hostname: name, ...extra };
  }

  function container(name: string, script: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
    return { name, image: TEST_IMAGE, command: ['/bin/sh', '-c'], args: [script], restartCount: 0, ...extra };
  }

  async function runPod(name: string, extra: Partial<PodSandboxConfig> = {}): Promise<{ pod: PodSandboxConfig; sandboxId: string; ip?: string }> {
    const pod = podConfig(name, extra);
    const { id, ip } = await runtime.runSandbox(pod);
    return { pod, sandboxId: id, ...(ip ? { ip } : {}) };
  }

  async function start(sandboxId: string, pod: PodSandboxConfig, config: ContainerConfig): Promise<string> {
    const id = await runtime.createContainer(sandboxId, config, pod);
    await runtime.startContainer(id);
    return id;
  }

  function exited(id: string, timeoutMs = 20_000): Promise<ContainerStatus> {
    return waitFor(`container ${id} exited`, async () => {
      const s = await runtime.containerStatus(id);
      return s.state === 'exited' ? s : undefined;
    }, { timeoutMs });
  }

  async function collect(chunks: AsyncIterable<LogChunk>): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    for await (const c of chunks) {
      if (c.stream === 'stdout') stdout += c.data.toString();
      else stderr += c.data.toString();
    }
    return { stdout, stderr };
  }

  it('imports the local test images', async () => {
    expect(await ensureTestImage()).toBe('flotilla-test/busybox:1');
    const status = await runtime.imageStatus(TEST_IMAGE);
    expect(status?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(status?.repoTags).toContain(TEST_IMAGE);
    // A locally imported image has no registry digest.
    expect(status?.imageRef).toBe(`docker://${status?.id}`);
    expect(await runtime.imageStatus('flotilla-test/absent:1')).toBeUndefined();
    const version = await runtime.version();
    expect(version.runtimeName).toBe('docker');
    expect(version.runtimeApiVersion).toBe('1.41');
  });

  it('runs a sandbox whose containers share its network namespace, with dockershim names and labels', async () => {
    const { pod, sandboxId, ip } = await runPod('web-0');
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const web = await start(sandboxId, pod, container('web', 'mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www'));
    const probe = await start(sandboxId, pod, container('probe', 'exec sleep 3600'));
    const page = await waitFor('httpd reachable on loopback from the other container', async () => {
      const r = await runtime.exec(probe, ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/index.html'], 5_000);
      return r.exitCode === 0 ? r.stdout : undefined;
    });
    expect(page).toBe('hello-from-web\n');
    const addr = await runtime.exec(probe, ['ip', '-4', 'addr', 'show', 'eth0'], 5_000);
    expect(addr.stdout).toContain(`inet ${ip}/`);
    expect((await runtime.exec(web, ['hostname'], 5_000)).stdout.trim()).toBe('web-0');

    const sandboxes = await runtime.listPodSandboxes({ podUid: pod.uid });
    expect(sandboxes).toMatchObject([{ id: sandboxId, name: 'web-0', namespace: NAMESPACE, uid: pod.uid, attempt: 0, state: 'ready' }]);
    expect((await runtime.sandboxStatus(sandboxId)).ip).toBe(ip);
    const listed = await runtime.listContainers({ podUid: pod.uid });
    expect(listed.map((c) => c.name).sort()).toEqual(['probe', 'web']);
    expect(listed.every((c) => c.state === 'running' && c.sandboxId === sandboxId)).toBe(true);

    const sandboxInspect = await client.inspectContainer(sandboxId);
    expect(sandboxInspect.Name).toBe(`/k8s_POD_web-0_${NAMESPACE}_${pod.uid}_0`);
    expect(sandboxInspect.Config.Labels).toMatchObject({
      'io.kubernetes.pod.name': 'web-0',
      'io.kubernetes.pod.namespace': NAMESPACE,
      'io.kubernetes.pod.uid': pod.uid,
      'io.kubernetes.container.name': 'POD',
      'io.kubernetes.docker.type': 'podsandbox',
      'io.flotilla.node': NODE,
      'io.flotilla.managed': 'true',
    });
    const webInspect = await client.inspectContainer(web);
    expect(webInspect.Name).toBe(`/k8s_web_web-0_${NAMESPACE}_${pod.uid}_0`);
    expect(webInspect.HostConfig.NetworkMode).toBe(`container:${sandboxId}`);
    expect(webInspect.Config.Labels).toMatchObject({
      'io.kubernetes.container.name': 'web',
      'io.kubernetes.docker.type': 'container',
      'io.kubernetes.sandbox.id': sandboxId,
      'annotation.io.kubernetes.container.restartCount': '0',
    });

    // Removing the sandbox takes its containers along.
    await runtime.stopSandbox(sandboxId);
    expect((await runtime.sandboxStatus(sandboxId)).state).toBe('notready');
    expect((await runtime.listContainers({ podUid: pod.uid })).every((c) => c.state === 'exited')).toBe(true);
    await runtime.removeSandbox(sandboxId);
    expect(await runtime.listContainers({ podUid: pod.uid })).toEqual([]);
    expect(await runtime.listPodSandboxes({ podUid: pod.uid })).toEqual([]);
    await runtime.removeSandbox(sandboxId); // idempotent
  });

  it('uses the host network for sandbox and containers with hostNetwork', async () => {
    const { pod, sandboxId, ip } = await runPod('hostnet', { hostNetwork: true });
    expect(ip).toBeUndefined();
    const id = await runtime.createContainer(sandboxId, container('c', 'true'), pod);
    expect((await client.inspectContainer(sandboxId)).HostConfig.NetworkMode).toBe('host');
    expect((await client.inspectContainer(id)).HostConfig.NetworkMode).toBe('host');
    await runtime.removeSandbox(sandboxId);
  });

  it('applies env, command, args, working dir, user and resources', async () => {
    const { pod, sandboxId } = await runPod('config');
    const id = await start(sandboxId, pod, container('c', 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$0|$1"', {
      args: ['echo "$FOO|$(pwd)|$(id -u):$(id -g)|$0|$1"', 'zero', 'one'],
      env: [{ name: 'FOO', value: 'bar baz' }],
      workingDir: '/tmp',
      securityContext: { runAsUser: 65534, runAsGroup: 65534 },
      resources: { cpuRequestMilli: 250, cpuLimitMilli: 500, memoryLimitBytes: 64 * 1024 * 1024 },
    }));
    const status = await exited(id);
    expect(status).toMatchObject({ exitCode: 0, reason: 'Completed', name: 'c', podUid: pod.uid });
    expect((await collect(runtime.logs(id))).stdout).toBe('bar baz|/tmp|65534:65534|zero|one\n');
    const hc = (await client.inspectContainer(id)).HostConfig;
    expect(hc).toMatchObject({ CpuShares: 256, NanoCpus: 500_000_000, Memory: 64 * 1024 * 1024, MemorySwap: 64 * 1024 * 1024 });
    await runtime.removeSandbox(sandboxId);
  });

  it('reports exit code and reason of a failed container, its restart count and termination message', async () => {
    const { pod, sandboxId } = await runPod('fails');
    const id = await start(sandboxId, pod, container('c', 'echo bye > /tmp/termination-log; exit 3', { restartCount: 2, hash: 'abc123', terminationMessagePath: '/tmp/termination-log', terminationMessagePolicy: 'File' }));
    const status = await exited(id);
    expect(status).toMatchObject({ state: 'exited', exitCode: 3, reason: 'Error', restartCount: 2, hash: 'abc123', terminationMessagePath: '/tmp/termination-log', image: TEST_IMAGE });
    expect(status.imageRef).toMatch(/^docker:\/\/sha256:/);
    expect(Date.parse(status.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(status.startedAt!));
    expect((await client.inspectContainer(id)).Name).toBe(`/k8s_c_fails_${NAMESPACE}_${pod.uid}_2`);
    expect((await runtime.readFile(id, '/tmp/termination-log', 4096))?.toString()).toBe('bye\n');
    expect(await runtime.readFile(id, '/tmp/absent', 4096)).toBeUndefined();

    // A command that does not exist: the engine refuses to start it.
    const bad = await runtime.createContainer(sandboxId, { name: 'bad', image: TEST_IMAGE, command: ['/no/such/binary'], restartCount: 0 }, pod);
    const err = await runtime.startContainer(bad).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DockerError);
    expect((err as DockerError).message).toMatch(/no such file or directory/);
    expect(await runtime.containerStatus(bad)).toMatchObject({ state: 'exited', reason: 'ContainerCannotRun', exitCode: 127 });
    await runtime.removeSandbox(sandboxId);
  });

  it('reports OOMKilled when a container exceeds its memory limit', async (ctx) => {
    const info = await client.info();
    if (!info.MemoryLimit) ctx.skip();
    const { pod, sandboxId } = await runPod('oom');
    // Doubles a string up to 64 MiB at most, so it stays bounded without a memory cgroup.
    const script = 'x=0123456789abcdef; i=0; while [ $i -lt 22 ]; do x="$x$x"; i=$((i+1)); done; echo survived';
    const id = await start(sandboxId, pod, container('hog', script, { resources: { memoryLimitBytes: 8 * 1024 * 1024 } }));
    const status = await exited(id, 30_000);
    expect(status).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    await runtime.removeSandbox(sandboxId);
  });

  it('stops with grace: SIGTERM honoured at once, ignored until SIGKILL after the grace', async () => {
    const { pod, sandboxId } = await runPod('grace');
    const polite = await start(sandboxId, pod, container('polite', "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 1 & wait; done"));
    const stubborn = await start(sandboxId, pod, container('stubborn', "trap '' TERM; echo ready; while :; do sleep 1; done"));
    for (const id of [polite, stubborn]) await waitFor('trap installed', async () => (await collect(runtime.logs(id))).stdout.includes('ready'));
    const timed = async (id: string, grace: number): Promise<number> => {
      const t0 = Date.now();
      await runtime.stopContainer(id, grace);
      return Date.now() - t0;
    };
    const [politeMs, stubbornMs] = await Promise.all([timed(polite, 10), timed(stubborn, 2)]);
    expect(politeMs).toBeLessThan(5_000);
    expect(await runtime.containerStatus(polite)).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect((await collect(runtime.logs(polite))).stdout).toContain('got-term');
    expect(stubbornMs).toBeGreaterThanOrEqual(1_900);
    expect(stubbornMs).toBeLessThan(8_000);
    expect(await runtime.containerStatus(stubborn)).toMatchObject({ exitCode: 137, reason: 'Error' });
    await runtime.stopContainer(polite, 1); // stopping a stopped container is fine
    await runtime.removeSandbox(sandboxId);
  });

  it('demultiplexes logs into stdout and stderr, with tail, timestamps and follow', async () => {
    const { pod, sandboxId } = await runPod('logs');
    const id = await start(sandboxId, pod, container('c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'));
    await exited(id);
    expect(await collect(runtime.logs(id))).toEqual({ stdout: 'out1\nout2\n', stderr: 'err1\nerr2\n' });
    const stamped = (await collect(runtime.logs(id, { timestamps: true }))).stdout.trim().split('\n');
    expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out1$/);

    const slow = await start(sandboxId, pod, container('slow', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'));
    const followed = await collect(runtime.logs(slow, { follow: true }));
    expect(followed.stdout).toBe('line1\nline2\nline3\n');
    expect(await collect(runtime.logs(slow, { tail: 2 }))).toEqual({ stdout: 'line2\nline3\n', stderr: '' });

    // Following a long-running container ends when the caller aborts.
    const forever = await start(sandboxId, pod, container('forever', 'echo first; exec sleep 3600'));
    const ac = new AbortController();
    let seen = '';
    for await (const chunk of runtime.logs(forever, { follow: true, signal: ac.signal })) {
      seen += chunk.data.toString();
      if (seen.includes('first')) ac.abort();
    }
    expect(seen).toBe('first\n');
    await runtime.removeSandbox(sandboxId);
  });

  it('runs exec commands with exit codes, output and a timeout', async () => {
    const { pod, sandboxId } = await runPod('exec');
    const id = await start(sandboxId, pod, container('c', 'exec sleep 3600'));
    expect(await runtime.exec(id, ['sh', '-c', 'echo hi; echo oops >&2; exit 5'], 5_000)).toEqual({ exitCode: 5, stdout: 'hi\n', stderr: 'oops\n', timedOut: false });
    expect((await runtime.exec(id, ['true'], 5_000)).exitCode).toBe(0);
    const t0 = Date.now();
    const slow = await runtime.exec(id, ['sleep', '30'], 500);
    expect(slow).toMatchObject({ timedOut: true, exitCode: -1 });
    expect(Date.now() - t0).toBeLessThan(3_000);
    // Files copied in with an archive upload are visible to exec.
    await client.putArchive(id, '/tmp', createTar([{ type: 'file', name: 'copied.txt', data: 'copied in\n' }]));
    expect((await runtime.exec(id, ['cat', '/tmp/copied.txt'], 5_000)).stdout).toBe('copied in\n');
    const missing = await runtime.exec(id, ['/no/such/cmd'], 5_000);
    // The engine reports an exec that cannot start as 126 (OCI runtime exec failed) with its message.
    expect(missing.exitCode).toBe(126);
    expect(missing.stdout + missing.stderr).toMatch(/no such file or directory/);
    // Kill with a signal; wait reports the exit status.
    const waiting = client.waitContainer(id);
    await client.killContainer(id, 'SIGKILL');
    expect((await waiting).StatusCode).toBe(137);
    await expect(client.killContainer(id, 'SIGTERM')).rejects.toMatchObject({ code: 'Conflict', statusCode: 409 });
    await runtime.removeSandbox(sandboxId);
  });

  it('reports stats and lifecycle events', async () => {
    const ac = new AbortController();
    const events: { type: string; containerName?: string; exitCode?: number; isSandbox: boolean }[] = [];
    const iterating = (async () => {
      for await (const e of runtime.events({ signal: ac.signal })) events.push(e);
    })();
    const { pod, sandboxId } = await runPod('events');
    const busy = await start(sandboxId, pod, container('busy', 'exec sleep 3600'));
    const stats = await runtime.stats(busy);
    expect(stats.memoryUsageBytes).toBeGreaterThan(0);
    expect(stats.memoryWorkingSetBytes).toBeGreaterThan(0);
    expect(stats.cpuUsageCoreNanoSeconds).toBeGreaterThan(0);
    const quick = await start(sandboxId, pod, container('quick', 'exit 4'));
    await exited(quick);
    await waitFor('die event', () => events.some((e) => e.type === 'died' && e.containerName === 'quick' && e.exitCode === 4));
    expect(events.some((e) => e.type === 'started' && e.isSandbox)).toBe(true);
    expect(events.some((e) => e.type === 'started' && e.containerName === 'busy')).toBe(true);
    ac.abort();
    await iterating;
    await runtime.removeSandbox(sandboxId);
  });

  it('lists only the containers of its own node', async () => {
    const other = new DockerRuntime({ client, nodeName: `${NODE}-other`, podInfraImage: PAUSE_IMAGE, sandboxStopTimeoutSeconds: 5, extraLabels: { [TEST_LABEL]: 'true' } });
    const mine = await runPod('mine');
    const theirs = podConfig('theirs');
    const theirSandbox = await other.runSandbox(theirs);
    await other.createContainer(theirSandbox.id, container('c', 'true'), theirs);
    // And an unmanaged container that merely looks like a pod's.
    const stray = await client.createContainer(`flotilla-test-stray-${RUN}`, { Image: TEST_IMAGE, Cmd: ['true'], Labels: { [TEST_LABEL]: 'true', [LABEL_NODE]: `${NODE}-stray`, 'io.kubernetes.docker.type': 'container' } });

    const ownSandboxes = await runtime.listPodSandboxes();
    expect(ownSandboxes.map((s) => s.id)).toContain(mine.sandboxId);
    expect(ownSandboxes.every((s) => s.id !== theirSandbox.id)).toBe(true);
    expect((await runtime.listContainers()).every((c) => c.podUid !== theirs.uid)).toBe(true);
    expect((await other.listPodSandboxes()).map((s) => s.id)).toEqual([theirSandbox.id]);
    expect((await other.listContainers()).map((c) => c.name)).toEqual(['c']);
    expect((await runtime.listContainers()).every((c) => c.id !== stray.Id)).toBe(true);
    await client.removeContainer(stray.Id, { force: true });
    await other.removeSandbox(theirSandbox.id);
    await runtime.removeSandbox(mine.sandboxId);
  });

  it('fails a pull quickly with the engine message', async () => {
    const t0 = Date.now();
    // A registry on a closed loopback port: refused at once, no traffic leaves the machine.
    const err = await runtime.pullImage('127.0.0.1:1/flotilla-test/absent:1').then(() => undefined, (e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(DockerError);
    expect((err as DockerError).statusCode).toBeGreaterThanOrEqual(400);
    expect((err as DockerError).message).toMatch(/127\.0\.0\.1:1.*connection refused/);
    await expect(client.inspectImage('flotilla-test/absent:1')).rejects.toMatchObject({ code: 'NotFound', statusCode: 404 });
  });
});
