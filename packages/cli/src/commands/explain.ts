/**
 * `flctl explain RESOURCE[.FIELD…]` from the server's OpenAPI v3 documents, and `api-versions`.
 */
import type { CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { resolveResource } from '../resource-args.js';

type Schema = {
  type?: string;
  description?: string;
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  format?: string;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
};

/** Runs `api-versions`. */
export async function runApiVersions(ctx: CliContext): Promise<number> {
  const client = await ctx.client();
  const core = JSON.parse((await client.request('GET', '/api')).body) as { versions: string[] };
  const groups = JSON.parse((await client.request('GET', '/apis')).body) as { groups: { versions: { groupVersion: string }[] }[] };
  const all = [...core.versions, ...groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion))].sort();
  ctx.out(all.map((v) => `${v}\n`).join(''));
  return 0;
}

function resolve(defs: Record<string, Schema>, s: Schema | undefined): Schema | undefined {
  let cur = s;
  for (let i = 0; cur && i < 16; i++) {
    if (cur.$ref) cur = defs[cur.$ref.replace('#/components/schemas/', '')];
    else if (cur.allOf?.length === 1 && !cur.type) cur = { ...cur.allOf[0], ...(cur.description ? { description: cur.description } : {}) };
    else return cur;
  }
  return cur;
}

function typeName(defs: Record<string, Schema>, s: Schema): string {
  const r = resolve(defs, s) ?? s;
  if (r.type === 'array') return `[]${typeName(defs, r.items ?? {})}`;
  if (r.type === 'object' && r.additionalProperties && typeof r.additionalProperties === 'object' && !r.properties) return `map[string]${typeName(defs, r.additionalProperties)}`;
  if (r.type === 'object' || r.properties) {
    const ref = s.$ref ?? s.allOf?.[0]?.$ref;
    return ref ? ref.slice(ref.lastIndexOf('.') + 1) : 'Object';
  }
  return r.type ?? 'Object';
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
}

/** Runs `explain`. */
export async function runExplain(ctx: CliContext, field: string, opts: Record<string, unknown>): Promise<number> {
  const [type, ...path] = field.split('.');
  const r = await resolveResource(ctx, type!);
  const client = await ctx.client();
  const gvPath = r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
  const index = JSON.parse((await client.request('GET', '/openapi/v3')).body) as { paths: Record<string, { serverRelativeURL: string }> };
  const url = index.paths[gvPath]?.serverRelativeURL;
  if (!url) throw new CliError(`couldn't find resource for "${r.group ? `${r.group}/` : ''}${r.version}, Kind=${r.kind}"`);
  const doc = JSON.parse((await client.request('GET', url)).body) as { components?: { schemas?: Record<string, Schema> } };
  const defs = doc.components?.schemas ?? {};
  const root = Object.values(defs).find((s) => s['x-kubernetes-group-version-kind']?.some((g) => g.group === r.group && g.version === r.version && g.kind === r.kind));
  if (!root) throw new CliError(`couldn't find resource for "${r.group ? `${r.group}/` : ''}${r.version}, Kind=${r.kind}"`);
  let node: Schema = root;
  let fieldName: string | undefined;
  for (const p of path) {
    let res = resolve(defs, node) ?? node;
    while (res.type === 'array' && res.items) res = resolve(defs, res.items) ?? res.items;
    const next = res.properties?.[p];
    if (!next) throw new CliError(`field "${p}" does not exist`);
    node = next;
    fieldName = p;
  }
  const gv = r.group ? `${r.group}/${r.version}` : r.version;
  let out = `GROUP:      ${r.group}\nKIND:       ${r.kind}\nVERSION:    ${r.version}\n\n`;
  if (!r.group) out = `KIND:       ${r.kind}\nVERSION:    ${gv}\n\n`;
  if (fieldName) out += `FIELD: ${fieldName} <${typeName(defs, node)}>\n\n`;
  const resolved = resolve(defs, node) ?? node;
  out += `DESCRIPTION:\n${indent(node.description ?? resolved.description ?? '<empty>', 4)}\n`;
  let fieldsOf = resolved;
  while (fieldsOf.type === 'array' && fieldsOf.items) fieldsOf = resolve(defs, fieldsOf.items) ?? fieldsOf.items;
  if (fieldsOf.properties) {
    out += `\nFIELDS:\n`;
    const walk = (s: Schema, level: number, seen: Set<Schema>) => {
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const req = s.required?.includes(name) ? ' -required-' : '';
        out += `${'  '.repeat(level)}${name}\t<${typeName(defs, prop)}>${req}\n`;
        if (opts['recursive']) {
          let child = resolve(defs, prop) ?? prop;
          while (child.type === 'array' && child.items) child = resolve(defs, child.items) ?? child.items;
          if (child.properties && !seen.has(child)) walk(child, level + 1, new Set([...seen, child]));
        } else {
          out += `${indent((prop.description ?? resolve(defs, prop)?.description ?? '').trim() || '<no description>', level * 2 + 2)}\n\n`;
        }
      }
    };
    walk(fieldsOf, 1, new Set([fieldsOf]));
  }
  ctx.out(out.replace(/\n+$/, '\n'));
  return 0;
}
