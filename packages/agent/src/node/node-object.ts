/**
 * The Node object an agent registers: capacity and allocatable, addresses, labels, taints, system
 * info and the conditions it reports. Shared by the real agent and hollow nodes.
 */
import { formatTime, type Condition, type KubeObject } from '@flotilla/api/core';

/** What an agent knows about its node. */
export interface NodeFacts {
  name: string;
  labels: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  addresses: { type: 'InternalIP' | 'ExternalIP' | 'Hostname'; address: string }[];
  nodeInfo: {
    machineID: string;
    systemUUID: string;
    bootID: string;
    kernelVersion: string;
    osImage: string;
    containerRuntimeVersion: string;
    kubeletVersion: string;
    kubeProxyVersion: string;
    operatingSystem: string;
    architecture: string;
  };
  /** Port of the agent's HTTPS endpoint (logs, exec). */
  agentPort?: number;
}

/** The health an agent reports. */
export interface NodeHealth {
  ready: boolean;
  readyMessage?: string;
  memoryPressure: boolean;
  diskPressure: boolean;
  pidPressure: boolean;
}

/** The Node conditions for a health report, keeping transition times of unchanged conditions. */
export function nodeConditions(health: NodeHealth, now: Date, previous: readonly Condition[] = []): Condition[] {
  const t = formatTime(now);
  const make = (type: string, status: boolean, reasonTrue: string, reasonFalse: string, messageTrue: string, messageFalse: string): Condition => {
    const s = status ? 'True' : 'False';
    const prev = previous.find((c) => c.type === type);
    return {
      type,
      status: s,
      lastHeartbeatTime: t,
      lastTransitionTime: prev && prev.status === s && prev.lastTransitionTime ? prev.lastTransitionTime : t,
      reason: status ? reasonTrue : reasonFalse,
      message: status ? messageTrue : messageFalse,
    };
  };
  return [
    make('MemoryPressure', health.memoryPressure, 'KubeletHasInsufficientMemory', 'KubeletHasSufficientMemory', 'node has memory pressure', 'node has sufficient memory available'),
    make('DiskPressure', health.diskPressure, 'KubeletHasDiskPressure', 'KubeletHasNoDiskPressure', 'node has disk pressure', 'node has no disk pressure'),
    make('PIDPressure', health.pidPressure, 'KubeletHasInsufficientPID', 'KubeletHasSufficientPID', 'node has insufficient PID available', 'node has sufficient PID available'),
    make('Ready', health.ready, 'KubeletReady', 'KubeletNotReady', health.readyMessage ?? 'flotilla agent is posting ready status', health.readyMessage ?? 'container runtime is not ready'),
  ];
}

/** Builds the Node object to register. */
export function buildNode(f: NodeFacts, health: NodeHealth, now: Date): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: f.name, labels: f.labels },
    spec: f.taints && f.taints.length > 0 ? { taints: f.taints } : {},
    status: {
      capacity: f.capacity,
      allocatable: f.allocatable,
      conditions: nodeConditions(health, now),
      addresses: f.addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: f.agentPort ?? 10250 } },
      nodeInfo: f.nodeInfo,
    },
  };
}
