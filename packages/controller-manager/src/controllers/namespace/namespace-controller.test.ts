import { isStoredResource, RESOURCES, type KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { NamespaceController } from './namespace-controller.js';

const NAMESPACES = res('namespaces');
const PODS = res('pods');
const CONFIGMAPS = res('configmaps');
const DEPLOYMENTS = res('deployments.apps');
const EVENTS = res('events');

interface NamespaceView extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

function ns(name: string, deleting: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, uid: `uid-${name}`, ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: deleting ? 'Terminating' : 'Active' },
  };
}

function obj(kind: string, namespace: string, name: string, finalizers?: string[]): KubeObject {
  return { kind, metadata: { name, namespace, ...(finalizers ? { finalizers } : {}) } };
}

describe('NamespaceController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  function setup(extra: { resource: ReturnType<typeof res>; objects: KubeObject[] }[]): NamespaceController {
    t = testContext([{ resource: NAMESPACES, objects: [ns('doomed', true), ns('alive', false)] }, ...extra]);
    return new NamespaceController(t.ctx);
  }

  const finalizeWrites = () => t.client.writes().filter((w) => w.resource === 'namespaces' && w.subresource === 'finalize');

  it('deletes everything in a terminating namespace, then removes the kubernetes finalizer through finalize', async () => {
    const c = setup([
      { resource: PODS, objects: [obj('Pod', 'doomed', 'p1'), obj('Pod', 'doomed', 'p2'), obj('Pod', 'alive', 'p3')] },
      { resource: CONFIGMAPS, objects: [obj('ConfigMap', 'doomed', 'cm')] },
      { resource: DEPLOYMENTS, objects: [obj('Deployment', 'doomed', 'd')] },
      { resource: EVENTS, objects: [obj('Event', 'doomed', 'e')] },
    ]);
    await t.start();
    await c.sync('doomed');
    expect(t.client.all(PODS, 'doomed')).toEqual([]);
    expect(t.client.all(CONFIGMAPS, 'doomed')).toEqual([]);
    expect(t.client.all(DEPLOYMENTS, 'doomed')).toEqual([]);
    expect(t.client.all(EVENTS, 'doomed')).toEqual([]);
    // Other namespaces untouched.
    expect(t.client.all(PODS, 'alive').map((p) => p.metadata.name)).toEqual(['p3']);
    // Every namespaced resource that supports deletecollection was emptied, events last.
    const collections = t.client.writes().filter((w) => w.verb === 'deletecollection');
    expect(collections.every((w) => w.namespace === 'doomed')).toBe(true);
    expect(collections.map((w) => w.resource).sort()).toEqual(['configmaps', 'deployments', 'events', 'pods']);
    expect(collections.at(-1)?.resource).toBe('events');
    const lists = new Set(t.client.actions.filter((a) => a.verb === 'list' && a.namespace === 'doomed').map((a) => a.resource));
    const expected = RESOURCES.filter((r) => r.namespaced && isStoredResource(r) && r.verbs.includes('deletecollection')).map((r) => r.plural);
    for (const r of expected) expect(lists.has(r), r).toBe(true);
    // Finalized in the same pass: nothing was left.
    const fin = finalizeWrites();
    expect(fin).toHaveLength(1);
    expect((fin[0]!.object as NamespaceView).spec?.finalizers).toEqual([]);
    // No condition was written on the way (nothing remained), and the (fake) API server removed the finalized namespace.
    expect(t.client.writes().filter((w) => w.resource === 'namespaces' && w.verb === 'patch')).toEqual([]);
    expect(t.client.peek(NAMESPACES, '', 'doomed')).toBeUndefined();
  });

  it('finalizes an empty terminating namespace at once', async () => {
    const c = setup([]);
    await t.start();
    await c.sync('doomed');
    expect(finalizeWrites()).toHaveLength(1);
    expect(t.client.writes().filter((w) => w.verb === 'deletecollection')).toEqual([]);
  });

  it('reports NamespaceContentRemaining while objects remain, and finalizes once they are gone', async () => {
    const c = setup([
      { resource: PODS, objects: [obj('Pod', 'doomed', 'stuck', ['example.com/hold']), obj('Pod', 'doomed', 'quick')] },
      { resource: CONFIGMAPS, objects: [obj('ConfigMap', 'doomed', 'cm', ['example.com/hold'])] },
    ]);
    await t.start();
    await c.sync('doomed');
    expect(finalizeWrites()).toEqual([]);
    expect(t.client.peek(PODS, 'doomed', 'quick')).toBeUndefined();
    expect(t.client.peek(PODS, 'doomed', 'stuck')?.metadata.deletionTimestamp).toBeDefined();
    const cond = t.client.peek<NamespaceView>(NAMESPACES, '', 'doomed')?.status?.conditions?.find((x) => x.type === 'NamespaceContentRemaining');
    expect(cond).toMatchObject({ status: 'True', reason: 'SomeResourcesRemain' });
    expect(cond?.message).toBe('Some resources are remaining: configmaps. has 1 resource instances, pods. has 1 resource instances');
    const fcond = t.client.peek<NamespaceView>(NAMESPACES, '', 'doomed')?.status?.conditions?.find((x) => x.type === 'NamespaceFinalizersRemaining');
    expect(fcond).toMatchObject({ status: 'True', reason: 'SomeFinalizersRemain', message: 'Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances' });
    // The controller looks again later by itself.
    await t.settle();
    while (c.queue.len() > 0) c.queue.done((await c.queue.get())!);
    await t.clock.advance(1000);
    expect(c.queue.len()).toBe(1);

    // Still there: no second condition write with the same content.
    await t.settle();
    const patches = () => t.client.writes().filter((w) => w.verb === 'patch' && w.resource === 'namespaces').length;
    const before = patches();
    await c.sync('doomed');
    expect(patches()).toBe(before);
    expect(finalizeWrites()).toEqual([]);

    // Finalizers released: the objects go, the namespace is finalized.
    for (const [r, name] of [[PODS, 'stuck'], [CONFIGMAPS, 'cm']] as const) {
      const o = t.client.peek(r, 'doomed', name)!;
      await t.client.update(r, { ...o, metadata: { ...o.metadata, finalizers: [] } });
    }
    await t.settle();
    await c.sync('doomed');
    expect(finalizeWrites()).toHaveLength(1);
    expect((finalizeWrites()[0]!.object as NamespaceView).spec?.finalizers).toEqual([]);
  });

  it('leaves a namespace that is not being deleted untouched', async () => {
    const c = setup([{ resource: PODS, objects: [obj('Pod', 'alive', 'p')] }]);
    await t.start();
    await c.sync('alive');
    expect(t.client.writes()).toEqual([]);
    expect(t.client.peek(PODS, 'alive', 'p')).toBeDefined();
  });

  it('does nothing for a terminating namespace without the kubernetes finalizer', async () => {
    const done = { ...ns('done', true), spec: { finalizers: [] } };
    t = testContext([{ resource: NAMESPACES, objects: [done] }, { resource: PODS, objects: [obj('Pod', 'done', 'p')] }]);
    const c = new NamespaceController(t.ctx);
    await t.start();
    await c.sync('done');
    expect(t.client.writes()).toEqual([]);
  });

  it('queues terminating namespaces from its informer, not live ones', async () => {
    const c = setup([]);
    await t.start();
    expect(c.queue.len()).toBe(1);
    expect(await c.queue.get()).toBe('doomed');
  });
});
