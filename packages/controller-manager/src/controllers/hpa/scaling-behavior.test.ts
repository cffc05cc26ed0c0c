import { describe, expect, it } from 'vitest';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, effectiveRules, limitScaling, newScalingHistory, recordScaleEvent, scaleDownLimit, scaleUpLimit, stabilizeRecommendation } from './scaling-behavior.js';

const T0 = 1_000_000;

describe('scaling behavior', () => {
  it('scales up by at most max(+4, double) per 15 s by default', () => {
    const h = newScalingHistory();
    expect(scaleUpLimit(h, T0, 1, DEFAULT_SCALE_UP)).toBe(5);
    expect(scaleUpLimit(h, T0, 10, DEFAULT_SCALE_UP)).toBe(20);
    recordScaleEvent(h, T0, 1, 5, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN);
    // The period's budget was spent from 1 replica.
    expect(scaleUpLimit(h, T0 + 5_000, 5, DEFAULT_SCALE_UP)).toBe(5);
    expect(scaleUpLimit(h, T0 + 15_001, 5, DEFAULT_SCALE_UP)).toBe(10);
  });

  it('applies Min and Disabled select policies', () => {
    const h = newScalingHistory();
    const min = effectiveRules({ selectPolicy: 'Min' }, DEFAULT_SCALE_UP);
    expect(scaleUpLimit(h, T0, 10, min)).toBe(14);
    expect(scaleUpLimit(h, T0, 10, effectiveRules({ selectPolicy: 'Disabled' }, DEFAULT_SCALE_UP))).toBe(10);
    const down = effectiveRules({ policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }, { type: 'Percent', value: 10, periodSeconds: 60 }] }, DEFAULT_SCALE_DOWN);
    expect(scaleDownLimit(h, T0, 20, down)).toBe(18);
    expect(scaleDownLimit(h, T0, 20, { ...down, selectPolicy: 'Min' })).toBe(19);
  });

  it('stabilizes scale-down over the window and records recommendations', () => {
    const h = newScalingHistory();
    expect(stabilizeRecommendation(h, T0, 5, 5, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 5, reason: 'ReadyForNewScale' });
    expect(stabilizeRecommendation(h, T0 + 60_000, 5, 2, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 5, reason: 'ScaleDownStabilized' });
    expect(stabilizeRecommendation(h, T0 + 300_001, 5, 2, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 2 });
    expect(h.recommendations.map((r) => r.replicas)).toEqual([2, 2]);
  });

  it('stabilizes scale-up when a window is set', () => {
    const h = newScalingHistory();
    const up = effectiveRules({ stabilizationWindowSeconds: 60 }, DEFAULT_SCALE_UP);
    stabilizeRecommendation(h, T0, 2, 2, up, DEFAULT_SCALE_DOWN);
    expect(stabilizeRecommendation(h, T0 + 10_000, 2, 6, up, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 2, reason: 'ScaleUpStabilized' });
  });

  it('limits by rate and bounds with the reason', () => {
    const h = newScalingHistory();
    expect(limitScaling(h, T0, 2, 20, 1, 10, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 6, reason: 'ScaleUpLimit' });
    expect(limitScaling(h, T0, 8, 20, 1, 10, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 10, reason: 'TooManyReplicas' });
    expect(limitScaling(h, T0, 8, 1, 3, 10, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 3, reason: 'TooFewReplicas' });
    expect(limitScaling(h, T0, 8, 4, 1, 10, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)).toMatchObject({ replicas: 4, reason: 'DesiredWithinRange' });
  });
});
