/**
 * Small filters: node readiness, spec.unschedulable (cordon), host ports.
 */
import type { FilterPlugin } from '../framework.js';
import { isTolerated } from './taint-toleration.js';

/** Rules out nodes whose Ready condition is not True. */
export const nodeReadyFilter: FilterPlugin = {
  name: 'NodeReady',
  filter: (_state, node) => (node.ready ? undefined : ['node(s) were not ready']),
};

/** Rules out cordoned nodes unless the pod tolerates the unschedulable taint. */
export const nodeUnschedulableFilter: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter: (state, node) => {
    if (!node.unschedulable) return undefined;
    if (isTolerated(state.pod.pod.spec?.tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) return undefined;
    return ['node(s) were unschedulable'];
  },
};

/** Rules out nodes where a requested host port is taken. */
export const nodePortsFilter: FilterPlugin = {
  name: 'NodePorts',
  filter: (state, node) => {
    for (const p of state.pod.hostPorts) if (node.hostPortInUse(p)) return ["node(s) didn't have free ports for the requested pod ports"];
    return undefined;
  },
};
