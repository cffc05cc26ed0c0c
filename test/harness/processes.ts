/**
 * Starting and stopping the real component processes in end-to-end tests. Every process started
 * here is tracked by PID and killed (only those) when the test ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Path of a workspace binary's launcher script (`packages/apiserver/bin/flotilla-apiserver.js`). */
export function binPath(pkg: string, bin: string): string {
  return join(REPO_ROOT, 'packages', pkg, 'bin', `${bin}.js`);
}

/** The path of `command` on PATH (`command -v`), or undefined when it is not installed. */
export function findOnPath(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** Runs a shell command line under a pseudo-terminal (`script -qec`), its output and exit code; killed after 30 s. Needs `script` (see `findOnPath`). */
export function runUnderScript(commandLine: string, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('script', ['-qec', commandLine, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolvePromise({ code, out }));
    setTimeout(() => child.kill(), 30_000);
  });
}

/** A started process with its captured output. */
export interface RunningProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches `re`; rejects if the process exits first or after `timeoutMs`. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal (default SIGTERM) and waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** True once the process has exited. */
  exited(): boolean;
}

const running = new Set<RunningProcess>();

/** Starts `node <script> ...args` with output captured. */
export function startProcess(script: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  const exitPromise = new Promise<number | null>((r) => child.on('exit', (code) => {
    exitCode = code;
    r(code);
  }));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const p: RunningProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exitCode !== undefined,
    waitForOutput: (re, timeoutMs = 30_000) =>
      new Promise((resolvePromise, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            cleanup();
            resolvePromise(m);
          }
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`process exited before printing ${re}:\n${out}\n${err.slice(-4000)}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re}:\n${out}\n${err.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout!.on('data', check);
        child.on('exit', onExit);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      const code = await exitPromise;
      running.delete(p);
      return code;
    },
  };
  running.add(p);
  return p;
}

/** Kills every process this module started that is still running (SIGKILL). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `flotilla-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
