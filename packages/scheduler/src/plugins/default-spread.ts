/**
 * Default spreading: pods of the same owner (ReplicaSet, StatefulSet, Job...) prefer nodes, and
 * zones, with fewer of their siblings (like kube-scheduler's SelectorSpread with zone weighting 2/3).
 */
import type { ScorePlugin } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import { ZONE_LABEL } from '../types.js';

const KEY = 'DefaultSpread';
const ZONE_WEIGHT = 2 / 3;

interface SpreadState {
  owner: string | undefined;
  zoneCounts: Map<string, number>;
  maxNode: number;
  maxZone: number;
}

/** The default spreading score. */
export const defaultSpreadScore: ScorePlugin = {
  name: KEY,
  weight: 2,
  isRelevant: (state) => state.pod.ownerUid !== undefined,
  preScore: (state, feasible: readonly NodeInfo[]) => {
    const owner = state.pod.ownerUid;
    const zoneCounts = new Map<string, number>();
    let maxNode = 0;
    if (owner) {
      for (const n of state.allNodes) {
        const c = n.ownerCounts.get(owner) ?? 0;
        const z = n.labels[ZONE_LABEL];
        if (z !== undefined) zoneCounts.set(z, (zoneCounts.get(z) ?? 0) + c);
      }
      for (const n of feasible) maxNode = Math.max(maxNode, n.ownerCounts.get(owner) ?? 0);
    }
    const maxZone = zoneCounts.size === 0 ? 0 : Math.max(...zoneCounts.values());
    state.write(KEY, { owner, zoneCounts, maxNode, maxZone } satisfies SpreadState);
  },
  score: (state, node) => {
    const s = state.read<SpreadState>(KEY)!;
    if (!s.owner) return 0;
    const c = node.ownerCounts.get(s.owner) ?? 0;
    const nodeScore = s.maxNode === 0 ? 100 : (100 * (s.maxNode - c)) / s.maxNode;
    const z = node.labels[ZONE_LABEL];
    if (z === undefined || s.zoneCounts.size === 0) return nodeScore;
    const zc = s.zoneCounts.get(z) ?? 0;
    const zoneScore = s.maxZone === 0 ? 100 : (100 * (s.maxZone - zc)) / s.maxZone;
    return nodeScore * (1 - ZONE_WEIGHT) + zoneScore * ZONE_WEIGHT;
  },
};
