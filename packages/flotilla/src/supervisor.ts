/**
 * Child processes of the launcher: one per component, started as `node <bin> ...args`, with their
 * output passed through line by line (prefixed with the component's name) to the launcher's
 * stderr, a PID file per running child, restart with back-off after an unexpected exit, and a
 * graceful stop (SIGTERM, SIGKILL after a grace period).
 *
 * Only processes started here are ever signalled: each is addressed through its own ChildProcess
 * handle, which Node stops signalling once the process has exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

/**
 * Restart delays: `initialMs` doubling up to `maxMs`; a child that stayed up `resetAfterMs` or
 * longer starts over at `initialMs`.
 */
export class Backoff {
  private current: number;

  constructor(
    readonly initialMs = 1_000,
    readonly maxMs = 30_000,
    readonly resetAfterMs = 60_000,
  ) {
    this.current = initialMs;
  }

  /** The delay before the next restart of a child that ran `uptimeMs`. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.resetAfterMs) this.current = this.initialMs;
    const delay = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return delay;
  }
}

/** What to run for one component. */
export interface ComponentSpec {
  /** Short name: log prefix and PID file name (`apiserver`, `scheduler`, ...). */
  name: string;
  /** The bin script run with the launcher's node. */
  script: string;
  /** Arguments, computed at every (re)start. */
  args: () => string[];
  /** A stdout line matching this means the component is up. */
  ready: RegExp;
}

/** Options of a {@link Supervised} child. */
export interface SupervisedOptions {
  logger: Logger;
  /** Directory of `<name>.pid` files; none when absent. */
  runDir?: string;
  /** Where output lines go (default the launcher's stderr). */
  output?: NodeJS.WritableStream;
  /** Seconds between SIGTERM and SIGKILL on stop (default 10). */
  stopGraceMs?: number;
  backoff?: Backoff;
}

/** Why a component did not come up. */
export class ComponentExitedError extends Error {
  constructor(
    readonly component: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly lastLines: string[],
  ) {
    super(`${component} exited ${describeExit(code, signal)} before it was ready${lastLines.length ? `; its last output:\n${lastLines.join('\n')}` : ''}`);
  }
}

/** `with code 1` / `on signal SIGKILL`. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `on signal ${signal}` : `with code ${code}`;
}

/** One supervised component process. */
export class Supervised {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly backoff: Backoff;
  private readonly tail: string[] = [];
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  /** Restart after an unexpected exit (turned on once the component first came up, or at once). */
  supervise = false;
  /** How many times the child was restarted. */
  restarts = 0;

  constructor(
    readonly spec: ComponentSpec,
    private readonly options: SupervisedOptions,
  ) {
    this.backoff = options.backoff ?? new Backoff();
  }

  /** PID of the running child, if any. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Starts the child process (once; restarts are the supervisor's). */
  start(): void {
    if (this.stopping) return;
    const { spec, options } = this;
    const args = spec.args();
    // Its own process group: a Ctrl-C in the terminal reaches the launcher only, which then stops
    // the components in order.
    const child = spawn(process.execPath, [spec.script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    this.startedAt = Date.now();
    this.tail.length = 0;
    const pidFile = options.runDir && child.pid ? join(options.runDir, `${spec.name}.pid`) : undefined;
    if (pidFile) {
      mkdirSync(options.runDir!, { recursive: true });
      writeFileSync(pidFile, `${child.pid}\n`);
    }
    options.logger.debug({ child: spec.name, pid: child.pid, args }, `started ${spec.name}`);
    const out = options.output ?? process.stderr;
    const onLine = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 20) this.tail.shift();
      out.write(`[${spec.name}] ${line}\n`);
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      onLine(line);
      for (const l of this.lineListeners) l(line);
    });
    let done!: () => void;
    this.exited = new Promise((r) => (done = r));
    child.on('error', (err) => options.logger.error({ err, child: spec.name }, `could not start ${spec.name}`));
    child.on('close', (code, signal) => {
      if (pidFile) {
        try {
          if (readFileSync(pidFile, 'utf8').trim() === String(child.pid)) rmSync(pidFile, { force: true });
        } catch {
          // already gone
        }
      }
      if (this.child === child) this.child = undefined;
      for (const l of this.exitListeners) l(code, signal);
      done();
      if (this.stopping) return;
      const uptime = Date.now() - this.startedAt;
      if (!this.supervise) {
        options.logger.error({ child: spec.name, code, signal }, `${spec.name} exited ${describeExit(code, signal)}`);
        return;
      }
      const delay = this.backoff.next(uptime);
      options.logger.warn(
        { child: spec.name, pid: child.pid, code, signal, uptimeMs: uptime, restartInMs: delay },
        `${spec.name} exited unexpectedly ${describeExit(code, signal)}; restarting in ${delay / 1000}s`,
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.restarts++;
        this.start();
      }, delay);
    });
  }

  /**
   * Resolves with the first stdout line of the current child matching the spec's `ready`; rejects
   * with {@link ComponentExitedError} if it exits first, or after `timeoutMs`.
   */
  waitReady(timeoutMs: number): Promise<RegExpMatchArray> {
    const child = this.child;
    if (!child) return Promise.reject(new Error(`${this.spec.name} is not running`));
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.lineListeners.delete(onLine);
        this.exitListeners.delete(onExit);
      };
      const onLine = (line: string) => {
        const m = this.spec.ready.exec(line);
        if (!m) return;
        cleanup();
        resolve(m);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        reject(new ComponentExitedError(this.spec.name, code, signal, [...this.tail]));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.spec.name} did not report that it is up within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      this.lineListeners.add(onLine);
      this.exitListeners.add(onExit);
    });
  }

  /** Stops for good: no more restarts; SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) return;
    const graceMs = this.options.stopGraceMs ?? 10_000;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)));
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), killed]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.options.logger.warn({ child: this.spec.name, pid: child.pid }, `${this.spec.name} did not stop within ${graceMs / 1000}s; killing it`);
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** SIGKILL at once (the launcher is exiting abnormally). Synchronous. */
  killNow(): void {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
  }
}
