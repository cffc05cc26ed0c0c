/**
 * The agent as a real process driving the real Docker engine, through a real API server: pods run
 * and report Running/Ready with the kubelet's events (Pulled, Created, Started; BackOff; Killing);
 * env and configMap/secret volumes are visible inside; crashing containers back off
 * (CrashLoopBackOff); liveness restarts; readiness gates Ready; graceful deletion runs
 * preStop; a missing image gives ErrImagePull then ImagePullBackOff; kill -9 of the agent and a
 * restart leave exactly one container per pod with no restarts; with the scheduler and controller
 * manager, a Deployment keeps its replicas when a container is killed through the engine.
 *
 * Every container the agent creates here carries `io.flotilla.test=true` and this run's node name;
 * the suite removes exactly those.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { res, RestClient } from '@flotilla/client';
import { DockerTestCluster, testContainers } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager, startScheduler } from './harness/cluster.js';
import { type RunningProcess } from './harness/processes.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const CONFIGMAPS = res('configmaps');
const SECRETS = res('secrets');
const DEPLOYMENTS = res('deployments.apps');
const NAMESPACES = res('namespaces');

const docker = hasDockerSocket();
const NODE = `agent-e2e-${process.pid}`;

interface ContainerStatusView {
  name: string;
  ready: boolean;
  restartCount: number;
  containerID?: string;
  state: { running?: { startedAt: string }; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number; reason: string } };
  lastState?: { terminated?: { exitCode: number; reason: string } };
}
interface PodView extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string; hostIP?: string; qosClass?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatusView[] };
}

const cluster = new DockerTestCluster('agent', NODE);
const engine = cluster.engine;
let server: ApiServerProcess;
let client: RestClient;
let agent: RunningProcess;
let agentUrl: string;

async function startAgent(): Promise<RunningProcess> {
  const a = await cluster.startAgent();
  agentUrl = a.url;
  return a.process;
}

function ourContainers(extra: string[] = []): ReturnType<typeof testContainers> {
  return cluster.containers(extra);
}

function pod(name: string, container: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject {
  return { metadata: { name }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', ...container }], ...spec } };
}

async function status(ns: string, name: string): Promise<PodView> {
  return client.get<PodView>(PODS, ns, name);
}

function condition(p: PodView, type: string): string | undefined {
  return p.status?.conditions?.find((c) => c.type === type)?.status;
}

/** Waits until the pod's Events hold every one of `reasons` (as `kubectl describe pod` lists them). */
async function eventReasons(ns: string, name: string, reasons: string[]): Promise<Map<string, string>> {
  return waitFor(`events ${reasons.join(', ')} of ${ns}/${name}`, async () => {
    const list = await client.list<KubeObject & { reason?: string; message?: string }>(res('events'), { namespace: ns, fieldSelector: `involvedObject.name=${name}` });
    const seen = new Map(list.items.map((e) => [e.reason ?? '', e.message ?? '']));
    return reasons.every((r) => seen.has(r)) ? seen : undefined;
  }, { timeoutMs: 15_000 });
}

async function namespace(name: string): Promise<string> {
  await client.create(NAMESPACES, '', { metadata: { name } });
  return name;
}

/** Container logs through the API server's pods/log (the agent only serves the API server). */
async function logs(ns: string, name: string, container = 'main'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(`/api/v1/namespaces/${ns}/pods/${name}/log?container=${container}`, server.url), { ca: server.caPem, headers: { Authorization: `Bearer ${server.token}` } }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += c.toString()));
      r.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!docker)('agent with the Docker engine', () => {
  beforeAll(async () => {
    ({ server, client } = await cluster.start());
    agent = await startAgent();
  }, 120_000);

  afterAll(() => cluster.stop());

  it('registers its node with capacity, addresses and the runtime version', async () => {
    const node = await client.get<KubeObject & { status: { capacity: Record<string, string>; nodeInfo: { containerRuntimeVersion: string }; conditions: { type: string; status: string }[]; addresses: { type: string }[] } }>(res('nodes'), '', NODE);
    expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe(NODE);
    expect(Number(node.status.capacity['cpu'])).toBeGreaterThan(0);
    expect(node.status.capacity['pods']).toBe('110');
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^docker:\/\/\d+/);
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status.addresses.map((a) => a.type)).toEqual(['InternalIP', 'Hostname']);
  });

  it('runs a pod with env, configMap and secret volumes and reports it Running and Ready', async () => {
    const ns = await namespace('basic');
    await client.create(CONFIGMAPS, ns, { metadata: { name: 'settings' }, data: { color: 'blue', 'app.conf': 'mode=fast\n' } });
    await client.create(SECRETS, ns, { metadata: { name: 'creds' }, stringData: { password: 's3cret' } });
    await client.create(
      PODS,
      ns,
      pod(
        'web',
        {
          command: ['sh', '-c', 'echo "greeting=$GREETING color=$COLOR pod=$POD_NAME ip=$POD_IP"; cat /etc/settings/app.conf; cat /etc/creds/password; echo; sleep 3600'],
          env: [
            { name: 'GREETING', value: 'hello' },
            { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'settings', key: 'color' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          volumeMounts: [
            { name: 'settings', mountPath: '/etc/settings' },
            { name: 'creds', mountPath: '/etc/creds', readOnly: true },
          ],
        },
        { volumes: [{ name: 'settings', configMap: { name: 'settings' } }, { name: 'creds', secret: { secretName: 'creds' } }] },
      ),
    );
    const p = await waitFor('pod running and ready', async () => {
      const s = await status(ns, 'web');
      return s.status?.phase === 'Running' && condition(s, 'Ready') === 'True' ? s : undefined;
    }, { timeoutMs: 60_000 });
    expect(p.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(p.status?.qosClass).toBe('BestEffort');
    const cs = p.status!.containerStatuses![0]!;
    expect(cs.containerID).toMatch(/^docker:\/\/[0-9a-f]{64}$/);
    expect(cs.ready).toBe(true);
    const out = await waitFor('container output', async () => {
      const t = await logs(ns, 'web');
      return t.includes('s3cret') ? t : undefined;
    });
    expect(out).toContain(`greeting=hello color=blue pod=web ip=${p.status!.podIP}`);
    expect(out).toContain('mode=fast');
    // The kubelet's events for a container start.
    const events = await eventReasons(ns, 'web', ['Pulled', 'Created', 'Started']);
    expect(events.get('Pulled')).toBe(`Container image "${TEST_IMAGE}" already present on machine`);
    expect(events.get('Created')).toBe('Created container main');
    // One sandbox and one app container, labelled as Kubernetes' Docker integration did.
    const mine = await ourContainers([`io.kubernetes.pod.uid=${p.metadata.uid}`]);
    expect(mine).toHaveLength(2);
    const app = mine.find((c) => c.Labels['io.kubernetes.container.name'] === 'main')!;
    expect(app.Labels).toMatchObject({ 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': ns });
  }, 90_000);

  it('backs off a crashing container with CrashLoopBackOff', async () => {
    const ns = await namespace('crash');
    await client.create(PODS, ns, pod('crasher', { command: ['sh', '-c', 'echo dying; exit 3'] }));
    const waiting = await waitFor('CrashLoopBackOff', async () => {
      const s = await status(ns, 'crasher');
      const cs = s.status?.containerStatuses?.[0];
      return cs?.state.waiting?.reason === 'CrashLoopBackOff' ? cs : undefined;
    }, { timeoutMs: 30_000 });
    expect(waiting.restartCount).toBeGreaterThanOrEqual(1);
    expect(waiting.lastState?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(waiting.state.waiting?.message).toMatch(/back-off 10s restarting failed container=main/);
    // The next restart waits out the 10 s back-off, then the delay doubles.
    const later = await waitFor('second back-off', async () => {
      const cs = (await status(ns, 'crasher')).status?.containerStatuses?.[0];
      return cs && cs.restartCount >= 2 && cs.state.waiting?.reason === 'CrashLoopBackOff' ? cs : undefined;
    }, { timeoutMs: 30_000 });
    expect(later.state.waiting?.message).toMatch(/back-off 20s/);
    const events = await eventReasons(ns, 'crasher', ['BackOff']);
    expect(events.get('BackOff')).toMatch(/^Back-off restarting failed container main in pod crasher_crash\(/);
  }, 60_000);

  it('restarts a container whose liveness probe fails, and keeps a failing readiness probe out of Ready', async () => {
    const ns = await namespace('probes');
    await client.create(PODS, ns, pod('live', {
      command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600'],
      livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
    }));
    await client.create(PODS, ns, pod('unready', {
      command: ['sh', '-c', 'sleep 3600'],
      readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
    }));
    const restarted = await waitFor('liveness restart', async () => {
      const cs = (await status(ns, 'live')).status?.containerStatuses?.[0];
      return cs && cs.restartCount >= 1 ? cs : undefined;
    }, { timeoutMs: 30_000 });
    expect(restarted.lastState?.terminated).toBeDefined();
    const unready = await waitFor('unready pod running', async () => {
      const s = await status(ns, 'unready');
      return s.status?.phase === 'Running' ? s : undefined;
    }, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2_500));
    const again = await status(ns, 'unready');
    expect(unready.status?.containerStatuses?.[0]?.state.running).toBeDefined();
    expect(condition(again, 'Ready')).toBe('False');
    expect(again.status?.containerStatuses?.[0]?.ready).toBe(false);
    expect(again.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  }, 60_000);

  it('runs preStop and stops the container on graceful deletion, then removes the pod', async () => {
    const ns = await namespace('graceful');
    const hostDir = mkdtempSync(join(tmpdir(), 'flotilla-agent-hostpath-'));
    onTestFinished(() => rmSync(hostDir, { recursive: true, force: true }));
    await client.create(
      PODS,
      ns,
      pod(
        'stopper',
        {
          command: ['sh', '-c', "trap 'echo term >> /data/log; exit 0' TERM; while :; do sleep 1; done"],
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /data/log'] } } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
        { volumes: [{ name: 'data', hostPath: { path: hostDir, type: 'Directory' } }] },
      ),
    );
    const p = await waitFor('running', async () => {
      const s = await status(ns, 'stopper');
      return s.status?.phase === 'Running' ? s : undefined;
    }, { timeoutMs: 30_000 });
    await client.delete(PODS, ns, 'stopper');
    await waitFor('pod gone', async () => !(await client.list(PODS, { namespace: ns })).items.some((x) => x.metadata.name === 'stopper'), { timeoutMs: 30_000 });
    expect(readFileSync(join(hostDir, 'log'), 'utf8')).toBe('prestop\nterm\n');
    expect((await eventReasons(ns, 'stopper', ['Killing'])).get('Killing')).toBe('Stopping container main');
    await waitFor('containers removed', async () => (await ourContainers([`io.kubernetes.pod.uid=${p.metadata.uid}`])).length === 0, { timeoutMs: 10_000 });
    expect(existsSync(hostDir)).toBe(true);
  }, 60_000);

  it('reports ErrImagePull, then ImagePullBackOff, for an image that cannot be pulled', async () => {
    const ns = await namespace('images');
    // A registry on a closed loopback port: the pull fails at once and nothing leaves the machine.
    await client.create(PODS, ns, pod('missing', { image: '127.0.0.1:9/flotilla-test/missing:1', imagePullPolicy: 'IfNotPresent' }));
    const seen = new Set<string>();
    await waitFor('ErrImagePull and ImagePullBackOff', async () => {
      const w = (await status(ns, 'missing')).status?.containerStatuses?.[0]?.state.waiting;
      if (w) seen.add(w.reason);
      return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
    }, { timeoutMs: 40_000, intervalMs: 50 }).catch(async (err) => {
      console.error([...seen], JSON.stringify((await status(ns, 'missing')).status), agent.stderr().slice(-3000));
      throw err;
    });
    const w = (await status(ns, 'missing')).status?.containerStatuses?.[0]?.state.waiting;
    expect(w?.message).toMatch(/127\.0\.0\.1:9/);
  }, 60_000);

  it('provisions a local-path claim on this node, keeps its data across pod recreation, deletes it with the claim', async () => {
    const ns = await namespace('storage');
    const PVCS = res('persistentvolumeclaims');
    await client.create(PVCS, ns, { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } });
    const writer = (name: string, command: string) => pod(name, { command: ['sh', '-c', command], volumeMounts: [{ name: 'data', mountPath: '/data' }] }, { restartPolicy: 'Never', volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] });
    await client.create(PODS, ns, writer('first', 'echo kept > /data/file'));
    await waitFor('first pod succeeded', async () => (await status(ns, 'first')).status?.phase === 'Succeeded', { timeoutMs: 30_000 });
    type ClaimView = KubeObject & { spec: { volumeName?: string; storageClassName?: string }; status?: { phase?: string } };
    const claim = await client.get<ClaimView>(PVCS, ns, 'data');
    expect(claim.status?.phase).toBe('Bound');
    expect(claim.spec.storageClassName).toBe('local-path');
    const pv = await client.get<KubeObject & { spec: { hostPath: { path: string }; nodeAffinity: unknown } }>(res('persistentvolumes'), '', claim.spec.volumeName!);
    expect(JSON.stringify(pv.spec.nodeAffinity)).toContain(NODE);
    expect(readFileSync(join(pv.spec.hostPath.path, 'file'), 'utf8')).toBe('kept\n');
    await client.delete(PODS, ns, 'first');
    await client.create(PODS, ns, writer('second', 'cat /data/file'));
    await waitFor('second pod succeeded', async () => (await status(ns, 'second')).status?.phase === 'Succeeded', { timeoutMs: 30_000 });
    expect(await logs(ns, 'second')).toBe('kept\n');
    await client.delete(PODS, ns, 'second');
    await waitFor('pods gone', async () => (await client.list(PODS, { namespace: ns })).items.length === 0, { timeoutMs: 30_000 });
    await client.delete(PVCS, ns, 'data');
    await waitFor('volume and data deleted', async () => {
      const left = (await client.list(res('persistentvolumes'))).items.some((v) => v.metadata.name === claim.spec.volumeName);
      return !left && !existsSync(pv.spec.hostPath.path);
    }, { timeoutMs: 30_000 });
  }, 90_000);

  it('adopts its containers after kill -9 and a restart: one container per pod, no restarts', async () => {
    const ns = await namespace('restart');
    for (const n of ['a', 'b', 'c']) await client.create(PODS, ns, pod(n, { command: ['sleep', '3600'] }));
    const before = await waitFor('three running', async () => {
      const ps = (await client.list<PodView>(PODS, { namespace: ns })).items;
      return ps.length === 3 && ps.every((p) => condition(p, 'Ready') === 'True') ? ps : undefined;
    }, { timeoutMs: 30_000 });
    const ids = new Map(before.map((p) => [p.metadata.name, p.status?.containerStatuses?.[0]?.containerID]));
    await agent.stop('SIGKILL');
    // A pod deleted while the agent is away is cleaned up when it returns.
    await client.delete(PODS, ns, 'c', { gracePeriodSeconds: 0 });
    agent = await startAgent();
    await waitFor('orphaned containers of c removed', async () => (await ourContainers([`io.kubernetes.pod.uid=${before.find((p) => p.metadata.name === 'c')!.metadata.uid}`])).length === 0, { timeoutMs: 20_000 });
    for (const p of before.filter((x) => x.metadata.name !== 'c')) {
      const mine = await ourContainers([`io.kubernetes.pod.uid=${p.metadata.uid}`]);
      expect(mine.filter((c) => c.Labels['io.kubernetes.container.name'] === 'main')).toHaveLength(1);
      expect(mine.filter((c) => c.Labels['io.kubernetes.container.name'] === 'POD')).toHaveLength(1);
      const s = await status(ns, p.metadata.name!);
      expect(s.status?.containerStatuses?.[0]?.containerID).toBe(ids.get(p.metadata.name));
      expect(s.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    }
  }, 90_000);

  it('keeps a Deployment at 3 replicas when a container is killed through the engine', async () => {
    await startScheduler(server.kubeconfig);
    await startControllerManager(server.kubeconfig);
    const ns = await namespace('deploy');
    await client.create(DEPLOYMENTS, ns, {
      metadata: { name: 'keep' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'keep' } }, template: { metadata: { labels: { app: 'keep' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } } },
    });
    const ready = async () => (await client.list<PodView>(PODS, { namespace: ns })).items.filter((p) => !p.metadata.deletionTimestamp && condition(p, 'Ready') === 'True');
    const pods = await waitFor('three ready replicas', async () => {
      const r = await ready();
      return r.length === 3 ? r : undefined;
    }, { timeoutMs: 60_000 });
    const victim = pods[0]!;
    const id = victim.status!.containerStatuses![0]!.containerID!.replace('docker://', '');
    await engine.killContainer(id, 'SIGKILL');
    await waitFor('victim container restarted', async () => {
      const s = await status(ns, victim.metadata.name!);
      return (s.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && condition(s, 'Ready') === 'True';
    }, { timeoutMs: 30_000 });
    expect(await ready()).toHaveLength(3);
    expect((await client.list(PODS, { namespace: ns })).items).toHaveLength(3);
  }, 120_000);
});
