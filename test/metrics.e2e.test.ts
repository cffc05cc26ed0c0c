/**
 * Resource metrics end to end: a real API server and agent on the Docker engine; the agent samples
 * CPU and memory of its containers and node, the API server serves them as metrics.k8s.io/v1beta1,
 * stock `kubectl top pods|nodes` prints them, and (with the scheduler and controller manager) an
 * autoscaling/v2 HPA on CPU utilisation scales a Deployment of CPU burners up.
 *
 * CPU burners are bounded: a 250m CPU limit each, at most 3 replicas, deleted at the end of each
 * test. Every container the agent creates carries `io.flotilla.test=true` and this run's node name;
 * the suite removes exactly those.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { res, RestClient } from '@flotilla/client';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager, startScheduler } from './harness/cluster.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const NAMESPACES = res('namespaces');
const DEPLOYMENTS = res('deployments.apps');
const HPAS = res('horizontalpodautoscalers.autoscaling');

const docker = hasDockerSocket();
const kubectlPath = findKubectl();
if (!kubectlPath) console.warn('skipping metrics end-to-end tests: no kubectl on PATH');
const NODE = `metrics-e2e-${process.pid}`;

/** A container that burns CPU, bounded by its limit. */
const BURNER = { name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'while :; do :; done'], resources: { requests: { cpu: '100m' }, limits: { cpu: '250m' } } };
const IDLE = { name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'], resources: { requests: { cpu: '10m' } } };

interface PodView extends KubeObject {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

const cluster = new DockerTestCluster('metrics', NODE);
let server: ApiServerProcess;
let client: RestClient;
let kubectl: Kubectl;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `kubectl top ...` rows as name → columns (millicores and MiB parsed where they are). */
async function top(args: string[]): Promise<Map<string, string[]>> {
  const out = await kubectl.ok(['top', ...args, '--no-headers']);
  return new Map(out.trim().split('\n').filter((l) => l.trim()).map((l) => {
    const cols = l.trim().split(/\s+/);
    return [cols[0]!, cols.slice(1)];
  }));
}

function milli(cpu: string | undefined): number {
  return cpu?.endsWith('m') ? Number(cpu.slice(0, -1)) : Number(cpu) * 1000;
}

describe.skipIf(!docker || !kubectlPath)('resource metrics (agent → metrics.k8s.io → kubectl top, HPA)', () => {
  beforeAll(async () => {
    ({ server, client } = await cluster.start());
    kubectl = new Kubectl(kubectlPath!, server.kubeconfig, cluster.dir.path);
    await cluster.startAgent(['--port', String(await freePort()), '--metrics-interval', '5s']);
  }, 120_000);

  afterAll(() => cluster.stop());

  it('advertises metrics.k8s.io/v1beta1 in discovery', async () => {
    const groups = JSON.parse(await kubectl.ok(['get', '--raw', '/apis'])) as { groups: { name: string; preferredVersion: { version: string } }[] };
    expect(groups.groups.find((g) => g.name === 'metrics.k8s.io')?.preferredVersion.version).toBe('v1beta1');
    const resources = await kubectl.ok(['api-resources', '--api-group', 'metrics.k8s.io', '--no-headers']);
    expect(resources).toMatch(/^nodes\s+metrics\.k8s\.io\/v1beta1\s+false\s+NodeMetrics/m);
    expect(resources).toMatch(/^pods\s+metrics\.k8s\.io\/v1beta1\s+true\s+PodMetrics/m);
  });

  it('kubectl top pods shows the CPU burner busy and the sleeper idle; kubectl top nodes shows the node', async () => {
    const ns = 'metrics-top';
    await client.create(NAMESPACES, '', { metadata: { name: ns } });
    try {
      await client.create(PODS, ns, { metadata: { name: 'busy', labels: { app: 'burn' } }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 0, containers: [BURNER] } });
      await client.create(PODS, ns, { metadata: { name: 'idle', labels: { app: 'idle' } }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 0, containers: [IDLE] } });
      const rows = await waitFor('kubectl top pods with both pods, the burner above 50m', async () => {
        const r = await top(['pods', '-n', ns]);
        return r.has('idle') && milli(r.get('busy')?.[0]) > 50 ? r : undefined;
      }, { timeoutMs: 60_000, intervalMs: 1000 });
      const busy = milli(rows.get('busy')![0]);
      const idle = milli(rows.get('idle')![0]);
      console.log(`kubectl top pods: busy ${busy}m (limit 250m), idle ${idle}m; memory ${rows.get('busy')![1]} / ${rows.get('idle')![1]}`);
      expect(busy).toBeGreaterThan(50);
      expect(busy).toBeLessThan(400);
      expect(idle).toBeLessThan(10);
      expect(rows.get('idle')![1]).toMatch(/^\d+Mi$/);

      // Selectors reach the metrics API.
      expect([...(await top(['pods', '-n', ns, '-l', 'app=burn'])).keys()]).toEqual(['busy']);
      const containers = await kubectl.ok(['top', 'pods', '-n', ns, 'busy', '--containers', '--no-headers']);
      expect(containers).toMatch(/^busy\s+main\s+\d+m\s+\d+Mi/m);

      // The object itself, as metrics-server returns it.
      const pm = JSON.parse(await kubectl.ok(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/busy`])) as { kind: string; window: string; timestamp: string; containers: { name: string; usage: { cpu: string; memory: string } }[] };
      expect(pm).toMatchObject({ kind: 'PodMetrics', containers: [{ name: 'main' }] });
      // The window is the measured time between the two samples: about the 5 s interval, more or less
      // when a busy machine delays one of the stats reads.
      expect(pm.window).toMatch(/^\d+s$/);
      expect(Number.parseInt(pm.window, 10)).toBeGreaterThanOrEqual(1);
      expect(Number.parseInt(pm.window, 10)).toBeLessThanOrEqual(15);
      expect(pm.containers[0]!.usage.cpu).toMatch(/^\d+(n|u|m)?$/);
      expect(pm.containers[0]!.usage.memory).toMatch(/^\d+(Ki|Mi)?$/);
      expect(pm.containers[0]!.usage.memory).not.toBe('0');
      console.log(`PodMetrics busy: ${JSON.stringify(pm.containers[0]!.usage)} window ${pm.window} at ${pm.timestamp}`);

      const nodes = await waitFor('kubectl top nodes with the node', async () => {
        const r = await top(['nodes']);
        return r.get(NODE)?.[0]?.endsWith('m') ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 1000 });
      const [cpu, cpuPct, mem, memPct] = nodes.get(NODE)!;
      console.log(`kubectl top nodes: ${NODE} ${cpu} ${cpuPct} ${mem} ${memPct}`);
      expect(milli(cpu)).toBeGreaterThan(busy / 2);
      expect(cpuPct).toMatch(/^\d+%$/);
      expect(mem).toMatch(/^\d+Mi$/);
    } finally {
      for (const name of ['busy', 'idle']) await client.delete(PODS, ns, name, { gracePeriodSeconds: 0 }).catch(() => undefined);
    }
  }, 120_000);

  it('an HPA on 50% CPU scales a Deployment of CPU burners up and reports ScalingActive', async () => {
    await startScheduler(server.kubeconfig);
    await startControllerManager(server.kubeconfig, ['--horizontal-pod-autoscaler-sync-period', '2s']);
    const ns = 'metrics-hpa';
    await client.create(NAMESPACES, '', { metadata: { name: ns } });
    try {
      await client.create(DEPLOYMENTS, ns, {
        metadata: { name: 'burn' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'burn' } }, template: { metadata: { labels: { app: 'burn' } }, spec: { terminationGracePeriodSeconds: 0, containers: [BURNER] } } },
      });
      await client.create(HPAS, ns, {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'burn' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'burn' },
          minReplicas: 1,
          maxReplicas: 3,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        },
      });
      const started = Date.now();
      await waitFor('the Deployment scaled to 3 by the HPA', async () => {
        const d = await client.get<KubeObject & { spec: { replicas: number } }>(DEPLOYMENTS, ns, 'burn');
        return d.spec.replicas === 3;
      }, { timeoutMs: 90_000, intervalMs: 1000 });
      const scaledAfter = Math.round((Date.now() - started) / 1000);
      type HpaView = KubeObject & { status?: { currentReplicas?: number; desiredReplicas?: number; currentMetrics?: { resource?: { current?: { averageUtilization?: number } } }[]; conditions?: { type: string; status: string; reason?: string }[] } };
      const hpa = await waitFor('ScalingActive=True', async () => {
        const h = await client.get<HpaView>(HPAS, ns, 'burn');
        return h.status?.conditions?.find((c) => c.type === 'ScalingActive')?.status === 'True' ? h : undefined;
      }, { timeoutMs: 20_000, intervalMs: 500 });
      const utilization = hpa.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization;
      console.log(`HPA scaled 1 → 3 in ${scaledAfter}s; utilisation ${utilization}%, conditions ${JSON.stringify(hpa.status?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`))}`);
      expect(hpa.status?.desiredReplicas).toBe(3);
      expect(utilization).toBeGreaterThan(50);
      const desc = await kubectl.ok(['get', 'hpa', '-n', ns, 'burn', '--no-headers']);
      expect(desc).toMatch(/cpu: \d+%\/50%/);
    } finally {
      await client.delete(HPAS, ns, 'burn').catch(() => undefined);
      await client.delete(DEPLOYMENTS, ns, 'burn', { propagationPolicy: 'Foreground' }).catch(() => undefined);
      await waitFor('burner pods gone', async () => (await client.list<PodView>(PODS, { namespace: ns })).items.length === 0, { timeoutMs: 60_000, intervalMs: 500 }).catch(() => undefined);
    }
  }, 180_000);
});
