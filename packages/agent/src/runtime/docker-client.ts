/**
 * A small Docker Engine API client over the engine's unix socket (undici, no docker CLI). It covers
 * what a kubelet needs: images (inspect, pull, import), containers (create, start, stop, kill,
 * remove, inspect, list, wait, logs, archive, stats), exec and the event stream.
 *
 * Every plain request has a timeout (`requestTimeoutMs`); streams (pull, logs with follow, events,
 * wait, exec output) only have a timeout for the response headers and run until they end or the
 * caller's signal aborts them. Failures are `DockerError`s carrying the engine's status and message.
 */
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { UndiciAgent, undiciErrors } from '@flotilla/client';
import type { Agent, Dispatcher } from 'undici';
import { RuntimeError, type ExecResult, type LogChunk, type RuntimeErrorCode } from './runtime.js';

/** The engine API version every path is prefixed with (Docker 20.10). */
export const DOCKER_API_VERSION = '1.41';

/** The default engine socket. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** Why a request failed: the HTTP status mapped to a runtime error code. */
export type DockerErrorCode = RuntimeErrorCode;

/** An engine failure: `statusCode` is the HTTP status (0 if the engine was not reached), `message` the engine's own. */
export class DockerError extends RuntimeError {
  override name: string = 'DockerError';
  constructor(
    message: string,
    readonly statusCode: number,
    code: DockerErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, code, options);
  }
}

/** True if `err` is a DockerError for a missing object (HTTP 404). */
export function isDockerNotFound(err: unknown): boolean {
  return err instanceof DockerError && err.code === 'NotFound';
}

/** True if `err` is a DockerError for a conflicting state (HTTP 409: name in use, not running, ...). */
export function isDockerConflict(err: unknown): boolean {
  return err instanceof DockerError && err.code === 'Conflict';
}

function codeForStatus(status: number): DockerErrorCode {
  if (status === 400) return 'BadRequest';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status >= 500) return 'ServerError';
  return 'Unknown';
}

/** Credentials for a registry, sent base64url-encoded in the X-Registry-Auth header. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64("user:password") as found in a docker config.json. */
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** One message of a pull or import progress stream. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: Record<string, unknown>;
}

/** `GET /version`. */
export interface DockerVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  [key: string]: unknown;
}

/** `GET /info` (the fields the agent reads; the rest is kept). */
export interface DockerInfo {
  ID: string;
  Name: string;
  NCPU: number;
  MemTotal: number;
  OperatingSystem: string;
  KernelVersion: string;
  CgroupDriver: string;
  CgroupVersion?: string;
  MemoryLimit: boolean;
  DockerRootDir: string;
  [key: string]: unknown;
}

/** `GET /images/{name}/json` (subset). */
export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Size: number;
  Created: string;
  Config?: { Cmd?: string[] | null; Entrypoint?: string[] | null; Env?: string[] | null; User?: string; WorkingDir?: string; Labels?: Record<string, string> | null; StopSignal?: string };
  [key: string]: unknown;
}

/** `GET /networks/{id}` (subset). */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Driver: string;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  Options?: Record<string, string> | null;
  [key: string]: unknown;
}

/** A mount in HostConfig.Mounts. */
export interface DockerMount {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave' };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** `HostConfig` of a container create (the fields a kubelet sets). */
export interface HostConfig {
  NetworkMode?: string;
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[]>;
  Binds?: string[];
  Mounts?: DockerMount[];
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuQuota?: number;
  CpuPeriod?: number;
  OomScoreAdj?: number;
  ReadonlyRootfs?: boolean;
  CapAdd?: string[];
  CapDrop?: string[];
  Privileged?: boolean;
  Tmpfs?: Record<string, string>;
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  RestartPolicy?: { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number };
  SecurityOpt?: string[];
  GroupAdd?: string[];
  Sysctls?: Record<string, string>;
  ShmSize?: number;
  Init?: boolean;
  LogConfig?: { Type: string; Config?: Record<string, string> };
  [key: string]: unknown;
}

/** The body of `POST /containers/create`. */
export interface ContainerCreateBody {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Domainname?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  HostConfig?: HostConfig;
  [key: string]: unknown;
}

/** `GET /containers/{id}/json` (subset). */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  RestartCount: number;
  State: {
    Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Config: { Image: string; Labels: Record<string, string> | null; Env?: string[] | null; Cmd?: string[] | null; Entrypoint?: string[] | null; WorkingDir?: string; User?: string; Hostname?: string; Tty?: boolean; StdinOnce?: boolean };
  HostConfig: HostConfig;
  NetworkSettings: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string; NetworkID?: string }> | null; SandboxKey?: string };
  Mounts?: { Type: string; Source: string; Destination: string; RW: boolean }[];
  [key: string]: unknown;
}

/** One row of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  State: string;
  Status: string;
  Labels: Record<string, string> | null;
  [key: string]: unknown;
}

/** Filters for listing containers; labels as `{k: v}` (exact match) or `['k=v', 'k']`. */
export interface ContainerListFilters {
  label?: Record<string, string> | string[];
  status?: string[];
  id?: string[];
  name?: string[];
}

/** `GET /exec/{id}/json` (subset). */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ContainerID: string;
}

/** Options of a one-off command run in a container. */
export interface ExecOptions {
  /** Give up waiting after this long (the process keeps running; Docker has no exec kill). Default 60 s. */
  timeoutMs?: number;
  user?: string;
  env?: string[];
  workingDir?: string;
  /** Keep at most this many bytes of each of stdout and stderr (default 1 MiB). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

/** Options of `GET /containers/{id}/logs`. */
export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Number of trailing lines, or 'all'. */
  tail?: number | 'all';
  timestamps?: boolean;
  /** Unix seconds (fractions allowed) or a Date. */
  since?: number | Date;
  until?: number | Date;
  /** Set if known; otherwise the container is inspected to know whether output is multiplexed. */
  tty?: boolean;
  signal?: AbortSignal;
}

/** `GET /containers/{id}/stats?stream=false&one-shot=true` (subset; cgroup v1 and v2 fields). */
export interface ContainerStatsResponse {
  read: string;
  cpu_stats: { cpu_usage: { total_usage: number; usage_in_kernelmode?: number; usage_in_usermode?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats: { usage?: number; limit?: number; max_usage?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  [key: string]: unknown;
}

/** One message of `GET /events`. */
export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  /** Unix seconds. */
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
  scope?: string;
}

/** Filters for the event stream, as the engine takes them. */
export interface EventFilters {
  type?: string[];
  event?: string[];
  label?: Record<string, string> | string[];
  container?: string[];
}

/** Client options. */
export interface DockerClientOptions {
  /** Engine socket; default `/var/run/docker.sock`. */
  socketPath?: string;
  /** Default `1.41`. */
  apiVersion?: string;
  /** Timeout of plain requests (and of response headers for streams). Default 30 s. */
  requestTimeoutMs?: number;
  /** Timeout for a pull's response headers (the engine resolves the registry first). Default 120 s. */
  pullHeadersTimeoutMs?: number;
}

type Query = Record<string, string | number | boolean | undefined>;

interface CallOptions {
  query?: Query;
  body?: unknown;
  rawBody?: Buffer | NodeJS.ReadableStream;
  contentType?: string;
  headers?: Record<string, string>;
  /** Plain requests: total timeout. Streams: headers timeout. 0 = none. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function toFilters(filters: Record<string, Record<string, string> | string[] | undefined>): string {
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value : Object.entries(value).map(([k, v]) => `${k}=${v}`);
  }
  return JSON.stringify(out);
}

function unixSeconds(value: number | Date): string {
  return String(value instanceof Date ? value.getTime() / 1000 : value);
}

/** Encodes registry credentials the way the engine decodes them (URL-safe base64, padded). */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Splits an image reference into the `fromImage` and `tag` pull parameters; a reference without a
 * tag or digest gets `latest` (an empty tag would pull every tag).
 */
export function splitImageReference(ref: string): { image: string; tag: string } {
  const at = ref.indexOf('@');
  if (at !== -1) return { image: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { image: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { image: ref, tag: 'latest' };
}

/** Parses newline-delimited JSON from a byte stream. */
export async function* parseJsonLines<T>(body: AsyncIterable<Buffer | string>): AsyncGenerator<T> {
  let pending = '';
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  const rest = pending.trim();
  if (rest) yield JSON.parse(rest) as T;
}

/**
 * Demultiplexes the engine's stdout/stderr framing: each frame is an 8-byte header (stream type
 * 1 = stdout, 2 = stderr, three zero bytes, big-endian uint32 payload size) followed by the payload.
 */
export async function* demultiplexStream(body: AsyncIterable<Buffer>): AsyncGenerator<LogChunk> {
  let buffer: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (buffer.length >= 8) {
      const size = buffer.readUInt32BE(4);
      if (buffer.length < 8 + size) break;
      const type = buffer[0];
      const data = buffer.subarray(8, 8 + size);
      buffer = buffer.subarray(8 + size);
      // Type 0 is stdin echoed back; only with a TTY-less attach to stdin, which we never do.
      if (size > 0) yield { stream: type === 2 ? 'stderr' : 'stdout', data: Buffer.from(data) };
    }
  }
  if (buffer.length > 0) yield { stream: 'stdout', data: buffer };
}

/** Escapes an image reference for a path, keeping the '/', ':' and '@' the engine's router expects. */
function encodeImageRef(ref: string): string {
  return encodeURIComponent(ref).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** Docker's "zero time" means "never". */
function isZeroTime(value: string | undefined): boolean {
  return !value || value.startsWith('0001-01-01');
}

/** Returns the RFC 3339 timestamp, or undefined for the engine's zero time. */
export function dockerTime(value: string | undefined): string | undefined {
  return isZeroTime(value) ? undefined : value;
}

/** An entry of `GET /networks` (subset). */
export interface NetworkSummary {
  Name: string;
  Id: string;
  Driver: string;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, unknown> | null;
}

/** The body of `POST /networks/create` (subset). */
export interface NetworkCreateBody {
  Name: string;
  Driver?: string;
  CheckDuplicate?: boolean;
  IPAM?: { Driver?: string; Config: { Subnet: string; Gateway?: string }[] };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** The Docker Engine API client. One instance per engine; `close()` releases its connections. */
export class DockerClient {
  readonly socketPath: string;
  readonly apiVersion: string;
  private readonly agent: Agent;
  private readonly requestTimeoutMs: number;
  private readonly pullHeadersTimeoutMs: number;

  constructor(options: DockerClientOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_DOCKER_SOCKET;
    this.apiVersion = options.apiVersion ?? DOCKER_API_VERSION;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.pullHeadersTimeoutMs = options.pullHeadersTimeoutMs ?? 120_000;
    this.agent = new UndiciAgent({ connect: { socketPath: this.socketPath }, keepAliveTimeout: 4_000 });
  }

  /** Closes idle connections; streams in flight are destroyed. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private path(path: string, query?: Query): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const q = qs.toString();
    return `/v${this.apiVersion}${path}${q ? `?${q}` : ''}`;
  }

  /**
   * Sends one request. With `stream`, only the headers are bounded by the timeout and the caller
   * owns the body; otherwise the whole exchange is, and the body is read by the caller in time.
   */
  private async send(method: Dispatcher.HttpMethod, path: string, options: CallOptions, stream: boolean): Promise<{ statusCode: number; body: Dispatcher.ResponseData['body']; timeoutSignal?: AbortSignal }> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const timeoutSignal = !stream && timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [timeoutSignal, options.signal].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    const headers: Record<string, string> = { ...options.headers };
    let body: Buffer | NodeJS.ReadableStream | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
    } else if (options.body !== undefined) {
      body = Buffer.from(JSON.stringify(options.body));
      headers['content-type'] = 'application/json';
    }
    try {
      const res = await this.agent.request({
        origin: 'http://localhost',
        method,
        path: this.path(path, options.query),
        headers,
        body: body as Dispatcher.DispatchOptions['body'],
        headersTimeout: timeoutMs,
        bodyTimeout: stream ? 0 : timeoutMs,
        ...(signal ? { signal } : {}),
      });
      if (res.statusCode >= 400) {
        const text = await res.body.text().catch(() => '');
        let message = text.trim();
        try {
          const parsed = JSON.parse(text) as { message?: string };
          if (parsed.message) message = parsed.message;
        } catch {
          // Not JSON: keep the text.
        }
        throw new DockerError(message || `HTTP ${res.statusCode}`, res.statusCode, codeForStatus(res.statusCode));
      }
      return { statusCode: res.statusCode, body: res.body, ...(timeoutSignal ? { timeoutSignal } : {}) };
    } catch (err) {
      throw this.translate(err, method, path, timeoutSignal, options.signal);
    }
  }

  private translate(err: unknown, method: string, path: string, timeoutSignal: AbortSignal | undefined, callerSignal: AbortSignal | undefined): unknown {
    if (err instanceof DockerError) return err;
    if (callerSignal?.aborted) return err;
    if (timeoutSignal?.aborted || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
      return new DockerError(`docker ${method} ${path}: timed out`, 0, 'Timeout', { cause: err });
    }
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || code === 'UND_ERR_SOCKET') {
      return new DockerError(`docker engine unavailable at ${this.socketPath}: ${(err as Error).message}`, 0, 'Unavailable', { cause: err });
    }
    return err;
  }

  private async json<T>(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
    const { body, timeoutSignal } = await this.send(method, path, options, false);
    try {
      const text = await body.text();
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      throw this.translate(err, method, path, timeoutSignal, options.signal);
    }
  }

  private async empty(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<number> {
    const { statusCode, body, timeoutSignal } = await this.send(method, path, options, false);
    try {
      await body.dump();
    } catch (err) {
      throw this.translate(err, method, path, timeoutSignal, options.signal);
    }
    return statusCode;
  }

  private async buffer(method: Dispatcher.HttpMethod, path: string, options: CallOptions = {}): Promise<Buffer> {
    const { body, timeoutSignal } = await this.send(method, path, options, false);
    try {
      return Buffer.from(await body.arrayBuffer());
    } catch (err) {
      throw this.translate(err, method, path, timeoutSignal, options.signal);
    }
  }

  // ---- system ----

  /** `GET /_ping`: resolves with "OK" when the engine answers. */
  async ping(): Promise<string> {
    const { body } = await this.send('GET', '/_ping', {}, false);
    return body.text();
  }

  /** `GET /version`. */
  version(): Promise<DockerVersion> {
    return this.json('GET', '/version');
  }

  /** `GET /info`. */
  info(): Promise<DockerInfo> {
    return this.json('GET', '/info');
  }

  /** `GET /networks/{id}`; throws NotFound if absent. */
  inspectNetwork(id: string): Promise<NetworkInspect> {
    return this.json('GET', `/networks/${encodeURIComponent(id)}`);
  }

  // ---- images ----

  /** `GET /images/{name}/json`; throws NotFound if absent. */
  inspectImage(ref: string): Promise<ImageInspect> {
    return this.json('GET', `/images/${encodeImageRef(ref)}/json`);
  }

  /**
   * Pulls an image and waits for the pull to finish. A failure reported inside the progress
   * stream (after the engine answered 200) is thrown as a DockerError with the engine's message.
   */
  async pullImage(ref: string, options: { auth?: RegistryAuth; onProgress?: (m: ProgressMessage) => void; signal?: AbortSignal; platform?: string } = {}): Promise<void> {
    const { image, tag } = splitImageReference(ref);
    const headers: Record<string, string> = {};
    if (options.auth) headers['x-registry-auth'] = encodeRegistryAuth(options.auth);
    const res = await this.send('POST', '/images/create', { query: { fromImage: image, tag, platform: options.platform }, headers, timeoutMs: this.pullHeadersTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) }, true);
    await this.consumeProgress(res.body, options.onProgress);
  }

  /**
   * Imports a root filesystem tarball as an image (`fromSrc=-`). `changes` are Dockerfile
   * instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME). Resolves with the image id.
   */
  async importImage(tar: Buffer, options: { repo: string; tag?: string; changes?: string[]; message?: string; timeoutMs?: number }): Promise<string> {
    const qs = new URLSearchParams({ fromSrc: '-', repo: options.repo, tag: options.tag ?? 'latest' });
    if (options.message) qs.set('message', options.message);
    for (const change of options.changes ?? []) qs.append('changes', change);
    // `changes` repeats, so the query string is built here rather than from a record.
    const res = await this.send('POST', `/images/create?${qs.toString()}`, { rawBody: tar, contentType: 'application/x-tar', timeoutMs: options.timeoutMs ?? 120_000 }, true);
    let id = '';
    await this.consumeProgress(res.body, (m) => {
      if (m.status?.startsWith('sha256:')) id = m.status;
    });
    return id;
  }

  /** `DELETE /images/{name}`. */
  async removeImage(ref: string, options: { force?: boolean; noprune?: boolean } = {}): Promise<void> {
    await this.json('DELETE', `/images/${encodeImageRef(ref)}`, { query: { force: options.force, noprune: options.noprune } });
  }

  private async consumeProgress(body: AsyncIterable<Buffer>, onProgress?: (m: ProgressMessage) => void): Promise<void> {
    for await (const message of parseJsonLines<ProgressMessage>(body)) {
      if (message.error || message.errorDetail) {
        const text = message.errorDetail?.message ?? message.error ?? 'unknown error';
        throw new DockerError(text, message.errorDetail?.code ?? 500, codeForStatus(message.errorDetail?.code ?? 500));
      }
      onProgress?.(message);
    }
  }

  // ---- containers ----

  /** `POST /containers/create?name=`. Resolves with the new id and the engine's warnings. */
  async createContainer(name: string | undefined, body: ContainerCreateBody): Promise<{ Id: string; Warnings: string[] }> {
    const res = await this.json<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', { query: { name }, body });
    return { Id: res.Id, Warnings: res.Warnings ?? [] };
  }

  /** `POST /containers/{id}/start`; starting a running container is not an error. */
  async startContainer(id: string): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/start`);
  }

  /**
   * `POST /containers/{id}/stop?t=`: the image's stop signal (SIGTERM by default), then SIGKILL
   * after `timeoutSeconds`. Stopping a stopped container is not an error.
   */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const t = Math.max(0, Math.ceil(timeoutSeconds));
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t }, timeoutMs: t * 1000 + this.requestTimeoutMs });
  }

  /** `POST /containers/{id}/kill?signal=`; Conflict if the container is not running. */
  async killContainer(id: string, signal = 'SIGKILL'): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } });
  }

  /** `DELETE /containers/{id}`. */
  async removeContainer(id: string, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await this.empty('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: options.force, v: options.volumes } });
  }

  /** `GET /containers/{id}/json`; throws NotFound if absent. */
  inspectContainer(id: string): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`);
  }

  /** `GET /containers/json`, by default including stopped containers. */
  listContainers(options: { all?: boolean; filters?: ContainerListFilters } = {}): Promise<ContainerSummary[]> {
    const filters = options.filters ? toFilters({ ...options.filters }) : undefined;
    return this.json('GET', '/containers/json', { query: { all: options.all ?? true, filters } });
  }

  /**
   * `POST /containers/{id}/wait`: resolves with the exit status once the container stops
   * (`condition` not-running by default). No timeout unless given.
   */
  async waitContainer(id: string, options: { condition?: 'not-running' | 'next-exit' | 'removed'; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
    const { body } = await this.send('POST', `/containers/${encodeURIComponent(id)}/wait`, { query: { condition: options.condition ?? 'not-running' }, ...(options.signal ? { signal: options.signal } : {}) }, true);
    const timeout = options.timeoutMs ? setTimeout(() => body.destroy(new DockerError(`docker wait ${id}: timed out`, 0, 'Timeout')), options.timeoutMs) : undefined;
    try {
      return JSON.parse(await body.text()) as { StatusCode: number; Error?: { Message: string } | null };
    } finally {
      clearTimeout(timeout);
    }
  }

  /**
   * `GET /containers/{id}/logs`, demultiplexed into stdout/stderr chunks. With `follow` the
   * iteration lasts until the container stops or `signal` aborts (then it just ends).
   */
  async *logs(id: string, options: LogsOptions = {}): AsyncGenerator<LogChunk> {
    const tty = options.tty ?? (await this.inspectContainer(id)).Config.Tty ?? false;
    const query: Query = {
      stdout: options.stdout ?? true,
      stderr: options.stderr ?? true,
      follow: options.follow ?? false,
      timestamps: options.timestamps ?? false,
      tail: options.tail === undefined ? 'all' : String(options.tail),
      since: options.since === undefined ? undefined : unixSeconds(options.since),
      until: options.until === undefined ? undefined : unixSeconds(options.until),
    };
    const { body } = await this.send('GET', `/containers/${encodeURIComponent(id)}/logs`, { query, ...(options.signal ? { signal: options.signal } : {}) }, true);
    try {
      if (tty) {
        for await (const chunk of body) yield { stream: 'stdout', data: chunk as Buffer };
      } else {
        yield* demultiplexStream(body);
      }
    } catch (err) {
      if (!options.signal?.aborted) throw err;
    } finally {
      body.destroy();
    }
  }

  /** Collects a container's (non-following) logs into two strings. */
  async collectLogs(id: string, options: Omit<LogsOptions, 'follow'> = {}): Promise<{ stdout: string; stderr: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const chunk of this.logs(id, { ...options, follow: false })) (chunk.stream === 'stderr' ? err : out).push(chunk.data);
    return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  /** `GET /containers/{id}/archive?path=`: a tar of the file or directory (works on stopped containers). */
  getArchive(id: string, path: string): Promise<Buffer> {
    return this.buffer('GET', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } });
  }

  /** `PUT /containers/{id}/archive?path=`: extracts `tar` into directory `path`. */
  async putArchive(id: string, path: string, tar: Buffer, options: { noOverwriteDirNonDir?: boolean } = {}): Promise<void> {
    await this.empty('PUT', `/containers/${encodeURIComponent(id)}/archive`, { query: { path, noOverwriteDirNonDir: options.noOverwriteDirNonDir }, rawBody: tar, contentType: 'application/x-tar' });
  }

  /** One stats sample (`stream=false&one-shot=true`: no second sample, so no precpu_stats). */
  stats(id: string): Promise<ContainerStatsResponse> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false, 'one-shot': true } });
  }

  // ---- exec ----

  /** `POST /containers/{id}/exec`: creates an exec instance with stdout and stderr attached. */
  async execCreate(containerId: string, cmd: string[], options: { user?: string; env?: string[]; workingDir?: string; tty?: boolean; stdin?: boolean; stdout?: boolean; stderr?: boolean } = {}): Promise<string> {
    const res = await this.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, {
      body: { Cmd: cmd, AttachStdin: options.stdin ?? false, AttachStdout: options.stdout ?? true, AttachStderr: options.stderr ?? true, Tty: options.tty ?? false, User: options.user, Env: options.env, WorkingDir: options.workingDir },
    });
    return res.Id;
  }

  /**
   * `POST /exec/{id}/start` with the connection hijacked (`Upgrade: tcp`): the returned socket
   * carries stdin one way and the output (multiplexed unless `tty`) the other; ending the socket's
   * writable side closes the command's stdin; the engine closes the socket when the command exits.
   */
  execStartHijacked(execId: string, options: { tty?: boolean } = {}): Promise<Socket> {
    return this.hijack(`/exec/${encodeURIComponent(execId)}/start`, JSON.stringify({ Detach: false, Tty: options.tty ?? false }));
  }

  /** `POST /exec/{id}/resize`. */
  async execResize(execId: string, width: number, height: number): Promise<void> {
    await this.empty('POST', `/exec/${encodeURIComponent(execId)}/resize`, { query: { h: height, w: width } });
  }

  /** `POST /containers/{id}/attach` hijacked: the container's stdio as a socket (see `execStartHijacked`). */
  attachHijacked(id: string, options: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<Socket> {
    const q = new URLSearchParams({ stream: '1', stdin: options.stdin ? '1' : '0', stdout: options.stdout ? '1' : '0', stderr: options.stderr ? '1' : '0' });
    return this.hijack(`/containers/${encodeURIComponent(id)}/attach?${q}`, undefined);
  }

  /** `POST /containers/{id}/resize` (the TTY of the container's main process). */
  async resizeContainer(id: string, width: number, height: number): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }

  /** A POST the engine answers with `101 UPGRADED`, after which the socket is the raw stream. */
  private hijack(path: string, body: string | undefined): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        socketPath: this.socketPath,
        method: 'POST',
        path: `/v${this.apiVersion}${path}`,
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': 'application/json', ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : { 'Content-Length': '0' }) },
        timeout: this.requestTimeoutMs,
      });
      req.on('upgrade', (_res, socket, head) => {
        socket.setTimeout(0);
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            // not JSON
          }
          const code: RuntimeErrorCode = res.statusCode === 404 ? 'NotFound' : res.statusCode === 409 ? 'Conflict' : 'Unknown';
          reject(new RuntimeError(`POST ${path}: ${res.statusCode} ${message}`, code));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`POST ${path}: no answer from the engine`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * `POST /exec/{id}/start` attached: yields the command's demultiplexed output until it exits.
   * The engine hijacks the connection and closes it at the end, which ends the iteration.
   */
  async *execStart(execId: string, options: { signal?: AbortSignal; tty?: boolean } = {}): AsyncGenerator<LogChunk> {
    const { body } = await this.send('POST', `/exec/${encodeURIComponent(execId)}/start`, { body: { Detach: false, Tty: options.tty ?? false }, ...(options.signal ? { signal: options.signal } : {}) }, true);
    try {
      if (options.tty) {
        for await (const chunk of body) yield { stream: 'stdout', data: chunk as Buffer };
      } else {
        yield* demultiplexStream(body);
      }
    } finally {
      body.destroy();
    }
  }

  /** `GET /exec/{id}/json`. */
  execInspect(execId: string): Promise<ExecInspect> {
    return this.json('GET', `/exec/${encodeURIComponent(execId)}/json`);
  }

  /**
   * Runs a command in a running container and returns its exit code and output. On timeout the
   * result has `timedOut` and exit code -1; the process is left running (the engine cannot kill it).
   */
  async exec(containerId: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const maxBytes = options.maxOutputBytes ?? 1024 * 1024;
    const execId = await this.execCreate(containerId, cmd, { ...(options.user ? { user: options.user } : {}), ...(options.env ? { env: options.env } : {}), ...(options.workingDir ? { workingDir: options.workingDir } : {}) });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    try {
      for await (const chunk of this.execStart(execId, { signal })) {
        if (chunk.stream === 'stderr') {
          if (errBytes < maxBytes) err.push(chunk.data.subarray(0, maxBytes - errBytes));
          errBytes += chunk.data.length;
        } else {
          if (outBytes < maxBytes) out.push(chunk.data.subarray(0, maxBytes - outBytes));
          outBytes += chunk.data.length;
        }
      }
    } catch (e) {
      if (!timeout.aborted || options.signal?.aborted) throw e;
      return { exitCode: -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: true };
    }
    // The exit code is recorded right after the output ends; poll briefly for it.
    let inspect = await this.execInspect(execId);
    for (let i = 0; (inspect.Running || inspect.ExitCode === null) && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      inspect = await this.execInspect(execId);
    }
    return { exitCode: inspect.ExitCode ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut: false };
  }

  // ---- events ----

  /**
   * `GET /events` as an async iterator. Ends quietly when `signal` aborts or the caller stops
   * iterating; throws if the engine connection fails.
   */
  async *events(options: { filters?: EventFilters; since?: number | Date; signal?: AbortSignal } = {}): AsyncGenerator<DockerEvent> {
    const filters = options.filters ? toFilters({ ...options.filters }) : undefined;
    const { body } = await this.send('GET', '/events', { query: { filters, since: options.since === undefined ? undefined : unixSeconds(options.since) }, ...(options.signal ? { signal: options.signal } : {}) }, true);
    try {
      yield* parseJsonLines<DockerEvent>(body);
    } catch (err) {
      if (!options.signal?.aborted) throw err;
    } finally {
      body.destroy();
    }
  }

  // ---- networks ----

  /** `GET /networks` (with `filters`, e.g. `{ label: ['a=b'] }`; `name` matches substrings). */
  listNetworks(options: { filters?: Record<string, string[]> } = {}): Promise<NetworkSummary[]> {
    return this.json('GET', '/networks', { query: { filters: options.filters ? JSON.stringify(options.filters) : undefined } });
  }

  /** `POST /networks/create`; Conflict if the name is taken. Resolves with the id. */
  async createNetwork(body: NetworkCreateBody): Promise<string> {
    return (await this.json<{ Id: string }>('POST', '/networks/create', { body })).Id;
  }

  /** `DELETE /networks/{id}`; NotFound if absent; fails while containers are attached. */
  async removeNetwork(id: string): Promise<void> {
    await this.empty('DELETE', `/networks/${encodeURIComponent(id)}`);
  }
}
