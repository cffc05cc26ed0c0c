/**
 * The local interface that holds service virtual IPs (`flotilla0`): a `dummy` link, each VIP on it
 * as `/32`, managed with iproute2's `ip` through execFile (no shell). Kernels without the dummy
 * driver (some containers cannot load modules) get a port-less `bridge` instead, which behaves the
 * same for local addresses. Calls are serialized.
 */
import { execFile } from 'node:child_process';

/** Runs `ip ARGS...`; resolves stdout, rejects with stderr in the message. */
export type IpCommand = (args: readonly string[]) => Promise<string>;

/** A failed `ip` command. */
export class IpCommandError extends Error {
  override readonly name = 'IpCommandError';
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`ip ${args.join(' ')} failed: ${stderr.trim() || 'no output'}`, options);
  }
}

/** `ip` through child_process.execFile, 10 s timeout. */
export const execIp: IpCommand = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new IpCommandError(args, stderr || err.message, { cause: err }));
      else resolve(stdout);
    });
  });

/** What the proxy needs of the VIP interface (VipInterface, or a fake in tests). */
export interface AddressManager {
  /** Creates the interface when missing and brings it up. */
  ensure(): Promise<void>;
  /** IPv4 addresses on the interface. */
  list(): Promise<string[]>;
  add(ip: string): Promise<void>;
  remove(ip: string): Promise<void>;
}

/** The VIP interface, through `ip`. */
export class VipInterface implements AddressManager {
  private chain: Promise<unknown> = Promise.resolve();
  /** True when this instance created the link (rather than finding it). */
  created = false;

  constructor(
    readonly name: string,
    private readonly ip: IpCommand = execIp,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  ensure(): Promise<void> {
    return this.serial(async () => {
      const exists = await this.ip(['link', 'show', 'dev', this.name]).then(() => true, () => false);
      if (!exists) {
        try {
          await this.ip(['link', 'add', this.name, 'type', 'dummy']);
        } catch (err) {
          if (!(err instanceof IpCommandError) || !/unknown device type|not supported/i.test(err.stderr)) throw err;
          await this.ip(['link', 'add', this.name, 'type', 'bridge']);
        }
        this.created = true;
      }
      await this.ip(['link', 'set', 'dev', this.name, 'up']);
    });
  }

  list(): Promise<string[]> {
    return this.serial(async () => {
      const out = await this.ip(['-o', '-4', 'addr', 'show', 'dev', this.name]);
      return [...out.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
    });
  }

  add(address: string): Promise<void> {
    return this.serial(async () => {
      try {
        await this.ip(['addr', 'add', `${address}/32`, 'dev', this.name]);
      } catch (err) {
        if (!(err instanceof IpCommandError) || !/file exists/i.test(err.stderr)) throw err;
      }
    });
  }

  remove(address: string): Promise<void> {
    return this.serial(async () => {
      try {
        await this.ip(['addr', 'del', `${address}/32`, 'dev', this.name]);
      } catch (err) {
        if (!(err instanceof IpCommandError) || !/cannot assign requested address|cannot find device/i.test(err.stderr)) throw err;
      }
    });
  }

  /** Deletes the link. */
  destroy(): Promise<void> {
    return this.serial(async () => {
      await this.ip(['link', 'del', 'dev', this.name]);
    });
  }
}
