/**
 * NodeAffinity: nodeSelector and required node affinity filter; preferred node affinity scores.
 */
import type { FilterPlugin, ScorePlugin } from '../framework.js';
import { normalizeScores } from '../framework.js';
import { matchesTerm, podMatchesNodeSelection } from './node-selection.js';

/** The NodeAffinity filter. */
export const nodeAffinityFilter: FilterPlugin = {
  name: 'NodeAffinity',
  filter: (state, node) => (podMatchesNodeSelection(state.pod.pod, node) ? undefined : ["node(s) didn't match Pod's node affinity/selector"]),
};

/** The NodeAffinity score: summed weights of matching preferred terms, normalized. */
export const nodeAffinityScore: ScorePlugin = {
  name: 'NodeAffinity',
  weight: 2,
  isRelevant: (state) => (state.pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).length > 0,
  score: (state, node) => {
    let s = 0;
    for (const p of state.pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) if (matchesTerm(p.preference, node)) s += p.weight;
    return s;
  },
  normalize: (_state, scores) => normalizeScores(scores, false),
};
