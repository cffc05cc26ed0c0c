/**
 * LimitRanger and ResourceQuota admission on a real API server: LimitRange defaults and bounds for
 * containers, pods and claims; quota refusals ("exceeded quota", "must specify") with Kubernetes'
 * messages; concurrent creates that cannot overshoot a quota; finished pods and deletes giving usage back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { killAll, tempDir } from './harness/processes.js';

let server: ApiServerProcess;
let client: RawClient;
let dir: ReturnType<typeof tempDir>;

const call = (path: string, method = 'GET', body?: unknown) => client.send(path, method, body);
const ok = (path: string, method = 'GET', body?: unknown) => client.ok(path, method, body);
async function namespace(name: string): Promise<void> {
  await ok('/api/v1/namespaces', 'POST', { metadata: { name } });
}
const pod = (name: string, resources?: { requests?: Record<string, string>; limits?: Record<string, string> }, extra: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: 'app', image: 'busybox', ...(resources ? { resources } : {}) }], ...extra },
});

beforeAll(async () => {
  dir = tempDir('quota');
  server = await startApiServer(dir.path);
  client = new RawClient(server.url, server.caPem, server.token);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

describe('LimitRange admission', () => {
  beforeAll(async () => {
    await namespace('limits');
    await ok('/api/v1/namespaces/limits/limitranges', 'POST', {
      metadata: { name: 'bounds' },
      spec: {
        limits: [
          { type: 'Container', default: { cpu: '200m', memory: '128Mi' }, defaultRequest: { cpu: '100m' }, max: { cpu: '1' }, min: { memory: '16Mi' }, maxLimitRequestRatio: { cpu: '4' } },
          { type: 'Pod', max: { memory: '300Mi' } },
          { type: 'PersistentVolumeClaim', max: { storage: '1Gi' } },
        ],
      },
    });
  });

  it('defaults a Container item as Kubernetes does: limits from max, requests from the default limit or min', async () => {
    const range = await ok('/api/v1/namespaces/limits/limitranges', 'POST', { metadata: { name: 'only-bounds' }, spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '32Mi' } }] } });
    expect(range.spec.limits[0].default).toEqual({ cpu: '2' });
    expect(range.spec.limits[0].defaultRequest).toEqual({ cpu: '2', memory: '32Mi' });
    await ok('/api/v1/namespaces/limits/limitranges/only-bounds', 'DELETE');
  });

  it('gives containers the default requests and limits', async () => {
    const created = await ok('/api/v1/namespaces/limits/pods', 'POST', pod('defaulted'));
    expect(created.spec.containers[0].resources).toEqual({ limits: { cpu: '200m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
  });

  it('refuses containers, pods and claims outside the bounds', async () => {
    const tooBig = await call('/api/v1/namespaces/limits/pods', 'POST', pod('too-big', { limits: { cpu: '2', memory: '64Mi' } }));
    expect(tooBig.status).toBe(403);
    expect(tooBig.json.reason).toBe('Forbidden');
    expect(tooBig.json.message).toBe('pods "too-big" is forbidden: maximum cpu usage per Container is 1, but limit is 2');
    const both = await call('/api/v1/namespaces/limits/pods', 'POST', pod('both', { requests: { memory: '8Mi' }, limits: { cpu: '3', memory: '64Mi' } }));
    expect(both.json.message).toBe('pods "both" is forbidden: [minimum memory usage per Container is 16Mi, but request is 8Mi, maximum cpu usage per Container is 1, but limit is 3]');
    const ratio = await call('/api/v1/namespaces/limits/pods', 'POST', pod('ratio', { requests: { cpu: '100m' }, limits: { cpu: '800m' } }));
    expect(ratio.json.message).toMatch(/cpu max limit to request ratio per Container is 4, but provided ratio is 8\.0+/);
    const twoContainers = { metadata: { name: 'pod-max' }, spec: { containers: ['a', 'b', 'c'].map((n) => ({ name: n, image: 'busybox', resources: { limits: { memory: '128Mi' } } })) } };
    const podMax = await call('/api/v1/namespaces/limits/pods', 'POST', twoContainers);
    expect(podMax.json.message).toBe('pods "pod-max" is forbidden: maximum memory usage per Pod is 300Mi, but limit is 384Mi');
    const claim = await call('/api/v1/namespaces/limits/persistentvolumeclaims', 'POST', { metadata: { name: 'big' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } } });
    expect(claim.status).toBe(403);
    expect(claim.json.message).toBe('persistentvolumeclaims "big" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi');
    expect((await call('/api/v1/namespaces/limits/pods/too-big')).status).toBe(404);
  });
});

describe('ResourceQuota admission', () => {
  beforeAll(async () => {
    await namespace('quota');
    await ok('/api/v1/namespaces/quota/resourcequotas', 'POST', { metadata: { name: 'compute' }, spec: { hard: { pods: '2', 'requests.cpu': '1', 'limits.memory': '1Gi' } } });
    await ok('/api/v1/namespaces/quota/resourcequotas', 'POST', { metadata: { name: 'objects' }, spec: { hard: { 'count/configmaps': '1', 'services.nodeports': '1' } } });
  });

  const small = (name: string, cpu = '300m') => pod(name, { requests: { cpu }, limits: { memory: '100Mi' } });

  it('refuses a pod that leaves out a resource the quota tracks', async () => {
    const r = await call('/api/v1/namespaces/quota/pods', 'POST', pod('bare'));
    expect(r.status).toBe(403);
    expect(r.json.message).toBe('pods "bare" is forbidden: failed quota: compute: must specify requests.cpu for: app; limits.memory for: app');
  });

  it('refuses creates past the hard limits, naming what exceeded', async () => {
    await ok('/api/v1/namespaces/quota/pods', 'POST', small('one'));
    const big = await call('/api/v1/namespaces/quota/pods', 'POST', small('big', '800m'));
    expect(big.status).toBe(403);
    expect(big.json.message).toBe('pods "big" is forbidden: exceeded quota: compute, requested: requests.cpu=800m, used: requests.cpu=300m, limited: requests.cpu=1');
    await ok('/api/v1/namespaces/quota/pods', 'POST', small('two'));
    const third = await call('/api/v1/namespaces/quota/pods', 'POST', small('three'));
    expect(third.json.message).toBe('pods "three" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2');
    await ok('/api/v1/namespaces/quota/configmaps', 'POST', { metadata: { name: 'a' } });
    expect((await call('/api/v1/namespaces/quota/configmaps', 'POST', { metadata: { name: 'b' } })).json.message).toBe(
      'configmaps "b" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1',
    );
    const nodePorts = await call('/api/v1/namespaces/quota/services', 'POST', { metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ port: 80, name: 'a' }, { port: 81, name: 'b' }] } });
    expect(nodePorts.json.message).toBe('services "np" is forbidden: exceeded quota: objects, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1');
  });

  it('prints used sums in the unit of what they add up', async () => {
    const r = await call('/api/v1/namespaces/quota/pods', 'POST', pod('heavy', { requests: { cpu: '100m' }, limits: { memory: '1000Mi' } }));
    expect(r.json.message).toBe('pods "heavy" is forbidden: exceeded quota: compute, requested: limits.memory=1000Mi,pods=1, used: limits.memory=200Mi,pods=2, limited: limits.memory=1Gi,pods=2');
  });

  it('gives usage back when a pod finishes or is deleted', async () => {
    const done = await ok('/api/v1/namespaces/quota/pods/one');
    await ok('/api/v1/namespaces/quota/pods/one/status', 'PUT', { ...done, status: { phase: 'Succeeded' } });
    await ok('/api/v1/namespaces/quota/pods', 'POST', small('three'));
    await ok('/api/v1/namespaces/quota/pods/two?gracePeriodSeconds=0', 'DELETE');
    await ok('/api/v1/namespaces/quota/pods', 'POST', small('four'));
  });

  it('stops counting a pod stuck terminating past its grace period (a lost node)', async () => {
    await namespace('stuck');
    await ok('/api/v1/namespaces/stuck/resourcequotas', 'POST', { metadata: { name: 'one' }, spec: { hard: { pods: '1' } } });
    // Bound to a node no agent runs: its graceful deletion never completes.
    await ok('/api/v1/namespaces/stuck/pods', 'POST', pod('lost', undefined, { nodeName: 'gone-node' }));
    await ok('/api/v1/namespaces/stuck/pods/lost?gracePeriodSeconds=1', 'DELETE');
    expect((await ok('/api/v1/namespaces/stuck/pods/lost')).metadata.deletionTimestamp).toBeDefined();
    expect((await call('/api/v1/namespaces/stuck/pods', 'POST', pod('replacement'))).status).toBe(403);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await call('/api/v1/namespaces/stuck/pods', 'POST', pod('replacement'))).status).toBe(201);
  });

  it('lets concurrent creates take exactly what the quota allows', async () => {
    await namespace('race');
    await ok('/api/v1/namespaces/race/resourcequotas', 'POST', { metadata: { name: 'five' }, spec: { hard: { 'count/secrets': '5' } } });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('/api/v1/namespaces/race/secrets', 'POST', { metadata: { name: `s${i}` } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 403)).toHaveLength(15);
    // A dry run reserves nothing.
    await ok('/api/v1/namespaces/race/secrets/s0', 'DELETE');
    expect((await call('/api/v1/namespaces/race/secrets?dryRun=All', 'POST', { metadata: { name: 'dry' } })).status).toBe(201);
    const items = (await ok('/api/v1/namespaces/race/secrets')).items as { metadata: { name: string } }[];
    const free = ['s0', ...Array.from({ length: 20 }, (_, i) => `s${i}`)].find((n) => !items.some((s) => s.metadata.name === n))!;
    expect((await call('/api/v1/namespaces/race/secrets', 'POST', { metadata: { name: free } })).status).toBe(201);
  });
});
