export { HollowNodes, type HollowNodesOptions } from './hollow-nodes.js';
export { computePodStatus, podPhase, type ContainerObservation, type PodObservation } from './pod-sync/pod-status.js';
export { buildNode, nodeConditions, type NodeFacts, type NodeHealth } from './node/node-object.js';
export { NodeLease, registerNode, reportNodeConditions, NODE_LEASE_NAMESPACE } from './node/node-registration.js';
export * from './runtime/runtime.js';
export { DockerClient, DockerError, isDockerNotFound, isDockerConflict, type DockerClientOptions } from './runtime/docker-client.js';
export { DockerRuntime, type DockerRuntimeOptions } from './runtime/docker-runtime.js';
export { createTar, type TarEntry } from './runtime/tar.js';
export { ensurePauseImage, DEFAULT_PAUSE_IMAGE, PAUSE_COMMAND, PauseImageError, type EnsurePauseImageOptions } from './runtime/pause-image.js';
