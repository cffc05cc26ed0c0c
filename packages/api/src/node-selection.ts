/**
 * Node selector terms and taint tolerations, as Kubernetes evaluates them — shared by the scheduler,
 * the DaemonSet controller and anyone else deciding whether a pod belongs on a node.
 */

/** One requirement of a node selector term (label expression or field). */
export interface NodeSelectorRequirementLike {
  key: string;
  operator: string;
  values?: readonly string[];
}

/** A node selector term: its requirements are ANDed; an empty term matches nothing. */
export interface NodeSelectorTermLike {
  matchExpressions?: readonly NodeSelectorRequirementLike[];
  matchFields?: readonly NodeSelectorRequirementLike[];
}

/** A taint on a node. */
export interface TaintLike {
  key: string;
  value?: string;
  effect: string;
}

/** A pod's toleration. */
export interface TolerationLike {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** The field key of a node's name in node selector terms. */
export const NODE_NAME_FIELD = 'metadata.name';

/** True when a label (or field) value satisfies the requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt). */
export function requirementMatches(r: NodeSelectorRequirementLike, value: string | undefined): boolean {
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

/** True when a node (its labels and name) satisfies every requirement of the term. */
export function nodeSelectorTermMatches(term: NodeSelectorTermLike, labels: Readonly<Record<string, string>>, nodeName: string | undefined): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const e of exprs) if (!requirementMatches(e, Object.prototype.hasOwnProperty.call(labels, e.key) ? labels[e.key] : undefined)) return false;
  for (const f of fields) if (!requirementMatches(f, f.key === NODE_NAME_FIELD ? nodeName : undefined)) return false;
  return true;
}

/** True when the toleration covers the taint (Kubernetes' ToleratesTaint). */
export function tolerates(t: TolerationLike, taint: TaintLike): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** True when some toleration covers the taint. */
export function isTolerated(tolerations: readonly TolerationLike[] | undefined, taint: TaintLike): boolean {
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}
