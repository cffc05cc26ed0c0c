/** The agent's volume manager: pod volumes on the host, and the bind mounts of containers. */
export { VolumeManager, type VolumeManagerOptions, type VolumeSources, type PreparedVolume, type ServiceAccountTokenRequest } from './volume-manager.js';
export { containerMounts, resolveSubPath, validateSubPath } from './mounts.js';
export { VolumeError } from './errors.js';
export { writeAtomic, validatePayloadPath, DATA_DIR_NAME, type Payload, type FileProjection } from './atomic-writer.js';
export { checkHostPathType } from './host-path.js';
export { removeTree } from './remove-tree.js';
export { formatMap, goQuote, podFieldValue, resourceFieldValue } from './payload.js';
export type { PodVolume, VolumeMountSpec, PodSpecShape } from './types.js';
