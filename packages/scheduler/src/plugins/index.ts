/**
 * The default profile: every filter and score plugin, in kube-scheduler's order.
 */
import type { Profile } from '../framework.js';
import { defaultSpreadScore } from './default-spread.js';
import { interPodAffinityFilter, interPodAffinityScore } from './inter-pod-affinity.js';
import { nodeAffinityFilter, nodeAffinityScore } from './node-affinity.js';
import { nodePortsFilter, nodeReadyFilter, nodeUnschedulableFilter } from './node-basics.js';
import { balancedAllocationScore, leastAllocatedScore, nodeResourcesFitFilter } from './node-resources.js';
import { podTopologySpreadFilter, podTopologySpreadScore } from './pod-topology-spread.js';
import { taintTolerationFilter, taintTolerationScore } from './taint-toleration.js';

/** The default scheduling profile. */
export function defaultProfile(options: { percentageOfNodesToScore?: number } = {}): Profile {
  return {
    // kube-scheduler's filter order: the first failing filter names the reason a node was rejected.
    filters: [nodeUnschedulableFilter, nodeReadyFilter, taintTolerationFilter, nodeAffinityFilter, nodePortsFilter, nodeResourcesFitFilter, podTopologySpreadFilter, interPodAffinityFilter],
    scores: [taintTolerationScore, nodeAffinityScore, podTopologySpreadScore, interPodAffinityScore, leastAllocatedScore, balancedAllocationScore, defaultSpreadScore],
    ...(options.percentageOfNodesToScore !== undefined ? { percentageOfNodesToScore: options.percentageOfNodesToScore } : {}),
  };
}
