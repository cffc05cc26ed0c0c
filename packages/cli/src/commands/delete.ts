/**
 * `flctl delete`: by name, `-f`, `-l`/`--all`; DeleteOptions with gracePeriodSeconds and
 * propagationPolicy; waits (default) for each object's DELETED event like kubectl.
 */
import type { CliContext } from '../cli-context.js';
import { parseDurationMs } from '../cli-context.js';
import { apiErrorCode, CliError, formatError } from '../cli-error.js';
import { collectTargets, type ObjectTarget } from '../object-targets.js';
import { waitForDeletion } from './wait.js';

const POLICIES: Record<string, 'Background' | 'Foreground' | 'Orphan'> = { background: 'Background', foreground: 'Foreground', orphan: 'Orphan', true: 'Background', false: 'Orphan' };

/** Runs `delete`. */
export async function runDelete(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const policy = POLICIES[String(opts['cascade'] ?? 'background')];
  if (!policy) throw new CliError(`invalid cascade value (${String(opts['cascade'])}). Must be "background", "foreground", or "orphan".`);
  let grace = opts['gracePeriod'] as number | undefined;
  if (opts['now']) grace = 1;
  if (opts['force'] && grace === undefined) grace = 0;
  if (grace === 0 && !opts['force']) grace = 1; // kubectl: --grace-period=0 without --force means 1
  if (grace !== undefined && grace < 0) grace = undefined;
  if (opts['force'] && grace === 0) ctx.err('Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n');
  const targets = await collectTargets(ctx, args, opts);
  if (targets.length === 0) {
    ctx.err(`No resources found\n`);
    return 0;
  }
  const client = await ctx.client();
  const timeoutMs = parseDurationMs(String(opts['timeout'] ?? '0s')) || 7 * 24 * 3600 * 1000;
  const deleted: { t: ObjectTarget; uid: string | undefined }[] = [];
  let failed = false;
  for (const t of targets) {
    try {
      const res = (await client.delete(t.r, t.namespace, t.name, { propagationPolicy: policy, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}) })) as { kind?: string; metadata?: { uid?: string } } | undefined;
      deleted.push({ t, uid: res?.kind === 'Status' ? undefined : res?.metadata?.uid });
      if (opts['output'] === 'name') ctx.out(`${t.display}\n`);
      else ctx.out(`${t.display.replace(/\/.*$/, '')} "${t.name}" deleted\n`);
    } catch (err) {
      if (apiErrorCode(err) === 404 && opts['ignoreNotFound']) continue;
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    }
  }
  if (opts['wait'] !== false && !(opts['force'] && grace === 0)) {
    const deadline = Date.now() + timeoutMs;
    for (const { t, uid } of deleted) {
      const ok = await waitForDeletion(client, t, uid, Math.max(0, deadline - Date.now()));
      if (!ok) {
        ctx.err(`error: timed out waiting for the condition on ${t.r.plural}/${t.name}\n`);
        failed = true;
      }
    }
  }
  return failed ? 1 : 0;
}
