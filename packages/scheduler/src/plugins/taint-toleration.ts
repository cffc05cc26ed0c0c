/**
 * TaintToleration: NoSchedule and NoExecute taints the pod does not tolerate rule the node out;
 * untolerated PreferNoSchedule taints lower its score.
 */
import type { FilterPlugin, ScorePlugin } from '../framework.js';
import { normalizeScores } from '../framework.js';
import { isTolerated, tolerates } from '@flotilla/api';

export { isTolerated, tolerates };

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
