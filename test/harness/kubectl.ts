/**
 * Running the machine's stock kubectl against a test cluster. Tests skip (with a printed reason)
 * when no kubectl is installed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findOnPath } from './processes.js';

/** The kubectl binary on PATH, or undefined. */
export function findKubectl(): string | undefined {
  return findOnPath('kubectl');
}

/** `kubectl.1.NN` binaries beside the stock kubectl (its dispatcher runs one of them), oldest first, else the stock one. */
export function kubectlVersions(): { name: string; path: string }[] {
  const onPath = findKubectl();
  if (!onPath) return [];
  const dir = dirname(realpathSync(onPath));
  const found = readdirSync(dir)
    .filter((f) => /^kubectl\.1\.\d+$/.test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    .map((f) => ({ name: f.slice('kubectl.'.length), path: join(dir, f) }));
  return found.length > 0 ? found : [{ name: 'stock', path: onPath }];
}

/**
 * A kubectl binary that runs on its own (statically linked Go), e.g. mounted into a pod: the newest
 * versioned binary beside a dispatcher script (`kubectl.1.33`) or kubectl itself.
 */
export function findStandaloneKubectl(): string | undefined {
  const newest = kubectlVersions().at(-1);
  if (!newest) return undefined;
  const candidate = realpathSync(newest.path);
  return readFileSync(candidate).subarray(0, 4).toString('latin1') === '\x7fELF' ? candidate : undefined;
}

/** The result of one kubectl run. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with a kubeconfig and its own discovery cache dir. */
export class Kubectl {
  constructor(
    private readonly binary: string,
    private readonly kubeconfig: string,
    private readonly cacheDir: string,
  ) {}

  private args(args: string[]): string[] {
    return ['--kubeconfig', this.kubeconfig, '--cache-dir', join(this.cacheDir, 'kubectl-cache'), ...args];
  }

  /** Runs to completion. */
  run(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve) => {
      const child = execFile(this.binary, this.args(args), { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: this.cacheDir } }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (options.input !== undefined) {
        child.stdin!.write(options.input);
        child.stdin!.end();
      }
    });
  }

  /** Runs and throws with kubectl's stderr when it fails. */
  async ok(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Starts a long-running kubectl (e.g. `get -w`); the caller kills it. */
  spawn(args: string[]): { child: ChildProcess; output: () => string } {
    const child = spawn(this.binary, this.args(args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: this.cacheDir } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out };
  }
}
