/**
 * Container probes as the kubelet runs them (pkg/probe and pkg/kubelet/prober):
 *
 * - `runProbe` makes one attempt: exec (exit 0 succeeds; a timeout fails with the kubelet's message;
 *   the output, at most 10 KiB, is the message), httpGet (HTTP or HTTPS without certificate checks,
 *   host defaulting to the pod IP, named ports resolved from the container's ports, 200 ≤ status <
 *   400 succeeds, redirects to the same host followed (Go's limit: the 10th fails), a redirect elsewhere ends the
 *   probe with a success plus warning, body read up to 10 KiB), tcpSocket (connect within the
 *   timeout), grpc (`grpc.health.v1.Health/Check` over plaintext HTTP/2 to the pod IP; SERVING
 *   succeeds; messages as the kubelet's).
 *   A prober *error* (no handler, an unknown named port, the runtime unable to exec) is reported as
 *   `{ ok: false, error: true }`; the kubelet throws such results away, and so does `Prober`.
 * - `Prober` runs one probe of one container instance on a schedule and keeps its state with the
 *   kubelet's thresholds; it is made anew for every container start.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { Logger } from 'pino';
import { realClock, type Clock, type TimerHandle } from '@flotilla/client';
import type { ContainerSpec, ProbeSpec } from './types.js';

export type { ContainerSpec, ProbeSpec } from './types.js';

/**
 * The outcome of one attempt. `error`: the probe could not be run (the kubelet discards these
 * results); `warning`: succeeded with a warning (an HTTP redirect to another host was not followed).
 */
export type ProbeResult = { ok: boolean; message?: string; error?: boolean; warning?: boolean };

/** What a probe talks to. `exec` runs in the container (ContainerRuntime.exec bound to its id). */
export interface ProbeTarget {
  podIP?: string;
  hostIP: string;
  exec(cmd: string[], timeoutMs: number): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }>;
}

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

/** The kubelet reads at most this much of probe output and HTTP bodies. */
export const MAX_PROBE_OUTPUT = 10 * 1024;
/** Sent as User-Agent unless the probe sets one. */
export const PROBE_USER_AGENT = 'kube-probe/1.31';
const MAX_REDIRECTS = 10;

/** The kubelet's defaults for unset (or zero) probe fields. */
export function probeTiming(probe: ProbeSpec, kind: ProbeKind) {
  return {
    initialDelaySeconds: Math.max(0, probe.initialDelaySeconds ?? 0),
    periodSeconds: probe.periodSeconds && probe.periodSeconds > 0 ? probe.periodSeconds : 10,
    timeoutSeconds: probe.timeoutSeconds && probe.timeoutSeconds > 0 ? probe.timeoutSeconds : 1,
    // Validation requires 1 for liveness and startup probes.
    successThreshold: kind === 'readiness' && probe.successThreshold && probe.successThreshold > 0 ? probe.successThreshold : 1,
    failureThreshold: probe.failureThreshold && probe.failureThreshold > 0 ? probe.failureThreshold : 3,
  };
}

/** A probe port (number, or name of one of the container's ports); throws when it cannot be resolved. */
export function resolveProbePort(port: number | string, container: Pick<ContainerSpec, 'ports'>): number {
  let n: number;
  if (typeof port === 'number') {
    n = port;
  } else {
    const named = container.ports?.find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new Error(`port ${port} not found`);
  }
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) throw new Error(`invalid port number: ${n}`);
  return n;
}

/** One attempt of the probe against the container. Never throws. */
export async function runProbe(probe: ProbeSpec, target: ProbeTarget, container: ContainerSpec): Promise<ProbeResult> {
  const timeoutMs = probeTiming(probe, 'readiness').timeoutSeconds * 1000;
  try {
    if (probe.exec) return await execProbe(probe.exec.command ?? [], target, timeoutMs);
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = resolveProbePort(g.port, container);
      const host = g.host || target.podIP || target.hostIP;
      const scheme = (g.scheme ?? 'HTTP').toLowerCase();
      return await httpProbe(buildURL(scheme, host, port, g.path ?? ''), g.httpHeaders ?? [], timeoutMs);
    }
    if (probe.tcpSocket) {
      const port = resolveProbePort(probe.tcpSocket.port, container);
      return await tcpProbe(probe.tcpSocket.host || target.podIP || target.hostIP, port, timeoutMs);
    }
    if (probe.grpc) {
      const port = resolveProbePort(probe.grpc.port, container);
      return await grpcProbe(target.podIP || target.hostIP, port, probe.grpc.service ?? '', timeoutMs);
    }
    return { ok: false, error: true, message: `missing probe handler for container ${container.name}` };
  } catch (err) {
    return { ok: false, error: true, message: err instanceof Error ? err.message : String(err) };
  }
}

function truncate(s: string): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= MAX_PROBE_OUTPUT ? s : b.subarray(0, MAX_PROBE_OUTPUT).toString('utf8');
}

async function execProbe(command: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  if (command.length === 0) return { ok: false, error: true, message: 'exec probe has no command' };
  const r = await target.exec(command, timeoutMs);
  if (r.timedOut) return { ok: false, message: `command ${JSON.stringify(command.join(' '))} timed out` };
  // The kubelet appends stderr to stdout (ExecSync) and keeps the first 10 KiB.
  return { ok: r.exitCode === 0, message: truncate(r.stdout + r.stderr) };
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function buildURL(scheme: string, host: string, port: number, path: string): URL {
  const p = path === '' || path.startsWith('/') ? path : `/${path}`;
  return new URL(`${scheme}://${hostPort(host, port)}${p}`);
}

/** The Go-style text of a dial error (what the kubelet puts in probe failure messages). */
function dialError(err: NodeJS.ErrnoException, addr: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'ENETUNREACH':
      return `dial tcp ${addr}: connect: network is unreachable`;
    case 'ECONNRESET':
      return `read tcp ${addr}: read: connection reset by peer`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${addr.replace(/:\d+$/, '')}: no such host`;
    default:
      return err.message;
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const addr = hostPort(host, port);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${addr}: i/o timeout` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: false, message: dialError(err, addr) });
    });
  });
}

function probeHeaders(list: { name: string; value?: string }[]): http.OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const { name, value = '' } of list) {
    const k = name.toLowerCase();
    const prev = headers[k];
    headers[k] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  if (!('user-agent' in headers)) headers['user-agent'] = PROBE_USER_AGENT;
  if (!('accept' in headers)) headers['accept'] = '*/*';
  else if (headers['accept'] === '') delete headers['accept'];
  headers['connection'] = 'close';
  return headers;
}

interface Response {
  status: number;
  location?: string;
  body: string;
}

function get(url: URL, headers: http.OutgoingHttpHeaders, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const options: https.RequestOptions = {
      method: 'GET',
      headers,
      agent: false,
      signal,
      ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
    };
    const req = mod.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        res.destroy();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).subarray(0, MAX_PROBE_OUTPUT).toString('utf8') });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= MAX_PROBE_OUTPUT) finish(); // non-fatal truncation, as the kubelet
      });
      res.once('end', finish);
      const fail = (err: Error) => {
        if (!done) {
          done = true;
          reject(err);
        }
      };
      res.once('error', fail);
      res.once('close', () => fail(new Error('connection closed before the body was read')));
    });
    req.once('error', reject);
    req.end();
  });
}

async function httpProbe(url: URL, headerList: { name: string; value?: string }[], timeoutMs: number): Promise<ProbeResult> {
  const headers = probeHeaders(headerList);
  const first = url;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let current = url;
  try {
    for (let redirects = 0; ; redirects++) {
      let res: Response;
      try {
        res = await get(current, headers, controller.signal);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const why = timedOut ? 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)' : dialError(e, current.host);
        return { ok: false, message: `Get ${JSON.stringify(current.href)}: ${why}` };
      }
      const isRedirect = [301, 302, 303, 307, 308].includes(res.status) && res.location !== undefined;
      if (isRedirect) {
        let next: URL;
        try {
          next = new URL(res.location!, current);
        } catch {
          return { ok: false, message: `Get ${JSON.stringify(current.href)}: failed to parse Location header ${JSON.stringify(res.location)}` };
        }
        if (next.hostname === first.hostname) {
          if (redirects + 1 >= MAX_REDIRECTS) return { ok: false, message: `Get ${JSON.stringify(next.href)}: stopped after ${MAX_REDIRECTS} redirects` };
          current = next;
          continue;
        }
        // A redirect to another host is not followed: the 3xx response is the result.
      }
      if (res.status >= 200 && res.status < 400) {
        if (res.status >= 300) return { ok: true, warning: true, message: `Probe terminated redirects, Response body: ${res.body}` };
        return { ok: true, message: res.body };
      }
      // The kubelet never puts the body in the failure message (kubernetes#99425).
      return { ok: false, message: `HTTP probe failed with statuscode: ${res.status}` };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A small logger interface (pino's Logger fits). */
type ProbeLogger = Pick<Logger, 'debug' | 'info'>;

export interface ProberOptions {
  kind: ProbeKind;
  probe: ProbeSpec;
  container: ContainerSpec;
  target: ProbeTarget;
  /** When the container started (ms since the epoch, on `clock`). */
  startedAt: number;
  /** Called on every state transition (not for repeated results), with the last attempt's message. */
  onChange(state: boolean, message?: string): void;
  /** Called after every attempt (for `Unhealthy` events). */
  onResult?(result: ProbeResult): void;
  clock?: Clock;
  logger?: ProbeLogger;
}

/**
 * Runs one probe of one container instance. Schedule: the first attempt at `startedAt +
 * initialDelaySeconds` (or at `start()` when later), then every `periodSeconds` (an attempt that
 * overruns skips ticks, as the kubelet's ticker). State (`undefined` = unknown):
 *
 * - readiness starts `false` and becomes `true` after `successThreshold` consecutive successes,
 *   `false` after `failureThreshold` consecutive failures; it probes until stopped;
 * - liveness starts `true`; after `failureThreshold` consecutive failures it becomes `false` and
 *   stops probing (the container is to be restarted and gets a new Prober);
 * - startup starts `undefined` (not started: the kubelet's initial value is Unknown); the first
 *   success makes it `true` and ends probing, `failureThreshold` consecutive failures make it
 *   `false` and end probing. Gating liveness/readiness on it is left to the caller.
 *
 * Errored attempts (`error: true`) are discarded, as the kubelet does.
 */
export class Prober {
  private readonly clock: Clock;
  private readonly timing: ReturnType<typeof probeTiming>;
  private current: boolean | undefined;
  private lastOk: boolean | undefined;
  private run = 0;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private lastStart = 0;

  constructor(private readonly o: ProberOptions) {
    this.clock = o.clock ?? realClock;
    this.timing = probeTiming(o.probe, o.kind);
    this.current = o.kind === 'readiness' ? false : o.kind === 'liveness' ? true : undefined;
  }

  /** The probe's current state; see the class comment. */
  get state(): boolean | undefined {
    return this.current;
  }

  /** True once the prober stopped by itself or by `stop()`. */
  get done(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const first = this.o.startedAt + this.timing.initialDelaySeconds * 1000;
    this.schedule(Math.max(0, first - this.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.lastStart = this.clock.now();
    let result: ProbeResult;
    try {
      result = await runProbe(this.o.probe, this.o.target, this.o.container);
    } catch (err) {
      result = { ok: false, error: true, message: String(err) };
    }
    if (this.stopped) return;
    this.record(result);
    if (this.stopped) return;
    const period = this.timing.periodSeconds * 1000;
    const elapsed = this.clock.now() - this.lastStart;
    this.schedule(elapsed < period ? period - elapsed : period - (elapsed % period));
  }

  private record(result: ProbeResult): void {
    const { kind, container } = this.o;
    try {
      this.o.onResult?.(result);
    } catch (err) {
      this.o.logger?.info({ err }, 'probe result callback failed');
    }
    if (result.error) {
      this.o.logger?.debug({ container: container.name, probe: kind, message: result.message }, 'probe errored');
      return;
    }
    if (this.lastOk === result.ok) this.run++;
    else {
      this.lastOk = result.ok;
      this.run = 1;
    }
    const threshold = result.ok ? this.timing.successThreshold : this.timing.failureThreshold;
    if (this.run < threshold) return;
    const changed = this.current !== result.ok;
    this.current = result.ok;
    if (kind === 'startup' && result.ok) this.stop();
    if ((kind === 'liveness' || kind === 'startup') && !result.ok) this.stop(); // on hold until a new container
    if (changed) {
      this.o.logger?.debug({ container: container.name, probe: kind, state: result.ok, message: result.message }, 'probe state changed');
      try {
        this.o.onChange(result.ok, result.message);
      } catch (err) {
        this.o.logger?.info({ err }, 'probe change callback failed');
      }
    }
  }
}

/** Go's time.Duration formatting for whole seconds (`1s`, `2m0s`). */
function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}h` : ''}${m}m${s % 60}s`;
}

const GRPC_CODES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];
const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A gRPC length-prefixed message holding `HealthCheckRequest { string service = 1; }`. */
function healthRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const msg = s.length ? Buffer.concat([Buffer.from([0x0a, ...varint(s.length)]), s]) : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The `status` (field 1, varint) of a `HealthCheckResponse` message (after the 5-byte prefix). */
function healthStatus(frame: Buffer): number {
  const msg = frame.subarray(5, 5 + (frame.length >= 5 ? frame.readUInt32BE(1) : 0));
  let i = 0;
  let status = 0;
  while (i < msg.length) {
    const tag = msg[i++]!;
    const wire = tag & 7;
    let v = 0;
    let shift = 0;
    if (wire === 0) {
      for (;;) {
        const b = msg[i++] ?? 0;
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80) || i >= msg.length) break;
      }
      if (tag >> 3 === 1) status = v;
    } else if (wire === 2) {
      for (;;) {
        const b = msg[i++] ?? 0;
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80) || i >= msg.length) break;
      }
      i += v;
    } else break; // not produced by the health service
  }
  return status;
}

/** The kubelet's gRPC probe: `grpc.health.v1.Health/Check` without TLS. */
function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeResult> {
  const addr = hostPort(host, port);
  const within = goDuration(timeoutMs);
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    const session = http2.connect(`http://${addr}`);
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish({
        ok: false,
        message: connected ? `timeout: health rpc did not complete within ${within}` : `timeout: failed to connect service ${JSON.stringify(addr)} within ${within}: context deadline exceeded`,
      });
    }, timeoutMs);
    session.once('connect', () => (connected = true));
    const onError = (e: NodeJS.ErrnoException) => {
      // A pending stream fails with ERR_HTTP2_STREAM_CANCEL caused by the session's error.
      const err = e.cause instanceof Error ? (e.cause as NodeJS.ErrnoException) : e;
      finish({ ok: false, message: connected ? `error: health rpc probe failed: ${err.message}` : `error: failed to connect service at ${JSON.stringify(addr)}: ${dialError(err, addr)}` });
    };
    session.once('error', onError);
    const req = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
      'grpc-timeout': `${timeoutMs}m`,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const takeStatus = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) {
        grpcStatus = String(h['grpc-status']);
        grpcMessage = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    let httpStatus = 0;
    req.on('response', (h) => {
      httpStatus = Number(h[':status']);
      takeStatus(h);
    });
    req.on('trailers', takeStatus);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', onError);
    req.on('end', () => {
      if (grpcStatus === undefined) {
        const code = httpStatus === 200 ? 'Internal' : 'Unavailable';
        return finish({ ok: false, message: `error: health rpc probe failed: rpc error: code = ${code} desc = ${httpStatus === 200 ? 'server closed the stream without sending trailers' : `unexpected HTTP status code received from server: ${httpStatus}`}` });
      }
      const code = Number(grpcStatus);
      if (code === 12) return finish({ ok: false, message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${grpcMessage}` });
      if (code === 4) return finish({ ok: false, message: `timeout: health rpc did not complete within ${within}` });
      if (code !== 0) return finish({ ok: false, message: `error: health rpc probe failed: rpc error: code = ${GRPC_CODES[code] ?? `Code(${code})`} desc = ${grpcMessage}` });
      const status = healthStatus(Buffer.concat(chunks));
      if (status !== 1) return finish({ ok: false, message: `service unhealthy (responded with ${JSON.stringify(HEALTH_STATUS[status] ?? String(status))})` });
      finish({ ok: true, message: 'service healthy' });
    });
    req.end(healthRequest(service));
  });
}
