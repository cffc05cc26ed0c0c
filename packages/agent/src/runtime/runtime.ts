/**
 * The container runtime the agent's pod sync drives, shaped after the CRI (pod sandboxes holding
 * the pod's namespaces, containers created inside a sandbox, images) so that a containerd
 * implementation can follow the Docker one. Policy (pull policy, restart policy, back-off, probes)
 * belongs to the caller; a runtime only does what it is asked.
 *
 * Operations that remove or stop something that is already gone succeed (idempotent, as the CRI
 * requires); everything else throws a `RuntimeError` (`code` NotFound, Conflict, Timeout, ...).
 */

/** Why a runtime operation failed. */
export type RuntimeErrorCode = 'BadRequest' | 'NotFound' | 'Conflict' | 'ServerError' | 'Timeout' | 'Unavailable' | 'Unknown';

/** A runtime failure; implementations subclass it (DockerError) and keep the engine's message. */
export class RuntimeError extends Error {
  override name: string = 'RuntimeError';
  constructor(
    message: string,
    readonly code: RuntimeErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True if `err` says the object (container, sandbox, image) does not exist. */
export function isRuntimeNotFound(err: unknown): boolean {
  return err instanceof RuntimeError && err.code === 'NotFound';
}

/** True if `err` says the object is in a conflicting state (name in use, not running, ...). */
export function isRuntimeConflict(err: unknown): boolean {
  return err instanceof RuntimeError && err.code === 'Conflict';
}

/** A host port mapped to a port of the pod (Kubernetes `hostPort`). */
export interface PortMapping {
  containerPort: number;
  /** Only mappings with a host port are published. */
  hostPort?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  hostIP?: string;
}

/** Everything a pod sandbox is created from. */
export interface PodSandboxConfig {
  name: string;
  namespace: string;
  uid: string;
  /** 0 for the first sandbox of a pod, incremented each time it is recreated. */
  attempt: number;
  hostname?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  /** Containers see each other's processes (`shareProcessNamespace`). */
  shareProcessNamespace?: boolean;
  /** resolv.conf contents; unset fields take the engine's defaults. */
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  /** Extra /etc/hosts entries (`hostAliases`). */
  hostAliases?: { ip: string; hostnames: string[] }[];
  portMappings?: PortMapping[];
  /** Pod labels, kept on the sandbox. */
  labels?: Record<string, string>;
  /** Pod annotations (and the agent's own), kept on the sandbox. */
  annotations?: Record<string, string>;
}

/** A pod sandbox as listed. */
export interface PodSandbox {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: 'ready' | 'notready';
  /** Milliseconds since the epoch. */
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A pod sandbox with its network status. */
export interface PodSandboxStatus extends PodSandbox {
  /** The pod IP; undefined with host networking (the pod has the node's IPs) or when not running. */
  ip?: string;
  hostNetwork: boolean;
}

/** A bind mount of a host path (volumes are prepared on the host by the caller). */
export interface ContainerMount {
  containerPath: string;
  hostPath: string;
  readOnly?: boolean;
  propagation?: 'private' | 'rslave' | 'rshared';
}

/** Resources, in Kubernetes units. */
export interface ContainerResources {
  /** CPU request in millicores → CPU shares (milli*1024/1000, at least 2). */
  cpuRequestMilli?: number;
  /** CPU limit in millicores → CFS quota (NanoCpus). */
  cpuLimitMilli?: number;
  /** Memory limit in bytes (swap disabled). */
  memoryLimitBytes?: number;
  oomScoreAdj?: number;
}

/** The parts of a Kubernetes securityContext a runtime applies. */
export interface ContainerSecurity {
  runAsUser?: number;
  /** Applied only together with runAsUser. */
  runAsGroup?: number;
  supplementalGroups?: number[];
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  /** `allowPrivilegeEscalation: false` → no-new-privileges. */
  noNewPrivileges?: boolean;
}

/** Everything a container is created from. Command/args/env are already expanded by the caller. */
export interface ContainerConfig {
  name: string;
  image: string;
  /** Kubernetes `command`: replaces the image's entrypoint (and drops its default arguments). */
  command?: string[];
  /** Kubernetes `args`: replaces the image's default arguments. */
  args?: string[];
  env?: { name: string; value: string }[];
  workingDir?: string;
  mounts?: ContainerMount[];
  /** In-memory file systems: container path → size in bytes (0 = unlimited). */
  tmpfs?: { containerPath: string; sizeBytes?: number }[];
  resources?: ContainerResources;
  securityContext?: ContainerSecurity;
  tty?: boolean;
  stdin?: boolean;
  /** Close the container's stdin when the first attached client ends its input (Kubernetes' stdinOnce). */
  stdinOnce?: boolean;
  /**
   * Join this container's process namespace (an ephemeral container's targetContainerName), unless
   * the pod shares one namespace anyway (hostPID, shareProcessNamespace).
   */
  pidNamespaceOf?: string;
  /** How many times this container has been restarted in the pod (also the name's attempt). */
  restartCount: number;
  /** Hash of the container spec, to notice spec changes after an agent restart. */
  hash?: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  terminationGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A container state in CRI terms. */
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

/** A container as listed. */
export interface ContainerInfo {
  id: string;
  sandboxId: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  /** The container's name in the pod spec. */
  name: string;
  /** The attempt (restart count) it was created for. */
  restartCount: number;
  /** The image as asked for. */
  image: string;
  /** The image id (sha256:...). */
  imageId: string;
  state: ContainerState;
  /** Milliseconds since the epoch. */
  createdAt: number;
  hash?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A container's full status. */
export interface ContainerStatus extends ContainerInfo {
  /** RFC 3339. */
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** For exited containers: OOMKilled, Completed, Error or ContainerCannotRun. */
  reason?: string;
  /** The engine's error, if any (e.g. why the container could not start). */
  message?: string;
  /** `docker-pullable://repo@sha256:...` or `docker://sha256:...`, for `imageID` in the pod status. */
  imageRef: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  terminationGracePeriodSeconds?: number;
  /** Process id on the host while running. */
  pid?: number;
}

/** What a command run in a container produced; `exitCode` -1 with `timedOut` if it did not finish in time. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** One piece of container output. */
export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** Options for reading container logs. */
export interface ContainerLogsOptions {
  follow?: boolean;
  /** Trailing lines only. */
  tail?: number;
  /** Prefix every line with an RFC 3339 nano timestamp. */
  timestamps?: boolean;
  since?: Date;
  signal?: AbortSignal;
}

/** Which standard streams of a process to connect, and whether it gets a terminal. */
export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/**
 * A process in a container with its standard streams connected: `stdin` (when asked for; ending it
 * closes the process' stdin), `stdout` and `stderr` (with a TTY everything arrives on stdout), both
 * ending when the process exits or the connection is closed.
 */
export interface ProcessStreams {
  stdin: import('node:stream').Writable | undefined;
  stdout: import('node:stream').Readable;
  stderr: import('node:stream').Readable;
  /** Resizes the terminal (TTY only). */
  resize(width: number, height: number): Promise<void>;
  /** Exit code once the process has exited (exec), or undefined when it is unknown (attach). */
  exitCode(): Promise<number | undefined>;
  /** Drops the connection; the process keeps running. */
  close(): void;
}

/** Registry credentials for a pull. */
export interface ImageAuth {
  username?: string;
  password?: string;
  /** base64("user:password") as in a docker config.json. */
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

/** A local image. */
export interface ImageStatus {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  sizeBytes: number;
  /** As for ContainerStatus.imageRef. */
  imageRef: string;
}

/** One usage sample of a container. */
export interface ContainerStats {
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageCoreNanoSeconds: number;
  memoryUsageBytes: number;
  /** Usage minus inactive file cache: what the kubelet evicts and OOM-ranks by. */
  memoryWorkingSetBytes: number;
  memoryRssBytes?: number;
  memoryLimitBytes?: number;
}

/** A lifecycle event of a container or sandbox managed by this agent. */
export interface RuntimeEvent {
  type: 'created' | 'started' | 'died' | 'oom' | 'destroyed';
  containerId: string;
  isSandbox: boolean;
  podUid?: string;
  podName?: string;
  podNamespace?: string;
  containerName?: string;
  /** For `died`. */
  exitCode?: number;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Name and version of the runtime, for the Node's `containerRuntimeVersion` (`<name>://<version>`). */
export interface RuntimeVersion {
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

/** The container runtime interface pod sync depends on. */
export interface ContainerRuntime {
  /** Scheme of container ids in pod status (`docker` → `docker://<id>`). */
  readonly name: string;

  version(): Promise<RuntimeVersion>;
  /** Resolves if the runtime answers. */
  ping(): Promise<void>;

  /** Creates and starts the pod's sandbox; resolves with its id and pod IP (undefined with host networking). */
  runSandbox(config: PodSandboxConfig): Promise<{ id: string; ip?: string }>;
  /** Stops the sandbox and any container still running in it. Succeeds if it is gone. */
  stopSandbox(id: string): Promise<void>;
  /** Removes the sandbox and all its containers. Succeeds if it is gone. */
  removeSandbox(id: string): Promise<void>;
  /** Throws NotFound if absent. */
  sandboxStatus(id: string): Promise<PodSandboxStatus>;
  /** This node's sandboxes, optionally of one pod. */
  listPodSandboxes(filter?: { podUid?: string; state?: 'ready' | 'notready' }): Promise<PodSandbox[]>;

  /** Creates (does not start) a container in the sandbox; resolves with its id. */
  createContainer(sandboxId: string, config: ContainerConfig, sandbox: PodSandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal (SIGTERM), then SIGKILL after `gracePeriodSeconds`. Succeeds if already stopped. */
  stopContainer(id: string, gracePeriodSeconds: number): Promise<void>;
  /** Removes the container (forcibly). Succeeds if it is gone. */
  removeContainer(id: string): Promise<void>;
  /** This node's app containers (not sandboxes), by default including exited ones. */
  listContainers(filter?: { all?: boolean; podUid?: string; sandboxId?: string }): Promise<ContainerInfo[]>;
  /** Throws NotFound if absent. */
  containerStatus(id: string): Promise<ContainerStatus>;

  /** Runs a command in a running container (probes, `kubectl exec` without a TTY). */
  exec(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  logs(id: string, options?: ContainerLogsOptions): AsyncIterable<LogChunk>;
  /** Starts `cmd` in a running container with its streams connected (kubectl exec). */
  execStream(id: string, cmd: string[], options: StreamOptions): Promise<ProcessStreams>;
  /** Connects to the streams of the container's main process (kubectl attach). */
  attach(id: string, options: StreamOptions): Promise<ProcessStreams>;
  /** Reads a file from a container (running or exited), at most `maxBytes`; undefined if absent. */
  readFile(id: string, path: string, maxBytes: number): Promise<Buffer | undefined>;
  stats(id: string): Promise<ContainerStats>;
  /** Container and sandbox lifecycle events of this node until `signal` aborts. */
  events(options?: { since?: Date; signal?: AbortSignal }): AsyncIterable<RuntimeEvent>;

  /** Pulls the image (no policy: always pulls); resolves with its imageRef. Failures keep the registry's message. */
  pullImage(image: string, auth?: ImageAuth): Promise<string>;
  /** The local image, or undefined if it is not present. */
  imageStatus(image: string): Promise<ImageStatus | undefined>;
  /** Removes a local image. Succeeds if it is gone. */
  removeImage(image: string): Promise<void>;
}

/** Kubernetes' minimum CPU shares (also for containers without a request). */
export const MIN_CPU_SHARES = 2;
/** Kubernetes' maximum CPU shares. */
export const MAX_CPU_SHARES = 262_144;

/** CPU request in millicores → cgroup CPU shares, exactly as the kubelet computes them. */
export function milliCpuToShares(milliCpu: number | undefined): number {
  if (!milliCpu) return MIN_CPU_SHARES;
  const shares = Math.floor((milliCpu * 1024) / 1000);
  return Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
}

/** CPU limit in millicores → Docker NanoCpus (billionths of a CPU). */
export function milliCpuToNanoCpus(milliCpu: number): number {
  return Math.round(milliCpu * 1_000_000);
}
