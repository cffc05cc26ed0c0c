/**
 * `flctl apply -f` (client-side 3-way strategic merge with the last-applied-configuration
 * annotation, like kubectl; or `--server-side` apply with a field manager) and `flctl create -f`.
 */
import { DEFINITIONS, kindDefinitionName, type ResourceInfo } from '@flotilla/api';
import type { RestClient } from '@flotilla/client';
import { createThreeWayMergePatch } from '../apply/three-way-merge.js';
import type { CliContext } from '../cli-context.js';
import { apiErrorCode, CliError, formatError } from '../cli-error.js';
import { readManifests, type Manifest } from '../manifest-reader.js';
import { formatObjects, parseOutputFormat } from '../printers/object-printer.js';
import { resourceForObject, typePrefix } from '../resource-args.js';

/** The annotation client-side apply keeps the last applied configuration in. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Obj = Record<string, unknown>;

/** JSON with sorted keys (Go's encoding of maps), so kubectl and flctl write the same annotation. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Obj)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Obj)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The object with the last-applied annotation holding the object itself (without that annotation). */
export function withLastApplied(obj: Obj): Obj {
  const copy = structuredClone(obj) as Obj & { metadata: { annotations?: Record<string, string> } };
  copy.metadata ??= {};
  const annotations = { ...(copy.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED];
  const bare = structuredClone(copy);
  // kubectl keeps an empty annotations map here; matching it keeps kubectl and flctl "unchanged".
  bare.metadata.annotations = annotations;
  copy.metadata.annotations = { ...annotations, [LAST_APPLIED]: `${stableStringify(bare)}\n` };
  return copy;
}

interface Prepared {
  m: Manifest;
  r: ResourceInfo;
  namespace: string;
  name: string;
  obj: Obj & { metadata: Obj & { name?: string; namespace?: string; generateName?: string } };
}

async function prepare(ctx: CliContext, m: Manifest): Promise<Prepared> {
  const obj = structuredClone(m.object) as Prepared['obj'];
  obj.metadata ??= {};
  const r = await resourceForObject(ctx, String(obj.apiVersion), String(obj.kind));
  let namespace = '';
  if (r.namespaced) {
    const flagNs = ctx.options.namespace;
    const objNs = obj.metadata.namespace;
    if (flagNs && objNs && flagNs !== objNs) throw new CliError(`the namespace from the provided object "${objNs}" does not match the namespace "${flagNs}". You must pass '--namespace=${objNs}' to perform this operation.`);
    namespace = objNs || (await ctx.namespace());
    obj.metadata.namespace = namespace;
  } else {
    delete obj.metadata.namespace;
  }
  return { m, r, namespace, name: obj.metadata.name ?? '', obj };
}

function dryRunOf(opts: Obj): 'none' | 'client' | 'server' {
  const d = opts['dryRun'];
  if (d === undefined || d === 'none' || d === false) return 'none';
  if (d === 'client' || d === 'server') return d;
  if (d === true || d === 'true') return 'client';
  throw new CliError(`Invalid dry-run value (${String(d)}). Must be "none", "server", or "client".`);
}

function suffix(dryRun: 'none' | 'client' | 'server'): string {
  return dryRun === 'server' ? ' (server dry run)' : dryRun === 'client' ? ' (dry run)' : '';
}

function contextual(err: unknown, verb: string, source: string): string {
  const line = formatError(err);
  const colon = line.indexOf(': ');
  return colon < 0 ? line : `${line.slice(0, colon)}: error when ${verb} "${source}": ${line.slice(colon + 2)}`;
}

function schemaOf(r: ResourceInfo): { defs: typeof DEFINITIONS; node: (typeof DEFINITIONS)[string] | undefined } | undefined {
  const name = kindDefinitionName(r.group, r.version, r.kind);
  const node = name ? DEFINITIONS[name] : undefined;
  return node ? { defs: DEFINITIONS, node } : undefined;
}

async function applyOne(client: RestClient, p: Prepared, opts: Obj, dryRun: 'none' | 'client' | 'server'): Promise<{ verb: string; result: Obj }> {
  const serverDry = dryRun === 'server';
  if (opts['serverSide']) {
    const fieldManager = (opts['fieldManager'] as string | undefined) ?? 'kubectl';
    if (dryRun === 'client') return { verb: 'serverside-applied', result: p.obj };
    const result = await client.patch<Obj & { metadata: Obj }>(p.r, p.namespace, p.name, p.obj, 'apply', { fieldManager, ...(opts['forceConflicts'] ? { force: true } : {}), ...(serverDry ? { dryRun: true } : {}) });
    return { verb: 'serverside-applied', result };
  }
  const modified = withLastApplied(p.obj);
  const fieldManager = (opts['fieldManager'] as string | undefined) ?? 'kubectl-client-side-apply';
  for (let attempt = 0; ; attempt++) {
    let current: Obj & { metadata: { annotations?: Record<string, string> } };
    try {
      current = await client.get(p.r, p.namespace, p.name);
    } catch (err) {
      if (apiErrorCode(err) !== 404) throw err;
      if (dryRun === 'client') return { verb: 'created', result: modified };
      const created = await client.create<Obj & { metadata: Obj }>(p.r, p.namespace, modified as never, { fieldManager, ...(serverDry ? { dryRun: true } : {}) });
      return { verb: 'created', result: created };
    }
    const lastText = current.metadata.annotations?.[LAST_APPLIED];
    let original: Obj | undefined;
    if (lastText) {
      try {
        original = JSON.parse(lastText) as Obj;
      } catch {
        original = undefined;
      }
    }
    const schema = schemaOf(p.r);
    const patch = createThreeWayMergePatch(original, modified, current, schema);
    if (Object.keys(patch).length === 0) return { verb: 'unchanged', result: current };
    if (dryRun === 'client') return { verb: 'configured', result: modified };
    try {
      const result = await client.patch<Obj & { metadata: Obj }>(p.r, p.namespace, p.name, patch, schema ? 'strategic' : 'merge', { fieldManager, ...(serverDry ? { dryRun: true } : {}) });
      return { verb: 'configured', result };
    } catch (err) {
      if (apiErrorCode(err) === 409 && attempt < 4) continue;
      throw err;
    }
  }
}

/** Runs `apply`. */
export async function runApply(ctx: CliContext, opts: Obj): Promise<number> {
  const dryRun = dryRunOf(opts);
  if (opts['forceConflicts'] && !opts['serverSide']) throw new CliError('--force-conflicts only works with --server-side');
  const manifests = await readManifests(opts['filename'] as string[] | undefined, { recursive: opts['recursive'] === true, stdin: ctx.io.stdin });
  const format = opts['output'] ? parseOutputFormat(opts['output'] as string) : undefined;
  const client = await ctx.client();
  let failed = false;
  const results: Obj[] = [];
  for (const m of manifests) {
    let p: Prepared;
    try {
      p = await prepare(ctx, m);
    } catch (err) {
      ctx.err(`${formatError(err)}\n`);
      failed = true;
      continue;
    }
    try {
      const { verb, result } = await applyOne(client, p, opts, dryRun);
      if (format && format.kind !== 'name') results.push(result);
      else if (format?.kind === 'name') ctx.out(`${typePrefix(p.r)}/${p.name}\n`);
      else ctx.out(`${typePrefix(p.r)}/${p.name} ${verb}${suffix(dryRun)}\n`);
    } catch (err) {
      ctx.err(`${contextual(err, opts['serverSide'] ? 'patching' : 'applying', m.source)}\n`);
      failed = true;
    }
  }
  if (format && format.kind !== 'name' && results.length > 0) ctx.out(formatObjects(results, format, results.length === 1));
  return failed ? 1 : 0;
}

/** Runs `create -f`. */
export async function runCreate(ctx: CliContext, opts: Obj): Promise<number> {
  const dryRun = dryRunOf(opts);
  const manifests = await readManifests(opts['filename'] as string[] | undefined, { recursive: opts['recursive'] === true, stdin: ctx.io.stdin });
  const format = opts['output'] ? parseOutputFormat(opts['output'] as string) : undefined;
  const client = await ctx.client();
  let failed = false;
  const results: Obj[] = [];
  for (const m of manifests) {
    try {
      const p = await prepare(ctx, m);
      const body = opts['saveConfig'] ? withLastApplied(p.obj) : p.obj;
      const created = dryRun === 'client' ? body : await client.create<Obj & { metadata: Obj }>(p.r, p.namespace, body as never, { fieldManager: 'kubectl-create', ...(dryRun === 'server' ? { dryRun: true } : {}) });
      const name = String((created['metadata'] as Obj | undefined)?.['name'] ?? p.name);
      if (format && format.kind !== 'name') results.push(created);
      else if (format?.kind === 'name') ctx.out(`${typePrefix(p.r)}/${name}\n`);
      else ctx.out(`${typePrefix(p.r)}/${name} created${suffix(dryRun)}\n`);
    } catch (err) {
      ctx.err(`${contextual(err, 'creating', m.source)}\n`);
      failed = true;
    }
  }
  if (format && format.kind !== 'name' && results.length > 0) ctx.out(formatObjects(results, format, results.length === 1));
  return failed ? 1 : 0;
}
