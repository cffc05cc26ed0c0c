import { describe, expect, it } from 'vitest';
import type { PodView } from '../../pod-utils.js';
import { calculateResourceReplicas, MetricComputationError, parseGoDuration, samplesFromPodMetrics, type PodSample } from './replica-calculator.js';

const NOW = Date.parse('2024-01-01T00:10:00Z');
const TOL = { up: 0.1, down: 0.1 };

function pod(name: string, startedAgoMs: number, ready: { status: string; agoMs: number } | undefined = { status: 'True', agoMs: startedAgoMs }): PodView {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'c', resources: { requests: { cpu: '100m' } } }] },
    status: { phase: 'Running', startTime: new Date(NOW - startedAgoMs).toISOString(), conditions: ready ? [{ type: 'Ready', status: ready.status, lastTransitionTime: new Date(NOW - ready.agoMs).toISOString() }] : [] },
  };
}

const sample = (value: number, agoMs = 0): PodSample => ({ value, timestamp: NOW - agoMs, windowMs: 30_000 });

describe('replica calculator', () => {
  it('parses Go durations', () => {
    expect(parseGoDuration('30s')).toBe(30_000);
    expect(parseGoDuration('1m30.5s')).toBe(90_500);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('x')).toBeUndefined();
  });

  it('sums container usage and skips pods missing the resource', () => {
    const s = samplesFromPodMetrics([
      { metadata: { name: 'a' }, window: '30s', timestamp: '2024-01-01T00:00:00Z', containers: [{ name: 'x', usage: { cpu: '100m' } }, { name: 'y', usage: { cpu: '0.2' } }] },
      { metadata: { name: 'b' }, containers: [{ name: 'x', usage: { memory: '1Mi' } }] },
    ], 'cpu');
    expect([...s.keys()]).toEqual(['a']);
    expect(s.get('a')).toMatchObject({ value: 300, windowMs: 30_000 });
  });

  it('ignores CPU samples taken before a young pod became ready', () => {
    // Started 1 min ago, ready 10 s ago: its sample covers the start-up burst.
    const pods = [pod('old', 3_600_000), pod('young', 60_000, { status: 'True', agoMs: 10_000 })];
    const r = calculateResourceReplicas({ currentReplicas: 2, resource: 'cpu', target: { type: 'Utilization', averageUtilization: 50 }, pods, samples: new Map([['old', sample(50)], ['young', sample(500)]]), tolerances: TOL, now: NOW });
    expect(r).toMatchObject({ replicas: 2, utilization: 50 });
  });

  it('ignores deleted and failed pods and fails without usable samples', () => {
    const failed = { ...pod('f', 3_600_000), status: { phase: 'Failed' } };
    const pending = { ...pod('p', 3_600_000), status: { phase: 'Pending' } };
    expect(() => calculateResourceReplicas({ currentReplicas: 2, resource: 'cpu', target: { type: 'Utilization', averageUtilization: 50 }, pods: [failed, pending], samples: new Map([['f', sample(100)], ['p', sample(100)]]), tolerances: TOL, now: NOW })).toThrow(MetricComputationError);
    expect(() => calculateResourceReplicas({ currentReplicas: 2, resource: 'cpu', target: { type: 'Utilization', averageUtilization: 50 }, pods: [], samples: new Map(), tolerances: TOL, now: NOW })).toThrow(/no pods/);
  });

  it('does not flip direction because of missing pods', () => {
    // Measured pods are hot (ratio 2); the missing pod counts as idle: 200/300 = 66 % -> 1.33 -> 4.
    const pods = [pod('a', 3_600_000), pod('b', 3_600_000), pod('c', 3_600_000)];
    const r = calculateResourceReplicas({ currentReplicas: 3, resource: 'cpu', target: { type: 'Utilization', averageUtilization: 50 }, pods, samples: new Map([['a', sample(100)], ['b', sample(100)]]), tolerances: TOL, now: NOW });
    expect(r.replicas).toBe(4);
  });
});
