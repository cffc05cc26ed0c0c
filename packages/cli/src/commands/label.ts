/**
 * `flctl label|annotate TYPE NAME k=v k2-`: a JSON merge patch of metadata.labels/annotations,
 * refusing to change existing values without `--overwrite` (kubectl's rule).
 */
import type { KubeObject } from '@flotilla/api';
import type { CliContext } from '../cli-context.js';
import { CliError, formatError } from '../cli-error.js';
import { collectTargets } from '../object-targets.js';
import { formatObjects, parseOutputFormat } from '../printers/object-printer.js';

/** Splits `k=v` / `k-` arguments from the resource arguments. */
export function splitKeyValueArgs(args: string[]): { resources: string[]; set: Record<string, string>; remove: string[] } {
  const resources: string[] = [];
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) set[a.slice(0, eq)] = a.slice(eq + 1);
    else if (a.endsWith('-') && a.length > 1 && resources.length > 0) remove.push(a.slice(0, -1));
    else resources.push(a);
  }
  return { resources, set, remove };
}

/** Runs `label` or `annotate`. */
export async function runLabel(ctx: CliContext, verb: 'label' | 'annotate', args: string[], opts: Record<string, unknown>): Promise<number> {
  const { resources, set, remove } = splitKeyValueArgs(args);
  if (Object.keys(set).length === 0 && remove.length === 0) throw new CliError(`at least one ${verb === 'label' ? 'label' : 'annotation'} update is required`);
  const field = verb === 'label' ? 'labels' : 'annotations';
  const past = verb === 'label' ? 'labeled' : 'annotated';
  const targets = await collectTargets(ctx, resources, opts);
  const client = await ctx.client();
  const format = opts['output'] ? parseOutputFormat(String(opts['output'])) : undefined;
  let failed = false;
  const results: KubeObject[] = [];
  for (const t of targets) {
    try {
      const current = await client.get(t.r, t.namespace, t.name);
      const existing = (current.metadata[field] ?? {}) as Record<string, string>;
      if (!opts['overwrite']) {
        for (const [k, v] of Object.entries(set)) {
          if (k in existing && existing[k] !== v) throw new CliError(`'${k}' already has a value (${existing[k]}), and --overwrite is false`);
        }
      }
      const changes: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(set)) if (existing[k] !== v) changes[k] = v;
      for (const k of remove) if (k in existing) changes[k] = null;
      const meta: Record<string, unknown> = { [field]: changes };
      if (opts['resourceVersion']) meta['resourceVersion'] = opts['resourceVersion'];
      let result: KubeObject = current;
      if (Object.keys(changes).length > 0) result = await client.patch(t.r, t.namespace, t.name, { metadata: meta }, 'merge');
      if (format && format.kind !== 'name') results.push({ apiVersion: t.r.group ? `${t.r.group}/${t.r.version}` : t.r.version, kind: t.r.kind, ...result });
      else if (format?.kind === 'name') ctx.out(`${t.display}\n`);
      else ctx.out(`${t.display} ${Object.keys(changes).length > 0 ? past : `not ${past}`}\n`);
    } catch (err) {
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    }
  }
  if (format && format.kind !== 'name' && results.length > 0) ctx.out(formatObjects(results as unknown as Record<string, unknown>[], format, results.length === 1));
  return failed ? 1 : 0;
}
