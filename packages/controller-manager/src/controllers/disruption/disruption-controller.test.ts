import { formatTime, setStatusCondition, type KubeObject, type OwnerReference } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { DELETION_TIMEOUT_MS, DisruptionController, type PdbStatus, type PdbView } from './disruption-controller.js';

const PDBS = res('poddisruptionbudgets.policy');
const PODS = res('pods');
const DEPLOYMENTS = res('deployments.apps');
const REPLICASETS = res('replicasets.apps');
const STATEFULSETS = res('statefulsets.apps');

const ref = (kind: string, name: string, apiVersion = 'apps/v1'): OwnerReference => ({ apiVersion, kind, name, uid: `uid-${kind}-${name}`, controller: true });

function pdb(name: string, spec: PdbView['spec'], extra: { generation?: number; status?: PdbStatus } = {}): PdbView {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, namespace: 'ns', uid: `uid-pdb-${name}`, generation: extra.generation ?? 1 },
    spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

function pod(name: string, extra: { ready?: boolean; labels?: Record<string, string>; owner?: OwnerReference; deleting?: boolean; namespace?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: extra.namespace ?? 'ns',
      uid: `uid-pod-${name}`,
      labels: extra.labels ?? { app: 'web' },
      ...(extra.owner ? { ownerReferences: [extra.owner] } : {}),
      ...(extra.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: ['test/hold'] } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }] },
  };
}

function workload(kind: string, name: string, replicas: number, owner?: OwnerReference): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: 'ns', uid: `uid-${kind}-${name}`, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: {} } },
  };
}

describe('DisruptionController', () => {
  let t: TestContext;
  let c: DisruptionController;
  afterEach(() => t?.stop());

  async function setup(seed: { resource: typeof PODS; objects: KubeObject[] }[]): Promise<DisruptionController> {
    t = testContext(seed);
    c = new DisruptionController(t.ctx);
    await t.start();
    return c;
  }

  const status = (name = 'budget') => t.client.peek<PdbView>(PDBS, 'ns', name)?.status;
  const statusWrites = () => t.client.writes().filter((w) => w.verb === 'update' && w.resource === 'poddisruptionbudgets' && w.subresource === 'status');
  const counts = (s: PdbStatus | undefined) => s && [s.expectedPods, s.desiredHealthy, s.currentHealthy, s.disruptionsAllowed];
  const condition = (s: PdbStatus | undefined) => s?.conditions?.find((x) => x.type === 'DisruptionAllowed');

  it('integer minAvailable: expects every matched pod, needs minAvailable healthy; other labels and namespaces do not count', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: 2 }, { generation: 3 })] },
      { resource: PODS, objects: [pod('a'), pod('b'), pod('c'), pod('other', { labels: { app: 'db' } }), pod('elsewhere', { namespace: 'other' })] },
    ]);
    expect(await drainQueue(c)).toEqual(['ns/budget']);
    expect(statusWrites().map((w) => [w.name, w.subresource])).toEqual([['budget', 'status']]);
    const s = status();
    expect(counts(s)).toEqual([3, 2, 3, 1]);
    expect(s?.observedGeneration).toBe(3);
    expect(s?.disruptedPods).toBeUndefined();
    expect(condition(s)).toEqual({ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', observedGeneration: 3, lastTransitionTime: formatTime(new Date(t.clock.now())) });
  });

  it('an empty selector matches every pod of the namespace; a missing one matches none', async () => {
    const noSelector = pdb('none', { minAvailable: 1 });
    delete noSelector.spec!.selector;
    await setup([
      { resource: PDBS, objects: [pdb('all', { minAvailable: 1, selector: {} }), noSelector] },
      { resource: PODS, objects: [pod('a'), pod('b', { labels: { app: 'db' } })] },
    ]);
    await drainQueue(c);
    expect(counts(status('all'))).toEqual([2, 1, 2, 1]);
    expect(counts(status('none'))).toEqual([0, 1, 0, 0]);
    expect(condition(status('none'))?.reason).toBe('InsufficientPods');
  });

  it('percentages: minAvailable rounds up against the controllers\' replicas', async () => {
    const rs = ref('ReplicaSet', 'web');
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: '50%' })] },
      { resource: REPLICASETS, objects: [workload('ReplicaSet', 'web', 5)] },
      // Only 4 of the 5 replicas exist; the expected count is still 5.
      { resource: PODS, objects: [pod('a', { owner: rs }), pod('b', { owner: rs }), pod('c', { owner: rs }), pod('d', { owner: rs, ready: false })] },
    ]);
    await drainQueue(c);
    // ceil(50% of 5) = 3 desired, 3 healthy.
    expect(counts(status())).toEqual([5, 3, 3, 0]);
    expect(condition(status())).toMatchObject({ status: 'False', reason: 'InsufficientPods' });
  });

  it('maxUnavailable over a Deployment-owned ReplicaSet takes the Deployment\'s replicas, and follows a scale', async () => {
    const rs = ref('ReplicaSet', 'web-abc');
    await setup([
      { resource: PDBS, objects: [pdb('budget', { maxUnavailable: '25%' })] },
      { resource: DEPLOYMENTS, objects: [workload('Deployment', 'web', 4)] },
      // The ReplicaSet's own replicas (2) are not what counts.
      { resource: REPLICASETS, objects: [workload('ReplicaSet', 'web-abc', 2, ref('Deployment', 'web'))] },
      { resource: STATEFULSETS, objects: [workload('StatefulSet', 'db', 2)] },
      { resource: PODS, objects: [pod('a', { owner: rs }), pod('b', { owner: rs }), pod('c', { owner: rs }), pod('d', { owner: rs }), pod('db-0', { owner: ref('StatefulSet', 'db') }), pod('db-1', { owner: ref('StatefulSet', 'db') })] },
    ]);
    await drainQueue(c);
    // 4 + 2 expected; 25% of 6 rounds up to 2 unavailable: 4 desired, 6 healthy.
    expect(counts(status())).toEqual([6, 4, 6, 2]);

    // Scaling the Deployment resyncs the budget: 8 + 2 expected, 25% of 10 = 3 → 7 desired.
    const d = t.client.peek<KubeObject>(DEPLOYMENTS, 'ns', 'web')!;
    (d['spec'] as { replicas: number }).replicas = 8;
    await t.client.update(DEPLOYMENTS, d);
    await t.settle();
    expect(await drainQueue(c)).toEqual(['ns/budget']);
    expect(counts(status())).toEqual([10, 7, 6, 0]);

    // A Deployment change other than replicas queues nothing.
    const d2 = t.client.peek<KubeObject>(DEPLOYMENTS, 'ns', 'web')!;
    d2.metadata.annotations = { note: 'x' };
    await t.client.update(DEPLOYMENTS, d2);
    await t.settle();
    expect(c.queue.len()).toBe(0);
  });

  it('integer maxUnavailable: desiredHealthy never goes below 0', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { maxUnavailable: 5 })] },
      { resource: STATEFULSETS, objects: [workload('StatefulSet', 'db', 2)] },
      { resource: PODS, objects: [pod('db-0', { owner: ref('StatefulSet', 'db') }), pod('db-1', { owner: ref('StatefulSet', 'db'), ready: false })] },
    ]);
    await drainQueue(c);
    expect(counts(status())).toEqual([2, 0, 1, 1]);
  });

  it('no expected pods allows no disruption, however many are healthy (a ReplicaSet scaled to 0 whose pods still run)', async () => {
    const rs = ref('ReplicaSet', 'web');
    await setup([
      { resource: PDBS, objects: [pdb('budget', { maxUnavailable: 1 })] },
      { resource: REPLICASETS, objects: [workload('ReplicaSet', 'web', 0)] },
      { resource: PODS, objects: [pod('a', { owner: rs }), pod('b', { owner: rs })] },
    ]);
    await drainQueue(c);
    expect(counts(status())).toEqual([0, 0, 2, 0]);
  });

  it('not-ready and terminating pods are not healthy; a pod turning ready resyncs the budget', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: 2 })] },
      { resource: PODS, objects: [pod('a'), pod('b', { ready: false }), pod('c', { deleting: true })] },
    ]);
    await drainQueue(c);
    expect(counts(status())).toEqual([3, 2, 1, 0]);
    expect(condition(status())).toMatchObject({ status: 'False', reason: 'InsufficientPods' });
    const firstTransition = condition(status())?.lastTransitionTime;

    await t.clock.advance(5_000);
    const b = t.client.peek<KubeObject>(PODS, 'ns', 'b')!;
    (b['status'] as { conditions: { type: string; status: string }[] }).conditions = [{ type: 'Ready', status: 'True' }];
    await t.client.updateStatus(PODS, b);
    await t.settle();
    expect(await drainQueue(c)).toEqual(['ns/budget']);
    expect(counts(status())).toEqual([3, 2, 2, 0]);
    // Still False: the condition's lastTransitionTime stays.
    expect(condition(status())?.lastTransitionTime).toBe(firstTransition);

    // Adding a ready pod flips it to True, with a new transition time.
    await t.clock.advance(5_000);
    await t.client.create(PODS, 'ns', pod('d'));
    await t.settle();
    await drainQueue(c);
    expect(counts(status())).toEqual([4, 2, 3, 1]);
    expect(condition(status())).toMatchObject({ status: 'True', reason: 'SufficientPods', lastTransitionTime: formatTime(new Date(t.clock.now())) });
    expect(condition(status())?.lastTransitionTime).not.toBe(firstTransition);
  });

  it('disruptedPods: evicted pods are not healthy until the entry expires; entries of gone or deleting pods are dropped', async () => {
    const now = Date.UTC(2024, 0, 1);
    const at = (msAgo: number) => formatTime(new Date(now - msAgo));
    await setup([
      {
        resource: PDBS,
        objects: [pdb('budget', { minAvailable: 1 }, { status: { disruptedPods: { a: at(30_000), b: at(DELETION_TIMEOUT_MS + 1_000), gone: at(1_000), c: at(1_000) }, disruptionsAllowed: 0 } })],
      },
      { resource: PODS, objects: [pod('a'), pod('b'), pod('c', { deleting: true }), pod('d')] },
    ]);
    await drainQueue(c);
    // a is recently evicted (kept, not healthy); b's entry expired; c is being deleted; gone is gone.
    expect(status()?.disruptedPods).toEqual({ a: at(30_000) });
    expect(counts(status())).toEqual([4, 1, 2, 1]);

    // Nothing changes until a's entry expires: then the delayed requeue drops it and a counts again.
    const writes = statusWrites().length;
    await t.clock.advance(DELETION_TIMEOUT_MS - 30_000 - 1);
    expect(c.queue.len()).toBe(0);
    await t.clock.advance(2_000);
    expect(await drainQueue(c)).toEqual(['ns/budget']);
    expect(status()?.disruptedPods).toBeUndefined();
    expect(counts(status())).toEqual([4, 1, 3, 2]);
    expect(statusWrites().length).toBe(writes + 1);
  });

  it('writes the status only when it changes', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: 1 })] },
      { resource: PODS, objects: [pod('a'), pod('b')] },
    ]);
    await drainQueue(c, t.settle);
    expect(statusWrites()).toHaveLength(1);
    // Re-syncing, and a pod change that does not matter (an annotation), write nothing.
    await c.sync('ns/budget');
    const a = t.client.peek<KubeObject>(PODS, 'ns', 'a')!;
    a.metadata.annotations = { note: 'x' };
    await t.client.update(PODS, a);
    await t.settle();
    expect(c.queue.len()).toBe(0);
    await c.sync('ns/budget');
    expect(statusWrites()).toHaveLength(1);
    // A spec change bumps the generation: the status follows it.
    const b = t.client.peek<PdbView>(PDBS, 'ns', 'budget')!;
    b.spec!.minAvailable = 2;
    b.metadata.generation = 2;
    await t.client.update(PDBS, b);
    await t.settle();
    await drainQueue(c, t.settle);
    expect(statusWrites()).toHaveLength(2);
    expect(status()).toMatchObject({ observedGeneration: 2, desiredHealthy: 2, disruptionsAllowed: 0 });
  });

  it('relabelling a pod out of the selector resyncs the budget', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: 1 })] },
      { resource: PODS, objects: [pod('a'), pod('b')] },
    ]);
    await drainQueue(c, t.settle);
    const b = t.client.peek<KubeObject>(PODS, 'ns', 'b')!;
    b.metadata.labels = { app: 'db' };
    await t.client.update(PODS, b);
    await t.settle();
    expect(await drainQueue(c)).toEqual(['ns/budget']);
    expect(counts(status())).toEqual([1, 1, 1, 0]);
  });

  it('SyncFailed: a percentage over a pod whose controller is missing allows nothing; pods without a controller are left out', async () => {
    await setup([
      {
        resource: PDBS,
        objects: [
          pdb('budget', { minAvailable: '50%' }, { status: { observedGeneration: 1, disruptionsAllowed: 3, currentHealthy: 4, desiredHealthy: 1, expectedPods: 4 } }),
          pdb('orphaned', { maxUnavailable: 1, selector: { matchLabels: { app: 'db' } } }),
        ],
      },
      { resource: PODS, objects: [pod('a'), pod('b', { owner: ref('ReplicaSet', 'ghost') }), pod('db-0', { labels: { app: 'db' }, owner: ref('StatefulSet', 'missing') })] },
    ]);
    await drainQueue(c);
    expect(status()).toMatchObject({ disruptionsAllowed: 0, currentHealthy: 4, observedGeneration: 1 });
    expect(condition(status())).toMatchObject({ status: 'False', reason: 'SyncFailed', message: 'found no controllers for pod "b"' });
    expect(condition(status('orphaned'))).toMatchObject({ status: 'False', reason: 'SyncFailed', message: 'found no controllers for pod "db-0"' });
    expect(status('orphaned')?.disruptionsAllowed).toBe(0);
    // Failing the same way again writes nothing.
    const writes = statusWrites().length;
    await c.sync('ns/budget');
    expect(statusWrites()).toHaveLength(writes);

    // The missing StatefulSet appears: the budget that needed it is synced and computes.
    await t.client.create(STATEFULSETS, 'ns', { ...workload('StatefulSet', 'missing', 3) });
    await t.settle();
    // The fake client gives it a fresh uid; point the pod at it.
    const ss = t.client.peek<KubeObject>(STATEFULSETS, 'ns', 'missing')!;
    const p = t.client.peek<KubeObject>(PODS, 'ns', 'db-0')!;
    p.metadata.ownerReferences = [{ ...ref('StatefulSet', 'missing'), uid: ss.metadata.uid! }];
    await t.client.update(PODS, p);
    await t.settle();
    expect(await drainQueue(c)).toEqual(['ns/orphaned']);
    expect(counts(status('orphaned'))).toEqual([3, 2, 1, 0]);
    expect(condition(status('orphaned'))).toMatchObject({ status: 'False', reason: 'InsufficientPods', message: '' });
  });

  it('a conflicting status write fails the sync (to retry) and writes nothing else', async () => {
    await setup([
      { resource: PDBS, objects: [pdb('budget', { minAvailable: 1 })] },
      { resource: PODS, objects: [pod('a'), pod('b')] },
    ]);
    const cur = t.client.peek<PdbView>(PDBS, 'ns', 'budget')!;
    // An eviction writes the status behind the informer's back.
    t.client.failures.update = [Object.assign(new Error('conflict'), { code: 409 })];
    await expect(c.sync('ns/budget')).rejects.toThrow('conflict');
    expect(t.client.peek<PdbView>(PDBS, 'ns', 'budget')?.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });
});

describe('setStatusCondition', () => {
  it('moves lastTransitionTime only when the status flips', () => {
    const first = setStatusCondition(undefined, { type: 'X', status: 'False', reason: 'A' }, 't1');
    expect(first).toEqual([{ type: 'X', status: 'False', reason: 'A', lastTransitionTime: 't1' }]);
    const same = setStatusCondition(first, { type: 'X', status: 'False', reason: 'B', message: 'm' }, 't2');
    expect(same).toEqual([{ type: 'X', status: 'False', reason: 'B', message: 'm', lastTransitionTime: 't1' }]);
    const flipped = setStatusCondition([{ type: 'Other', status: 'True' }, ...same], { type: 'X', status: 'True', reason: 'C' }, 't3');
    expect(flipped).toEqual([{ type: 'Other', status: 'True' }, { type: 'X', status: 'True', reason: 'C', lastTransitionTime: 't3' }]);
  });
});
