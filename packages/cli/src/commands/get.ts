/**
 * `flctl get`: server-side Tables (so columns match kubectl), `-o wide|json|yaml|name|jsonpath=|
 * custom-columns=`, `-l`, `--field-selector`, `-A`, `--sort-by`, several types, `all`, `-w`.
 */
import type { ResourceInfo } from '@flotilla/api';
import { resourcePath, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { apiErrorCode, CliError, formatError } from '../cli-error.js';
import { openStream, watchEvents } from '../http-stream.js';
import { formatColumns } from '../printers/columns.js';
import { ageOf } from '../printers/human-duration.js';
import { parseJsonPathTemplate } from '../printers/jsonpath-template.js';
import { formatObjects, objectName, parseOutputFormat, toJson, toYaml, type OutputFormat } from '../printers/object-printer.js';
import { tableToRows, type Table, type TableRow } from '../printers/table-printer.js';
import { allCategory, parseResourceArgs, resolveResource, typePrefix } from '../resource-args.js';

/** Flags of `get`. */
export interface GetOptions {
  output?: string;
  selector?: string;
  fieldSelector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  watchOnly?: boolean;
  sortBy?: string;
  showLabels?: boolean;
  labelColumns?: string[];
  noHeaders?: boolean;
  ignoreNotFound?: boolean;
  chunkSize?: number;
}

/** The Accept header kubectl sends for tables. */
export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

interface Target {
  r: ResourceInfo;
  names: string[];
}

/** Runs `get`; returns the exit code. */
export async function runGet(ctx: CliContext, args: string[], opts: GetOptions): Promise<number> {
  const requests = parseResourceArgs(args);
  if (requests.length === 0) throw new CliError('You must specify the type of resource to get. Use "flctl api-resources" for a complete list of supported resources.');
  const targets: Target[] = [];
  for (const req of requests) {
    if (req.type.toLowerCase() === 'all') {
      for (const r of allCategory()) targets.push({ r, names: req.names });
      continue;
    }
    targets.push({ r: await resolveResource(ctx, req.type), names: req.names });
  }
  const format = parseOutputFormat(opts.output);
  const client = await ctx.client();
  const namespace = opts.allNamespaces ? undefined : await ctx.namespace();
  if (opts.watch || opts.watchOnly) {
    if (targets.length !== 1) throw new CliError('you may only specify a single resource type');
    return await watchTarget(ctx, client, targets[0]!, namespace, format, opts);
  }
  const multi = targets.length > 1;
  const single = targets.length === 1 && targets[0]!.names.length === 1 && !args.some((a) => a.includes(','));
  const errors: string[] = [];
  const collect = (err: unknown) => {
    if (apiErrorCode(err) === 404 && opts.ignoreNotFound) return;
    errors.push(formatError(err));
  };

  if (format.kind === 'table') {
    const tables = await Promise.all(targets.map((t) => fetchTables(client, t, namespace, opts, collect)));
    const blocks: string[] = [];
    tables.forEach((table, i) => {
      if (!table || table.rows.length === 0) return;
      const t = targets[i]!;
      if (opts.sortBy) sortRows(table.rows, opts.sortBy);
      const { header, rows } = tableToRows(table, {
        wide: format.wide,
        withNamespace: opts.allNamespaces === true && t.r.namespaced,
        ...(multi ? { kindPrefix: typePrefix(t.r) } : {}),
        ...(opts.showLabels ? { showLabels: true } : {}),
        ...(opts.labelColumns?.length ? { labelColumns: opts.labelColumns } : {}),
      });
      blocks.push(formatColumns(opts.noHeaders ? rows : [header, ...rows]));
    });
    ctx.out(blocks.join('\n'));
    for (const e of errors) ctx.err(`${e}\n`);
    if (blocks.length === 0 && errors.length === 0 && !targets.some((t) => t.names.length > 0)) ctx.err(noResourcesMessage(targets, namespace));
    return errors.length > 0 ? 1 : 0;
  }

  const lists = await Promise.all(targets.map((t) => fetchObjects(client, t, namespace, opts, collect)));
  let objects = lists.flat();
  if (opts.sortBy) objects = sortObjects(objects, opts.sortBy);
  if (objects.length > 0 || (format.kind !== 'name' && errors.length === 0 && !single)) ctx.out(formatObjects(objects, format, single));
  for (const e of errors) ctx.err(`${e}\n`);
  if (objects.length === 0 && errors.length === 0 && format.kind === 'name') ctx.err(noResourcesMessage(targets, namespace));
  return errors.length > 0 ? 1 : 0;
}

function noResourcesMessage(targets: Target[], namespace: string | undefined): string {
  const namespaced = targets.some((t) => t.r.namespaced);
  return namespace !== undefined && namespaced ? `No resources found in ${namespace} namespace.\n` : 'No resources found\n';
}

function listQuery(opts: GetOptions, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  if (opts.selector) q.set('labelSelector', opts.selector);
  if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The Table of a target: one GET per name, or the (paged) list. */
async function fetchTables(client: RestClient, t: Target, namespace: string | undefined, opts: GetOptions, onError: (err: unknown) => void): Promise<Table | undefined> {
  const include = opts.sortBy ? 'Object' : undefined;
  const ns = t.r.namespaced ? namespace : undefined;
  if (t.names.length > 0) {
    let merged: Table | undefined;
    for (const name of t.names) {
      try {
        const table = await getTable(client, resourcePath(t.r, ns ?? '', name) + (include ? `?includeObject=${include}` : ''), t.r);
        if (!merged) merged = table;
        else merged.rows.push(...table.rows);
      } catch (err) {
        onError(err);
      }
    }
    return merged;
  }
  try {
    const limit = String(opts.chunkSize ?? 500);
    const first = await getTable(client, resourcePath(t.r, ns) + listQuery(opts, { limit, includeObject: include }), t.r);
    let cont = first.metadata?.continue;
    while (cont) {
      const page = await getTable(client, resourcePath(t.r, ns) + listQuery(opts, { limit, includeObject: include, continue: cont }), t.r);
      first.rows.push(...page.rows);
      cont = page.metadata?.continue;
    }
    return first;
  } catch (err) {
    onError(err);
    return undefined;
  }
}

/** GETs a Table; a server that answers with plain objects gets kubectl's NAME/AGE fallback. */
export async function getTable(client: RestClient, path: string, r: ResourceInfo): Promise<Table> {
  const res = await client.request('GET', path, { accept: TABLE_ACCEPT });
  const body = JSON.parse(res.body) as Record<string, unknown>;
  if (body['kind'] === 'Table') return body as unknown as Table;
  return fallbackTable(body, r);
}

function fallbackTable(body: Record<string, unknown>, r: ResourceInfo): Table {
  const items = (Array.isArray(body['items']) ? body['items'] : [body]) as { metadata?: { name?: string; creationTimestamp?: string } }[];
  void r;
  return {
    kind: 'Table',
    metadata: (body['metadata'] ?? {}) as Table['metadata'] & object,
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', priority: 0 },
      { name: 'Age', type: 'string', format: '', priority: 0 },
    ],
    rows: items.map((o) => ({ cells: [o.metadata?.name ?? '', ageOf(o.metadata?.creationTimestamp)], object: o as TableRow['object'] & object })),
  };
}

/** Full objects of a target, with apiVersion and kind set on list items. */
async function fetchObjects(client: RestClient, t: Target, namespace: string | undefined, opts: GetOptions, onError: (err: unknown) => void): Promise<Record<string, unknown>[]> {
  const ns = t.r.namespaced ? namespace : undefined;
  const apiVersion = t.r.group === '' ? t.r.version : `${t.r.group}/${t.r.version}`;
  const out: Record<string, unknown>[] = [];
  if (t.names.length > 0) {
    for (const name of t.names) {
      try {
        out.push(await client.get(t.r, ns ?? '', name));
      } catch (err) {
        onError(err);
      }
    }
    return out;
  }
  try {
    const list = await client.listAll(t.r, { ...(ns ? { namespace: ns } : {}), ...(opts.selector ? { labelSelector: opts.selector } : {}), ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}), limit: opts.chunkSize ?? 500 });
    for (const item of list.items) out.push({ apiVersion, kind: t.r.kind, ...item });
  } catch (err) {
    onError(err);
  }
  return out;
}

function sortKey(template: ReturnType<typeof parseJsonPathTemplate>, obj: unknown): string | number {
  const v = template.execute(obj);
  const n = Number(v);
  return v !== '' && !Number.isNaN(n) ? n : v;
}

function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortTemplate(expr: string): ReturnType<typeof parseJsonPathTemplate> {
  const e = expr.trim();
  return parseJsonPathTemplate(e.startsWith('{') ? e : `{${e.startsWith('.') ? e : `.${e}`}}`);
}

function sortRows(rows: TableRow[], expr: string): void {
  const t = sortTemplate(expr);
  const keyed = rows.map((row) => ({ row, key: sortKey(t, row.object) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  rows.splice(0, rows.length, ...keyed.map((k) => k.row));
}

function sortObjects(objects: Record<string, unknown>[], expr: string): Record<string, unknown>[] {
  const t = sortTemplate(expr);
  return objects
    .map((o) => ({ o, key: sortKey(t, o) }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map((x) => x.o);
}

/** `get -w`: the current state (unless --watch-only), then one line per change until the server closes. */
async function watchTarget(ctx: CliContext, client: RestClient, t: Target, namespace: string | undefined, format: OutputFormat, opts: GetOptions): Promise<number> {
  const ns = t.r.namespaced ? namespace : undefined;
  const nameSelector = t.names.length === 1 ? `metadata.name=${t.names[0]}` : undefined;
  const fieldSelector = [opts.fieldSelector, nameSelector].filter((x) => x).join(',') || undefined;
  const o: GetOptions = { ...opts, ...(fieldSelector ? { fieldSelector } : {}) };
  const withNamespace = opts.allNamespaces === true && t.r.namespaced;
  const isTable = format.kind === 'table';
  let header: string[] | undefined;
  const printRows = (table: Pick<Table, 'columnDefinitions' | 'rows'>, first: boolean) => {
    const { header: h, rows } = tableToRows(table, { wide: isTable && format.wide, withNamespace, ...(opts.showLabels ? { showLabels: true } : {}), ...(opts.labelColumns?.length ? { labelColumns: opts.labelColumns } : {}) });
    header ??= h;
    const lines = formatColumns([header, ...rows]).split('\n');
    ctx.out(`${(first && !opts.noHeaders ? lines : lines.slice(1)).filter((l) => l !== '').join('\n')}\n`);
  };
  let resourceVersion: string;
  let columns: Table['columnDefinitions'] | undefined;
  if (isTable) {
    const table = await getTable(client, resourcePath(t.r, ns) + listQuery(o), t.r);
    resourceVersion = table.metadata?.resourceVersion ?? '';
    columns = table.columnDefinitions;
    if (!opts.watchOnly && table.rows.length > 0) printRows(table, true);
    else if (!opts.watchOnly) ctx.err(noResourcesMessage([t], namespace));
  } else {
    const list = await client.list(t.r, { ...(ns ? { namespace: ns } : {}), ...(o.selector ? { labelSelector: o.selector } : {}), ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}) });
    resourceVersion = list.metadata.resourceVersion ?? '';
    if (!opts.watchOnly) for (const item of list.items) printWatchObject(ctx, format, { apiVersion: list.apiVersion, kind: t.r.kind, ...item });
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stream = await openStream(await ctx.config(), resourcePath(t.r, ns) + listQuery(o, { watch: 'true', resourceVersion }), { accept: isTable ? TABLE_ACCEPT : 'application/json', signal: controller.signal });
  let printedAny = header !== undefined;
  try {
    for await (const ev of watchEvents<Record<string, unknown>>(stream)) {
      if (ev.type === 'BOOKMARK') continue;
      if (isTable) {
        const table = ev.object as unknown as Table;
        if (table.columnDefinitions?.length) columns = table.columnDefinitions;
        if (!columns || !Array.isArray(table.rows)) continue;
        printRows({ columnDefinitions: columns, rows: table.rows }, !printedAny);
        printedAny = true;
      } else {
        printWatchObject(ctx, format, ev.object);
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stream.close();
  }
  return 0;
}

function printWatchObject(ctx: CliContext, format: OutputFormat, obj: Record<string, unknown>): void {
  switch (format.kind) {
    case 'json':
      ctx.out(toJson(obj));
      break;
    case 'yaml':
      ctx.out(`${toYaml(obj)}---\n`);
      break;
    case 'name':
      ctx.out(`${objectName(obj as { kind?: string })}\n`);
      break;
    default:
      ctx.out(formatObjects([obj], format, true));
  }
}
