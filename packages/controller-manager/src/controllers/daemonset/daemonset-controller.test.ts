import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodView } from '../../pod-utils.js';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { DaemonSetController } from './daemonset-controller.js';
import { targetNodeName, type PlacementSpec, type Taint } from './node-eligibility.js';

const DS = res('daemonsets.apps');
const PODS = res('pods');
const NODES = res('nodes');

interface DsStatus {
  currentNumberScheduled?: number;
  numberMisscheduled?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  numberAvailable?: number;
  updatedNumberScheduled?: number;
  numberUnavailable?: number;
  observedGeneration?: number;
}

function daemonSet(spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}): never {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'kube-system', uid: 'ds-uid', generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'v1' }], ...podSpec } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      ...spec,
    },
  } as never;
}

function node(name: string, labels: Record<string, string> = {}, taints: Taint[] = []): never {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `uid-${name}`, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: { taints } } as never;
}

describe('DaemonSetController', () => {
  let t: TestContext;
  let c: DaemonSetController;
  afterEach(() => t?.stop());

  async function setup(ds: never, nodes: never[], pods: never[] = []): Promise<void> {
    t = testContext([
      { resource: DS, objects: [ds] },
      { resource: NODES, objects: nodes },
      { resource: PODS, objects: pods },
    ]);
    c = new DaemonSetController(t.ctx);
    await t.start();
  }

  async function step(): Promise<void> {
    await t.settle();
    await c.sync('kube-system/agent');
    await t.settle();
  }

  const pods = (): PodView[] => t.client.all<PodView>(PODS, 'kube-system');
  const nodeOf = (p: PodView): string => targetNodeName(p.spec as PlacementSpec) ?? '';
  const podNodes = (): string[] => pods().map(nodeOf).sort();
  const podOn = (nodeName: string): PodView[] => pods().filter((p) => nodeOf(p) === nodeName);
  const status = (): DsStatus => (t.client.peek(DS, 'kube-system', 'agent') as { status?: DsStatus }).status ?? {};
  const deletes = (): string[] => t.client.writes().filter((w) => w.verb === 'delete' && w.resource === 'pods').map((w) => w.name);

  /** Binds a pod to its node and makes it running and ready (what the scheduler and agent do). */
  async function runReady(p: PodView): Promise<void> {
    await t.client.patch(PODS, 'kube-system', p.metadata.name ?? '', { spec: { nodeName: nodeOf(p) }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, 'merge');
  }
  /** A new template (the fake client does not bump generation; the API server does). */
  async function bumpTemplate(): Promise<void> {
    await t.client.patch(DS, 'kube-system', 'agent', { metadata: { generation: 2 }, spec: { template: { spec: { containers: [{ name: 'c', image: 'v2' }] } } } }, 'merge');
  }
  async function allReady(): Promise<void> {
    for (const p of pods()) if (p.status?.phase !== 'Running') await runReady(p);
  }

  it('creates one pod per eligible node, pinned by node affinity and tolerating the daemon taints', async () => {
    await setup(daemonSet({}, { nodeSelector: { role: 'worker' } }), [
      node('n1', { role: 'worker' }),
      node('n2', { role: 'worker' }),
      node('n3', { role: 'worker' }, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]),
      node('n4', { role: 'control' }),
      node('n5', { role: 'worker' }, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]),
    ]);
    await step();
    expect(podNodes()).toEqual(['n1', 'n2', 'n5']);
    const p = podOn('n1')[0]!;
    expect(p.spec?.nodeName).toBeUndefined();
    expect((p.spec as PlacementSpec).affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] } } });
    expect((p.spec as PlacementSpec).tolerations?.map((x) => `${x.key}:${x.effect}`)).toEqual([
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
    expect(p.metadata.labels).toMatchObject({ app: 'agent', 'pod-template-generation': '1' });
    expect(p.metadata.labels?.['controller-revision-hash']).toMatch(/^[a-z0-9]+$/);
    expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', uid: 'ds-uid', controller: true });

    await step();
    expect(pods()).toHaveLength(3);
    await allReady();
    await step();
    expect(status()).toEqual(expect.objectContaining({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3, numberAvailable: 3, updatedNumberScheduled: 3, numberUnavailable: 0, numberMisscheduled: 0, observedGeneration: 1 }));
  });

  it('runs on a node whose taint the template tolerates and honours required node affinity', async () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } };
    await setup(daemonSet({}, { affinity, tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }] }), [
      node('n1', { zone: 'a' }, [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]),
      node('n2', { zone: 'b' }),
      node('n3', { zone: 'a' }, [{ key: 'gpu', effect: 'NoExecute' }]),
    ]);
    await step();
    expect(podNodes()).toEqual(['n1']);
  });

  it('deletes the pod of a node that goes away, and of a node that stops matching', async () => {
    await setup(daemonSet({}, { nodeSelector: { role: 'worker' } }), [node('n1', { role: 'worker' }), node('n2', { role: 'worker' })]);
    await step();
    await allReady();
    await step();
    const onN1 = podOn('n1')[0]!.metadata.name!;
    const onN2 = podOn('n2')[0]!.metadata.name!;

    await c.sync('kube-system/agent');
    while (c.queue.len() > 0) c.queue.done((await c.queue.get())!);
    await t.client.delete(NODES, '', 'n1');
    await t.settle();
    expect(c.queue.len()).toBe(1);
    await step();
    expect(deletes()).toEqual([onN1]);

    while (c.queue.len() > 0) c.queue.done((await c.queue.get())!);
    await t.client.patch(NODES, '', 'n2', { metadata: { labels: { role: 'control' } } }, 'merge');
    await t.settle();
    expect(c.queue.len()).toBe(1);
    await step();
    expect(deletes()).toEqual([onN1, onN2]);
    expect(pods()).toEqual([]);
  });

  it('evicts for an untolerated NoExecute taint but keeps a pod under a new NoSchedule taint (misscheduled)', async () => {
    await setup(daemonSet(), [node('n1'), node('n2')]);
    await step();
    await allReady();
    await t.client.patch(NODES, '', 'n1', { spec: { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] } }, 'merge');
    await t.client.patch(NODES, '', 'n2', { spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } }, 'merge');
    await step();
    expect(podNodes()).toEqual(['n1']);
    await step();
    expect(status()).toMatchObject({ desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 1 });
  });

  it('keeps the oldest of several pods on a node and replaces a failed one', async () => {
    const owner = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true };
    const pod = (name: string, created: string, phase = 'Running') => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: 'kube-system', uid: `uid-${name}`, labels: { app: 'agent' }, ownerReferences: [owner], creationTimestamp: created },
      spec: { nodeName: 'n1', containers: [] },
      status: { phase, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    await setup(daemonSet(), [node('n1'), node('n2')], [pod('old', '2024-01-01T00:00:00Z'), pod('new', '2024-01-02T00:00:00Z'), pod('dead', '2024-01-01T00:00:00Z', 'Failed')].map((p) => ({ ...p, spec: { ...p.spec, nodeName: p.metadata.name === 'dead' ? 'n2' : 'n1' } })) as never[]);
    await step();
    expect(deletes().sort()).toEqual(['dead', 'new']);
    expect(podOn('n2')).toEqual([]);
    await step();
    expect(podNodes()).toEqual(['n1', 'n2']);
    expect(podOn('n1')[0]!.metadata.name).toBe('old');
  });

  it('rolls out a new template within maxUnavailable', async () => {
    await setup(daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } }), [node('n1'), node('n2'), node('n3'), node('n4')]);
    await step();
    await allReady();
    await step();
    const oldHash = pods()[0]!.metadata.labels?.['controller-revision-hash'];
    await t.client.patch(DS, 'kube-system', 'agent', { metadata: { generation: 2 }, spec: { template: { spec: { containers: [{ name: 'c', image: 'v2' }] } } } }, 'merge');

    const replaced = new Set<string>();
    for (let round = 0; round < 4; round++) {
      await step();
      // One old pod deleted per round, and no more until its replacement is available.
      expect(deletes()).toHaveLength(round + 1);
      await step();
      const fresh = pods().filter((p) => p.metadata.labels?.['controller-revision-hash'] !== oldHash && p.status?.phase !== 'Running');
      expect(fresh).toHaveLength(1);
      replaced.add(nodeOf(fresh[0]!));
      expect((fresh[0]!.spec as { containers: { image: string }[] }).containers[0]!.image).toBe('v2');
      expect(fresh[0]!.metadata.labels?.['pod-template-generation']).toBe('2');
      await step();
      expect(deletes()).toHaveLength(round + 1);
      expect(status()).toMatchObject({ numberUnavailable: 1 });
      await runReady(fresh[0]!);
    }
    await step();
    expect(replaced.size).toBe(4);
    expect(status()).toMatchObject({ updatedNumberScheduled: 4, numberAvailable: 4, observedGeneration: 2 });
  });

  it('deletes as many old pods as a percentage maxUnavailable allows', async () => {
    await setup(daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%' } } }), [node('n1'), node('n2'), node('n3'), node('n4')]);
    await step();
    await allReady();
    await step();
    await bumpTemplate();
    await step();
    expect(deletes()).toHaveLength(2);
    await step();
    await step();
    expect(deletes()).toHaveLength(2);
    expect(pods()).toHaveLength(4);
  });

  it('surges a new pod beside an old one and deletes the old once the new is available', async () => {
    await setup(daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } }), [node('n1'), node('n2')]);
    await step();
    await allReady();
    await step();
    await bumpTemplate();
    await step();
    expect(deletes()).toEqual([]);
    expect(pods()).toHaveLength(3);
    const fresh = pods().find((p) => p.status?.phase !== 'Running')!;
    await step();
    expect(pods()).toHaveLength(3);
    await runReady(fresh);
    await step();
    expect(deletes()).toHaveLength(1);
    expect(podOn(nodeOf(fresh)).map((p) => p.metadata.name)).toEqual([fresh.metadata.name]);
  });

  it('OnDelete leaves old pods alone and recreates a deleted one from the new template', async () => {
    await setup(daemonSet({ updateStrategy: { type: 'OnDelete' } }), [node('n1'), node('n2')]);
    await step();
    await allReady();
    await bumpTemplate();
    await step();
    await step();
    expect(deletes()).toEqual([]);
    await t.client.delete(PODS, 'kube-system', podOn('n1')[0]!.metadata.name!);
    await step();
    expect((podOn('n1')[0]!.spec as { containers: { image: string }[] }).containers[0]!.image).toBe('v2');
    expect((podOn('n2')[0]!.spec as { containers: { image: string }[] }).containers[0]!.image).toBe('v1');
  });
});
