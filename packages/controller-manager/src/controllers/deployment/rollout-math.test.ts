import { describe, expect, it } from 'vitest';
import { computeTemplateHash, equalIgnoreHash, maxSurge, maxUnavailable, newRsNewReplicas, resolveFenceposts, scaleDownOld, scaledValue, setCondition, type Deployment, type ReplicaSet } from './rollout-math.js';

function deployment(replicas: number, surge: number | string = '25%', unavailable: number | string = '25%', type: 'RollingUpdate' | 'Recreate' = 'RollingUpdate'): Deployment {
  return {
    metadata: { name: 'd', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } } }, strategy: type === 'Recreate' ? { type } : { type, rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } } },
  };
}

function rs(name: string, replicas: number, available: number, created = '2024-01-01T00:00:00Z'): ReplicaSet {
  return { metadata: { name, creationTimestamp: created }, spec: { replicas, selector: {}, template: {} }, status: { replicas, availableReplicas: available, readyReplicas: available } };
}

describe('rollout budgets', () => {
  it.each([
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['50%', 3, true, 2],
    ['50%', 3, false, 1],
    [2, 10, false, 2],
    ['0%', 10, true, 0],
  ])('scaledValue(%s of %s, up=%s) = %s', (v, total, up, want) => {
    expect(scaledValue(v, total, up)).toBe(want);
  });

  it('never allows zero surge and zero unavailability together', () => {
    expect(resolveFenceposts(0, 0, 5)).toEqual({ surge: 0, unavailable: 1 });
    expect(resolveFenceposts('0%', '10%', 5)).toEqual({ surge: 0, unavailable: 1 });
  });

  it('has no budgets for Recreate and caps unavailability at replicas', () => {
    expect(maxSurge(deployment(4, 1, 1, 'Recreate'))).toBe(0);
    expect(maxUnavailable(deployment(4, 1, 1, 'Recreate'))).toBe(0);
    expect(maxUnavailable(deployment(2, 0, 5))).toBe(2);
  });
});

describe('a rolling update step', () => {
  it('scales the new ReplicaSet up by the surge budget', () => {
    const d = deployment(10);
    const old = rs('old', 10, 10);
    const fresh = rs('new', 0, 0, '2024-01-02T00:00:00Z');
    expect(newRsNewReplicas(d, [old, fresh], fresh)).toBe(3);
    // Already at maxTotal: no further growth.
    expect(newRsNewReplicas(d, [rs('old', 10, 10), rs('new', 3, 0)], rs('new', 3, 0))).toBe(3);
  });

  it('scales old ReplicaSets down only while availability stays above replicas - maxUnavailable', () => {
    const d = deployment(10);
    expect(scaleDownOld(d, [rs('old', 10, 10)], rs('new', 3, 0))).toEqual(new Map([['old', 8]]));
    // New pods became available: more old pods may go.
    expect(scaleDownOld(d, [rs('old', 8, 8)], rs('new', 5, 5))).toEqual(new Map([['old', 3]]));
    // Nothing available to spare.
    expect(scaleDownOld(d, [rs('old', 8, 8)], rs('new', 5, 0))).toEqual(new Map());
  });

  it('removes unhealthy old replicas first', () => {
    const d = deployment(4, 1, 1);
    // Old RS has 4 replicas but only 2 available; one unhealthy replica may go even though
    // availability (2) is already below replicas - maxUnavailable (3).
    expect(scaleDownOld(d, [rs('old', 4, 2)], rs('new', 1, 0))).toEqual(new Map([['old', 3]]));
    // With no budget at all, nothing goes.
    expect(scaleDownOld(deployment(4, 1, 0), [rs('old', 4, 2)], rs('new', 1, 0))).toEqual(new Map());
  });

  it('scales the oldest ReplicaSets down first', () => {
    const d = deployment(4, 1, 1);
    const a = rs('a', 2, 2, '2024-01-01T00:00:00Z');
    const b = rs('b', 2, 2, '2024-01-02T00:00:00Z');
    expect(scaleDownOld(d, [b, a], rs('new', 1, 1, '2024-01-03T00:00:00Z'))).toEqual(new Map([['a', 0]]));
  });
});

describe('templates and conditions', () => {
  it('hashes templates stably, independent of key order and the hash label', () => {
    const t1 = { metadata: { labels: { app: 'a', tier: 'x' } }, spec: { containers: [{ name: 'c', image: 'i:1' }] } };
    const t2 = { spec: { containers: [{ image: 'i:1', name: 'c' }] }, metadata: { labels: { tier: 'x', app: 'a', 'pod-template-hash': 'zzz' } } };
    expect(computeTemplateHash(t1)).toBe(computeTemplateHash(t2));
    expect(computeTemplateHash(t1)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(computeTemplateHash(t1, 1)).not.toBe(computeTemplateHash(t1));
    expect(equalIgnoreHash(t1, t2)).toBe(true);
    expect(equalIgnoreHash(t1, { ...t1, spec: { containers: [{ name: 'c', image: 'i:2' }] } })).toBe(false);
  });

  it('keeps lastTransitionTime when a condition keeps its status', () => {
    const c1 = setCondition([], { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', lastTransitionTime: 't1', lastUpdateTime: 't1' });
    const c2 = setCondition(c1, { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastTransitionTime: 't2', lastUpdateTime: 't2' });
    expect(c2[0]).toMatchObject({ reason: 'ReplicaSetUpdated', lastTransitionTime: 't1', lastUpdateTime: 't2' });
    const c3 = setCondition(c2, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', lastTransitionTime: 't3', lastUpdateTime: 't3' });
    expect(c3[0]).toMatchObject({ status: 'False', lastTransitionTime: 't3' });
  });
});
