import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerRevision } from '../../history.js';
import type { PodView } from '../../pod-utils.js';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { POD_INDEX_LABEL, POD_NAME_LABEL, StatefulSetController } from './statefulset-controller.js';

const STS = res('statefulsets.apps');
const PODS = res('pods');
const PVCS = res('persistentvolumeclaims');
const REVS = res('controllerrevisions.apps');

interface SetStatus {
  replicas?: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  observedGeneration?: number;
  collisionCount?: number;
}

function statefulSet(replicas: number, spec: Record<string, unknown> = {}): never {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: 'sts-uid', generation: 1 },
    spec: {
      replicas,
      serviceName: 'nginx',
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'v1' }] } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      ...spec,
    },
  } as never;
}

describe('StatefulSetController', () => {
  let t: TestContext;
  let c: StatefulSetController;
  afterEach(() => t?.stop());

  async function setup(set: never): Promise<void> {
    t = testContext([{ resource: STS, objects: [set] }]);
    c = new StatefulSetController(t.ctx);
    await t.start();
  }

  /** Lets the informers catch up, then syncs. */
  async function step(): Promise<void> {
    await t.settle();
    await c.sync('default/web');
    await t.settle();
  }

  const podNames = (): string[] => t.client.all<PodView>(PODS, 'default').map((p) => p.metadata.name ?? '').sort();
  const pod = (name: string): PodView => t.client.peek<PodView>(PODS, 'default', name)!;
  const status = (): SetStatus => (t.client.peek(STS, 'default', 'web') as { status?: SetStatus }).status ?? {};
  const deletes = (): string[] => t.client.writes().filter((w) => w.verb === 'delete' && w.resource === 'pods').map((w) => w.name);

  async function markReady(name: string): Promise<void> {
    await t.client.patch(PODS, 'default', name, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'merge');
  }

  /** Syncs until `n` pods exist, making each ready as it appears. */
  async function rollOut(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await step();
      await markReady(`web-${i}`);
    }
    await step();
  }

  it('OrderedReady creates ordinal i only once 0..i-1 are running and ready', async () => {
    await setup(statefulSet(3));
    await step();
    expect(podNames()).toEqual(['web-0']);
    const p0 = pod('web-0');
    expect(p0.metadata.labels).toMatchObject({ app: 'web', [POD_NAME_LABEL]: 'web-0', [POD_INDEX_LABEL]: '0' });
    expect(p0.metadata.labels?.['controller-revision-hash']).toMatch(/^web-/);
    expect(p0.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'StatefulSet', name: 'web', uid: 'sts-uid', controller: true });
    expect(p0.spec).toMatchObject({ hostname: 'web-0', subdomain: 'nginx' });

    await step();
    expect(podNames()).toEqual(['web-0']);
    // Running but not ready is not enough.
    await t.client.patch(PODS, 'default', 'web-0', { status: { phase: 'Running' } }, 'merge');
    await step();
    expect(podNames()).toEqual(['web-0']);

    await markReady('web-0');
    await step();
    expect(podNames()).toEqual(['web-0', 'web-1']);
    await markReady('web-1');
    await step();
    expect(podNames()).toEqual(['web-0', 'web-1', 'web-2']);

    const events = t.client.all<{ reason?: string; message?: string } & never>(res('events'), 'default') as { reason?: string; message?: string }[];
    expect(events.map((e) => e.message)).toContain('create Pod web-0 in StatefulSet web successful');
    expect(status()).toMatchObject({ replicas: 2, readyReplicas: 2, observedGeneration: 1 });
  });

  it('Parallel creates every pod at once', async () => {
    await setup(statefulSet(3, { podManagementPolicy: 'Parallel' }));
    await step();
    expect(podNames()).toEqual(['web-0', 'web-1', 'web-2']);
  });

  it('scales down from the highest ordinal, one at a time, waiting for predecessors', async () => {
    await setup(statefulSet(3));
    await rollOut(3);
    expect(podNames()).toEqual(['web-0', 'web-1', 'web-2']);
    await t.client.patch(STS, 'default', 'web', { spec: { replicas: 1 } }, 'merge');
    // A predecessor that is not ready blocks the scale-down.
    await t.client.patch(PODS, 'default', 'web-0', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, 'merge');
    await step();
    expect(deletes()).toEqual([]);
    await markReady('web-0');
    await step();
    expect(deletes()).toEqual(['web-2']);
    await step();
    expect(deletes()).toEqual(['web-2', 'web-1']);
    expect(podNames()).toEqual(['web-0']);
    await step();
    expect(deletes()).toEqual(['web-2', 'web-1']);
    expect(status()).toMatchObject({ replicas: 1, readyReplicas: 1 });
  });

  it('creates claims from volumeClaimTemplates before the pod, mounts them, and keeps them on scale-down', async () => {
    const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'v1' }], volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }] } };
    await setup(statefulSet(2, { podManagementPolicy: 'Parallel', template, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] }));
    await step();
    const creates = t.client.writes().filter((w) => w.verb === 'create' && (w.resource === 'pods' || w.resource === 'persistentvolumeclaims'));
    expect(creates.findIndex((w) => w.name === 'data-web-0')).toBeLessThan(creates.findIndex((w) => w.name === 'web-0'));
    expect(creates.findIndex((w) => w.name === 'data-web-1')).toBeLessThan(creates.findIndex((w) => w.name === 'web-1'));
    const claim = t.client.peek<{ spec?: unknown } & never>(PVCS, 'default', 'data-web-1') as unknown as { metadata: { labels?: Record<string, string> }; spec?: unknown };
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
    expect(claim.metadata.labels).toEqual({ app: 'web' });
    expect((pod('web-1').spec as { volumes?: unknown[] }).volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } },
      { name: 'cfg', configMap: { name: 'cfg' } },
    ]);

    await t.client.patch(STS, 'default', 'web', { spec: { replicas: 1 } }, 'merge');
    await step();
    expect(podNames()).toEqual(['web-0']);
    expect(t.client.all(PVCS, 'default').map((p) => p.metadata.name).sort()).toEqual(['data-web-0', 'data-web-1']);
  });

  it('rolls out a new template from the highest ordinal down to the partition', async () => {
    await setup(statefulSet(3));
    await rollOut(3);
    const rev1 = status().updateRevision;
    expect(status()).toMatchObject({ currentRevision: rev1, currentReplicas: 3, updatedReplicas: 3 });

    await t.client.patch(STS, 'default', 'web', { metadata: { generation: 2 }, spec: { updateStrategy: { rollingUpdate: { partition: 1 } }, template: { spec: { containers: [{ name: 'c', image: 'v2' }] } } } }, 'merge');
    await step();
    const rev2 = status().updateRevision;
    expect(rev2).not.toEqual(rev1);
    expect(deletes()).toEqual(['web-2']);
    await step();
    expect(pod('web-2').metadata.labels?.['controller-revision-hash']).toBe(rev2);
    expect((pod('web-2').spec as { containers: { image: string }[] }).containers[0]!.image).toBe('v2');
    // web-1 waits until web-2 is running and ready.
    await step();
    expect(deletes()).toEqual(['web-2']);
    await markReady('web-2');
    await step();
    expect(deletes()).toEqual(['web-2', 'web-1']);
    await step();
    await markReady('web-1');
    await step();
    await step();
    // web-0 is below the partition and keeps the current revision.
    expect(deletes()).toEqual(['web-2', 'web-1']);
    expect(pod('web-0').metadata.labels?.['controller-revision-hash']).toBe(rev1);
    expect(status()).toMatchObject({ currentRevision: rev1, updateRevision: rev2, currentReplicas: 1, updatedReplicas: 2, readyReplicas: 3, observedGeneration: 2 });
    const revisions = t.client.all<ControllerRevision>(REVS, 'default');
    expect(revisions.map((r) => [r.metadata.name, r.revision]).sort()).toEqual([[rev1, 1], [rev2, 2]].sort());

    // Lowering the partition to 0 finishes the rollout and makes the update revision current.
    await t.client.patch(STS, 'default', 'web', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } }, 'merge');
    await step();
    expect(deletes()).toEqual(['web-2', 'web-1', 'web-0']);
    await step();
    await markReady('web-0');
    await step();
    await step();
    expect(status()).toMatchObject({ currentRevision: rev2, updateRevision: rev2, currentReplicas: 3, updatedReplicas: 3 });
  });

  it('OnDelete replaces nothing until a pod is deleted, then recreates it at the update revision', async () => {
    await setup(statefulSet(2, { updateStrategy: { type: 'OnDelete' } }));
    await rollOut(2);
    await t.client.patch(STS, 'default', 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'v2' }] } } } }, 'merge');
    await step();
    await step();
    expect(deletes()).toEqual([]);
    const rev2 = status().updateRevision;
    await t.client.delete(PODS, 'default', 'web-1');
    await step();
    expect(pod('web-1').metadata.labels?.['controller-revision-hash']).toBe(rev2);
    expect(pod('web-0').metadata.labels?.['controller-revision-hash']).not.toBe(rev2);
  });

  it('deletes a failed pod and recreates it', async () => {
    await setup(statefulSet(1));
    await rollOut(1);
    const uid = pod('web-0').metadata.uid;
    await t.client.patch(PODS, 'default', 'web-0', { status: { phase: 'Failed' } }, 'merge');
    await step();
    expect(deletes()).toEqual(['web-0']);
    await step();
    expect(podNames()).toEqual(['web-0']);
    expect(pod('web-0').metadata.uid).not.toBe(uid);
  });

  it('adopts a matching orphan with a member name (replacing it: it has no revision) and ignores other pods', async () => {
    const orphan = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' } }, spec: {}, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    t = testContext([
      { resource: STS, objects: [statefulSet(1)] },
      { resource: PODS, objects: [orphan('web-0'), orphan('web-x'), orphan('other-0')] as never },
    ]);
    c = new StatefulSetController(t.ctx);
    await t.start();
    await step();
    const patches = t.client.writes().filter((w) => w.verb === 'patch' && w.resource === 'pods');
    // Adopted, then given its identity labels.
    expect(patches.map((w) => w.name)).toEqual(['web-0', 'web-0']);
    expect(patches[1]!.object).toMatchObject({ metadata: { labels: { [POD_NAME_LABEL]: 'web-0', [POD_INDEX_LABEL]: '0' } } });
    expect(patches[0]!.object).toMatchObject({ metadata: { ownerReferences: [{ uid: 'sts-uid', controller: true }] } });
    expect(deletes()).toEqual(['web-0']);
    await step();
    expect(pod('web-0').metadata.labels?.['controller-revision-hash']).toBe(status().updateRevision);
    expect(pod('web-x').metadata.ownerReferences).toBeUndefined();
    expect(pod('other-0').metadata.ownerReferences).toBeUndefined();
  });

  it('keeps revisionHistoryLimit unused revisions', async () => {
    await setup(statefulSet(1, { revisionHistoryLimit: 1 }));
    await rollOut(1);
    for (const image of ['v2', 'v3', 'v4']) {
      await t.client.patch(STS, 'default', 'web', { spec: { template: { spec: { containers: [{ name: 'c', image }] } } } }, 'merge');
      await step();
      await step();
      await markReady('web-0');
      await step();
    }
    const revisions = t.client.all<ControllerRevision>(REVS, 'default');
    expect(revisions.map((r) => r.revision).sort()).toEqual([3, 4]);
    expect(status()).toMatchObject({ currentRevision: status().updateRevision, updatedReplicas: 1 });
  });
});
