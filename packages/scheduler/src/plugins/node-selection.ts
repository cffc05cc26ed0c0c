/**
 * Node selector and node affinity matching shared by the NodeAffinity plugin and topology spread
 * (which counts only nodes the pod could go to).
 */
import type { NodeInfo } from '../node-info.js';
import type { NodeSelectorRequirement, NodeSelectorTerm, Pod } from '../types.js';

function matchRequirement(r: NodeSelectorRequirement, value: string | undefined): boolean {
  switch (r.operator) {
    case 'In':
      return value !== undefined && (r.values ?? []).includes(value);
    case 'NotIn':
      return value === undefined || !(r.values ?? []).includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined) return false;
      const v = Number(value);
      const bound = Number((r.values ?? [])[0]);
      if (!Number.isInteger(v) || !Number.isInteger(bound)) return false;
      return r.operator === 'Gt' ? v > bound : v < bound;
    }
    default:
      return false;
  }
}

/** True when the node satisfies every expression of the term (an empty term matches nothing). */
export function matchesTerm(term: NodeSelectorTerm, node: NodeInfo): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const e of exprs) if (!matchRequirement(e, node.labels[e.key])) return false;
  for (const f of fields) if (!matchRequirement(f, f.key === 'metadata.name' ? node.name : undefined)) return false;
  return true;
}

/** nodeSelector and required node affinity (terms are ORed). */
export function podMatchesNodeSelection(pod: Pod, node: NodeInfo): boolean {
  const sel = pod.spec?.nodeSelector;
  if (sel) for (const [k, v] of Object.entries(sel)) if (node.labels[k] !== v) return false;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && terms.length > 0 && !terms.some((t) => matchesTerm(t, node))) return false;
  return true;
}
