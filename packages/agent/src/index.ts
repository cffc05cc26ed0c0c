export { HollowNodes, type HollowNodesOptions } from './hollow-nodes.js';
export { computePodStatus, podPhase, type ContainerObservation, type PodObservation } from './pod-sync/pod-status.js';
export { buildNode, nodeConditions, type NodeFacts, type NodeHealth } from './node/node-object.js';
export { NodeLease, registerNode, reportNodeConditions, NODE_LEASE_NAMESPACE } from './node/node-registration.js';
