export { start, type SchedulerConfig, type SchedulerHandle } from './start.js';
export { main } from './main.js';
export { Scheduler } from './scheduler.js';
export { Framework, type Profile } from './framework.js';
export { defaultProfile } from './plugins/index.js';
export { volumeBinding, SELECTED_NODE_ANNOTATION, type VolumeBindingDeps, type VolumeLister } from './plugins/volume-binding.js';
export { SchedulerCache } from './scheduler-cache.js';
export { podInfoOf, NodeInfo } from './node-info.js';
export type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from './types.js';
