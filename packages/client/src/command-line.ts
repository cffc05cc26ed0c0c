/**
 * Command-line handling shared by every binary: parse flags (node:util's parseArgs) with the usage
 * text on errors and --help, and the flag value checks (booleans, durations, integers) with one-line
 * errors and exit code 2, as the Kubernetes binaries behave.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from '@flotilla/api/core';
import type { LeaderElectionConfig } from './leader-election.js';

/** Thrown by the value checks; `parseCommandLine`'s callers print it and exit 2. */
export class FlagError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv`; prints the error and the usage and exits 2 on a bad flag; prints the usage and
 * returns undefined for `-h/--help` (the caller returns).
 */
export function parseCommandLine<O extends Options>(program: string, usage: string, argv: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean'; short: 'h' } }; strict: true }>>['values'] | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`${program}: ${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return undefined;
  }
  return values as never;
}

/** Runs `build` (which checks flag values); prints a FlagError (or any error) as `program: message` and exits 2. */
export function checkFlags<T>(program: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    process.stderr.write(`${program}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** `true`/`1`/absent → true, `false`/`0` → false. */
export function boolFlag(v: string | undefined, name: string): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new FlagError(`--${name} must be true or false, got "${v}"`);
}

/** A Go-style duration in milliseconds (`40s`, `5m`, `1h30m`); a bare number counts in `bareUnit` if given. */
export function durationFlag(v: string, name: string, bareUnit?: 'ms' | 's'): number {
  if (bareUnit && /^\d+(\.\d+)?$/.test(v)) return Number(v) * (bareUnit === 's' ? 1000 : 1);
  const ms = parseDuration(v);
  if (ms === undefined) throw new FlagError(`--${name}: "${v}" is not a duration (e.g. 40s, 5m)`);
  return ms;
}

/** An integer of at least `min` (and at most `max`). */
export function intFlag(v: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new FlagError(`--${name} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got "${v}"`);
  return n;
}

/** Something started that stops cleanly. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts a long-running component, prints its one-line announcement to stdout, and stops it on
 * SIGTERM/SIGINT (exit 0; 1 if stopping fails). A start failure is logged and exits 1.
 */
export async function runUntilSignalled<H extends Stoppable>(logger: { fatal(obj: object, msg: string): void }, start: () => Promise<H>, announce: (handle: H) => string): Promise<H | undefined> {
  try {
    const handle = await start();
    process.stdout.write(`${announce(handle)}\n`);
    const shutdown = () => handle.stop().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
    return handle;
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}

/** One of the allowed values. */
export function enumFlag<T extends string>(v: string, name: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new FlagError(`--${name} must be ${allowed.join(' or ')}, not "${v}"`);
  return v as T;
}

/** kube-scheduler's and kube-controller-manager's `--leader-elect*` flags; `resourceName` names the Lease. */
export function leaderElectionOptions(resourceName: string) {
  return {
    'leader-elect': { type: 'string', default: 'true' },
    'leader-elect-lease-duration': { type: 'string', default: '15s' },
    'leader-elect-renew-deadline': { type: 'string', default: '10s' },
    'leader-elect-retry-period': { type: 'string', default: '2s' },
    'leader-elect-resource-namespace': { type: 'string', default: 'kube-system' },
    'leader-elect-resource-name': { type: 'string', default: resourceName },
  } as const;
}

/** The election settings from those flags (durations like `15s`; a bare number counts in seconds). */
export function leaderElectionFlags(values: Readonly<Record<string, unknown>>): LeaderElectionConfig {
  const text = (flag: string): string => String(values[flag]);
  return {
    leaderElect: boolFlag(values['leader-elect'] as string | undefined, 'leader-elect'),
    namespace: text('leader-elect-resource-namespace'),
    name: text('leader-elect-resource-name'),
    leaseDurationSeconds: durationFlag(text('leader-elect-lease-duration'), 'leader-elect-lease-duration', 's') / 1000,
    renewDeadlineMs: durationFlag(text('leader-elect-renew-deadline'), 'leader-elect-renew-deadline', 's'),
    retryPeriodMs: durationFlag(text('leader-elect-retry-period'), 'leader-elect-retry-period', 's'),
  };
}
