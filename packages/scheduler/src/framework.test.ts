import { describe, expect, it } from 'vitest';
import { fitErrorMessage, Framework, numFeasibleNodesToFind } from './framework.js';
import { podInfoOf } from './node-info.js';
import { defaultProfile } from './plugins/index.js';
import { SchedulerCache } from './scheduler-cache.js';
import type { Node, Pod } from './types.js';

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
