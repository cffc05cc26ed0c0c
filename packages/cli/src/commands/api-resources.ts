/** `flctl api-resources`: the server's discovery documents as kubectl prints them. */
import type { CliContext } from '../cli-context.js';
import { formatColumns } from '../printers/columns.js';
import { discoverResources } from '../resource-args.js';

/** Runs `api-resources`. */
export async function runApiResources(ctx: CliContext, opts: { namespaced?: string; apiGroup?: string; output?: string; noHeaders?: boolean; verbs?: string[] }): Promise<number> {
  let rs = await discoverResources(ctx);
  if (opts.namespaced !== undefined) rs = rs.filter((r) => r.namespaced === (opts.namespaced !== 'false'));
  if (opts.apiGroup !== undefined) rs = rs.filter((r) => r.group === opts.apiGroup);
  if (opts.verbs?.length) rs = rs.filter((r) => opts.verbs!.every((v) => (r.verbs as readonly string[]).includes(v)));
  rs = [...rs].sort((a, b) => (a.group === b.group ? (a.plural < b.plural ? -1 : 1) : a.group < b.group ? -1 : 1));
  if (opts.output === 'name') {
    ctx.out(rs.map((r) => (r.group ? `${r.plural}.${r.group}\n` : `${r.plural}\n`)).join(''));
    return 0;
  }
  const wide = opts.output === 'wide';
  const header = ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', ...(wide ? ['VERBS', 'CATEGORIES'] : [])];
  const rows = rs.map((r) => [r.plural, r.shortNames.join(','), r.group ? `${r.group}/${r.version}` : r.version, String(r.namespaced), r.kind, ...(wide ? [`[${r.verbs.join(' ')}]`, r.categories.join(',')] : [])]);
  ctx.out(formatColumns(opts.noHeaders ? rows : [header, ...rows]));
  return 0;
}
