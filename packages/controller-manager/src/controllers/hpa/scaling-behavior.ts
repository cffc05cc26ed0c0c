/**
 * autoscaling/v2 `spec.behavior` (upstream horizontal.go: stabilizeRecommendationWithBehaviors,
 * convertDesiredReplicasWithBehaviorRate): a stabilization window per direction over past
 * recommendations, then rate limits from the policies over recent scale events, then the
 * min/max bounds. Pure functions over a per-HPA {@link ScalingHistory} the controller keeps in memory.
 */

/** One scaling policy. */
export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** The rules of one direction (`spec.behavior.scaleUp` / `scaleDown`). */
export interface ScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled';
  policies?: ScalingPolicy[];
  /** Relative tolerance (a quantity, `0.05`); default 0.1. */
  tolerance?: string;
}

/** `spec.behavior`. */
export interface ScalingBehavior {
  scaleUp?: ScalingRules;
  scaleDown?: ScalingRules;
}

/** Rules with every field set. */
export interface EffectiveRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

/** Kubernetes' defaults: up — no window, +4 pods or +100 % per 15 s, whichever is more. */
export const DEFAULT_SCALE_UP: EffectiveRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};

/** Kubernetes' defaults: down — a 300 s window, then anything down to the minimum per 15 s. */
export const DEFAULT_SCALE_DOWN: EffectiveRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

/** Fills unset fields of `rules` from `defaults` (as the API server's defaulting does). */
export function effectiveRules(rules: ScalingRules | undefined, defaults: EffectiveRules): EffectiveRules {
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: rules?.selectPolicy ?? defaults.selectPolicy,
    policies: rules?.policies && rules.policies.length > 0 ? rules.policies : defaults.policies,
  };
}

/** What the controller remembers per HPA between syncs. */
export interface ScalingHistory {
  /** Unstabilized recommendations (ms, replicas). */
  recommendations: { at: number; replicas: number }[];
  scaleUpEvents: { at: number; change: number }[];
  scaleDownEvents: { at: number; change: number }[];
}

/** An empty history. */
export function newScalingHistory(): ScalingHistory {
  return { recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };
}

/** A decision and the condition reason explaining it. */
export interface Decision {
  replicas: number;
  reason: string;
  message: string;
}

/**
 * Stabilizes `desired`: not above the lowest recommendation of the scale-up window, not below the
 * highest of the scale-down window (bounded by `current`). Records `desired` in the history.
 */
export function stabilizeRecommendation(history: ScalingHistory, now: number, current: number, desired: number, up: EffectiveRules, down: EffectiveRules): Decision {
  const upCutoff = now - up.stabilizationWindowSeconds * 1000;
  const downCutoff = now - down.stabilizationWindowSeconds * 1000;
  let upRecommendation = desired;
  let downRecommendation = desired;
  for (const rec of history.recommendations) {
    if (rec.at > upCutoff) upRecommendation = Math.min(rec.replicas, upRecommendation);
    if (rec.at > downCutoff) downRecommendation = Math.max(rec.replicas, downRecommendation);
  }
  let replicas = current;
  if (replicas < upRecommendation) replicas = upRecommendation;
  if (replicas > downRecommendation) replicas = downRecommendation;
  history.recommendations = history.recommendations.filter((r) => r.at >= upCutoff || r.at >= downCutoff);
  history.recommendations.push({ at: now, replicas: desired });
  if (replicas === desired) return { replicas, reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
  return desired >= current
    ? { replicas, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' }
    : { replicas, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
}

function changeInPeriod(events: readonly { at: number; change: number }[], now: number, periodSeconds: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.reduce((sum, e) => (e.at > cutoff ? sum + e.change : sum), 0);
}

/** The most replicas the scale-up rules allow now (upstream calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimit(history: ScalingHistory, now: number, current: number, rules: EffectiveRules): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Infinity : -Infinity;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(history.scaleUpEvents, now, p.periodSeconds) + changeInPeriod(history.scaleDownEvents, now, p.periodSeconds);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/** The fewest replicas the scale-down rules allow now (upstream calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimit(history: ScalingHistory, now: number, current: number, rules: EffectiveRules): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // For scale-down "Max" means the policy allowing the biggest change, i.e. the lowest count.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? -Infinity : Infinity;
  for (const p of rules.policies) {
    const start = current - changeInPeriod(history.scaleUpEvents, now, p.periodSeconds) + changeInPeriod(history.scaleDownEvents, now, p.periodSeconds);
    const proposed = p.type === 'Pods' ? start - p.value : Math.floor(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/** Applies the rate limits and the [min, max] bounds to a stabilized recommendation. */
export function limitScaling(history: ScalingHistory, now: number, current: number, desired: number, min: number, max: number, up: EffectiveRules, down: EffectiveRules): Decision {
  if (desired > current) {
    const limit = Math.max(current, scaleUpLimit(history, now, current, up));
    const allowed = Math.min(max, limit);
    if (desired > allowed) {
      return limit < max
        ? { replicas: allowed, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' }
        : { replicas: allowed, reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
    }
  } else if (desired < current) {
    const limit = Math.min(current, scaleDownLimit(history, now, current, down));
    const allowed = Math.max(min, limit);
    if (desired < allowed) {
      return limit > min
        ? { replicas: allowed, reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' }
        : { replicas: allowed, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
    }
  }
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

/** Records a completed scale from `from` to `to`; forgets events older than every policy period. */
export function recordScaleEvent(history: ScalingHistory, now: number, from: number, to: number, up: EffectiveRules, down: EffectiveRules): void {
  const longest = (r: EffectiveRules) => Math.max(0, ...r.policies.map((p) => p.periodSeconds)) * 1000;
  history.scaleUpEvents = history.scaleUpEvents.filter((e) => e.at > now - longest(up));
  history.scaleDownEvents = history.scaleDownEvents.filter((e) => e.at > now - longest(down));
  if (to > from) history.scaleUpEvents.push({ at: now, change: to - from });
  else if (to < from) history.scaleDownEvents.push({ at: now, change: from - to });
}
