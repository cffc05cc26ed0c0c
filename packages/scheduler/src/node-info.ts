/**
 * Per-node aggregates the filters and scores read: allocatable, what pods on the node request,
 * used host ports, and the pods with (anti-)affinity terms. Kept incrementally by the cache.
 */
import { labelSelectorFromObject, type LabelSelector } from '@flotilla/api';
import { addResources, nonZeroRequests, podRequests, resourcesFromList, subtractResources, zeroResources, type Resources } from './resources.js';
import type { Node, Pod, PodAffinityTerm, Taint } from './types.js';

/** A compiled pod affinity term. */
export interface AffinityTerm {
  selector: LabelSelector;
  /** Namespaces the term selects pods in (empty = the pod's own namespace, set at compile time). */
  namespaces: ReadonlySet<string>;
  /** True when namespaceSelector selects every namespace (`{}`). */
  allNamespaces: boolean;
  topologyKey: string;
  weight: number;
}

/** What the scheduler precomputes once per pod. */
export interface PodInfo {
  pod: Pod;
  uid: string;
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  requests: Resources;
  nonZero: { milliCpu: number; memory: number };
  /** `protocol/hostIP/port` of every host port. */
  hostPorts: string[];
  /** UID of the controlling owner, for spreading pods of one workload. */
  ownerUid: string | undefined;
  requiredAffinity: AffinityTerm[];
  requiredAntiAffinity: AffinityTerm[];
  preferredAffinity: AffinityTerm[];
  preferredAntiAffinity: AffinityTerm[];
}

function compileTerm(t: PodAffinityTerm, namespace: string, weight: number): AffinityTerm {
  const allNamespaces = t.namespaceSelector !== undefined && Object.keys(t.namespaceSelector.matchLabels ?? {}).length === 0 && (t.namespaceSelector.matchExpressions ?? []).length === 0;
  const namespaces = new Set(t.namespaces && t.namespaces.length > 0 ? t.namespaces : [namespace]);
  return { selector: labelSelectorFromObject(t.labelSelector ?? null), namespaces, allNamespaces, topologyKey: t.topologyKey, weight };
}

/** True when `term` (of a pod in any namespace) selects `candidate`. */
export function termMatches(term: AffinityTerm, candidate: PodInfo): boolean {
  if (!term.allNamespaces && !term.namespaces.has(candidate.namespace)) return false;
  return term.selector.matches(candidate.labels);
}

/** Builds the PodInfo of a pod. */
export function podInfoOf(pod: Pod): PodInfo {
  const spec = pod.spec ?? {};
  const ns = pod.metadata.namespace ?? '';
  const requests = podRequests(spec);
  const hostPorts: string[] = [];
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      const hp = p.hostPort ?? (spec.hostNetwork ? p.containerPort : 0);
      if (hp) hostPorts.push(`${p.protocol ?? 'TCP'}/${p.hostIP || '0.0.0.0'}/${hp}`);
    }
  }
  const a = spec.affinity;
  return {
    pod,
    uid: pod.metadata.uid ?? `${ns}/${pod.metadata.name}`,
    key: `${ns}/${pod.metadata.name}`,
    namespace: ns,
    labels: pod.metadata.labels ?? {},
    requests,
    nonZero: nonZeroRequests(requests),
    hostPorts,
    ownerUid: pod.metadata.ownerReferences?.find((r) => r.controller)?.uid,
    requiredAffinity: (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileTerm(t, ns, 1)),
    requiredAntiAffinity: (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileTerm(t, ns, 1)),
    preferredAffinity: (a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileTerm(t.podAffinityTerm, ns, t.weight)),
    preferredAntiAffinity: (a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileTerm(t.podAffinityTerm, ns, t.weight)),
  };
}

/** Whether a node's Ready condition is True. */
export function isNodeReady(node: Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** One node and everything on it. */
export class NodeInfo {
  node: Node | undefined;
  readonly name: string;
  labels: Readonly<Record<string, string>> = {};
  taints: readonly Taint[] = [];
  unschedulable = false;
  ready = false;
  allocatable: Resources = zeroResources();
  readonly requested: Resources = zeroResources();
  readonly nonZeroRequested = { milliCpu: 0, memory: 0 };
  readonly pods = new Map<string, PodInfo>();
  readonly usedPorts = new Map<string, number>();
  /** Pods here that have affinity or anti-affinity terms (required or preferred). */
  readonly podsWithAffinity = new Set<PodInfo>();
  /** Pods here with required anti-affinity terms. */
  readonly podsWithRequiredAntiAffinity = new Set<PodInfo>();
  /** Count of pods per controller owner UID. */
  readonly ownerCounts = new Map<string, number>();

  constructor(name: string) {
    this.name = name;
  }

  /** Replaces the node object (allocatable, labels, taints, readiness). */
  setNode(node: Node): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    this.taints = node.spec?.taints ?? [];
    this.unschedulable = node.spec?.unschedulable === true;
    this.ready = isNodeReady(node);
    this.allocatable = resourcesFromList(node.status?.allocatable ?? node.status?.capacity);
  }

  /** Adds a pod's requests and ports. */
  addPod(p: PodInfo): void {
    if (this.pods.has(p.uid)) this.removePod(p.uid);
    this.pods.set(p.uid, p);
    addResources(this.requested, p.requests);
    this.nonZeroRequested.milliCpu += p.nonZero.milliCpu;
    this.nonZeroRequested.memory += p.nonZero.memory;
    for (const port of p.hostPorts) this.usedPorts.set(port, (this.usedPorts.get(port) ?? 0) + 1);
    if (p.requiredAffinity.length || p.requiredAntiAffinity.length || p.preferredAffinity.length || p.preferredAntiAffinity.length) this.podsWithAffinity.add(p);
    if (p.requiredAntiAffinity.length) this.podsWithRequiredAntiAffinity.add(p);
    if (p.ownerUid) this.ownerCounts.set(p.ownerUid, (this.ownerCounts.get(p.ownerUid) ?? 0) + 1);
  }

  /** Removes a pod by UID (no-op when absent). */
  removePod(uid: string): void {
    const p = this.pods.get(uid);
    if (!p) return;
    this.pods.delete(uid);
    subtractResources(this.requested, p.requests);
    this.nonZeroRequested.milliCpu -= p.nonZero.milliCpu;
    this.nonZeroRequested.memory -= p.nonZero.memory;
    for (const port of p.hostPorts) {
      const n = (this.usedPorts.get(port) ?? 1) - 1;
      if (n <= 0) this.usedPorts.delete(port);
      else this.usedPorts.set(port, n);
    }
    this.podsWithAffinity.delete(p);
    this.podsWithRequiredAntiAffinity.delete(p);
    if (p.ownerUid) {
      const n = (this.ownerCounts.get(p.ownerUid) ?? 1) - 1;
      if (n <= 0) this.ownerCounts.delete(p.ownerUid);
      else this.ownerCounts.set(p.ownerUid, n);
    }
  }

  /** True when a host port (`proto/ip/port`) conflicts with one in use (0.0.0.0 conflicts with any IP). */
  hostPortInUse(port: string): boolean {
    if (this.usedPorts.has(port)) return true;
    const [proto, ip, num] = port.split('/');
    if (ip === '0.0.0.0') {
      for (const used of this.usedPorts.keys()) {
        const [p2, , n2] = used.split('/');
        if (p2 === proto && n2 === num) return true;
      }
      return false;
    }
    return this.usedPorts.has(`${proto}/0.0.0.0/${num}`);
  }
}
