/**
 * The parts of the pod spec the volume manager reads, as plain shapes (the API's generated types are
 * not exported by @flotilla/api; objects arrive as decoded JSON).
 */

/** `KeyToPath`: one key of a ConfigMap or Secret written at `path`. */
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** `ObjectFieldSelector`. */
export interface FieldRef {
  apiVersion?: string;
  fieldPath: string;
}

/** `ResourceFieldSelector`. */
export interface ResourceFieldRef {
  containerName?: string;
  resource: string;
  divisor?: string | number;
}

/** `DownwardAPIVolumeFile`. */
export interface DownwardAPIFile {
  path: string;
  fieldRef?: FieldRef;
  resourceFieldRef?: ResourceFieldRef;
  mode?: number;
}

/** A ConfigMap or Secret reference of a volume or projection. */
export interface KeysSource {
  items?: KeyToPath[];
  optional?: boolean;
}

/** `VolumeProjection`. */
export interface VolumeProjection {
  configMap?: KeysSource & { name?: string };
  secret?: KeysSource & { name?: string };
  downwardAPI?: { items?: DownwardAPIFile[] };
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  [other: string]: unknown;
}

/** `Volume` of a pod spec. */
export interface PodVolume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: { medium?: string; sizeLimit?: string };
  configMap?: KeysSource & { name?: string; defaultMode?: number };
  secret?: KeysSource & { secretName?: string; defaultMode?: number };
  downwardAPI?: { items?: DownwardAPIFile[]; defaultMode?: number };
  projected?: { sources?: VolumeProjection[]; defaultMode?: number };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  [other: string]: unknown;
}

/** `VolumeMount` of a container. */
export interface VolumeMountSpec {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  subPathExpr?: string;
  mountPropagation?: string;
}

/** The parts of a container the volume manager reads. */
export interface ContainerSpec {
  name: string;
  volumeMounts?: VolumeMountSpec[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
}

/** The parts of a pod spec the volume manager reads. */
export interface PodSpecShape {
  volumes?: PodVolume[];
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  serviceAccountName?: string;
  nodeName?: string;
}
