/**
 * The Docker implementation of `ContainerRuntime`, laid out as Kubernetes' dockershim did it: one
 * sandbox ("pause") container per pod holds the network (and IPC) namespace, app containers join
 * it with `NetworkMode: container:<sandboxId>` (both use `host` with hostNetwork). Containers carry
 * dockershim's names (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`) and labels, plus
 * `io.flotilla.node` so several agents can share one engine, and the CRI annotations the agent
 * needs after a restart stored as `annotation.`-prefixed labels (restart count, spec hash,
 * terminationMessagePath, ...).
 */
import { formatTime } from '@flotilla/api/core';
import {
  dockerTime,
  isDockerConflict,
  isDockerNotFound,
  type ContainerCreateBody,
  type ContainerInspect,
  type ContainerSummary,
  type DockerClient,
  type HostConfig,
  type ImageInspect,
} from './docker-client.js';
import { processStreamsOf } from './hijacked-streams.js';
import { readTar } from './tar.js';
import {
  milliCpuToNanoCpus,
  milliCpuToShares,
  type ContainerConfig,
  type ContainerInfo,
  type ContainerLogsOptions,
  type ContainerRuntime,
  type ContainerState,
  type ContainerStats,
  type ContainerStatus,
  type ExecResult,
  type ImageAuth,
  type ImageStatus,
  type LogChunk,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxStatus,
  type ProcessStreams,
  type StreamOptions,
  type RuntimeEvent,
  type RuntimeVersion,
} from './runtime.js';

/** Docker label keys, as dockershim set them. */
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const LABEL_DOCKER_TYPE = 'io.kubernetes.docker.type';
export const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';
/** Flotilla's own: the node whose agent owns the container, and a marker for everything we manage. */
export const LABEL_NODE = 'io.flotilla.node';
export const LABEL_MANAGED = 'io.flotilla.managed';
/** dockershim stored CRI annotations as labels with this prefix. */
export const ANNOTATION_PREFIX = 'annotation.';
/** CRI annotation keys the kubelet sets on containers. */
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_HASH = 'io.kubernetes.container.hash';
export const ANNOTATION_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const ANNOTATION_TERMINATION_GRACE_PERIOD = 'io.kubernetes.pod.terminationGracePeriod';
/** The container name of a sandbox (`io.kubernetes.container.name`). */
export const SANDBOX_CONTAINER_NAME = 'POD';
/**
 * How long an image inspection answers for its reference: a burst of pod starts of one image (each
 * start checks the image, then reports the container's image) asks the engine once. Pulls and
 * removals through this runtime drop the answers; a failed inspection is not kept.
 */
const IMAGE_CACHE_MS = 2_000;
const TYPE_SANDBOX = 'podsandbox';
const TYPE_CONTAINER = 'container';
const NAME_PREFIX = 'k8s';

/** Options of the Docker runtime. */
export interface DockerRuntimeOptions {
  client: DockerClient;
  /** This agent's node; only containers labelled with it are listed or reported. */
  nodeName: string;
  /** The sandbox image (its default command must sleep and exit on SIGTERM). Pulled if missing. */
  podInfraImage: string;
  /** The engine network sandboxes join when not on the host network. Default `bridge`. */
  network?: string;
  /** Grace before SIGKILL when stopping a sandbox. Default 10 s. */
  sandboxStopTimeoutSeconds?: number;
  /** Added to every container created (tests mark theirs with `io.flotilla.test=true`). */
  extraLabels?: Record<string, string>;
}

/** `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, dockershim's container name. */
export function buildContainerName(container: string, pod: { name: string; namespace: string; uid: string }, attempt: number): string {
  return [NAME_PREFIX, container, pod.name, pod.namespace, pod.uid, String(attempt)].join('_');
}

/** Parses a dockershim container name (a leading `/` as the engine reports it is ignored). */
export function parseContainerName(name: string): { container: string; podName: string; podNamespace: string; podUid: string; attempt: number } | undefined {
  const parts = name.replace(/^\//, '').split('_');
  if (parts.length < 6 || parts[0] !== NAME_PREFIX) return undefined;
  const attempt = Number(parts[5]);
  return { container: parts[1]!, podName: parts[2]!, podNamespace: parts[3]!, podUid: parts[4]!, attempt: Number.isInteger(attempt) ? attempt : 0 };
}

function splitLabels(all: Record<string, string> | null | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(all ?? {})) {
    if (k.startsWith(ANNOTATION_PREFIX)) annotations[k.slice(ANNOTATION_PREFIX.length)] = v;
    else labels[k] = v;
  }
  return { labels, annotations };
}

function toInt(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function listState(state: string): ContainerState {
  if (state === 'running' || state === 'paused' || state === 'restarting') return 'running';
  if (state === 'exited' || state === 'dead') return 'exited';
  if (state === 'created') return 'created';
  return 'unknown';
}

/** `docker-pullable://<first repo digest>` if the image came from a registry, else `docker://<id>`. */
export function toImageRef(imageId: string, image: Pick<ImageInspect, 'RepoDigests'> | undefined): string {
  const digest = image?.RepoDigests?.[0];
  return digest ? `docker-pullable://${digest}` : `docker://${imageId}`;
}

/** Converts Docker's nanosecond RFC 3339 into the second-precision form Kubernetes uses. */
function toKubeTime(value: string | undefined): string | undefined {
  const t = dockerTime(value);
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? t : formatTime(new Date(ms));
}

/** The Docker `ContainerRuntime`. */
export class DockerRuntime implements ContainerRuntime {
  readonly name = 'docker';
  private readonly client: DockerClient;
  private readonly nodeName: string;
  private readonly podInfraImage: string;
  private readonly network: string;
  private readonly sandboxStopTimeoutSeconds: number;
  private readonly extraLabels: Record<string, string>;
  private readonly images = new Map<string, { at: number; inspect: Promise<ImageInspect> }>();

  constructor(options: DockerRuntimeOptions) {
    this.client = options.client;
    this.nodeName = options.nodeName;
    this.podInfraImage = options.podInfraImage;
    this.network = options.network ?? 'bridge';
    this.sandboxStopTimeoutSeconds = options.sandboxStopTimeoutSeconds ?? 10;
    this.extraLabels = options.extraLabels ?? {};
  }

  /** The engine's inspection of an image, answered from the last IMAGE_CACHE_MS. */
  private inspectImage(ref: string): Promise<ImageInspect> {
    const now = Date.now();
    const hit = this.images.get(ref);
    if (hit && now - hit.at < IMAGE_CACHE_MS) return hit.inspect;
    if (this.images.size >= 64) for (const [k, v] of this.images) if (now - v.at >= IMAGE_CACHE_MS) this.images.delete(k);
    const entry = { at: now, inspect: this.client.inspectImage(ref) };
    this.images.set(ref, entry);
    entry.inspect.catch(() => {
      if (this.images.get(ref) === entry) this.images.delete(ref);
    });
    return entry.inspect;
  }

  async version(): Promise<RuntimeVersion> {
    const v = await this.client.version();
    return { runtimeName: 'docker', runtimeVersion: v.Version, runtimeApiVersion: v.ApiVersion };
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  private ownLabels(type: string): Record<string, string> {
    return { [LABEL_DOCKER_TYPE]: type, [LABEL_NODE]: this.nodeName, [LABEL_MANAGED]: 'true' };
  }

  private ownFilter(type: string, extra: string[] = []): string[] {
    return [`${LABEL_DOCKER_TYPE}=${type}`, `${LABEL_NODE}=${this.nodeName}`, `${LABEL_MANAGED}=true`, ...extra];
  }

  private static annotationLabels(annotations: Record<string, string | number | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(annotations)) if (v !== undefined) out[`${ANNOTATION_PREFIX}${k}`] = String(v);
    return out;
  }

  /**
   * Creates a container; on a name conflict with a leftover of ours that is not running (an
   * agent that died between create and record), removes the leftover and retries once.
   */
  private async create(name: string, body: ContainerCreateBody): Promise<string> {
    try {
      return (await this.client.createContainer(name, body)).Id;
    } catch (err) {
      if (!isDockerConflict(err)) throw err;
      const existing = await this.client.inspectContainer(name).catch(() => undefined);
      if (!existing || existing.Config.Labels?.[LABEL_NODE] !== this.nodeName || existing.State.Running) throw err;
      await this.client.removeContainer(existing.Id, { force: true, volumes: true });
      return (await this.client.createContainer(name, body)).Id;
    }
  }

  // ---- sandboxes ----

  async runSandbox(config: PodSandboxConfig): Promise<{ id: string; ip?: string }> {
    const portBindings: NonNullable<HostConfig['PortBindings']> = {};
    const exposed: Record<string, Record<string, never>> = {};
    for (const p of config.portMappings ?? []) {
      if (!p.hostPort) continue;
      const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
      exposed[key] = {};
      (portBindings[key] ??= []).push({ HostPort: String(p.hostPort), ...(p.hostIP ? { HostIp: p.hostIP } : {}) });
    }
    const hostConfig: HostConfig = {
      NetworkMode: config.hostNetwork ? 'host' : this.network,
      IpcMode: config.hostIPC ? 'host' : 'shareable',
      ...(config.hostPID ? { PidMode: 'host' } : {}),
      RestartPolicy: { Name: 'no' },
      ...(config.dns?.servers?.length ? { Dns: config.dns.servers } : {}),
      ...(config.dns?.searches?.length ? { DnsSearch: config.dns.searches } : {}),
      ...(config.dns?.options?.length ? { DnsOptions: config.dns.options } : {}),
      ...(config.hostAliases?.length ? { ExtraHosts: config.hostAliases.flatMap((a) => a.hostnames.map((h) => `${h}:${a.ip}`)) } : {}),
      ...(!config.hostNetwork && Object.keys(portBindings).length ? { PortBindings: portBindings } : {}),
      // Kubernetes gives the sandbox the minimum weight; the pod's cgroup does the accounting.
      CpuShares: milliCpuToShares(0),
    };
    const body: ContainerCreateBody = {
      Image: this.podInfraImage,
      ...(config.hostNetwork || !config.hostname ? {} : { Hostname: config.hostname }),
      Labels: {
        ...config.labels,
        ...DockerRuntime.annotationLabels(config.annotations ?? {}),
        ...this.extraLabels,
        [LABEL_POD_NAME]: config.name,
        [LABEL_POD_NAMESPACE]: config.namespace,
        [LABEL_POD_UID]: config.uid,
        [LABEL_CONTAINER_NAME]: SANDBOX_CONTAINER_NAME,
        ...this.ownLabels(TYPE_SANDBOX),
      },
      ...(Object.keys(exposed).length && !config.hostNetwork ? { ExposedPorts: exposed } : {}),
      HostConfig: hostConfig,
    };
    const name = buildContainerName(SANDBOX_CONTAINER_NAME, config, config.attempt);
    let id: string;
    try {
      id = await this.create(name, body);
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
      // The pause image is missing: fetch it, as dockershim did.
      await this.client.pullImage(this.podInfraImage);
      this.images.clear();
      id = await this.create(name, body);
    }
    try {
      await this.client.startContainer(id);
      const inspect = await this.client.inspectContainer(id);
      const ip = config.hostNetwork ? undefined : this.ipOf(inspect);
      return { id, ...(ip ? { ip } : {}) };
    } catch (err) {
      await this.client.removeContainer(id, { force: true, volumes: true }).catch(() => undefined);
      throw err;
    }
  }

  private ipOf(inspect: ContainerInspect): string | undefined {
    const ns = inspect.NetworkSettings;
    return ns.Networks?.[this.network]?.IPAddress || ns.IPAddress || Object.values(ns.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress || undefined;
  }

  private async containersOfSandbox(sandboxId: string): Promise<ContainerSummary[]> {
    return this.client.listContainers({ all: true, filters: { label: this.ownFilter(TYPE_CONTAINER, [`${LABEL_SANDBOX_ID}=${sandboxId}`]) } });
  }

  async stopSandbox(id: string): Promise<void> {
    // The caller stops containers with their grace first; anything left is stopped forcibly.
    for (const c of await this.containersOfSandbox(id)) {
      if (c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting') continue;
      try {
        await this.stopContainer(c.Id, 0);
      } catch (err) {
        if (!isDockerNotFound(err)) throw err;
      }
    }
    try {
      await this.client.stopContainer(id, this.sandboxStopTimeoutSeconds);
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
    }
  }

  async removeSandbox(id: string): Promise<void> {
    for (const c of await this.containersOfSandbox(id)) await this.removeContainer(c.Id);
    await this.removeContainer(id);
  }

  private toSandbox(id: string, name: string, labels: Record<string, string> | null, running: boolean, createdAt: number): PodSandbox {
    const parsed = parseContainerName(name);
    const split = splitLabels(labels);
    return {
      id,
      name: split.labels[LABEL_POD_NAME] ?? parsed?.podName ?? '',
      namespace: split.labels[LABEL_POD_NAMESPACE] ?? parsed?.podNamespace ?? '',
      uid: split.labels[LABEL_POD_UID] ?? parsed?.podUid ?? '',
      attempt: parsed?.attempt ?? 0,
      state: running ? 'ready' : 'notready',
      createdAt,
      labels: split.labels,
      annotations: split.annotations,
    };
  }

  async sandboxStatus(id: string): Promise<PodSandboxStatus> {
    const inspect = await this.client.inspectContainer(id);
    const sandbox = this.toSandbox(inspect.Id, inspect.Name, inspect.Config.Labels, inspect.State.Running, Date.parse(inspect.Created));
    const hostNetwork = inspect.HostConfig.NetworkMode === 'host';
    const ip = !hostNetwork && inspect.State.Running ? this.ipOf(inspect) : undefined;
    return { ...sandbox, hostNetwork, ...(ip ? { ip } : {}) };
  }

  async listPodSandboxes(filter: { podUid?: string; state?: 'ready' | 'notready' } = {}): Promise<PodSandbox[]> {
    const rows = await this.client.listContainers({ all: true, filters: { label: this.ownFilter(TYPE_SANDBOX, filter.podUid ? [`${LABEL_POD_UID}=${filter.podUid}`] : []) } });
    return rows
      .map((r) => this.toSandbox(r.Id, r.Names[0] ?? '', r.Labels, r.State === 'running', r.Created * 1000))
      .filter((s) => !filter.state || s.state === filter.state);
  }

  // ---- containers ----

  async createContainer(sandboxId: string, config: ContainerConfig, sandbox: PodSandboxConfig): Promise<string> {
    const sc = config.securityContext ?? {};
    const res = config.resources ?? {};
    const binds = (config.mounts ?? []).map((m) => {
      const opts = [m.readOnly ? 'ro' : 'rw', ...(m.propagation && m.propagation !== 'private' ? [m.propagation] : [])];
      return `${m.hostPath}:${m.containerPath}:${opts.join(',')}`;
    });
    const tmpfs: Record<string, string> = {};
    for (const t of config.tmpfs ?? []) tmpfs[t.containerPath] = t.sizeBytes ? `size=${t.sizeBytes}` : '';
    const sandboxMode = `container:${sandboxId}`;
    const hostConfig: HostConfig = {
      NetworkMode: sandbox.hostNetwork ? 'host' : sandboxMode,
      IpcMode: sandbox.hostIPC ? 'host' : sandboxMode,
      ...(sandbox.hostPID ? { PidMode: 'host' } : sandbox.shareProcessNamespace ? { PidMode: sandboxMode } : config.pidNamespaceOf ? { PidMode: `container:${config.pidNamespaceOf}` } : {}),
      RestartPolicy: { Name: 'no' },
      CpuShares: milliCpuToShares(res.cpuRequestMilli),
      ...(res.cpuLimitMilli ? { NanoCpus: milliCpuToNanoCpus(res.cpuLimitMilli) } : {}),
      // Memory and swap alike, so the container cannot swap (as dockershim did).
      ...(res.memoryLimitBytes ? { Memory: res.memoryLimitBytes, MemorySwap: res.memoryLimitBytes } : {}),
      ...(res.oomScoreAdj !== undefined ? { OomScoreAdj: res.oomScoreAdj } : {}),
      ...(binds.length ? { Binds: binds } : {}),
      ...(Object.keys(tmpfs).length ? { Tmpfs: tmpfs } : {}),
      ...(sc.privileged ? { Privileged: true } : {}),
      ...(sc.readOnlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
      ...(sc.capabilities?.add?.length ? { CapAdd: sc.capabilities.add } : {}),
      ...(sc.capabilities?.drop?.length ? { CapDrop: sc.capabilities.drop } : {}),
      ...(sc.noNewPrivileges ? { SecurityOpt: ['no-new-privileges'] } : {}),
      ...(sc.supplementalGroups?.length ? { GroupAdd: sc.supplementalGroups.map(String) } : {}),
    };
    const user = sc.runAsUser === undefined ? undefined : sc.runAsGroup === undefined ? String(sc.runAsUser) : `${sc.runAsUser}:${sc.runAsGroup}`;
    const body: ContainerCreateBody = {
      Image: config.image,
      ...(config.command ? { Entrypoint: config.command } : {}),
      ...(config.args ? { Cmd: config.args } : {}),
      ...(config.env?.length ? { Env: config.env.map((e) => `${e.name}=${e.value}`) } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      ...(user ? { User: user } : {}),
      ...(config.tty ? { Tty: true } : {}),
      ...(config.stdin ? { OpenStdin: true, ...(config.stdinOnce ? { StdinOnce: true } : {}) } : {}),
      Labels: {
        ...config.labels,
        ...DockerRuntime.annotationLabels({
          ...config.annotations,
          [ANNOTATION_RESTART_COUNT]: config.restartCount,
          [ANNOTATION_HASH]: config.hash,
          [ANNOTATION_TERMINATION_MESSAGE_PATH]: config.terminationMessagePath,
          [ANNOTATION_TERMINATION_MESSAGE_POLICY]: config.terminationMessagePolicy,
          [ANNOTATION_TERMINATION_GRACE_PERIOD]: config.terminationGracePeriodSeconds,
        }),
        ...this.extraLabels,
        [LABEL_POD_NAME]: sandbox.name,
        [LABEL_POD_NAMESPACE]: sandbox.namespace,
        [LABEL_POD_UID]: sandbox.uid,
        [LABEL_CONTAINER_NAME]: config.name,
        [LABEL_SANDBOX_ID]: sandboxId,
        ...this.ownLabels(TYPE_CONTAINER),
      },
      HostConfig: hostConfig,
    };
    return this.create(buildContainerName(config.name, sandbox, config.restartCount), body);
  }

  async startContainer(id: string): Promise<void> {
    await this.client.startContainer(id);
  }

  async stopContainer(id: string, gracePeriodSeconds: number): Promise<void> {
    // The engine answers 304 for a container that is not running: not an error.
    await this.client.stopContainer(id, gracePeriodSeconds);
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.client.removeContainer(id, { force: true, volumes: true });
    } catch (err) {
      if (isDockerNotFound(err)) return;
      // "removal of container ... is already in progress"
      if (isDockerConflict(err) && /already in progress/.test((err as Error).message)) return;
      throw err;
    }
  }

  private toInfo(id: string, name: string, labelsIn: Record<string, string> | null, image: string, imageId: string, state: ContainerState, createdAt: number): ContainerInfo {
    const parsed = parseContainerName(name);
    const { labels, annotations } = splitLabels(labelsIn);
    const hash = annotations[ANNOTATION_HASH];
    return {
      id,
      sandboxId: labels[LABEL_SANDBOX_ID] ?? '',
      podName: labels[LABEL_POD_NAME] ?? parsed?.podName ?? '',
      podNamespace: labels[LABEL_POD_NAMESPACE] ?? parsed?.podNamespace ?? '',
      podUid: labels[LABEL_POD_UID] ?? parsed?.podUid ?? '',
      name: labels[LABEL_CONTAINER_NAME] ?? parsed?.container ?? '',
      restartCount: toInt(annotations[ANNOTATION_RESTART_COUNT]) ?? parsed?.attempt ?? 0,
      image,
      imageId,
      state,
      createdAt,
      ...(hash ? { hash } : {}),
      labels,
      annotations,
    };
  }

  async listContainers(filter: { all?: boolean; podUid?: string; sandboxId?: string } = {}): Promise<ContainerInfo[]> {
    const extra = [...(filter.podUid ? [`${LABEL_POD_UID}=${filter.podUid}`] : []), ...(filter.sandboxId ? [`${LABEL_SANDBOX_ID}=${filter.sandboxId}`] : [])];
    const rows = await this.client.listContainers({ all: filter.all ?? true, filters: { label: this.ownFilter(TYPE_CONTAINER, extra) } });
    return rows.map((r) => this.toInfo(r.Id, r.Names[0] ?? '', r.Labels, r.Image, r.ImageID, listState(r.State), r.Created * 1000));
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const c = await this.client.inspectContainer(id);
    const image = await this.inspectImage(c.Image).catch((err: unknown) => {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    });
    const createdAt = Date.parse(c.Created);
    let startedAt = toKubeTime(c.State.StartedAt);
    let finishedAt = toKubeTime(c.State.FinishedAt);
    let state: ContainerState;
    let reason: string | undefined;
    let message: string | undefined;
    // dockershim's rules: running; exited after running (finishedAt set); failed to start
    // (exit code but no finishedAt); created.
    if (c.State.Running) {
      state = 'running';
    } else {
      if (finishedAt) {
        state = 'exited';
        reason = c.State.OOMKilled ? 'OOMKilled' : c.State.ExitCode === 0 ? 'Completed' : 'Error';
      } else if (c.State.ExitCode !== 0) {
        state = 'exited';
        reason = 'ContainerCannotRun';
        startedAt = finishedAt = toKubeTime(c.Created);
      } else {
        state = 'created';
      }
      if (c.State.Error) message = c.State.Error;
    }
    const info = this.toInfo(c.Id, c.Name, c.Config.Labels, c.Config.Image, c.Image, state, createdAt);
    const a = info.annotations;
    const terminationMessagePath = a[ANNOTATION_TERMINATION_MESSAGE_PATH];
    const terminationMessagePolicy = a[ANNOTATION_TERMINATION_MESSAGE_POLICY];
    const terminationGracePeriodSeconds = toInt(a[ANNOTATION_TERMINATION_GRACE_PERIOD]);
    return {
      ...info,
      ...(startedAt ? { startedAt } : {}),
      ...(finishedAt ? { finishedAt } : {}),
      ...(state === 'exited' ? { exitCode: c.State.ExitCode } : {}),
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      imageRef: toImageRef(c.Image, image),
      ...(terminationMessagePath ? { terminationMessagePath } : {}),
      ...(terminationMessagePolicy ? { terminationMessagePolicy } : {}),
      ...(terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds } : {}),
      ...(c.State.Running && c.State.Pid ? { pid: c.State.Pid } : {}),
    };
  }

  exec(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    return this.client.exec(id, cmd, { timeoutMs });
  }

  async execStream(id: string, cmd: string[], options: StreamOptions): Promise<ProcessStreams> {
    const execId = await this.client.execCreate(id, cmd, { tty: options.tty, stdin: options.stdin, stdout: options.stdout, stderr: options.stderr && !options.tty });
    const socket = await this.client.execStartHijacked(execId, { tty: options.tty });
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    return processStreamsOf(socket, options, {
      resize: (w, h) => this.client.execResize(execId, w, h),
      exitCode: async () => {
        await ended;
        // The engine may report Running for a moment after closing the stream.
        for (let i = 0; i < 50; i++) {
          const inspect = await this.client.execInspect(execId);
          if (!inspect.Running && inspect.ExitCode !== null) return inspect.ExitCode;
          await new Promise((r) => setTimeout(r, 100));
        }
        return undefined;
      },
    });
  }

  async attach(id: string, options: StreamOptions): Promise<ProcessStreams> {
    // The engine ends an attach's output when its input ends, unless the container is stdinOnce
    // (then it closes the container's stdin and the output runs on). The kubelet's attach keeps
    // streaming output either way, so for other containers the engine never sees the input end.
    const stdinOnce = options.stdin ? (await this.client.inspectContainer(id)).Config.StdinOnce === true : true;
    const socket = await this.client.attachHijacked(id, { stdin: options.stdin, stdout: options.stdout, stderr: options.stderr });
    return processStreamsOf(socket, options, {
      resize: (w, h) => this.client.resizeContainer(id, w, h),
      exitCode: async () => undefined,
    }, { endInput: stdinOnce });
  }

  logs(id: string, options: ContainerLogsOptions = {}): AsyncIterable<LogChunk> {
    return this.client.logs(id, {
      follow: options.follow ?? false,
      timestamps: options.timestamps ?? false,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      ...(options.since ? { since: options.since } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async readFile(id: string, path: string, maxBytes: number): Promise<Buffer | undefined> {
    let archive: Buffer;
    try {
      archive = await this.client.getArchive(id, path);
    } catch (err) {
      // The file is missing: 404 (the container too: the caller learns that elsewhere).
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
    const file = readTar(archive).find((f) => f.type === 'file');
    return file ? file.data.subarray(0, maxBytes) : undefined;
  }

  async stats(id: string): Promise<ContainerStats> {
    const s = await this.client.stats(id);
    const mem = s.memory_stats;
    const usage = mem.usage ?? 0;
    // cgroup v1 reports total_inactive_file, v2 inactive_file.
    const inactive = mem.stats?.['total_inactive_file'] ?? mem.stats?.['inactive_file'] ?? 0;
    const rss = mem.stats?.['total_rss'] ?? mem.stats?.['anon'];
    return {
      timestamp: Date.parse(s.read) || Date.now(),
      cpuUsageCoreNanoSeconds: s.cpu_stats.cpu_usage.total_usage,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
      ...(rss !== undefined ? { memoryRssBytes: rss } : {}),
      ...(mem.limit ? { memoryLimitBytes: mem.limit } : {}),
    };
  }

  async *events(options: { since?: Date; signal?: AbortSignal } = {}): AsyncGenerator<RuntimeEvent> {
    const actions: Record<string, RuntimeEvent['type']> = { create: 'created', start: 'started', die: 'died', oom: 'oom', destroy: 'destroyed' };
    const stream = this.client.events({
      filters: { type: ['container'], event: Object.keys(actions), label: [`${LABEL_NODE}=${this.nodeName}`, `${LABEL_MANAGED}=true`] },
      ...(options.since ? { since: options.since } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for await (const e of stream) {
      const type = actions[e.Action];
      if (!type) continue;
      const attrs = e.Actor.Attributes ?? {};
      const exitCode = toInt(attrs['exitCode']);
      yield {
        type,
        containerId: e.Actor.ID,
        isSandbox: attrs[LABEL_DOCKER_TYPE] === TYPE_SANDBOX,
        ...(attrs[LABEL_POD_UID] ? { podUid: attrs[LABEL_POD_UID] } : {}),
        ...(attrs[LABEL_POD_NAME] ? { podName: attrs[LABEL_POD_NAME] } : {}),
        ...(attrs[LABEL_POD_NAMESPACE] ? { podNamespace: attrs[LABEL_POD_NAMESPACE] } : {}),
        ...(attrs[LABEL_CONTAINER_NAME] ? { containerName: attrs[LABEL_CONTAINER_NAME] } : {}),
        ...(type === 'died' && exitCode !== undefined ? { exitCode } : {}),
        time: e.timeNano ? Math.floor(e.timeNano / 1e6) : e.time * 1000,
      };
    }
  }

  // ---- images ----

  async pullImage(image: string, auth?: ImageAuth): Promise<string> {
    const registryAuth = auth
      ? {
          ...(auth.username ? { username: auth.username } : {}),
          ...(auth.password ? { password: auth.password } : {}),
          ...(auth.auth ? { auth: auth.auth } : {}),
          ...(auth.serverAddress ? { serveraddress: auth.serverAddress } : {}),
          ...(auth.identityToken ? { identitytoken: auth.identityToken } : {}),
          ...(auth.registryToken ? { registrytoken: auth.registryToken } : {}),
        }
      : undefined;
    await this.client.pullImage(image, registryAuth ? { auth: registryAuth } : {});
    this.images.clear();
    const inspect = await this.inspectImage(image);
    return toImageRef(inspect.Id, inspect);
  }

  async imageStatus(image: string): Promise<ImageStatus | undefined> {
    try {
      const i = await this.inspectImage(image);
      return { id: i.Id, repoTags: i.RepoTags ?? [], repoDigests: i.RepoDigests ?? [], sizeBytes: i.Size, imageRef: toImageRef(i.Id, i) };
    } catch (err) {
      if (isDockerNotFound(err)) return undefined;
      throw err;
    }
  }

  async removeImage(image: string): Promise<void> {
    try {
      await this.client.removeImage(image);
      this.images.clear();
    } catch (err) {
      if (!isDockerNotFound(err)) throw err;
    }
  }
}
