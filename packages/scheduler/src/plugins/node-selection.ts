/**
 * Node selector and node affinity matching shared by the NodeAffinity plugin and topology spread
 * (which counts only nodes the pod could go to).
 */
import { nodeSelectorTermMatches } from '@flotilla/api';
import type { NodeInfo } from '../node-info.js';
import type { NodeSelectorTerm, Pod } from '../types.js';

/** True when the node satisfies every expression of the term (an empty term matches nothing). */
export function matchesTerm(term: NodeSelectorTerm, node: NodeInfo): boolean {
  return nodeSelectorTermMatches(term, node.labels, node.name);
}

/** nodeSelector and required node affinity (terms are ORed). */
export function podMatchesNodeSelection(pod: Pod, node: NodeInfo): boolean {
  const sel = pod.spec?.nodeSelector;
  if (sel) for (const [k, v] of Object.entries(sel)) if (node.labels[k] !== v) return false;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && terms.length > 0 && !terms.some((t) => matchesTerm(t, node))) return false;
  return true;
}
