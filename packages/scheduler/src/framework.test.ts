import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { fitErrorMessage, Framework, numFeasibleNodesToFind } from './framework.js';
import { podInfoOf } from './node-info.js';
import { defaultProfile } from './plugins/index.js';
import type { VolumeBindingDeps } from './plugins/volume-binding.js';
import { Scheduler } from './scheduler.js';
import { SchedulerCache } from './scheduler-cache.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from './types.js';

function node(name: string, cpu = '4', labels: Record<string, string> = {}, taints: Node['spec'] = {}): Node {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: taints, status: { allocatable: { cpu, memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] } };
}

function pod(name: string, cpu?: string, extra: Partial<NonNullable<Pod['spec']>> = {}, labels: Record<string, string> = {}): Pod {
  return { metadata: { name, namespace: 'ns', uid: name, labels }, spec: { containers: [{ name: 'c', ...(cpu ? { resources: { requests: { cpu } } } : {}) }], ...extra } };
}

describe('Framework', () => {
  it('evaluates a bounded share of large clusters', () => {
    expect(numFeasibleNodesToFind(50)).toBe(50);
    expect(numFeasibleNodesToFind(1000)).toBe(420);
    expect(numFeasibleNodesToFind(5000)).toBe(500);
    expect(numFeasibleNodesToFind(5000, 100)).toBe(5000);
  });

  it('sorts reasons like kube-scheduler', () => {
    expect(fitErrorMessage(3, new Map([['node(s) had untolerated taint {a: b}', 1], ['Insufficient cpu', 2]]))).toBe('0/3 nodes are available: 1 node(s) had untolerated taint {a: b}, 2 Insufficient cpu.');
  });

  it('fills the emptiest node first and never overcommits assumed pods', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('a', '1'));
    cache.upsertNode(node('b', '1'));
    const fw = new Framework(defaultProfile());
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = pod(`p${i}`, '400m');
      const r = fw.schedule(podInfoOf(p), cache.nodeInfos());
      if (r.kind === 'scheduled') {
        cache.assume(p, r.node.name);
        placed.push(r.node.name);
      } else placed.push(r.message);
    }
    expect(placed.slice(0, 4).sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(placed[4]).toBe('0/2 nodes are available: 2 Insufficient cpu.');
  });

  it('breaks ties between equal nodes fairly', () => {
    const cache = new SchedulerCache();
    for (const n of ['a', 'b', 'c']) cache.upsertNode(node(n));
    const counts = new Map<string, number>();
    const fw = new Framework(defaultProfile());
    for (let i = 0; i < 300; i++) {
      const r = fw.schedule(podInfoOf(pod(`p${i}`)), cache.nodeInfos());
      if (r.kind === 'scheduled') counts.set(r.node.name, (counts.get(r.node.name) ?? 0) + 1);
    }
    for (const n of ['a', 'b', 'c']) expect(counts.get(n)).toBeGreaterThan(60);
  });

  it('prefers nodes without PreferNoSchedule taints the pod does not tolerate', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('tainted', '4', {}, { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }));
    cache.upsertNode(node('clean'));
    const fw = new Framework(defaultProfile());
    const r = fw.schedule(podInfoOf(pod('p')), cache.nodeInfos());
    expect(r.kind === 'scheduled' && r.node.name).toBe('clean');
  });

  it('spreads pods of one owner across zones', () => {
    const cache = new SchedulerCache();
    cache.upsertNode(node('a1', '8', { 'topology.kubernetes.io/zone': 'a' }));
    cache.upsertNode(node('a2', '8', { 'topology.kubernetes.io/zone': 'a' }));
    cache.upsertNode(node('b1', '8', { 'topology.kubernetes.io/zone': 'b' }));
    const fw = new Framework(defaultProfile());
    const zones = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const p = pod(`p${i}`, '100m');
      p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }];
      const r = fw.schedule(podInfoOf(p), cache.nodeInfos());
      if (r.kind !== 'scheduled') throw new Error(r.message);
      cache.assume(p, r.node.name);
      const z = r.node.labels['topology.kubernetes.io/zone']!;
      zones.set(z, (zones.get(z) ?? 0) + 1);
    }
    expect(zones.get('a')).toBe(3);
    expect(zones.get('b')).toBe(3);
  });
});

describe('VolumeBinding', () => {
  const wffc: StorageClass = { metadata: { name: 'wffc' }, provisioner: 'flotilla.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' };
  const immediate: StorageClass = { metadata: { name: 'fast' }, provisioner: 'example.com/fast', volumeBindingMode: 'Immediate' };

  function claim(name: string, spec: NonNullable<PersistentVolumeClaim['spec']>, annotations?: Record<string, string>): PersistentVolumeClaim {
    return { metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...(annotations ? { annotations } : {}) }, spec: { accessModes: ['ReadWriteOnce'], ...spec } };
  }

  function setup(objs: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; classes?: StorageClass[] }) {
    const selected: [string, string][] = [];
    const deps: VolumeBindingDeps = {
      lister: {
        claim: (ns, name) => objs.claims?.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
        volume: (name) => objs.volumes?.find((v) => v.metadata.name === name),
        storageClass: (name) => objs.classes?.find((c) => c.metadata.name === name),
        storageClasses: () => objs.classes ?? [],
      },
      selectNode: async (c, n) => {
        selected.push([c.metadata.name!, n]);
      },
    };
    const cache = new SchedulerCache();
    for (const n of ['a', 'b', 'c']) cache.upsertNode(node(n));
    return { fw: new Framework(defaultProfile({ volumes: deps })), cache, selected };
  }

  const withClaim = (name: string, claimName: string) => pod(name, undefined, { volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }] });

  it('puts a pod whose claim is bound to a node-local PV only on that node', () => {
    const pv: PersistentVolume = {
      metadata: { name: 'pv-a' },
      spec: { claimRef: { namespace: 'ns', name: 'data' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['a'] }] }] } } },
    };
    const { fw, cache } = setup({ claims: [claim('data', { storageClassName: 'wffc', volumeName: 'pv-a' })], volumes: [pv], classes: [wffc] });
    for (let i = 0; i < 10; i++) {
      const r = fw.schedule(podInfoOf(withClaim(`p${i}`, 'data')), cache.nodeInfos());
      expect(r.kind === 'scheduled' && r.node.name).toBe('a');
    }
    // matchFields on metadata.name work too; a PV pinned nowhere reachable is a conflict.
    pv.spec!.nodeAffinity = { required: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }] } };
    const r = fw.schedule(podInfoOf(withClaim('q', 'data')), cache.nodeInfos());
    expect(r.kind === 'scheduled' && r.node.name).toBe('c');
    pv.spec!.nodeAffinity = { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['gone'] }] }] } };
    const r2 = fw.schedule(podInfoOf(withClaim('q', 'data')), cache.nodeInfos());
    expect(r2.kind === 'unschedulable' && r2.message).toBe('0/3 nodes are available: 3 node(s) had volume node affinity conflict.');
  });

  it('lets an unbound WaitForFirstConsumer claim go anywhere and annotates it with the chosen node', async () => {
    const { fw, cache, selected } = setup({ claims: [claim('data', { storageClassName: 'wffc' })], classes: [wffc] });
    const nodes = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = fw.schedule(podInfoOf(withClaim(`p${i}`, 'data')), cache.nodeInfos());
      if (r.kind !== 'scheduled') throw new Error(r.message);
      nodes.add(r.node.name);
    }
    expect(nodes.size).toBe(3);
    const r = fw.schedule(podInfoOf(withClaim('bound', 'data')), cache.nodeInfos());
    if (r.kind !== 'scheduled') throw new Error(r.message);
    fw.reserve(r.state, r.node.name);
    await fw.preBind(r.state, r.node.name);
    expect(selected).toEqual([['data', r.node.name]]);
    // Until the cache shows the annotation, later pods of the claim follow the reservation.
    for (let i = 0; i < 5; i++) {
      const r2 = fw.schedule(podInfoOf(withClaim(`later${i}`, 'data')), cache.nodeInfos());
      expect(r2.kind === 'scheduled' && r2.node.name).toBe(r.node.name);
    }
  });

  it('uses the default class when the claim names none', () => {
    const def: StorageClass = { ...wffc, metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } };
    const { fw, cache } = setup({ claims: [claim('data', {})], classes: [immediate, def] });
    expect(fw.schedule(podInfoOf(withClaim('p', 'data')), cache.nodeInfos()).kind).toBe('scheduled');
  });

  it('honours a selected-node annotation already on the claim', () => {
    const { fw, cache, selected } = setup({ claims: [claim('data', { storageClassName: 'wffc' }, { 'volume.kubernetes.io/selected-node': 'b' })], classes: [wffc] });
    for (let i = 0; i < 10; i++) {
      const r = fw.schedule(podInfoOf(withClaim(`p${i}`, 'data')), cache.nodeInfos());
      if (r.kind !== 'scheduled') throw new Error(r.message);
      expect(r.node.name).toBe('b');
      fw.reserve(r.state, r.node.name);
    }
    expect(selected).toEqual([]);
    const gone = setup({ claims: [claim('data', { storageClassName: 'wffc' }, { 'volume.kubernetes.io/selected-node': 'gone' })], classes: [wffc] });
    const r = gone.fw.schedule(podInfoOf(withClaim('p', 'data')), gone.cache.nodeInfos());
    expect(r.kind === 'unschedulable' && r.message).toBe("0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.");
  });

  it('reports a missing claim for every node', () => {
    const { fw, cache } = setup({ classes: [wffc] });
    const r = fw.schedule(podInfoOf(withClaim('p', 'nope')), cache.nodeInfos());
    expect(r.kind === 'unschedulable' && r.message).toBe('0/3 nodes are available: persistentvolumeclaim "nope" not found.');
  });

  it('waits for unbound claims of Immediate classes to be bound', () => {
    const { fw, cache } = setup({ claims: [claim('data', { storageClassName: 'fast' })], classes: [immediate] });
    const r = fw.schedule(podInfoOf(withClaim('p', 'data')), cache.nodeInfos());
    expect(r.kind === 'unschedulable' && r.message).toBe('0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.');
  });

  it('annotates claims before the Binding call and retries when that fails', async () => {
    const calls: string[] = [];
    let failPatch = true;
    const claims = [claim('data', { storageClassName: 'wffc' })];
    const deps: VolumeBindingDeps = {
      lister: { claim: (_ns, n) => claims.find((c) => c.metadata.name === n), volume: () => undefined, storageClass: (n) => (n === 'wffc' ? wffc : undefined), storageClasses: () => [wffc] },
      selectNode: async (c, n) => {
        calls.push(`annotate ${c.metadata.name} ${n}`);
        if (failPatch) throw Object.assign(new Error('gone'), { code: 404 });
      },
    };
    const s = new Scheduler({
      schedulerName: 'default-scheduler',
      profile: defaultProfile({ volumes: deps }),
      logger: pino({ level: 'silent' }),
      actions: { bind: async (p, n) => void calls.push(`bind ${p.metadata.name} ${n}`), markUnschedulable: async () => undefined, event: () => undefined },
    });
    s.onNode(node('a'));
    s.onPod(withClaim('p', 'data'));
    const ac = new AbortController();
    const run = s.run(ac.signal);
    await vi.waitFor(() => expect(calls).toEqual(['annotate data a']));
    failPatch = false;
    await vi.waitFor(() => expect(calls).toEqual(['annotate data a', 'annotate data a', 'bind p a']), { timeout: 5000 });
    ac.abort();
    await run;
  });
});
