/**
 * Which nodes a DaemonSet's pod belongs on (Kubernetes' NodeShouldRunDaemonPod): the node must match
 * the template's nodeName, nodeSelector and required node affinity, and the pod — with the
 * tolerations every daemon pod gets — must tolerate the node's NoSchedule and NoExecute taints. Also
 * the node affinity that pins a daemon pod to its node, and how to read that node back.
 */
import { NODE_NAME_FIELD, nodeSelectorTermMatches, tolerates, type KubeObject } from '@flotilla/api';

/** A node taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/** A pod toleration. */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** One node selector requirement (`matchExpressions` on labels, `matchFields` on metadata.name). */
export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

/** A node selector term: all its requirements must hold. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** A pod's affinity (only node affinity is read). */
export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** The pod spec fields placement reads. */
export interface PlacementSpec {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  hostNetwork?: boolean;
  [k: string]: unknown;
}

/** The node fields placement reads. */
export interface NodeView extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean; [k: string]: unknown };
}

export { NODE_NAME_FIELD, tolerates };


/** The tolerations Kubernetes adds to every daemon pod (and network-unavailable for host-network pods). */
export function daemonPodTolerations(spec: PlacementSpec): Toleration[] {
  const added: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (spec.hostNetwork) added.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  const out = [...(spec.tolerations ?? [])];
  // A toleration the template already has for the same key and effect wins.
  for (const t of added) if (!out.some((x) => x.key === t.key && x.effect === t.effect)) out.push(t);
  return out;
}

/** True when the node matches the pod's nodeSelector and required node affinity (terms are ORed). */
export function matchesNodeSelection(spec: PlacementSpec, node: NodeView): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => nodeSelectorTermMatches(t, node.metadata.labels ?? {}, node.metadata.name))) return false;
  return true;
}

/** Whether a daemon pod should be created on the node, and whether one already there may stay. */
export interface Eligibility {
  shouldRun: boolean;
  shouldContinueRunning: boolean;
}

/**
 * Where a DaemonSet with this pod template spec belongs: on nodes it selects whose NoSchedule and
 * NoExecute taints it tolerates; a pod stays on a selected node while it tolerates the NoExecute taints.
 */
export function nodeShouldRunDaemonPod(node: NodeView, templateSpec: PlacementSpec | undefined): Eligibility {
  const spec = templateSpec ?? {};
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return { shouldRun: false, shouldContinueRunning: false };
  if (!matchesNodeSelection(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(spec);
  const untolerated = (node.spec?.taints ?? []).filter((taint) => (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') && !tolerations.some((t) => tolerates(t, taint)));
  return { shouldRun: untolerated.length === 0, shouldContinueRunning: !untolerated.some((t) => t.effect === 'NoExecute') };
}

/**
 * The affinity of a daemon pod for `nodeName`: its required node selector is replaced by one term
 * matching the node's name (the controller has already checked the node matches the template).
 */
export function nodeNameAffinity(affinity: Affinity | undefined, nodeName: string): Affinity {
  const required = { nodeSelectorTerms: [{ matchFields: [{ key: NODE_NAME_FIELD, operator: 'In', values: [nodeName] }] }] };
  const out = structuredClone(affinity ?? {});
  out.nodeAffinity = { ...(out.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: required };
  return out;
}

/** The node a daemon pod is on or pinned to (spec.nodeName, else its `metadata.name In [node]` affinity). */
export function targetNodeName(spec: PlacementSpec | undefined): string | undefined {
  if (spec?.nodeName) return spec.nodeName;
  for (const term of spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) {
      if (f.key === NODE_NAME_FIELD && f.operator === 'In') return f.values?.length === 1 ? f.values[0] : undefined;
    }
  }
  return undefined;
}
