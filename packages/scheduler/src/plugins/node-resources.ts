/**
 * NodeResourcesFit: requests must fit allocatable minus what is already requested (cpu, memory,
 * ephemeral-storage, pods, extended resources). Scores: least allocated, and balanced allocation.
 */
import type { FilterPlugin, ScorePlugin } from '../framework.js';

/** The resource fit filter. */
export const nodeResourcesFitFilter: FilterPlugin = {
  name: 'NodeResourcesFit',
  filter: (state, node) => {
    const req = state.pod.requests;
    const alloc = node.allocatable;
    const used = node.requested;
    const reasons: string[] = [];
    if (used.pods + 1 > alloc.pods) reasons.push('Too many pods');
    if (req.milliCpu > 0 && used.milliCpu + req.milliCpu > alloc.milliCpu) reasons.push('Insufficient cpu');
    if (req.memory > 0 && used.memory + req.memory > alloc.memory) reasons.push('Insufficient memory');
    if (req.ephemeralStorage > 0 && used.ephemeralStorage + req.ephemeralStorage > alloc.ephemeralStorage) reasons.push('Insufficient ephemeral-storage');
    for (const [name, v] of Object.entries(req.scalar)) {
      if (v > 0 && (used.scalar[name] ?? 0) + v > (alloc.scalar[name] ?? 0)) reasons.push(`Insufficient ${name}`);
    }
    return reasons.length > 0 ? reasons : undefined;
  },
};

function fractions(state: Parameters<ScorePlugin['score']>[0], node: Parameters<ScorePlugin['score']>[1]): [number, number] {
  const cpuAlloc = node.allocatable.milliCpu;
  const memAlloc = node.allocatable.memory;
  const cpu = cpuAlloc > 0 ? (node.nonZeroRequested.milliCpu + state.pod.nonZero.milliCpu) / cpuAlloc : 1;
  const mem = memAlloc > 0 ? (node.nonZeroRequested.memory + state.pod.nonZero.memory) / memAlloc : 1;
  return [Math.min(1, cpu), Math.min(1, mem)];
}

/** Prefers nodes with the most room left (mean free fraction of cpu and memory, 0..100). */
export const leastAllocatedScore: ScorePlugin = {
  name: 'NodeResourcesLeastAllocated',
  weight: 1,
  score: (state, node) => {
    const [cpu, mem] = fractions(state, node);
    return ((1 - cpu) * 100 + (1 - mem) * 100) / 2;
  },
};

/** Prefers nodes whose cpu and memory usage stay balanced (0..100). */
export const balancedAllocationScore: ScorePlugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  score: (state, node) => {
    const [cpu, mem] = fractions(state, node);
    const mean = (cpu + mem) / 2;
    const std = Math.sqrt(((cpu - mean) ** 2 + (mem - mean) ** 2) / 2);
    return (1 - std) * 100;
  },
};
