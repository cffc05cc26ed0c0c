/**
 * `flotilla server` as a real process: it starts the API server, scheduler and controller manager
 * (and, with Docker, a local agent) as supervised child processes; the control plane works through
 * the API; a component killed with SIGKILL is restarted; SIGTERM stops every child and exits 0.
 *
 * Containers the local agent creates here carry `io.flotilla.test=true` and this run's node name;
 * the suite removes exactly those.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { DockerClient } from '@flotilla/agent';
import { removeMemoryVolumes } from './harness/agent.js';
import { binPath, startProcess, tempDir, type RunningProcess } from './harness/processes.js';
import { ensureTestImage, hasDockerSocket, TEST_IMAGE, TEST_LABEL } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const LEASES = res('leases');
const NODES = res('nodes');
const NAMESPACES = res('namespaces');
const REPLICASETS = res('replicasets.apps');
const COMPONENTS = ['apiserver', 'scheduler', 'controller-manager'] as const;

type Lease = KubeObject & { spec: { holderIdentity?: string } };
type PodView = KubeObject & { spec: { nodeName?: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } };

interface Launcher {
  process: RunningProcess;
  dataDir: string;
  url: string;
  kubeconfig: string;
  client: RestClient;
}

const launchers: Launcher[] = [];
const dirs: ReturnType<typeof tempDir>[] = [];

async function startLauncher(extraArgs: string[]): Promise<Launcher> {
  const dir = tempDir('launcher');
  dirs.push(dir);
  const p = startProcess(binPath('flotilla', 'flotilla'), ['server', '--data-dir', dir.path, '--secure-port', '0', '--log-level', 'warn', ...extraArgs]);
  await p.waitForOutput(/Flotilla server running[\s\S]*Stop with/, 150_000);
  const url = /API server:\s+(https:\/\/\S+)/.exec(p.stdout())![1]!;
  const kubeconfig = /export KUBECONFIG=(\S+)/.exec(p.stdout())![1]!;
  const l: Launcher = { process: p, dataDir: dir.path, url, kubeconfig, client: new RestClient(loadClientConfig({ kubeconfig })) };
  launchers.push(l);
  return l;
}

function pidOf(l: Launcher, component: string): number | undefined {
  const file = join(l.dataDir, 'run', `${component}.pid`);
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
}

/** Parent PID from /proc, or undefined when the process is gone (or a zombie). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** Stops a launcher (SIGTERM); resolves with its exit code. */
async function stopLauncher(l: Launcher): Promise<number | null> {
  await l.client.close();
  const i = launchers.indexOf(l);
  if (i >= 0) launchers.splice(i, 1);
  return l.process.stop('SIGTERM');
}

afterEach(async () => {
  // A failed test leaves its launcher running: stop it the ordinary way, which stops its children.
  for (const l of [...launchers]) await stopLauncher(l);
});

afterAll(() => {
  for (const d of dirs) d.remove();
});

describe('flotilla server (control plane only)', () => {
  it('runs the control plane, restarts a killed component and stops everything on SIGTERM', async () => {
    const l = await startLauncher(['--disable-agent']);
    expect(l.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(l.kubeconfig).toBe(join(l.dataDir, 'admin.kubeconfig'));
    expect(l.process.stdout()).toMatch(/Local agent:\s+disabled/);
    const out = l.process.stdout();
    const token = readFileSync(join(l.dataDir, 'token'), 'utf8').trim();
    expect(token).toMatch(/^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(statSync(join(l.dataDir, 'token')).mode & 0o777).toBe(0o600);
    expect(out).toContain(`flotilla agent --server ${l.url} --token ${token}`);
    // Its bootstrap token Secret exists, without expiry.
    const id = /::([a-z0-9]{6})\./.exec(token)![1]!;
    const secret = await l.client.get<KubeObject & { type?: string; data?: Record<string, string> }>(res('secrets'), 'kube-system', `bootstrap-token-${id}`);
    expect(secret.type).toBe('bootstrap.kubernetes.io/token');
    expect(secret.data?.['expiration']).toBeUndefined();

    // Every component is a child of the launcher, with a PID file.
    const pids = Object.fromEntries(COMPONENTS.map((c) => [c, pidOf(l, c)!]));
    for (const c of COMPONENTS) expect(parentOf(pids[c]!), c).toBe(l.process.child.pid);

    // The API works, and the scheduler and controller manager hold their leases.
    const namespaces = (await l.client.list(NAMESPACES)).items.map((n) => n.metadata.name);
    expect(namespaces).toEqual(expect.arrayContaining(['default', 'kube-system']));
    for (const [name, component] of [['kube-scheduler', 'scheduler'], ['kube-controller-manager', 'controller-manager']] as const) {
      const holder = await waitFor(`${name} lease holder`, async () => (await l.client.get<Lease>(LEASES, 'kube-system', name)).spec.holderIdentity, { timeoutMs: 30_000 });
      expect(holder.split('_').pop()).toBe(String(pids[component]));
    }

    // The controller manager works: a ReplicaSet gets its pods (they stay Pending without nodes).
    await l.client.create(REPLICASETS, 'default', {
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: TEST_IMAGE }] } } },
    });
    await waitFor('2 pods of the ReplicaSet', async () => (await l.client.list(PODS, { namespace: 'default', labelSelector: 'app=web' })).items.length === 2, { timeoutMs: 30_000 });

    // kill -9 the scheduler: the launcher restarts it, and the new one takes the lease over.
    const old = pids['scheduler']!;
    process.kill(old, 'SIGKILL');
    const restarted = await waitFor('a new scheduler', () => {
      const pid = pidOf(l, 'scheduler');
      return pid !== undefined && pid !== old && parentOf(pid) === l.process.child.pid ? pid : undefined;
    }, { timeoutMs: 15_000 });
    expect(l.process.stderr()).toMatch(/scheduler exited unexpectedly on signal SIGKILL; restarting in 1s/);
    await waitFor('the restarted scheduler holds the lease', async () => (await l.client.get<Lease>(LEASES, 'kube-system', 'kube-scheduler')).spec.holderIdentity?.endsWith(`_${restarted}`), { timeoutMs: 40_000, intervalMs: 500 });
    // The others were left alone.
    expect(pidOf(l, 'apiserver')).toBe(pids['apiserver']);
    expect(pidOf(l, 'controller-manager')).toBe(pids['controller-manager']);

    // SIGTERM: every child stops, the launcher exits 0 and the PID files are gone.
    const children = [pids['apiserver']!, restarted, pids['controller-manager']!];
    expect(await stopLauncher(l)).toBe(0);
    for (const pid of children) expect(existsSync(`/proc/${pid}`) && parentOf(pid) !== undefined, `pid ${pid}`).toBe(false);
    for (const c of COMPONENTS) expect(pidOf(l, c), c).toBeUndefined();
  }, 150_000);

  it('exits 1 with the reason when the API server cannot start', async () => {
    const dir = tempDir('launcher-bad');
    dirs.push(dir);
    const p = startProcess(binPath('flotilla', 'flotilla'), ['server', '--data-dir', dir.path, '--secure-port', '0', '--bind-address', '192.0.2.1', '--disable-agent', '--log-level', 'warn']);
    await waitFor('the launcher exits', () => p.exited(), { timeoutMs: 60_000 });
    expect(await p.stop()).toBe(1);
    expect(p.stderr()).toMatch(/apiserver exited with code 1 before it was ready/);
  }, 60_000);
});

const docker = hasDockerSocket();
const NODE = `flotilla-e2e-${process.pid}`;

describe.skipIf(!docker)('flotilla server with the local agent', () => {
  let engine: DockerClient;

  afterAll(async () => {
    if (!engine) return;
    const ours = await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${NODE}`] } });
    for (const c of ours) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
    await engine.close();
    removeMemoryVolumes(NODE);
  });

  it('builds the pause image, registers the local node and runs a pod on it', async () => {
    engine = new DockerClient();
    await ensureTestImage();
    // The local agent without its host-wide parts (iptables chains, DNS on the bridge, ports 80/443),
    // which other tests' clusters on this machine would share.
    const l = await startLauncher(['--node-name', NODE, '--agent-port', '0', `--agent-arg=--container-labels=${TEST_LABEL}=true`, '--agent-arg=--proxy-mode=none', '--agent-arg=--enable-dns=false', '--agent-arg=--ingress-http-port=0', '--agent-arg=--ingress-https-port=0']);
    expect(l.process.stdout()).toMatch(new RegExp(`Local agent:\\s+node ${NODE}`));
    const image = await engine.inspectImage('flotilla/pause:1');
    expect(image.Config?.Cmd).toEqual(['/bin/sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"]);
    expect(parentOf(pidOf(l, 'agent')!)).toBe(l.process.child.pid);

    await waitFor('node Ready', async () => {
      const node = await l.client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(NODES, '', NODE);
      return node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    }, { timeoutMs: 60_000, intervalMs: 500 });

    // Scheduled by the scheduler (no nodeName), run by the agent with the sandbox from flotilla/pause:1.
    await l.client.create(PODS, 'default', {
      metadata: { name: 'sleeper' },
      spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
    });
    const pod = await waitFor('pod Running', async () => {
      const p = await l.client.get<PodView>(PODS, 'default', 'sleeper');
      return p.status?.phase === 'Running' ? p : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    expect(pod.spec.nodeName).toBe(NODE);
    const containers = await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${NODE}`, `io.kubernetes.pod.uid=${pod.metadata.uid}`] } });
    expect(containers.map((c) => c.Image).sort()).toEqual(['flotilla/pause:1', TEST_IMAGE].sort());

    const agentPid = pidOf(l, 'agent')!;
    expect(await stopLauncher(l)).toBe(0);
    expect(parentOf(agentPid)).toBeUndefined();
  }, 180_000);
});
