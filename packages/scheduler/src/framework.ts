/**
 * The scheduling framework: filter plugins decide where a pod may go, score plugins rank those
 * nodes; one cycle runs them over a share of the nodes (kube-scheduler's percentageOfNodesToScore)
 * starting where the previous cycle stopped, and picks the best node, breaking ties at random.
 */
import type { NodeInfo, PodInfo } from './node-info.js';

/** Per-cycle scratch space plugins share (precomputations of PreFilter/PreScore). */
export class CycleState {
  private readonly data = new Map<string, unknown>();

  constructor(
    readonly pod: PodInfo,
    /** Every node with a Node object (the snapshot of this cycle). */
    readonly allNodes: readonly NodeInfo[],
  ) {}

  /** Reads a plugin's value. */
  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Stores a plugin's value. */
  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }
}

/** A filter: returns the reasons the node does not fit (empty = fits). */
export interface FilterPlugin {
  readonly name: string;
  /** False when the plugin cannot reject any node for this pod (it is skipped this cycle). */
  isRelevant?(state: CycleState): boolean;
  /** Computes what `filter` needs once per cycle; may return reasons that rule out every node. */
  preFilter?(state: CycleState): string | undefined;
  filter(state: CycleState, node: NodeInfo): string[] | undefined;
}

/** A score: higher is better; `normalize` maps raw scores to 0..100. */
export interface ScorePlugin {
  readonly name: string;
  readonly weight: number;
  /** False when the plugin would give every node the same score for this pod (it is skipped). */
  isRelevant?(state: CycleState): boolean;
  preScore?(state: CycleState, feasible: readonly NodeInfo[]): void;
  score(state: CycleState, node: NodeInfo): number;
  /** Rescales in place to 0..100 (default: raw scores are already 0..100). */
  normalize?(state: CycleState, scores: number[]): void;
}

/**
 * A plugin that acts once a node is chosen (kube-scheduler's Reserve and PreBind extension points):
 * `reserve` runs synchronously in the scheduling cycle so the next cycles see its decision,
 * `unreserve` undoes it when binding fails, `preBind` runs (asynchronously) before the Binding call.
 */
export interface BindPlugin {
  readonly name: string;
  reserve?(state: CycleState, nodeName: string): void;
  unreserve?(state: CycleState, nodeName: string): void;
  /** A rejection fails the binding; the pod is retried with back-off. */
  preBind?(state: CycleState, nodeName: string): Promise<void>;
}

/** The result of one scheduling cycle. */
export type ScheduleResult =
  | { kind: 'scheduled'; node: NodeInfo; evaluated: number; feasible: number; state: CycleState }
  | { kind: 'unschedulable'; message: string; reasons: Map<string, number> };

/** How many feasible nodes to look for before scoring (adaptive, like kube-scheduler). */
export function numFeasibleNodesToFind(total: number, percentage = 0): number {
  const minFeasible = 100;
  if (total < minFeasible) return total;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(total / 125));
  const n = Math.floor((total * pct) / 100);
  return Math.max(minFeasible, n);
}

/** Builds `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {a: b}.` */
export function fitErrorMessage(total: number, reasons: ReadonlyMap<string, number>, preFilterReason?: string): string {
  if (preFilterReason) return `0/${total} nodes are available: ${preFilterReason}.`;
  if (total === 0) return 'no nodes available to schedule pods';
  const parts = [...reasons.entries()].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}

/** The plugins of one profile. */
export interface Profile {
  filters: readonly FilterPlugin[];
  scores: readonly ScorePlugin[];
  /** Reserve/PreBind plugins, in order. */
  binds?: readonly BindPlugin[];
  percentageOfNodesToScore?: number;
}

/** Runs scheduling cycles over a profile. Keeps the round-robin start index between cycles. */
export class Framework {
  private nextStart = 0;

  constructor(
    private readonly profile: Profile,
    private readonly random: () => number = Math.random,
  ) {}

  /** One cycle for `pod` over `nodes`. */
  schedule(pod: PodInfo, nodes: readonly NodeInfo[]): ScheduleResult {
    const withNode = nodes.every((n) => n.node !== undefined) ? nodes : nodes.filter((n) => n.node !== undefined);
    const state = new CycleState(pod, withNode);
    const total = withNode.length;
    const filters = this.profile.filters.filter((f) => f.isRelevant?.(state) ?? true);
    for (const f of filters) {
      const reason = f.preFilter?.(state);
      if (reason) return { kind: 'unschedulable', message: fitErrorMessage(total, new Map(), reason), reasons: new Map([[reason, total]]) };
    }
    const want = numFeasibleNodesToFind(total, this.profile.percentageOfNodesToScore);
    const feasible: NodeInfo[] = [];
    const reasons = new Map<string, number>();
    let evaluated = 0;
    const start = total === 0 ? 0 : this.nextStart % total;
    for (let i = 0; i < total && feasible.length < want; i++) {
      const node = withNode[(start + i) % total]!;
      evaluated++;
      let failed: string[] | undefined;
      for (const f of filters) {
        failed = f.filter(state, node);
        if (failed && failed.length > 0) break;
      }
      if (failed && failed.length > 0) for (const r of failed) reasons.set(r, (reasons.get(r) ?? 0) + 1);
      else feasible.push(node);
    }
    if (total > 0) this.nextStart = (start + evaluated) % total;
    if (feasible.length === 0) return { kind: 'unschedulable', message: fitErrorMessage(total, reasons), reasons };
    if (feasible.length === 1) return { kind: 'scheduled', node: feasible[0]!, evaluated, feasible: 1, state };
    const totals = new Array<number>(feasible.length).fill(0);
    for (const s of this.profile.scores) {
      if (s.isRelevant && !s.isRelevant(state)) continue;
      s.preScore?.(state, feasible);
      const scores = feasible.map((n) => s.score(state, n));
      s.normalize?.(state, scores);
      for (let i = 0; i < scores.length; i++) totals[i]! += scores[i]! * s.weight;
    }
    // Highest total wins; ties are broken uniformly at random (reservoir sampling).
    let best = 0;
    let ties = 1;
    for (let i = 1; i < totals.length; i++) {
      const d = totals[i]! - totals[best]!;
      if (d > 1e-9) {
        best = i;
        ties = 1;
      } else if (Math.abs(d) <= 1e-9) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return { kind: 'scheduled', node: feasible[best]!, evaluated, feasible: feasible.length, state };
  }

  /** Runs the Reserve plugins for the chosen node (before the next cycle starts). */
  reserve(state: CycleState, nodeName: string): void {
    for (const p of this.profile.binds ?? []) p.reserve?.(state, nodeName);
  }

  /** Undoes `reserve` (in reverse order) after a failed binding. */
  unreserve(state: CycleState, nodeName: string): void {
    const binds = this.profile.binds ?? [];
    for (let i = binds.length - 1; i >= 0; i--) binds[i]!.unreserve?.(state, nodeName);
  }

  /** Runs the PreBind plugins one after another. */
  async preBind(state: CycleState, nodeName: string): Promise<void> {
    for (const p of this.profile.binds ?? []) await p.preBind?.(state, nodeName);
  }
}

/** Rescales scores so the max is 100 (or reverses, so the min raw score gets 100). */
export function normalizeScores(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) scores[i] = reverse ? 100 : 0;
    else scores[i] = reverse ? 100 - (100 * scores[i]!) / max : (100 * scores[i]!) / max;
  }
}
