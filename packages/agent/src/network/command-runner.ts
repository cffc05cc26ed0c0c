/**
 * Runs host networking commands (`ip`, `iptables`) without a shell. The runner is injected into
 * everything in this module, so tests use a fake one, or prefix every command with
 * `ip netns exec NS` to act inside a network namespace.
 */
import { execFile } from 'node:child_process';

/** Runs `file args...`; resolves stdout; rejects with CommandError when it exits non-zero. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<string>;

/** A command that failed (non-zero exit, not found, timed out). */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${command.join(' ')} failed: ${stderr.trim() || 'no output'}`, options);
  }
}

/**
 * A runner through `child_process.execFile` (10 s timeout). With `prefix` (e.g.
 * `['ip', 'netns', 'exec', 'hostA']`), every command runs as `prefix... file args...`.
 */
export function execFileRunner(prefix: readonly string[] = []): CommandRunner {
  return (file, args) => {
    const argv = [...prefix, file, ...args];
    return new Promise((resolve, reject) => {
      execFile(argv[0]!, argv.slice(1), { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new CommandError(argv, stderr || err.message, typeof err.code === 'number' ? err.code : undefined, { cause: err }));
        else resolve(stdout);
      });
    });
  };
}
