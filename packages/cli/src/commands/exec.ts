/**
 * `flctl exec` and `flctl attach`: pods/exec and pods/attach over WebSocket (`v5.channel.k8s.io`,
 * else `v4.channel.k8s.io`), like kubectl ≥ 1.30. stdin (-i) goes to channel 0 (v5 closes it with
 * `[255, 0]` at EOF), channels 1/2 go to stdout/stderr, channel 3 carries the final Status (a
 * non-zero exit code becomes flctl's exit code), and -t puts the local terminal in raw mode and
 * sends its size on channel 4 at start and on SIGWINCH.
 */
import type { Readable } from 'node:stream';
import { res, resourcePath, type RestClient } from '@flotilla/client';
import type { WebSocket } from 'undici';
import type { CliContext } from '../cli-context.js';
import { parseDurationMs } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { channelDispatcher, CLOSE, ERROR, EXEC_PROTOCOLS, frame, messageBytes, openChannelSocket, RESIZE, STDERR, STDIN, STDOUT } from '../ws-channel.js';
import { findPod } from './logs.js';

interface ContainerSpec {
  name: string;
  stdin?: boolean;
  tty?: boolean;
}

/** The parts of a Pod exec and attach read. */
export interface StreamPod {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { containers?: ContainerSpec[]; initContainers?: ContainerSpec[]; ephemeralContainers?: ContainerSpec[] };
  status?: { phase?: string };
}

/** Options of exec/attach. */
export interface StreamOptions {
  container?: string;
  stdin?: boolean;
  tty?: boolean;
  quiet?: boolean;
  podRunningTimeout?: string;
}

/** kubectl's container defaulting: -c, the default-container annotation, else the first one (with a note when there are several). */
export function chooseContainer(ctx: CliContext, pod: StreamPod, wanted: string | undefined, quiet: boolean): ContainerSpec {
  const containers = pod.spec?.containers ?? [];
  const all = [...containers, ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  if (wanted) return all.find((c) => c.name === wanted) ?? { name: wanted };
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated) {
    const c = all.find((x) => x.name === annotated);
    if (c) return c;
    if (!quiet) ctx.err(`Default container name "${annotated}" not found in pod ${pod.metadata.name}\n`);
  }
  const first = containers[0];
  if (!first) throw new CliError(`pod ${pod.metadata.name} does not have any containers`);
  if (containers.length > 1 && !quiet) {
    const inits = (pod.spec?.initContainers ?? []).map((c) => c.name);
    ctx.err(`Defaulted container "${first.name}" out of: ${containers.map((c) => c.name).join(', ')}${inits.length > 0 ? `, ${inits.map((n) => `${n} (init)`).join(', ')}` : ''}\n`);
  }
  return first;
}

/** What the Status on the error channel means: the exit code, or an error to print. */
export function interpretStatus(text: string, protocol: string): { code: number; message?: string } {
  if (text.trim() === '') return { code: 0 };
  if (protocol !== 'v4.channel.k8s.io' && protocol !== 'v5.channel.k8s.io') return { code: 1, message: `error: ${text.trim()}` };
  let status: { status?: string; reason?: string; message?: string; code?: number; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    return { code: 1, message: `error: error stream protocol error: ${text.trim()}` };
  }
  if (status.status === 'Success') return { code: 0 };
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const n = Number(cause?.message);
    if (Number.isInteger(n) && n > 0) return { code: n, message: `command terminated with exit code ${n}` };
  }
  return { code: 1, message: `error: ${status.message ?? 'the command failed'}` };
}

/** Resolves POD, pod/NAME or TYPE/NAME (first pod of the workload). */
async function resolvePod(ctx: CliContext, client: RestClient, arg: string, namespace: string): Promise<StreamPod> {
  return (await findPod(ctx, client, arg, namespace)) as unknown as StreamPod;
}

/** Runs one streaming session; resolves to the exit code. */
async function runSession(ctx: CliContext, path: string, opts: { stdin: boolean; tty: boolean }): Promise<number> {
  const config = await ctx.config();
  const dispatcher = channelDispatcher(config);
  const input = ctx.io.stdin as Readable & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  const output = ctx.io.stdout as { write(b: Uint8Array | string): unknown; columns?: number; rows?: number };
  const errOut = ctx.io.stderr as { write(b: Uint8Array | string): unknown };
  let ws: WebSocket;
  try {
    ws = await openChannelSocket(config, dispatcher, path, EXEC_PROTOCOLS);
  } catch (err) {
    await dispatcher.destroy().catch(() => undefined);
    throw err;
  }
  const protocol = ws.protocol;
  const errorChunks: Buffer[] = [];
  let rawMode = false;
  const cleanups: (() => void)[] = [];
  try {
    return await new Promise<number>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        const status = interpretStatus(Buffer.concat(errorChunks).toString('utf8'), protocol);
        if (status.message) errOut.write(`${status.message}\n`);
        resolve(status.code);
      };
      ws.addEventListener('message', (ev) => {
        const data = messageBytes(ev.data);
        if (data.length === 0) return;
        const channel = data[0];
        const payload = data.subarray(1);
        if (channel === STDOUT) output.write(payload);
        else if (channel === STDERR) errOut.write(payload);
        else if (channel === ERROR) {
          errorChunks.push(Buffer.from(payload));
          // The Status is the last word; do not wait long for the close handshake.
          const t = setTimeout(() => {
            finish();
            try {
              ws.close();
            } catch {
              // already closing
            }
          }, 2000);
          cleanups.push(() => clearTimeout(t));
        }
      });
      ws.addEventListener('close', finish);
      ws.addEventListener('error', () => {
        if (!finished) errOut.write('error: the connection to the server was lost\n');
        finish();
      });

      const send = (b: Buffer) => {
        if (ws.readyState === ws.OPEN) ws.send(b);
      };
      if (opts.tty) {
        const sendSize = () => {
          if (output.columns && output.rows) send(frame(RESIZE, JSON.stringify({ Width: output.columns, Height: output.rows })));
        };
        sendSize();
        process.on('SIGWINCH', sendSize);
        cleanups.push(() => process.off('SIGWINCH', sendSize));
        if (input.isTTY && input.setRawMode) {
          input.setRawMode(true);
          rawMode = true;
        }
      }
      if (opts.stdin) {
        const onData = (d: Buffer | string) => {
          send(frame(STDIN, typeof d === 'string' ? Buffer.from(d) : d));
          // Crude backpressure: hold stdin while the socket has a lot queued.
          if (ws.bufferedAmount > 4 * 1024 * 1024) {
            input.pause();
            const t = setInterval(() => {
              if (ws.bufferedAmount < 1024 * 1024 || ws.readyState !== ws.OPEN) {
                clearInterval(t);
                input.resume();
              }
            }, 20);
            cleanups.push(() => clearInterval(t));
          }
        };
        const onEnd = () => {
          if (protocol === 'v5.channel.k8s.io') send(Buffer.from([CLOSE, STDIN]));
        };
        input.on('data', onData);
        input.once('end', onEnd);
        input.resume();
        cleanups.push(() => {
          input.off('data', onData);
          input.off('end', onEnd);
        });
      }
    });
  } finally {
    for (const c of cleanups) c();
    if (rawMode) input.setRawMode?.(false);
    if (opts.stdin) {
      input.pause();
      input.destroy?.();
    }
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      try {
        ws.close();
      } catch {
        // ignore
      }
    }
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** Decides whether the session gets a TTY, like kubectl's SetupTTY. */
function setupTty(ctx: CliContext, opts: StreamOptions): boolean {
  if (!opts.stdin || !opts.tty) return false;
  if (!(ctx.io.stdin as { isTTY?: boolean }).isTTY) {
    if (!opts.quiet) ctx.err('Unable to use a TTY - input is not a terminal or the right kind of file\n');
    return false;
  }
  return true;
}

function sessionQuery(container: string, stdin: boolean, tty: boolean, command: string[] = []): string {
  const q = new URLSearchParams();
  for (const c of command) q.append('command', c);
  q.set('container', container);
  if (stdin) q.set('stdin', 'true');
  q.set('stdout', 'true');
  if (!tty) q.set('stderr', 'true');
  if (tty) q.set('tty', 'true');
  return q.toString();
}

/** Runs `exec`. */
export async function runExec(ctx: CliContext, podArg: string | undefined, command: string[], opts: StreamOptions): Promise<number> {
  if (!podArg) throw new CliError('pod or type/name must be specified');
  if (command.length === 0) throw new CliError('you must specify at least one command for the container');
  const client = await ctx.client();
  const namespace = await ctx.namespace();
  const pod = await resolvePod(ctx, client, podArg, namespace);
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') throw new CliError(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  const container = chooseContainer(ctx, pod, opts.container, opts.quiet === true);
  const tty = setupTty(ctx, opts);
  const path = `${resourcePath(res('pods'), pod.metadata.namespace ?? namespace, pod.metadata.name, 'exec')}?${sessionQuery(container.name, opts.stdin === true, tty, command)}`;
  return runSession(ctx, path, { stdin: opts.stdin === true, tty });
}

/** Runs `attach`. */
export async function runAttach(ctx: CliContext, podArg: string | undefined, opts: StreamOptions): Promise<number> {
  if (!podArg) throw new CliError('expected POD, TYPE/NAME, or TYPE NAME, (at most 1 argument) saw 0');
  const client = await ctx.client();
  const namespace = await ctx.namespace();
  let pod = await resolvePod(ctx, client, podArg, namespace);
  const timeoutMs = parseDurationMs(opts.podRunningTimeout ?? '1m') ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (pod.status?.phase === 'Pending' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    pod = (await client.get(res('pods'), pod.metadata.namespace ?? namespace, pod.metadata.name)) as unknown as StreamPod;
  }
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') throw new CliError(`cannot attach a container in a completed pod; current phase is ${phase}`);
  if (phase !== 'Running') throw new CliError(`pod ${pod.metadata.name} is not running (phase ${phase ?? 'Unknown'})`);
  const container = chooseContainer(ctx, pod, opts.container, opts.quiet === true);
  let wantTty = opts.tty === true;
  if (wantTty && !container.tty) {
    wantTty = false;
    if (!opts.quiet) ctx.err(`error: Unable to use a TTY - container ${container.name} did not allocate one\n`);
  } else if (!wantTty && container.tty) {
    // The container runs with a TTY, so the session needs one too (kubectl forces it).
    wantTty = true;
  }
  const tty = setupTty(ctx, { ...opts, tty: wantTty });
  if (tty && !opts.quiet) ctx.err("If you don't see a command prompt, try pressing enter.\n");
  const path = `${resourcePath(res('pods'), pod.metadata.namespace ?? namespace, pod.metadata.name, 'attach')}?${sessionQuery(container.name, opts.stdin === true, tty)}`;
  return runSession(ctx, path, { stdin: opts.stdin === true, tty });
}
