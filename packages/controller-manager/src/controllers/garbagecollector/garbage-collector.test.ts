import { res } from '@flotilla/client';
import type { KubeObject, OwnerReference } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { GarbageCollector } from './garbage-collector.js';

const RS = res('replicasets.apps');
const PODS = res('pods');
const CONFIGMAPS = res('configmaps');

function ref(name: string, uid: string, extra: Partial<OwnerReference> = {}): OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid, ...extra };
}

function replicaSet(name: string, uid: string, deleting?: string[]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', uid, ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z', finalizers: deleting } : {}) },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: {} },
  } as KubeObject;
}

function pod(name: string, owners: OwnerReference[], finalizers?: string[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ownerReferences: owners, ...(finalizers ? { finalizers } : {}) },
    spec: { containers: [{ name: 'c', image: 'a' }] },
  } as KubeObject;
}

describe('GarbageCollector', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function build(rss: KubeObject[], pods: KubeObject[], cms: KubeObject[] = []): Promise<GarbageCollector> {
    t = testContext([
      { resource: RS, objects: rss },
      { resource: PODS, objects: pods },
      { resource: CONFIGMAPS, objects: cms },
    ]);
    const gc = new GarbageCollector(t.ctx);
    await t.start();
    return gc;
  }
  const sync = async (gc: GarbageCollector, key: string) => {
    await gc.sync(key);
    await t.settle();
  };
  const podNames = () => t.client.all(PODS, 'default').map((p) => p.metadata.name).sort();
  const owners = (name: string) => t.client.peek(PODS, 'default', name)?.metadata.ownerReferences?.map((r) => r.uid);

  it('deletes dependents whose owner is gone, in the background', async () => {
    const gc = await build([replicaSet('live', 'live-uid')], [pod('orphaned', [ref('gone', 'gone-uid', { controller: true })]), pod('owned', [ref('live', 'live-uid', { controller: true })])]);
    await sync(gc, 'delete|uid-orphaned');
    await sync(gc, 'delete|uid-owned');
    expect(podNames()).toEqual(['owned']);
    expect(t.client.writes()).toEqual([expect.objectContaining({ verb: 'delete', resource: 'pods', name: 'orphaned', object: { propagationPolicy: 'Background', preconditions: { uid: 'uid-orphaned' } } })]);
  });

  it('treats an owner of the same name with another uid as gone', async () => {
    const gc = await build([replicaSet('web', 'new-uid')], [pod('p', [ref('web', 'old-uid', { controller: true })])]);
    await sync(gc, 'delete|uid-p');
    expect(podNames()).toEqual([]);
  });

  it('collects a dependent once its owner is deleted', async () => {
    const gc = await build([replicaSet('web', 'rs-uid')], [pod('p', [ref('web', 'rs-uid', { controller: true })])]);
    await t.client.delete(RS, 'default', 'web');
    await t.settle();
    // The owner's deletion queued its dependent.
    expect(gc.queue.len()).toBeGreaterThan(0);
    await sync(gc, 'delete|uid-p');
    expect(podNames()).toEqual([]);
  });

  it('keeps a dependent with a remaining live owner, dropping the reference to the gone one', async () => {
    const gc = await build([replicaSet('live', 'live-uid')], [pod('shared', [ref('gone', 'gone-uid'), ref('live', 'live-uid')])]);
    await sync(gc, 'delete|uid-shared');
    expect(podNames()).toEqual(['shared']);
    expect(owners('shared')).toEqual(['live-uid']);
  });

  it('foreground: deletes dependents, waits for blocking ones, then removes the finalizer', async () => {
    const owner = ref('web', 'rs-uid');
    const gc = await build(
      [replicaSet('web', 'rs-uid', ['foregroundDeletion']), replicaSet('other', 'other-uid')],
      [
        pod('blocking', [{ ...owner, controller: true, blockOwnerDeletion: true }], ['example.com/hold']),
        pod('loose', [owner]),
        pod('shared', [owner, ref('other', 'other-uid')]),
      ],
    );
    await sync(gc, 'foreground|rs-uid');
    const deletes = t.client.writes().filter((w) => w.verb === 'delete');
    expect(deletes.map((w) => w.name).sort()).toEqual(['blocking', 'loose']);
    // Dependents without dependents of their own go in the background (as Kubernetes deletes them).
    expect(deletes[0]!.object).toMatchObject({ propagationPolicy: 'Background' });
    // The blocking pod is still terminating: the owner waits.
    expect(t.client.peek(PODS, 'default', 'blocking')?.metadata.deletionTimestamp).toBeDefined();
    expect(t.client.peek(RS, 'default', 'web')?.metadata.finalizers).toEqual(['foregroundDeletion']);
    // A dependent with another live owner stays, without the reference to the deleted owner.
    expect(podNames()).toEqual(['blocking', 'shared']);
    expect(owners('shared')).toEqual(['other-uid']);
    await sync(gc, 'foreground|rs-uid');
    expect(t.client.peek(RS, 'default', 'web')).toBeDefined();
    // The blocking dependent goes: the owner follows.
    const blocking = t.client.peek(PODS, 'default', 'blocking')!;
    await t.client.update(PODS, { ...blocking, metadata: { ...blocking.metadata, finalizers: [] } });
    await t.settle();
    await sync(gc, 'foreground|rs-uid');
    expect(t.client.peek(RS, 'default', 'web')).toBeUndefined();
    expect(podNames()).toEqual(['shared']);
  });

  it('orphan: removes owner references to the owner from dependents, then the finalizer', async () => {
    const owner = ref('web', 'rs-uid', { controller: true, blockOwnerDeletion: true });
    const gc = await build(
      [replicaSet('web', 'rs-uid', ['orphan']), replicaSet('other', 'other-uid')],
      [pod('only', [owner]), pod('two', [owner, ref('other', 'other-uid')]), pod('unrelated', [ref('other', 'other-uid')])],
      [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default', uid: 'cm-uid', ownerReferences: [owner] }, data: {} } as KubeObject],
    );
    await sync(gc, 'orphan|rs-uid');
    expect(podNames()).toEqual(['only', 'two', 'unrelated']);
    expect(owners('only')).toEqual([]);
    expect(owners('two')).toEqual(['other-uid']);
    expect(owners('unrelated')).toEqual(['other-uid']);
    expect(t.client.peek(CONFIGMAPS, 'default', 'cfg')?.metadata.ownerReferences).toEqual([]);
    expect(t.client.peek(RS, 'default', 'web')).toBeUndefined();
    expect(t.client.writes().filter((w) => w.verb === 'delete')).toEqual([]);
  });
});
