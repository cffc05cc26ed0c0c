/**
 * The eviction subresource against PodDisruptionBudget status on a real API server (the budget's
 * status is written here by hand, as the controller manager's `disruption` controller would):
 * a Ready pod uses up the budget or gets a 429; a pod that is not Ready goes when the budget is
 * healthy (IfHealthyBudget) or always (AlwaysAllow) without using it up; a pod already being deleted
 * goes regardless.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';

let server: ApiServerProcess;
let client: RawClient;
let dir: ReturnType<typeof tempDir>;
const NS = 'evict';
const pods = `/api/v1/namespaces/${NS}/pods`;
const pdbs = `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets`;

const call = (path: string, method = 'GET', body?: unknown) => client.send(path, method, body);
const ok = (path: string, method = 'GET', body?: unknown) => client.ok(path, method, body);

async function runningPod(name: string, ready: boolean, finalizers: string[] = []): Promise<void> {
  const created = await ok(pods, 'POST', { metadata: { name, labels: { app: 'web' }, finalizers }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  await ok(`${pods}/${name}/status`, 'PUT', { ...created, status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
}

async function budgetStatus(status: Record<string, number>, spec?: Record<string, unknown>): Promise<void> {
  let pdb = await ok(`${pdbs}/web`);
  if (spec) pdb = await ok(`${pdbs}/web`, 'PUT', { ...pdb, spec: { ...pdb.spec, ...spec } });
  await ok(`${pdbs}/web/status`, 'PUT', { ...pdb, status: { observedGeneration: pdb.metadata.generation, ...status } });
}

const evict = (name: string) => call(`${pods}/${name}/eviction`, 'POST', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name } });

beforeAll(async () => {
  dir = tempDir('eviction');
  server = await startApiServer(dir.path);
  client = new RawClient(server.url, server.caPem, server.token);
  await ok('/api/v1/namespaces', 'POST', { metadata: { name: NS } });
  await ok(pdbs, 'POST', { metadata: { name: 'web' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

describe('eviction and disruption budgets', () => {
  it('refuses a Ready pod when the budget allows no disruption, and uses the budget up otherwise', async () => {
    await runningPod('ready-1', true);
    await runningPod('ready-2', true);
    await budgetStatus({ disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    const refused = await evict('ready-1');
    expect(refused.status).toBe(429);
    expect(refused.json.details.causes[0].reason).toBe('DisruptionBudget');
    await budgetStatus({ disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2 });
    expect((await evict('ready-1')).status).toBe(201);
    expect((await ok(`${pdbs}/web`)).status.disruptionsAllowed).toBe(0);
  });

  it('evicts a pod that is not Ready without using the budget when the budget is healthy (IfHealthyBudget)', async () => {
    await runningPod('unready-1', false);
    await budgetStatus({ disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 });
    expect((await evict('unready-1')).status).toBe(201);
    expect((await ok(`${pdbs}/web`)).status.disruptionsAllowed).toBe(0);
    await runningPod('unready-2', false);
    await budgetStatus({ disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 1, expectedPods: 2 });
    expect((await evict('unready-2')).status).toBe(429);
  });

  it('evicts a pod that is not Ready always under AlwaysAllow', async () => {
    await budgetStatus({ disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 1, expectedPods: 2 }, { unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    expect((await evict('unready-2')).status).toBe(201);
    expect((await evict('ready-2')).status).toBe(429);
  });

  it('evicts a pod that is already being deleted regardless of the budget', async () => {
    await runningPod('leaving', true, ['example.com/hold']);
    await ok(`${pods}/leaving`, 'DELETE');
    expect((await evict('leaving')).status).toBe(201);
  });
});
