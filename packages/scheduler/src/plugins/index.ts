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
import { volumeBinding, type VolumeBindingDeps } from './volume-binding.js';

/**
 * The default scheduling profile. VolumeBinding is part of it when `volumes` gives it the volume
 * caches (without them, pods' claims are not looked at).
 */
export function defaultProfile(options: { percentageOfNodesToScore?: number; volumes?: VolumeBindingDeps } = {}): Profile {
  const vb = options.volumes ? volumeBinding(options.volumes) : undefined;
  return {
    // kube-scheduler's filter order: the first failing filter names the reason a node was rejected.
    filters: [nodeUnschedulableFilter, nodeReadyFilter, taintTolerationFilter, nodeAffinityFilter, nodePortsFilter, nodeResourcesFitFilter, ...(vb ? [vb.filter] : []), podTopologySpreadFilter, interPodAffinityFilter],
    binds: vb ? [vb.bind] : [],
    scores: [taintTolerationScore, nodeAffinityScore, podTopologySpreadScore, interPodAffinityScore, leastAllocatedScore, balancedAllocationScore, defaultSpreadScore],
    ...(options.percentageOfNodesToScore !== undefined ? { percentageOfNodesToScore: options.percentageOfNodesToScore } : {}),
  };
}
