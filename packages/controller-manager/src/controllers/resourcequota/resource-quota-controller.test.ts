import { internalError, notFound, resourceForQuotaName, type KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { ResourceQuotaController, type ResourceQuotaView } from './resource-quota-controller.js';

const QUOTAS = res('resourcequotas');
const PODS = res('pods');
const SERVICES = res('services');
const CLAIMS = res('persistentvolumeclaims');
const CONFIGMAPS = res('configmaps');
const SECRETS = res('secrets');
const DEPLOYMENTS = res('deployments.apps');

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

function quota(name: string, hard: Record<string, string>, extra: { scopes?: string[]; status?: ResourceQuotaView['status']; namespace?: string } = {}): ResourceQuotaView {
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name, namespace: extra.namespace ?? 'ns', uid: `uid-${name}` },
    spec: { hard, ...(extra.scopes ? { scopes: extra.scopes } : {}) },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

function pod(name: string, containers: Resources[], extra: { phase?: string; namespace?: string; activeDeadlineSeconds?: number } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.namespace ?? 'ns', uid: `uid-${name}` },
    spec: { containers: containers.map((r, i) => ({ name: `c${i}`, image: 'busybox', resources: r })), ...(extra.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: extra.activeDeadlineSeconds } : {}) },
    status: { phase: extra.phase ?? 'Running' },
  };
}

function object(kind: string, name: string, body: Record<string, unknown> = {}, namespace = 'ns'): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, namespace, uid: `uid-${kind}-${name}` }, ...body };
}

describe('resourceForQuotaName', () => {
  it('maps each quota name to the resource whose objects it counts', () => {
    const of = (n: string) => {
      const r = resourceForQuotaName(n);
      return r ? `${r.group}/${r.plural}` : undefined;
    };
    expect(of('pods')).toBe('/pods');
    expect(of('count/pods')).toBe('/pods');
    expect(of('cpu')).toBe('/pods');
    expect(of('requests.memory')).toBe('/pods');
    expect(of('limits.cpu')).toBe('/pods');
    expect(of('requests.nvidia.com/gpu')).toBe('/pods');
    expect(of('requests.storage')).toBe('/persistentvolumeclaims');
    expect(of('gold.storageclass.storage.k8s.io/requests.storage')).toBe('/persistentvolumeclaims');
    expect(of('services.nodeports')).toBe('/services');
    expect(of('replicationcontrollers')).toBe('/replicationcontrollers');
    expect(of('count/deployments.apps')).toBe('apps/deployments');
    expect(of('count/cronjobs.batch')).toBe('batch/cronjobs');
    // Cluster-scoped or unknown resources are counted by nothing.
    expect(of('count/nodes')).toBeUndefined();
    expect(of('count/widgets.example.com')).toBeUndefined();
    expect(of('nonsense')).toBeUndefined();
  });
});

describe('ResourceQuotaController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(seed: { resource: typeof PODS; objects: KubeObject[] }[], options: { syncPeriodMs?: number } = {}): Promise<ResourceQuotaController> {
    t = testContext(seed);
    const c = new ResourceQuotaController(t.ctx, options);
    await t.start();
    return c;
  }

  const status = (name: string, namespace = 'ns') => t.client.peek<ResourceQuotaView>(QUOTAS, namespace, name)?.status;
  const statusWrites = () => t.client.writes().filter((w) => w.verb === 'update' && w.resource === 'resourcequotas');

  it('sums pod usage: requests default to limits, finished pods count only in count/pods, other namespaces do not count', async () => {
    const hard = { pods: '10', 'count/pods': '10', cpu: '4', 'requests.cpu': '4', 'requests.memory': '4Gi', 'limits.cpu': '8', 'limits.memory': '8Gi', 'requests.ephemeral-storage': '10Gi' };
    const c = await setup([
      { resource: QUOTAS, objects: [quota('compute', hard)] },
      {
        resource: PODS,
        objects: [
          pod('both', [{ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } }, { requests: { cpu: '50m' } }]),
          pod('limits-only', [{ limits: { cpu: '1', memory: '1Gi' } }]),
          pod('done', [{ requests: { cpu: '2', memory: '2Gi' } }], { phase: 'Succeeded' }),
          pod('failed', [{ requests: { cpu: '2' } }], { phase: 'Failed' }),
          pod('elsewhere', [{ requests: { cpu: '3' } }], { namespace: 'other' }),
        ],
      },
    ]);
    expect(await drainQueue(c)).toEqual(['ns/compute']);
    expect(statusWrites().map((w) => [w.namespace, w.name, w.subresource])).toEqual([['ns', 'compute', 'status']]);
    expect(status('compute')).toEqual({
      hard,
      used: {
        'count/pods': '4',
        cpu: '1150m',
        'limits.cpu': '1200m',
        'limits.memory': '1152Mi',
        pods: '2',
        'requests.cpu': '1150m',
        'requests.ephemeral-storage': '0',
        'requests.memory': '1088Mi',
      },
    });
  });

  it('sums services, node ports and load balancers, and claims with their storage by class', async () => {
    const svc = (name: string, type: string, ports: number) => object('Service', name, { spec: { type, ports: Array.from({ length: ports }, (_, i) => ({ port: 80 + i })) } });
    const claim = (name: string, storage: string, storageClassName?: string) => object('PersistentVolumeClaim', name, { spec: { ...(storageClassName ? { storageClassName } : {}), resources: { requests: { storage } } } });
    const c = await setup([
      {
        resource: QUOTAS,
        objects: [
          quota('svc', { services: '10', 'services.nodeports': '5', 'services.loadbalancers': '2' }),
          quota('storage', { persistentvolumeclaims: '5', 'requests.storage': '100Gi', 'gold.storageclass.storage.k8s.io/requests.storage': '20Gi', 'gold.storageclass.storage.k8s.io/persistentvolumeclaims': '2' }),
        ],
      },
      { resource: SERVICES, objects: [svc('np', 'NodePort', 2), svc('lb', 'LoadBalancer', 1), svc('plain', 'ClusterIP', 3)] },
      { resource: CLAIMS, objects: [claim('a', '1Gi'), claim('b', '10Gi', 'gold'), claim('c', '512Mi', 'gold')] },
    ]);
    await drainQueue(c);
    expect(status('svc')?.used).toEqual({ services: '3', 'services.loadbalancers': '1', 'services.nodeports': '3' });
    expect(status('storage')?.used).toEqual({
      'gold.storageclass.storage.k8s.io/persistentvolumeclaims': '2',
      'gold.storageclass.storage.k8s.io/requests.storage': '10752Mi',
      persistentvolumeclaims: '3',
      'requests.storage': '11776Mi',
    });
  });

  it('counts objects: watched kinds from the caches, others listed through the API, unknown names as 0', async () => {
    const hard = { configmaps: '10', 'count/configmaps': '10', secrets: '10', 'count/secrets': '10', resourcequotas: '3', 'count/deployments.apps': '5', replicationcontrollers: '5', 'count/widgets.example.com': '1' };
    const c = await setup([
      { resource: QUOTAS, objects: [quota('counts', hard), quota('other', { pods: '1' })] },
      { resource: CONFIGMAPS, objects: [object('ConfigMap', 'a'), object('ConfigMap', 'b'), object('ConfigMap', 'x', {}, 'other')] },
      { resource: SECRETS, objects: [object('Secret', 's')] },
      { resource: DEPLOYMENTS, objects: [{ ...object('Deployment', 'd1'), apiVersion: 'apps/v1' }, { ...object('Deployment', 'd2', {}, 'other'), apiVersion: 'apps/v1' }] },
    ]);
    await drainQueue(c);
    expect(status('counts')?.used).toEqual({
      configmaps: '2',
      'count/configmaps': '2',
      'count/deployments.apps': '1',
      'count/secrets': '1',
      'count/widgets.example.com': '0',
      replicationcontrollers: '0',
      resourcequotas: '2',
      secrets: '1',
    });
    // Deployments and replication controllers were listed in the quota's namespace only; nothing else was.
    const lists = t.client.actions.filter((a) => a.verb === 'list' && (a.resource === 'deployments' || a.resource === 'replicationcontrollers'));
    expect(lists.map((a) => [a.resource, a.namespace]).sort()).toEqual([
      ['deployments', 'ns'],
      ['replicationcontrollers', 'ns'],
    ]);
  });

  it('writes status only when it changes, and queues a quota only for changes that move its usage', async () => {
    const c = await setup([
      { resource: QUOTAS, objects: [quota('q', { pods: '5', 'requests.cpu': '2', 'count/configmaps': '5' })] },
      { resource: PODS, objects: [pod('p1', [{ requests: { cpu: '500m' } }]), pod('p2', [{ requests: { cpu: '250m' } }])] },
    ]);
    await drainQueue(c, () => t.settle());
    expect(statusWrites().length).toBe(1);
    expect(status('q')?.used).toEqual({ 'count/configmaps': '0', pods: '2', 'requests.cpu': '750m' });

    // Our own status write queued nothing; a sync of an up-to-date quota writes nothing.
    expect(c.queue.len()).toBe(0);
    await c.sync('ns/q');
    expect(statusWrites().length).toBe(1);

    // A pod status change that moves no usage (conditions, IP) queues nothing; a ConfigMap's data edit neither.
    const p1 = t.client.peek(PODS, 'ns', 'p1')!;
    await t.client.updateStatus(PODS, { ...p1, status: { phase: 'Running', podIP: '10.0.0.5' } });
    await t.client.create(CONFIGMAPS, 'ns', object('ConfigMap', 'cm', { data: { a: '1' } }));
    await t.settle();
    expect(await drainQueue(c, () => t.settle())).toEqual(['ns/q']);
    expect(status('q')?.used?.['count/configmaps']).toBe('1');
    await t.client.update(CONFIGMAPS, { ...t.client.peek(CONFIGMAPS, 'ns', 'cm')!, data: { a: '2' } });
    await t.settle();
    expect(c.queue.len()).toBe(0);

    // The pod finishing releases its usage: one sync, one write.
    await t.client.updateStatus(PODS, { ...t.client.peek(PODS, 'ns', 'p1')!, status: { phase: 'Succeeded' } });
    await t.settle();
    expect(await drainQueue(c, () => t.settle())).toEqual(['ns/q']);
    expect(status('q')?.used).toEqual({ 'count/configmaps': '1', pods: '1', 'requests.cpu': '250m' });

    // Deleting it (already finished) moves nothing; deleting the running one does.
    await t.client.delete(PODS, 'ns', 'p1');
    await t.settle();
    expect(c.queue.len()).toBe(0);
    await t.client.delete(PODS, 'ns', 'p2');
    await t.settle();
    await drainQueue(c, () => t.settle());
    expect(status('q')?.used).toEqual({ 'count/configmaps': '1', pods: '0', 'requests.cpu': '0' });
    expect(statusWrites().length).toBe(4);
  });

  it('takes equal quantities in another spelling as unchanged, and follows a spec change', async () => {
    const c = await setup([
      { resource: QUOTAS, objects: [quota('q', { 'requests.cpu': '2' }, { status: { hard: { 'requests.cpu': '2000m' }, used: { 'requests.cpu': '1000m' } } })] },
      { resource: PODS, objects: [pod('p', [{ requests: { cpu: '1' } }])] },
    ]);
    await drainQueue(c, () => t.settle());
    expect(statusWrites()).toEqual([]);

    const cur = t.client.peek<ResourceQuotaView>(QUOTAS, 'ns', 'q')!;
    await t.client.update(QUOTAS, { ...cur, spec: { hard: { 'requests.cpu': '3', pods: '4' } } });
    await t.settle();
    expect(await drainQueue(c, () => t.settle())).toEqual(['ns/q']);
    expect(status('q')).toEqual({ hard: { 'requests.cpu': '3', pods: '4' }, used: { pods: '1', 'requests.cpu': '1' } });
  });

  it('applies scopes: a BestEffort quota counts pods without cpu or memory, a Terminating one pods with a deadline', async () => {
    const c = await setup([
      {
        resource: QUOTAS,
        objects: [quota('best-effort', { pods: '5' }, { scopes: ['BestEffort'] }), quota('terminating', { pods: '5', 'requests.cpu': '5' }, { scopes: ['Terminating'] }), quota('all', { pods: '5' })],
      },
      { resource: PODS, objects: [pod('be', [{}]), pod('burstable', [{ requests: { cpu: '1' } }]), pod('job', [{ requests: { cpu: '2' } }], { activeDeadlineSeconds: 60 })] },
    ]);
    await drainQueue(c, () => t.settle());
    expect(status('best-effort')?.used).toEqual({ pods: '1' });
    expect(status('terminating')?.used).toEqual({ pods: '1', 'requests.cpu': '2' });
    expect(status('all')?.used).toEqual({ pods: '3' });

    // A deadline added to a pod moves it into the Terminating quota: only that quota is queued.
    const burstable = t.client.peek<KubeObject & { spec: Record<string, unknown> }>(PODS, 'ns', 'burstable')!;
    await t.client.update(PODS, { ...burstable, spec: { ...burstable.spec, activeDeadlineSeconds: 30 } });
    await t.settle();
    expect(await drainQueue(c, () => t.settle())).toEqual(['ns/terminating']);
    expect(status('terminating')?.used).toEqual({ pods: '2', 'requests.cpu': '3' });
  });

  it('keeps the usage of a resource it cannot list, writes the rest, and retries', async () => {
    const c = await setup([
      { resource: QUOTAS, objects: [quota('q', { 'count/deployments.apps': '5', pods: '5' }, { status: { hard: { 'count/deployments.apps': '5', pods: '5' }, used: { 'count/deployments.apps': '3', pods: '0' } } })] },
      { resource: PODS, objects: [pod('p', [{}])] },
    ]);
    t.client.failures.list = [internalError(new Error('etcd is down'))];
    await expect(c.sync('ns/q')).rejects.toThrow(/etcd is down/);
    expect(status('q')?.used).toEqual({ 'count/deployments.apps': '3', pods: '1' });
    await c.sync('ns/q');
    expect(status('q')?.used).toEqual({ 'count/deployments.apps': '0', pods: '1' });
  });

  it('does nothing for a quota that is gone', async () => {
    const c = await setup([{ resource: QUOTAS, objects: [quota('q', { pods: '1' })] }]);
    await t.client.delete(QUOTAS, 'ns', 'q');
    await t.settle();
    await c.sync('ns/q');
    expect(statusWrites()).toEqual([]);
  });

  it('ignores a quota deleted under its status write and retries other write errors', async () => {
    const c = await setup([{ resource: QUOTAS, objects: [quota('q', { pods: '1' })] }]);
    t.client.failures.update = [notFound({ qualifiedResource: 'resourcequotas', name: 'q' }), internalError(new Error('boom'))];
    await expect(c.sync('ns/q')).resolves.toBeUndefined();
    await expect(c.sync('ns/q')).rejects.toThrow(/boom/);
  });

  it('recomputes every quota each sync period, which picks up kinds it does not watch', async () => {
    const c = await setup(
      [
        { resource: QUOTAS, objects: [quota('q', { 'count/deployments.apps': '5' })] },
        { resource: DEPLOYMENTS, objects: [] },
      ],
      { syncPeriodMs: 60_000 },
    );
    const abort = new AbortController();
    const running = c.run(abort.signal);
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 200 && !what(); i++) await t.settle();
      return what();
    };
    expect(await until(() => status('q')?.used?.['count/deployments.apps'] === '0')).toBe(true);
    await t.client.create(DEPLOYMENTS, 'ns', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } });
    await t.settle();
    expect(status('q')?.used?.['count/deployments.apps']).toBe('0');
    await t.clock.advance(59_000);
    await t.settle();
    expect(status('q')?.used?.['count/deployments.apps']).toBe('0');
    await t.clock.advance(1_000);
    expect(await until(() => status('q')?.used?.['count/deployments.apps'] === '1')).toBe(true);
    abort.abort();
    c.queue.shutDown();
    await running;
  });
});
