/**
 * The `resourcequota` controller as a real process against a real API server: a quota's
 * `status.hard` follows its spec and `status.used` the namespace's pods (requests and limits),
 * config maps, NodePort services and, at each `--resource-quota-sync-period`, deployments (a kind
 * the controller does not watch); usage drops when a pod finishes or is deleted, and the status is
 * not rewritten while nothing changes. Everything stays inside the quota, so the API server's quota
 * admission lets every create through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerWithClient, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import type { RawClient } from './harness/http.js';
import { tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const NS = 'quota-usage';
const QUOTA = `/api/v1/namespaces/${NS}/resourcequotas/compute`;
const HARD = { pods: '5', 'requests.cpu': '2', 'limits.memory': '1Gi', 'count/configmaps': '5', 'services.nodeports': '3', 'count/deployments.apps': '2' };

interface QuotaStatus {
  hard?: Record<string, string>;
  used?: Record<string, string>;
}

let dir: ReturnType<typeof tempDir>;
let server: ApiServerProcess;
let client: RawClient;

const ok = (path: string, method = 'GET', body?: unknown) => client.ok(path, method, body);

const pod = (name: string, resources: { requests?: Record<string, string>; limits?: Record<string, string> }) => ({
  metadata: { name },
  spec: { containers: [{ name: 'app', image: 'busybox', resources }] },
});

/** Waits until the quota's status is exactly `used` (and hard is the spec's). */
async function usedBecomes(used: Record<string, string>): Promise<{ metadata: { resourceVersion: string }; status: QuotaStatus }> {
  return waitFor(`quota usage ${JSON.stringify(used)}`, async () => {
    const q = await ok(QUOTA);
    return same(q.status?.used, used) && same(q.status?.hard, HARD) ? q : undefined;
  });
}

const sorted = (o: Record<string, string> | undefined) => JSON.stringify(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
const same = (a: Record<string, string> | undefined, b: Record<string, string>) => sorted(a) === sorted(b);

beforeAll(async () => {
  dir = tempDir('controller-manager-quota');
  ({ server, client } = await startApiServerWithClient(dir.path));
  await startControllerManager(server.kubeconfig, ['--controllers', 'resourcequota', '--leader-elect', 'false', '--resource-quota-sync-period', '2s']);
  await ok('/api/v1/namespaces', 'POST', { metadata: { name: NS } });
}, 120_000);

afterAll(async () => {
  await stopApiServerWithClient({ client, server, dir });
});

describe('resourcequota controller', () => {
  it('reports usage of pods, config maps, node ports and deployments, and gives it back when pods finish or go', async () => {
    await ok(`/api/v1/namespaces/${NS}/resourcequotas`, 'POST', { metadata: { name: 'compute' }, spec: { hard: HARD } });
    // Nothing in the namespace yet: every hard name is reported, at 0.
    await usedBecomes(Object.fromEntries(Object.keys(HARD).map((n) => [n, '0'])));

    await ok(`/api/v1/namespaces/${NS}/pods`, 'POST', pod('web', { requests: { cpu: '500m' }, limits: { cpu: '1', memory: '256Mi' } }));
    // No request: it requests its limit.
    await ok(`/api/v1/namespaces/${NS}/pods`, 'POST', pod('batch', { limits: { cpu: '250m', memory: '128Mi' } }));
    await ok(`/api/v1/namespaces/${NS}/pods`, 'POST', pod('tiny', { requests: { cpu: '100m' }, limits: { memory: '64Mi' } }));
    for (const name of ['settings', 'flags']) await ok(`/api/v1/namespaces/${NS}/configmaps`, 'POST', { metadata: { name }, data: { a: '1' } });
    await ok(`/api/v1/namespaces/${NS}/services`, 'POST', { metadata: { name: 'np' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } });
    await ok(`/api/v1/namespaces/${NS}/services`, 'POST', { metadata: { name: 'internal' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
    await ok(`/apis/apps/v1/namespaces/${NS}/deployments`, 'POST', {
      metadata: { name: 'd' },
      spec: { replicas: 0, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'app', image: 'busybox' }] } } },
    });

    // Deployments are not watched: their count arrives with a periodic resync (2 s here).
    const q = await usedBecomes({ pods: '3', 'requests.cpu': '850m', 'limits.memory': '448Mi', 'count/configmaps': '2', 'services.nodeports': '2', 'count/deployments.apps': '1' });
    expect(q.status.hard).toEqual(HARD);

    // With nothing changing the status is not rewritten, resyncs included.
    await waitFor('an unchanged quota', async () => (await ok(QUOTA)).metadata.resourceVersion === q.metadata.resourceVersion, { stableForMs: 5_000, timeoutMs: 10_000 });

    // A finished pod no longer uses its requests and limits.
    const web = await ok(`/api/v1/namespaces/${NS}/pods/web`);
    await ok(`/api/v1/namespaces/${NS}/pods/web/status`, 'PUT', { ...web, status: { ...(web.status ?? {}), phase: 'Succeeded' } });
    await usedBecomes({ pods: '2', 'requests.cpu': '350m', 'limits.memory': '192Mi', 'count/configmaps': '2', 'services.nodeports': '2', 'count/deployments.apps': '1' });

    // Deletes give usage back.
    await ok(`/api/v1/namespaces/${NS}/pods/batch?gracePeriodSeconds=0`, 'DELETE');
    await ok(`/api/v1/namespaces/${NS}/configmaps/flags`, 'DELETE');
    await ok(`/api/v1/namespaces/${NS}/services/np`, 'DELETE');
    await usedBecomes({ pods: '1', 'requests.cpu': '100m', 'limits.memory': '64Mi', 'count/configmaps': '1', 'services.nodeports': '0', 'count/deployments.apps': '1' });
  });

  it('follows a change of the hard limits', async () => {
    const cur = await ok(QUOTA);
    const hard = { ...HARD, pods: '7', secrets: '4' };
    await ok(QUOTA, 'PUT', { ...cur, spec: { hard } });
    const q = await waitFor('status of the new hard limits', async () => {
      const got = await ok(QUOTA);
      return got.status?.hard?.pods === '7' && got.status?.used?.secrets !== undefined ? got : undefined;
    });
    expect(q.status.hard).toEqual(hard);
    expect(q.status.used).toMatchObject({ pods: '1', secrets: '0' });
  });
});
