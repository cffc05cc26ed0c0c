/**
 * The object output formats of kubectl: `-o json` (4-space indent), `-o yaml`, `-o name`,
 * `-o jsonpath=…`, `-o custom-columns=…`. Several objects print as a `kind: List`, like kubectl.
 */
import { dump } from 'js-yaml';
import { formatColumns } from './columns.js';
import { parseJsonPathTemplate } from './jsonpath-template.js';

/** An output format parsed from `-o`. */
export type OutputFormat =
  | { kind: 'table'; wide: boolean }
  | { kind: 'json' }
  | { kind: 'yaml' }
  | { kind: 'name' }
  | { kind: 'jsonpath'; template: string }
  | { kind: 'custom-columns'; columns: { header: string; path: string }[] };

/** Parses `-o`; throws on formats flctl does not know. */
export function parseOutputFormat(o: string | undefined): OutputFormat {
  if (o === undefined || o === '') return { kind: 'table', wide: false };
  if (o === 'wide') return { kind: 'table', wide: true };
  if (o === 'json' || o === 'yaml' || o === 'name') return { kind: o };
  const eq = o.indexOf('=');
  const name = eq < 0 ? o : o.slice(0, eq);
  const arg = eq < 0 ? '' : o.slice(eq + 1);
  if (name === 'jsonpath' || name === 'jsonpath-as-json') {
    if (!arg) throw new Error('template format specified but no template given');
    return { kind: 'jsonpath', template: arg };
  }
  if (name === 'custom-columns') {
    if (!arg) throw new Error('custom-columns format specified but no custom columns given');
    const columns = arg.split(',').map((spec) => {
      const c = spec.indexOf(':');
      if (c < 0) throw new Error(`unexpected custom-columns spec: ${spec}, expected <header>:<json-path-expr>`);
      return { header: spec.slice(0, c), path: spec.slice(c + 1) };
    });
    return { kind: 'custom-columns', columns };
  }
  throw new Error(`unable to match a printer suitable for the output format "${o}", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml`);
}

/** YAML as kubectl prints it (no indentation of sequences in maps, no line folding). */
export function toYaml(obj: unknown): string {
  return dump(obj, { seqNoIndent: true, lineWidth: -1, noRefs: true, quoteStyle: 'double', sortKeys: true });
}

/** JSON as kubectl prints it (4 spaces). */
export function toJson(obj: unknown): string {
  return `${JSON.stringify(sortKeys(obj), null, 4)}\n`;
}

/** A copy with map keys sorted, as Go encodes the unstructured maps kubectl prints. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
  return out;
}

/** What `-o name` prints for an object: `pod/x`, `deployment.apps/x`. */
export function objectName(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): string {
  const apiVersion = obj.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const kind = (obj.kind ?? '').toLowerCase();
  return `${group ? `${kind}.${group}` : kind}/${obj.metadata?.name ?? ''}`;
}

/** Wraps several objects in the `List` kubectl prints for `-o json|yaml`. */
export function asList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

/**
 * Formats objects. `single` = the user asked for exactly one object by name, so it prints bare
 * rather than inside a List.
 */
export function formatObjects(objects: readonly Record<string, unknown>[], format: OutputFormat, single: boolean): string {
  const data = single && objects.length === 1 ? objects[0] : asList([...objects]);
  switch (format.kind) {
    case 'json':
      return toJson(data);
    case 'yaml':
      return toYaml(data);
    case 'name':
      return objects.map((o) => `${objectName(o)}\n`).join('');
    case 'jsonpath':
      return parseJsonPathTemplate(format.template).execute(data);
    case 'custom-columns': {
      const templates = format.columns.map((c) => parseJsonPathTemplate(c.path.startsWith('{') ? c.path : `{${c.path.startsWith('.') ? c.path : `.${c.path}`}}`));
      const rows = objects.map((o) => templates.map((t) => t.execute(o) || '<none>'));
      return formatColumns([format.columns.map((c) => c.header), ...rows]);
    }
    case 'table':
      throw new Error('tables are printed from server-side Tables');
  }
}
