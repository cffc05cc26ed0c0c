/**
 * The `disruption` controller as a real process against a real API server, with the scheduler and
 * hollow nodes running a Deployment's pods: a PodDisruptionBudget (minAvailable 2 over 3 ready pods)
 * gets its status (1 disruption allowed), so the eviction subresource lets one pod go and answers 429
 * to the next until the replacement is ready and the budget recovers; the status is not rewritten
 * while nothing changes; a percentage budget over the Deployment counts its replicas; and, when
 * kubectl is installed, `kubectl drain` of a node evicts its pods through the budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerWithClient, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager, startHollowNodes, startScheduler } from './harness/cluster.js';
import type { RawClient, RawResponse } from './harness/http.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const NS = 'disruption';
const PDBS = `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`;
const PODS = `/api/v1/namespaces/${NS}/pods`;

interface PdbStatus {
  observedGeneration?: number;
  disruptionsAllowed?: number;
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  disruptedPods?: Record<string, string>;
  conditions?: { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }[];
}
interface Pdb {
  metadata: { name: string; generation?: number; resourceVersion: string };
  status?: PdbStatus;
}
interface Pod {
  metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

let dir: ReturnType<typeof tempDir>;
let server: ApiServerProcess;
let client: RawClient;
const kubectlBinary = findKubectl();

const ok = (path: string, method = 'GET', body?: unknown) => client.ok(path, method, body);

const evict = (name: string): Promise<RawResponse> =>
  client.send(`${PODS}/${name}/eviction`, 'POST', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: NS } });

const isReady = (p: Pod) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function readyPods(app: string): Promise<Pod[]> {
  const list = (await ok(`${PODS}?labelSelector=app%3D${app}`)) as { items: Pod[] };
  return list.items.filter(isReady).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

/** Waits until the budget's status is computed for its generation with these counts. */
async function budgetIs(name: string, want: Pick<PdbStatus, 'expectedPods' | 'desiredHealthy' | 'currentHealthy' | 'disruptionsAllowed'>, timeoutMs = 30_000): Promise<Pdb> {
  return waitFor(
    `budget ${name} at ${JSON.stringify(want)}`,
    async () => {
      const p = (await ok(`${PDBS}/${name}`)) as Pdb;
      const s = p.status ?? {};
      const done =
        s.observedGeneration === p.metadata.generation &&
        s.expectedPods === want.expectedPods &&
        s.desiredHealthy === want.desiredHealthy &&
        s.currentHealthy === want.currentHealthy &&
        s.disruptionsAllowed === want.disruptionsAllowed;
      return done ? p : undefined;
    },
    { timeoutMs },
  );
}

function deployment(name: string, replicas: number) {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'busybox' }] } },
    },
  };
}

beforeAll(async () => {
  dir = tempDir('controller-manager-disruption');
  ({ server, client } = await startApiServerWithClient(dir.path));
  await startHollowNodes(server.kubeconfig, 2, ['--name-prefix', 'worker-', '--cpu', '8', '--memory', '16Gi']);
  await startScheduler(server.kubeconfig);
  await startControllerManager(server.kubeconfig, ['--controllers', 'deployment,replicaset,disruption', '--leader-elect', 'false']);
  await ok('/api/v1/namespaces', 'POST', { metadata: { name: NS } });
}, 120_000);

afterAll(async () => {
  await stopApiServerWithClient({ client, server, dir });
});

describe('disruption controller', () => {
  it('a minAvailable budget allows one eviction of three ready pods, refuses the next until a replacement is ready', async () => {
    await ok(`/apis/apps/v1/namespaces/${NS}/deployments`, 'POST', deployment('web', 3));
    await waitFor('3 ready web pods', async () => ((await readyPods('web')).length === 3 ? true : undefined));
    await ok(PDBS, 'POST', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } });

    const pdb = await budgetIs('web', { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
    expect(pdb.status?.conditions?.find((c) => c.type === 'DisruptionAllowed')).toMatchObject({ status: 'True', reason: 'SufficientPods', observedGeneration: pdb.metadata.generation });

    // With nothing changing the status is not rewritten.
    await waitFor('an unchanged budget', async () => ((await ok(`${PDBS}/web`)) as Pdb).metadata.resourceVersion === pdb.metadata.resourceVersion, { stableForMs: 3_000, timeoutMs: 10_000 });

    const [first, second] = await readyPods('web');
    const evicted = await evict(first!.metadata.name);
    expect(evicted.status, evicted.body).toBe(201);
    const refused = await evict(second!.metadata.name);
    expect(refused.status, refused.body).toBe(429);
    expect((refused.json as { details?: { causes?: { reason?: string }[] } }).details?.causes?.[0]?.reason).toBe('DisruptionBudget');

    // The evicted pod goes, the ReplicaSet's replacement becomes ready: the budget recovers.
    await budgetIs('web', { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
    const names = (await readyPods('web')).map((p) => p.metadata.name);
    expect(names).not.toContain(first!.metadata.name);
    const again = await evict(second!.metadata.name);
    expect(again.status, again.body).toBe(201);
    await budgetIs('web', { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
  });

  it('a maxUnavailable percentage counts the Deployment\'s replicas and follows a scale', async () => {
    await ok(`/apis/apps/v1/namespaces/${NS}/deployments`, 'POST', deployment('api', 4));
    await waitFor('4 ready api pods', async () => ((await readyPods('api')).length === 4 ? true : undefined));
    await ok(PDBS, 'POST', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'api' }, spec: { maxUnavailable: '30%', selector: { matchLabels: { app: 'api' } } } });
    // 30% of 4 rounds up to 2: 2 desired of 4.
    await budgetIs('api', { expectedPods: 4, desiredHealthy: 2, currentHealthy: 4, disruptionsAllowed: 2 });

    // Scaled to 10: 30% of 10 is 3 unavailable, 7 desired.
    const d = await ok(`/apis/apps/v1/namespaces/${NS}/deployments/api`);
    await ok(`/apis/apps/v1/namespaces/${NS}/deployments/api`, 'PUT', { ...d, spec: { ...d.spec, replicas: 10 } });
    await budgetIs('api', { expectedPods: 10, desiredHealthy: 7, currentHealthy: 10, disruptionsAllowed: 3 });
  });

  it('a percentage budget leaves out pods without a controller, and with none expected allows nothing', async () => {
    await ok(PODS, 'POST', { metadata: { name: 'loner', labels: { app: 'loner' } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } });
    await ok(PDBS, 'POST', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'loner' }, spec: { minAvailable: '50%', selector: { matchLabels: { app: 'loner' } } } });
    const p = await waitFor('the budget computed', async () => {
      const got = (await ok(`${PDBS}/loner`)) as Pdb;
      return got.status?.observedGeneration === 1 ? got : undefined;
    });
    expect(p.status?.disruptionsAllowed).toBe(0);
    expect(p.status?.conditions?.find((c) => c.type === 'DisruptionAllowed')).toMatchObject({ status: 'False', reason: 'InsufficientPods' });
    // The recorder sends events after the status write: wait for it.
    await waitFor('an UnmanagedPods event', async () => (((await ok(`/api/v1/namespaces/${NS}/events?fieldSelector=reason%3DUnmanagedPods`)) as { items: unknown[] }).items.length > 0 ? true : undefined));
    await waitFor('loner running', async () => (((await ok(`${PODS}/loner`)) as Pod).status?.phase === 'Running' ? true : undefined));
    const r = await evict('loner');
    expect(r.status, r.body).toBe(429);
  });

  it.skipIf(!kubectlBinary)('kubectl drain evicts a node\'s pods through the budget', async () => {
    const kubectl = new Kubectl(kubectlBinary!, server.kubeconfig, dir.path);
    const pods = (await ok(`${PODS}?labelSelector=app%3Dweb`)) as { items: Pod[] };
    const node = pods.items.find((p) => !p.metadata.deletionTimestamp && p.spec.nodeName)?.spec.nodeName;
    expect(node).toBeDefined();
    // The budgets of the other apps: only web, api and the loner live here; drain one node's web and api pods.
    await ok(`${PDBS}/loner`, 'DELETE');
    await ok(`${PODS}/loner?gracePeriodSeconds=0`, 'DELETE');
    const out = await kubectl.run(['drain', node!, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout', '150s'], { timeoutMs: 170_000 });
    expect(out.code, `${out.stdout}${out.stderr}`).toBe(0);
    expect(out.stdout + out.stderr).toMatch(/evicting pod/);
    expect(out.stdout).toMatch(new RegExp(`node/${node} drained`));
    const left = ((await ok(PODS)) as { items: Pod[] }).items.filter((p) => p.spec.nodeName === node && !p.metadata.deletionTimestamp);
    expect(left.map((p) => p.metadata.name)).toEqual([]);
    await budgetIs('web', { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 }, 60_000);
  }, 200_000);
});
