import { res } from '@flotilla/client';
import type { PodView } from '../../pod-utils.js';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { ReplicaSetController } from './replicaset-controller.js';

const RS = res('replicasets.apps');
const PODS = res('pods');

function replicaSet(replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web', namespace: 'default', uid: 'rs-uid', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'a' }] } } },
  };
}

describe('ReplicaSetController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  it('creates missing pods owned by the ReplicaSet and reports status', async () => {
    t = testContext([{ resource: RS, objects: [replicaSet(3) as never] }]);
    const c = new ReplicaSetController(t.ctx);
    await t.start();
    await c.sync('default/web');
    const pods = t.client.all<PodView>(PODS, 'default');
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true });
      expect(p.metadata.labels).toEqual({ app: 'web' });
    }
    await t.settle();
    await c.sync('default/web');
    const rs = t.client.peek<{ status?: { replicas?: number; observedGeneration?: number } } & never>(RS, 'default', 'web') as { status?: { replicas?: number; observedGeneration?: number } };
    expect(rs.status).toMatchObject({ replicas: 3, observedGeneration: 1 });
  });

  it('deletes surplus pods, unscheduled ones first', async () => {
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true };
    const pod = (name: string, nodeName?: string) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ownerReferences: [owner], creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'a' }] },
      status: { phase: nodeName ? 'Running' : 'Pending' },
    });
    t = testContext([
      { resource: RS, objects: [replicaSet(1) as never] },
      { resource: PODS, objects: [pod('a', 'n1'), pod('b'), pod('c', 'n2')] as never },
    ]);
    const c = new ReplicaSetController(t.ctx);
    await t.start();
    await c.sync('default/web');
    const deleted = t.client.writes().filter((w) => w.verb === 'delete').map((w) => w.name);
    expect(deleted).toHaveLength(2);
    expect(deleted).toContain('b');
  });
  it('counts a pod marked for graceful deletion as gone at once, so a further scale-down does not wait out its grace period', async () => {
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs-uid', controller: true, blockOwnerDeletion: true };
    // The finalizer keeps a deleted pod in the fake store with its deletionTimestamp, as a graceful deletion does.
    const pod = (name: string) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ownerReferences: [owner], finalizers: ['test/graceful'], creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'a' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    t = testContext([
      { resource: RS, objects: [replicaSet(1) as never] },
      { resource: PODS, objects: [pod('a'), pod('b')] as never },
    ]);
    const c = new ReplicaSetController(t.ctx);
    await t.start();
    await c.sync('default/web');
    const first = t.client.writes().filter((w) => w.verb === 'delete').map((w) => w.name);
    expect(first).toHaveLength(1);
    await t.settle();
    const rs = t.client.peek(RS, 'default', 'web') as unknown as Record<string, unknown> & { spec: { replicas: number } };
    await t.client.update(RS, { ...rs, spec: { ...rs.spec, replicas: 0 } } as never);
    await t.settle();
    await c.sync('default/web');
    const deleted = t.client.writes().filter((w) => w.verb === 'delete').map((w) => w.name);
    expect(deleted.sort()).toEqual(['a', 'b']);
    await t.settle();
    await c.sync('default/web');
    expect((t.client.peek(RS, 'default', 'web') as unknown as { status?: { replicas?: number } }).status?.replicas).toBe(0);
  });
});
