/**
 * The parts of Pods and Nodes the scheduler reads, typed narrowly so the hot paths stay simple.
 */
import type { KubeObject, LabelSelectorObject, ObjectMeta } from '@flotilla/api';
import type { PodResourceSpec } from './resources.js';

/** A toleration. */
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** A node taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** A node selector requirement (node affinity). */
export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

/** A node selector term: an AND of expressions and field expressions. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** A pod affinity term. */
export interface PodAffinityTerm {
  labelSelector?: LabelSelectorObject;
  namespaces?: string[];
  namespaceSelector?: LabelSelectorObject;
  topologyKey: string;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}

/** Scheduling constraints of a pod. */
export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
  };
  podAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTerm }[];
  };
  podAntiAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTerm }[];
  };
}

/** A topology spread constraint. */
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelectorObject;
  minDomains?: number;
  nodeAffinityPolicy?: 'Honor' | 'Ignore';
  nodeTaintsPolicy?: 'Honor' | 'Ignore';
  matchLabelKeys?: string[];
}

/** A container port (host ports matter to the scheduler). */
export interface ContainerPort {
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: string;
}

/** A container as the scheduler sees it. */
export interface Container {
  name?: string;
  image?: string;
  ports?: ContainerPort[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  restartPolicy?: string;
}

/** The pod spec fields the scheduler reads. */
export interface PodSpec extends PodResourceSpec {
  nodeName?: string;
  schedulerName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  priority?: number;
  priorityClassName?: string;
  hostNetwork?: boolean;
  containers?: Container[];
  schedulingGates?: { name: string }[];
  volumes?: Volume[];
}

/** A pod volume (only the claim-backed kinds matter to the scheduler). */
export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  /** A generic ephemeral volume: its claim is `<pod>-<volume>`, created by the ephemeral volume controller. */
  ephemeral?: { volumeClaimTemplate?: unknown };
}

/** A PersistentVolumeClaim as the scheduler sees it. */
export interface PersistentVolumeClaim extends KubeObject {
  metadata: ObjectMeta;
  spec?: { storageClassName?: string | null; volumeName?: string; accessModes?: string[] };
  status?: { phase?: string };
}

/** A PersistentVolume as the scheduler sees it. */
export interface PersistentVolume extends KubeObject {
  metadata: ObjectMeta;
  spec?: {
    nodeAffinity?: { required?: { nodeSelectorTerms: NodeSelectorTerm[] } };
    claimRef?: { namespace?: string; name?: string; uid?: string };
    storageClassName?: string;
  };
  status?: { phase?: string };
}

/** A storage.k8s.io/v1 StorageClass as the scheduler sees it. */
export interface StorageClass extends KubeObject {
  metadata: ObjectMeta;
  provisioner?: string;
  volumeBindingMode?: 'Immediate' | 'WaitForFirstConsumer';
  allowedTopologies?: { matchLabelExpressions?: { key: string; values: string[] }[] }[];
}

/** A pod as the scheduler sees it. */
export interface Pod extends KubeObject {
  metadata: ObjectMeta;
  spec?: PodSpec;
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[]; nominatedNodeName?: string };
}

/** A node as the scheduler sees it. */
export interface Node extends KubeObject {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: {
    allocatable?: Record<string, string>;
    capacity?: Record<string, string>;
    conditions?: { type: string; status: string }[];
  };
}

/** `kubernetes.io/hostname`. */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** `topology.kubernetes.io/zone`. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** `topology.kubernetes.io/region`. */
export const REGION_LABEL = 'topology.kubernetes.io/region';
