/** `flctl scale TYPE NAME --replicas=N`: a merge patch of the scale subresource. */
import type { CliContext } from '../cli-context.js';
import { CliError, formatError } from '../cli-error.js';
import { collectTargets } from '../object-targets.js';

/** Runs `scale`. */
export async function runScale(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const replicas = opts['replicas'] as number;
  if (replicas < 0) throw new CliError('The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0');
  const targets = await collectTargets(ctx, args, opts);
  const client = await ctx.client();
  let failed = false;
  for (const t of targets) {
    try {
      if (!(t.r.subresources as readonly string[]).includes('scale')) throw new CliError(`cannot scale ${t.r.plural}: the resource has no scale subresource`);
      if (opts['currentReplicas'] !== undefined) {
        const scale = await client.get<{ metadata: Record<string, string>; spec?: { replicas?: number } }>(t.r, t.namespace, t.name, { subresource: 'scale' });
        if ((scale.spec?.replicas ?? 0) !== opts['currentReplicas']) throw new CliError(`Expected replicas to be ${String(opts['currentReplicas'])}, was ${scale.spec?.replicas ?? 0}`);
      }
      await client.patch(t.r, t.namespace, t.name, { spec: { replicas } }, 'merge', { subresource: 'scale' });
      ctx.out(opts['output'] === 'name' ? `${t.display}\n` : `${t.display} scaled\n`);
    } catch (err) {
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
