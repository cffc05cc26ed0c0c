/**
 * PodTopologySpread: `topologySpreadConstraints` with whenUnsatisfiable DoNotSchedule filter nodes
 * by skew (matching pods in the node's domain + this pod - the least loaded domain <= maxSkew);
 * ScheduleAnyway constraints score emptier domains higher.
 */
import { labelSelectorFromObject, type LabelSelector } from '@flotilla/api';
import type { CycleState, FilterPlugin, ScorePlugin } from '../framework.js';
import { normalizeScores } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import type { TopologySpreadConstraint } from '../types.js';
import { podMatchesNodeSelection } from './node-selection.js';
import { isTolerated } from './taint-toleration.js';

interface Compiled {
  c: TopologySpreadConstraint;
  selector: LabelSelector;
  counts: Map<string, number>;
  min: number;
  selfMatch: number;
}

function compile(state: CycleState, hard: boolean): Compiled[] {
  const pod = state.pod;
  const constraints = (pod.pod.spec?.topologySpreadConstraints ?? []).filter((c) => (c.whenUnsatisfiable === 'DoNotSchedule') === hard);
  return constraints.map((c) => {
    const selObj = structuredClone(c.labelSelector ?? {});
    for (const k of c.matchLabelKeys ?? []) {
      const v = pod.labels[k];
      if (v !== undefined) selObj.matchLabels = { ...(selObj.matchLabels ?? {}), [k]: v };
    }
    const selector = labelSelectorFromObject(selObj);
    const counts = new Map<string, number>();
    for (const n of state.allNodes) {
      const v = n.labels[c.topologyKey];
      if (v === undefined) continue;
      if ((c.nodeAffinityPolicy ?? 'Honor') === 'Honor' && !podMatchesNodeSelection(pod.pod, n)) continue;
      if (c.nodeTaintsPolicy === 'Honor' && n.taints.some((t) => t.effect !== 'PreferNoSchedule' && !isTolerated(pod.pod.spec?.tolerations, t))) continue;
      let count = counts.get(v) ?? 0;
      for (const p of n.pods.values()) if (p.namespace === pod.namespace && p.uid !== pod.uid && !p.pod.metadata.deletionTimestamp && selector.matches(p.labels)) count++;
      counts.set(v, count);
    }
    let min = counts.size === 0 ? 0 : Math.min(...counts.values());
    if (c.minDomains !== undefined && counts.size < c.minDomains) min = 0;
    return { c, selector, counts, min, selfMatch: selector.matches(pod.labels) ? 1 : 0 };
  });
}

const KEY = 'PodTopologySpread';

/** The topology spread filter (DoNotSchedule constraints). */
export const podTopologySpreadFilter: FilterPlugin = {
  name: KEY,
  isRelevant: (state) => (state.pod.pod.spec?.topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable === 'DoNotSchedule'),
  preFilter: (state) => {
    state.write(KEY, compile(state, true));
    return undefined;
  },
  filter: (state, node: NodeInfo) => {
    const compiled = state.read<Compiled[]>(KEY)!;
    for (const k of compiled) {
      const v = node.labels[k.c.topologyKey];
      if (v === undefined) return ["node(s) didn't match pod topology spread constraints (missing required label)"];
      const skew = (k.counts.get(v) ?? 0) + k.selfMatch - k.min;
      if (skew > k.c.maxSkew) return ["node(s) didn't match pod topology spread constraints"];
    }
    return undefined;
  },
};

/** The topology spread score (ScheduleAnyway constraints): fewer matching pods in the domain is better. */
export const podTopologySpreadScore: ScorePlugin = {
  name: KEY,
  weight: 2,
  isRelevant: (state) => (state.pod.pod.spec?.topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable !== 'DoNotSchedule'),
  preScore: (state) => state.write(`${KEY}/score`, compile(state, false)),
  score: (state, node) => {
    let s = 0;
    for (const k of state.read<Compiled[]>(`${KEY}/score`)!) {
      const v = node.labels[k.c.topologyKey];
      s += v === undefined ? 0 : (k.counts.get(v) ?? 0);
    }
    return s;
  },
  normalize: (_state, scores) => normalizeScores(scores, true),
};
