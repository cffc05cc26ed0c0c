import { res } from '@flotilla/client';
import type { KubeObject } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { DeploymentController } from './deployment-controller.js';
import { computeTemplateHash, type Deployment, type PodTemplate, type ReplicaSet } from './rollout-math.js';

const DEPLOYMENTS = res('deployments.apps');
const RS = res('replicasets.apps');
const PODS = res('pods');
const REV = 'deployment.kubernetes.io/revision';
const D_UID = 'd-uid';

function template(image: string): PodTemplate {
  return { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } };
}

function deployment(replicas: number, image: string, extra: Partial<Deployment['spec']> = {}, status?: Deployment['status'], annotations?: Record<string, string>): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: D_UID, generation: 1, creationTimestamp: '2024-01-01T00:00:00Z', ...(annotations ? { annotations } : {}) },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template(image), ...extra },
    ...(status ? { status } : {}),
  };
}

/** A ReplicaSet owned by the Deployment, for template `image`. */
function replicaSet(image: string, o: { replicas: number; available?: number; statusReplicas?: number; revision: number; created: string; annotations?: Record<string, string> }): ReplicaSet {
  const t = template(image);
  const hash = computeTemplateHash(t);
  const available = o.available ?? 0;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'default',
      uid: `rs-${image}`,
      creationTimestamp: o.created,
      labels: { app: 'web', 'pod-template-hash': hash },
      annotations: { [REV]: String(o.revision), ...(o.annotations ?? {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: D_UID, controller: true, blockOwnerDeletion: true }],
    },
    spec: { replicas: o.replicas, selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } }, template: { ...t, metadata: { labels: { app: 'web', 'pod-template-hash': hash } } } },
    status: { replicas: o.statusReplicas ?? o.replicas, readyReplicas: available, availableReplicas: available },
  };
}

const rolling = (maxSurge: number | string, maxUnavailable: number | string) => ({ strategy: { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge, maxUnavailable } } });

function seed(d: Deployment, rss: ReplicaSet[] = [], pods: KubeObject[] = []) {
  return [
    { resource: DEPLOYMENTS, objects: [d as KubeObject] },
    { resource: RS, objects: rss as KubeObject[] },
    { resource: PODS, objects: pods },
  ];
}

describe('DeploymentController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  const rsByImage = () => {
    const out: Record<string, ReplicaSet> = {};
    for (const rs of t.client.all<ReplicaSet>(RS, 'default')) out[(rs.spec.template.spec as { containers: { image: string }[] }).containers[0]!.image] = rs;
    return out;
  };
  const dep = () => t.client.peek<Deployment>(DEPLOYMENTS, 'default', 'web')!;
  const cond = (type: string) => dep().status?.conditions?.find((c) => c.type === type);
  const setRsStatus = async (name: string, status: ReplicaSet['status']) => {
    const cur = t.client.peek<ReplicaSet>(RS, 'default', name)!;
    await t.client.updateStatus(RS, { ...cur, status });
    await t.settle();
  };

  async function build(d: Deployment, rss: ReplicaSet[] = [], pods: KubeObject[] = []): Promise<DeploymentController> {
    t = testContext(seed(d, rss, pods));
    const c = new DeploymentController(t.ctx);
    await t.start();
    return c;
  }

  it('creates the first ReplicaSet with the pod-template-hash label and selector and revision 1', async () => {
    const c = await build(deployment(3, 'a'));
    await c.sync('default/web');
    const rss = t.client.all<ReplicaSet>(RS, 'default');
    expect(rss).toHaveLength(1);
    const rs = rss[0]!;
    const hash = computeTemplateHash(template('a'));
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.metadata.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs.spec.template.metadata?.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs.metadata.annotations).toMatchObject({ [REV]: '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
    expect(rs.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'web', uid: D_UID, controller: true });
    expect(rs.spec.replicas).toBe(3);
    expect(dep().metadata.annotations?.[REV]).toBe('1');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    expect(cond('Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });
  });

  it('rolls a template change within maxSurge and maxUnavailable (revision 2)', async () => {
    const old = replicaSet('a', { replicas: 10, available: 10, revision: 1, created: '2024-01-01T00:00:00Z' });
    const c = await build(deployment(10, 'b', rolling(3, 2), undefined, { [REV]: '1' }), [old]);
    await c.sync('default/web');
    let rss = rsByImage();
    expect(Object.keys(rss).sort()).toEqual(['a', 'b']);
    // New: min(10 + 3 - 10, 10) = 3. Old: 13 pods, minAvailable 8, 3 new unavailable: 2 may go.
    expect(rss['b']!.spec.replicas).toBe(3);
    expect(rss['b']!.metadata.annotations?.[REV]).toBe('2');
    expect(rss['a']!.spec.replicas).toBe(8);
    expect(dep().metadata.annotations?.[REV]).toBe('2');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });

    // The new pods become available; the old ReplicaSet reports its 8.
    await setRsStatus(rss['a']!.metadata.name!, { replicas: 8, readyReplicas: 8, availableReplicas: 8 });
    await setRsStatus(rss['b']!.metadata.name!, { replicas: 3, readyReplicas: 3, availableReplicas: 3 });
    await c.sync('default/web');
    rss = rsByImage();
    // 11 pods, room for 2 more new ones.
    expect(rss['b']!.spec.replicas).toBe(5);
    expect(rss['a']!.spec.replicas).toBe(8);
    await t.settle();
    await c.sync('default/web');
    rss = rsByImage();
    // 13 pods, 11 available, minAvailable 8, 2 new unavailable: 3 old ones go.
    expect(rss['a']!.spec.replicas).toBe(5);
    expect(rss['b']!.spec.replicas).toBe(5);
  });

  it('Recreate scales the old ReplicaSet to zero and waits for its pods before creating the new one', async () => {
    const old = replicaSet('a', { replicas: 2, available: 2, revision: 1, created: '2024-01-01T00:00:00Z' });
    const pod = (name: string) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { ...old.spec.template.metadata!.labels }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: old.metadata.name!, uid: old.metadata.uid!, controller: true }] },
      spec: { containers: [{ name: 'c', image: 'a' }] },
      status: { phase: 'Running' },
    });
    const c = await build(deployment(2, 'b', { strategy: { type: 'Recreate' } }, undefined, { [REV]: '1' }), [old], [pod('p1'), pod('p2')] as KubeObject[]);
    await c.sync('default/web');
    expect(Object.keys(rsByImage())).toEqual(['a']);
    expect(rsByImage()['a']!.spec.replicas).toBe(0);
    await t.settle();
    // Old pods still running: no new ReplicaSet yet.
    await c.sync('default/web');
    expect(Object.keys(rsByImage())).toEqual(['a']);
    // The ReplicaSet controller removed the pods but has not reported it yet: still wait.
    await t.client.delete(PODS, 'default', 'p1');
    await t.client.delete(PODS, 'default', 'p2');
    await t.settle();
    await c.sync('default/web');
    expect(Object.keys(rsByImage())).toEqual(['a']);
    await setRsStatus(old.metadata.name!, { replicas: 0, readyReplicas: 0, availableReplicas: 0 });
    await c.sync('default/web');
    const rss = rsByImage();
    expect(rss['b']!.spec.replicas).toBe(2);
    expect(rss['b']!.metadata.annotations?.[REV]).toBe('2');
    expect(rss['a']!.spec.replicas).toBe(0);
  });

  it('does not roll a paused Deployment', async () => {
    const old = replicaSet('a', { replicas: 3, available: 3, revision: 1, created: '2024-01-01T00:00:00Z' });
    const c = await build(deployment(3, 'b', { paused: true }, undefined, { [REV]: '1' }), [old]);
    await c.sync('default/web');
    expect(Object.keys(rsByImage())).toEqual(['a']);
    expect(rsByImage()['a']!.spec.replicas).toBe(3);
    expect(t.client.writes().filter((w) => w.resource === 'replicasets')).toEqual([]);
    expect(cond('Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused' });
  });

  it('scales a paused Deployment with one active ReplicaSet', async () => {
    const old = replicaSet('a', { replicas: 3, available: 3, revision: 1, created: '2024-01-01T00:00:00Z', annotations: { 'deployment.kubernetes.io/desired-replicas': '3' } });
    const c = await build(deployment(5, 'b', { paused: true }, undefined, { [REV]: '1' }), [old]);
    await c.sync('default/web');
    expect(Object.keys(rsByImage())).toEqual(['a']);
    expect(rsByImage()['a']!.spec.replicas).toBe(5);
  });

  it.each([
    // Kubernetes' sync_test "proportional scaling" cases (maxSurge 0, maxUnavailable 1).
    { name: '5 -> 10', from: 5, to: 10, sizes: { v1: 3, v2: 2 }, want: { v1: 6, v2: 4 } },
    { name: '5 -> 3', from: 5, to: 3, sizes: { v1: 3, v2: 2 }, want: { v1: 2, v2: 1 } },
    { name: '9 -> 4', from: 9, to: 4, sizes: { v1: 1, v2: 8 }, want: { v1: 0, v2: 4 } },
    { name: '7 -> 10', from: 7, to: 10, sizes: { v1: 2, v2: 3, v3: 2 }, want: { v1: 3, v2: 4, v3: 3 } },
    { name: '13 -> 8', from: 13, to: 8, sizes: { v1: 3, v2: 8, v3: 2 }, want: { v1: 2, v2: 5, v3: 1 } },
  ])('scales active ReplicaSets proportionally: $name', async ({ from, to, sizes, want }) => {
    const names = Object.keys(sizes) as (keyof typeof sizes)[];
    const newest = names[names.length - 1]!;
    const rss = names.map((v, i) =>
      replicaSet(v, { replicas: sizes[v]!, available: sizes[v]!, revision: i + 1, created: `2024-01-0${i + 1}T00:00:00Z`, annotations: { 'deployment.kubernetes.io/desired-replicas': String(from), 'deployment.kubernetes.io/max-replicas': String(from) } }),
    );
    const c = await build(deployment(to, newest, rolling(0, 1), undefined, { [REV]: String(names.length) }), rss);
    await c.sync('default/web');
    const got = rsByImage();
    expect(Object.fromEntries(names.map((v) => [v, got[v]!.spec.replicas]))).toEqual(want);
    for (const v of names) expect(got[v]!.metadata.annotations?.['deployment.kubernetes.io/desired-replicas']).toBe(String(to));
  });

  it('rolls back to an old ReplicaSet by reusing it with a new revision', async () => {
    const v1 = replicaSet('a', { replicas: 0, revision: 1, created: '2024-01-01T00:00:00Z' });
    const v2 = replicaSet('b', { replicas: 3, available: 3, revision: 2, created: '2024-01-02T00:00:00Z' });
    const c = await build(deployment(3, 'a', rolling(1, 0), undefined, { [REV]: '2' }), [v1, v2]);
    await c.sync('default/web');
    const rss = rsByImage();
    expect(Object.keys(rss).sort()).toEqual(['a', 'b']);
    expect(t.client.writes().filter((w) => w.verb === 'create' && w.resource === 'replicasets')).toEqual([]);
    expect(rss['a']!.metadata.annotations?.[REV]).toBe('3');
    expect(rss['a']!.spec.replicas).toBe(1);
    expect(rss['b']!.spec.replicas).toBe(3);
    expect(dep().metadata.annotations?.[REV]).toBe('3');
  });

  it("copies the Deployment's annotations (change-cause) to its new ReplicaSet, and keeps a rolled-back one's earlier revisions", async () => {
    const cause = 'kubernetes.io/change-cause';
    const last = 'kubectl.kubernetes.io/last-applied-configuration';
    const c = await build(deployment(3, 'a', {}, undefined, { [cause]: 'first', [last]: '{}' }));
    await c.sync('default/web');
    await t.settle();
    expect(rsByImage()['a']!.metadata.annotations).toMatchObject({ [cause]: 'first', [REV]: '1' });
    expect(rsByImage()['a']!.metadata.annotations?.[last]).toBeUndefined();
    // A changed annotation reaches the current ReplicaSet without a template change.
    const d = dep();
    await t.client.update(DEPLOYMENTS, { ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, [cause]: 'second' } } } as KubeObject);
    await t.settle();
    await c.sync('default/web');
    expect(rsByImage()['a']!.metadata.annotations?.[cause]).toBe('second');

    const v1 = replicaSet('a', { replicas: 0, revision: 1, created: '2024-01-01T00:00:00Z', annotations: { [cause]: 'one' } });
    const v2 = replicaSet('b', { replicas: 3, available: 3, revision: 2, created: '2024-01-02T00:00:00Z' });
    await t.stop();
    const back = await build(deployment(3, 'a', rolling(1, 0), undefined, { [REV]: '2', [cause]: 'undo' }), [v1, v2]);
    await back.sync('default/web');
    expect(rsByImage()['a']!.metadata.annotations).toMatchObject({ [REV]: '3', 'deployment.kubernetes.io/revision-history': '1', [cause]: 'undo' });
  });

  it('deletes the oldest empty ReplicaSets beyond revisionHistoryLimit', async () => {
    const rss = [
      replicaSet('a', { replicas: 0, revision: 1, created: '2024-01-01T00:00:00Z' }),
      replicaSet('b', { replicas: 0, revision: 2, created: '2024-01-02T00:00:00Z' }),
      replicaSet('c', { replicas: 0, revision: 3, created: '2024-01-03T00:00:00Z' }),
      replicaSet('d', { replicas: 2, available: 2, revision: 4, created: '2024-01-04T00:00:00Z', annotations: { 'deployment.kubernetes.io/desired-replicas': '2', 'deployment.kubernetes.io/max-replicas': '3' } }),
    ];
    const complete = { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
    const c = await build(deployment(2, 'd', { revisionHistoryLimit: 1 }, complete, { [REV]: '4' }), rss);
    await c.sync('default/web');
    expect(Object.keys(rsByImage()).sort()).toEqual(['c', 'd']);
    expect(t.client.writes().filter((w) => w.verb === 'delete').map((w) => w.name)).toEqual([rss[0]!.metadata.name, rss[1]!.metadata.name]);
  });

  it('reports status and the Progressing and Available conditions as the rollout goes', async () => {
    const c = await build(deployment(3, 'a', rolling(1, 1)));
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    // 0 available < 3 - 1.
    expect(cond('Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });
    await t.settle();
    const name = t.client.all<ReplicaSet>(RS, 'default')[0]!.metadata.name!;
    await setRsStatus(name, { replicas: 3, readyReplicas: 2, availableReplicas: 2 });
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${name}" is progressing.` });
    expect(cond('Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(dep().status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1 });
    await setRsStatus(name, { replicas: 3, readyReplicas: 3, availableReplicas: 3 });
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}" has successfully progressed.` });
    expect(dep().status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 0 });
  });

  it('marks Progressing False with ProgressDeadlineExceeded once progressDeadlineSeconds pass without progress', async () => {
    const c = await build(deployment(2, 'a', { progressDeadlineSeconds: 60 }));
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    await t.settle();
    await t.clock.advance(30_000);
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    await t.clock.advance(31_000);
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
  });

  it('starts the progress deadline again when a template change follows a complete rollout', async () => {
    const old = replicaSet('a', { replicas: 2, available: 2, revision: 1, created: '2024-01-01T00:00:00Z' });
    const at = '2023-12-31T00:00:00Z';
    const status = {
      observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: at, lastTransitionTime: at },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', lastUpdateTime: at, lastTransitionTime: at },
      ],
    };
    const c = await build(deployment(2, 'b', { progressDeadlineSeconds: 60, ...rolling(1, 0) }, status, { [REV]: '1' }), [old]);
    await c.sync('default/web');
    expect(rsByImage()['b']!.spec.replicas).toBe(1);
    expect(cond('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetCreated' });
    await t.settle();
    await t.clock.advance(61_000);
    await c.sync('default/web');
    expect(cond('Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
  });
});
