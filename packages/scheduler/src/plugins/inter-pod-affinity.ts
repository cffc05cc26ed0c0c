/**
 * InterPodAffinity: required pod affinity / anti-affinity by topology domain (the incoming pod's
 * terms and existing pods' anti-affinity against it) filter nodes; preferred terms score them.
 */
import type { CycleState, FilterPlugin, ScorePlugin } from '../framework.js';
import { termMatches, type AffinityTerm, type NodeInfo, type PodInfo } from '../node-info.js';

interface AffinityState {
  /** topologyKey -> values where an existing pod's anti-affinity forbids the incoming pod. */
  existingForbidden: Map<string, Set<string>>;
  /** Per incoming anti-affinity term: values holding a matching pod. */
  antiForbidden: Set<string>[];
  /** Per incoming affinity term: values holding a matching pod. */
  affinitySatisfied: Set<string>[];
  /** No pod in the cluster matches any affinity term, and the pod matches its own terms. */
  firstOfGroup: boolean;
}

const KEY = 'InterPodAffinity';

function forEachPod(nodes: readonly NodeInfo[], fn: (node: NodeInfo, p: PodInfo) => void): void {
  for (const n of nodes) for (const p of n.pods.values()) fn(n, p);
}

function compute(state: CycleState): AffinityState {
  const pod = state.pod;
  const existingForbidden = new Map<string, Set<string>>();
  for (const n of state.allNodes) {
    if (n.podsWithRequiredAntiAffinity.size === 0) continue;
    for (const p of n.podsWithRequiredAntiAffinity) {
      for (const t of p.requiredAntiAffinity) {
        if (!termMatches(t, pod)) continue;
        const v = n.labels[t.topologyKey];
        if (v === undefined) continue;
        let set = existingForbidden.get(t.topologyKey);
        if (!set) existingForbidden.set(t.topologyKey, (set = new Set()));
        set.add(v);
      }
    }
  }
  const antiForbidden = pod.requiredAntiAffinity.map(() => new Set<string>());
  const affinitySatisfied = pod.requiredAffinity.map(() => new Set<string>());
  let anyAffinityMatch = false;
  if (pod.requiredAntiAffinity.length > 0 || pod.requiredAffinity.length > 0) {
    forEachPod(state.allNodes, (n, p) => {
      if (p.uid === pod.uid) return;
      pod.requiredAntiAffinity.forEach((t, i) => {
        const v = n.labels[t.topologyKey];
        if (v !== undefined && termMatches(t, p)) antiForbidden[i]!.add(v);
      });
      pod.requiredAffinity.forEach((t, i) => {
        if (!termMatches(t, p)) return;
        anyAffinityMatch = true;
        const v = n.labels[t.topologyKey];
        if (v !== undefined) affinitySatisfied[i]!.add(v);
      });
    });
  }
  const selfMatches = pod.requiredAffinity.every((t) => termMatches(t, pod));
  return { existingForbidden, antiForbidden, affinitySatisfied, firstOfGroup: !anyAffinityMatch && selfMatches };
}

function anyNode(state: CycleState, pred: (n: NodeInfo) => boolean): boolean {
  for (const n of state.allNodes) if (pred(n)) return true;
  return false;
}

/** The InterPodAffinity filter. */
export const interPodAffinityFilter: FilterPlugin = {
  name: KEY,
  isRelevant: (state) => state.pod.requiredAffinity.length > 0 || state.pod.requiredAntiAffinity.length > 0 || anyNode(state, (n) => n.podsWithRequiredAntiAffinity.size > 0),
  preFilter: (state) => {
    state.write(KEY, compute(state));
    return undefined;
  },
  filter: (state, node) => {
    const s = state.read<AffinityState>(KEY)!;
    for (const [key, values] of s.existingForbidden) {
      const v = node.labels[key];
      if (v !== undefined && values.has(v)) return ["node(s) didn't satisfy existing pods anti-affinity rules"];
    }
    const pod = state.pod;
    for (let i = 0; i < pod.requiredAntiAffinity.length; i++) {
      const v = node.labels[pod.requiredAntiAffinity[i]!.topologyKey];
      if (v !== undefined && s.antiForbidden[i]!.has(v)) return ["node(s) didn't match pod anti-affinity rules"];
    }
    for (let i = 0; i < pod.requiredAffinity.length; i++) {
      const v = node.labels[pod.requiredAffinity[i]!.topologyKey];
      if (v === undefined) return ["node(s) didn't match pod affinity rules"];
      if (!s.affinitySatisfied[i]!.has(v) && !s.firstOfGroup) return ["node(s) didn't match pod affinity rules"];
    }
    return undefined;
  },
};

/** The InterPodAffinity score: preferred terms of the pod and, symmetrically, of existing pods. */
export const interPodAffinityScore: ScorePlugin = {
  name: KEY,
  weight: 2,
  isRelevant: (state) => state.pod.preferredAffinity.length > 0 || state.pod.preferredAntiAffinity.length > 0 || anyNode(state, (n) => n.podsWithAffinity.size > 0),
  preScore: (state) => {
    const pod = state.pod;
    const byDomain = new Map<string, number>();
    const add = (key: string, value: string | undefined, w: number) => {
      if (value === undefined) return;
      const k = `${key}\u0000${value}`;
      byDomain.set(k, (byDomain.get(k) ?? 0) + w);
    };
    const incoming: [AffinityTerm, number][] = [...pod.preferredAffinity.map((t) => [t, t.weight] as [AffinityTerm, number]), ...pod.preferredAntiAffinity.map((t) => [t, -t.weight] as [AffinityTerm, number])];
    const keys = new Set<string>(incoming.map(([t]) => t.topologyKey));
    if (incoming.length > 0) {
      forEachPod(state.allNodes, (n, p) => {
        for (const [t, w] of incoming) if (termMatches(t, p)) add(t.topologyKey, n.labels[t.topologyKey], w);
      });
    }
    for (const n of state.allNodes) {
      if (n.podsWithAffinity.size === 0) continue;
      for (const p of n.podsWithAffinity) {
        for (const t of p.preferredAffinity) if (termMatches(t, pod)) { add(t.topologyKey, n.labels[t.topologyKey], t.weight); keys.add(t.topologyKey); }
        for (const t of p.preferredAntiAffinity) if (termMatches(t, pod)) { add(t.topologyKey, n.labels[t.topologyKey], -t.weight); keys.add(t.topologyKey); }
      }
    }
    state.write(`${KEY}/score`, { byDomain, keys: [...keys] });
  },
  score: (state, node) => {
    const s = state.read<{ byDomain: Map<string, number>; keys: string[] }>(`${KEY}/score`)!;
    let total = 0;
    for (const k of s.keys) {
      const v = node.labels[k];
      if (v !== undefined) total += s.byDomain.get(`${k}\u0000${v}`) ?? 0;
    }
    return total;
  },
  normalize: (_state, scores) => {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++) scores[i] = max === min ? 0 : (100 * (scores[i]! - min)) / (max - min);
  },
};
