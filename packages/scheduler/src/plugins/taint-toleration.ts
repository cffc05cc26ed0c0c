/**
 * TaintToleration: NoSchedule and NoExecute taints the pod does not tolerate rule the node out;
 * untolerated PreferNoSchedule taints lower its score.
 */
import type { FilterPlugin, ScorePlugin } from '../framework.js';
import { normalizeScores } from '../framework.js';
import type { Taint, Toleration } from '../types.js';

/** True when the toleration covers the taint (Kubernetes' ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** True when some toleration covers the taint. */
export function isTolerated(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}

/** The TaintToleration filter. */
export const taintTolerationFilter: FilterPlugin = {
  name: 'TaintToleration',
  filter: (state, node) => {
    const tolerations = state.pod.pod.spec?.tolerations;
    for (const taint of node.taints) {
      if (taint.effect === 'PreferNoSchedule') continue;
      if (!isTolerated(tolerations, taint)) return [`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`];
    }
    return undefined;
  },
};

/** The TaintToleration score: fewer untolerated PreferNoSchedule taints is better. */
export const taintTolerationScore: ScorePlugin = {
  name: 'TaintToleration',
  weight: 3,
  isRelevant: (state) => {
    for (const n of state.allNodes) for (const t of n.taints) if (t.effect === 'PreferNoSchedule') return true;
    return false;
  },
  score: (state, node) => {
    const tolerations = (state.pod.pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    let n = 0;
    for (const taint of node.taints) if (taint.effect === 'PreferNoSchedule' && !isTolerated(tolerations, taint)) n++;
    return n;
  },
  normalize: (_state, scores) => normalizeScores(scores, true),
};
