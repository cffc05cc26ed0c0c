/**
 * Server-side apply and field ownership (`metadata.managedFields`), after Kubernetes'
 * structured-merge-diff: an apply merges the applied configuration into the live object by the
 * kind's list types, removes fields the applier stopped applying (when nobody else owns them),
 * and refuses to change fields another manager owns (409 with FieldManagerConflict causes) unless
 * forced. Ordinary writes record which fields their manager changed.
 */
import { ApiError, badRequest } from '../api-error.js';
import { formatTime, type ManagedFieldsEntry } from '../meta.js';
import { resolveSchema, type SchemaDefinitions, type SchemaNode } from '../schema/schema-node.js';
import { childNode, fieldValuesOf, formatFieldPath, fromFieldsV1, isAtomicMap, listTypeOf, splitPathKey, toFieldsV1, type FieldValues } from './field-set.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameItem(a: unknown, b: Record<string, unknown>, keys: string[]): boolean {
  return isObject(a) && keys.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/** Merges an applied configuration into a live value, by the schema's list and map types. */
function applyMerge(defs: SchemaDefinitions, node: SchemaNode | undefined, live: unknown, applied: unknown): unknown {
  if (isObject(applied) && !isAtomicMap(defs, node)) {
    const out: Record<string, unknown> = isObject(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(applied)) {
      if (v === null) delete out[k];
      else out[k] = applyMerge(defs, childNode(defs, node, k), out[k], v);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const lt = listTypeOf(defs, node);
    const liveList = Array.isArray(live) ? live : [];
    if (lt.type === 'map') {
      const items = resolveSchema(defs, node)?.items;
      const result = liveList.map((x) => structuredClone(x));
      for (const a of applied) {
        if (!isObject(a)) continue;
        const i = result.findIndex((x) => sameItem(x, a, lt.keys));
        if (i >= 0) result[i] = applyMerge(defs, items, result[i], a);
        else result.push(applyMerge(defs, items, undefined, a));
      }
      return result;
    }
    if (lt.type === 'set') {
      const result = [...liveList];
      for (const a of applied) if (!result.some((x) => JSON.stringify(x) === JSON.stringify(a))) result.push(a);
      return result;
    }
  }
  return structuredClone(applied);
}

/** Removes the field at a path (`f:`/`k:`/`v:` segments) from an object, in place. */
function removePath(obj: unknown, segs: string[]): void {
  if (segs.length === 0) return;
  const [head, ...rest] = segs as [string, ...string[]];
  if (isObject(obj) && head.startsWith('f:')) {
    const key = head.slice(2);
    if (rest.length === 0) delete obj[key];
    else {
      removePath(obj[key], rest);
      // A keyed item whose identity went away leaves nothing behind.
      const v = obj[key];
      if (isObject(v) && Object.keys(v).length === 0) delete obj[key];
    }
    return;
  }
  if (Array.isArray(obj) && head.startsWith('k:')) {
    const id = JSON.parse(head.slice(2)) as Record<string, unknown>;
    const keys = Object.keys(id);
    const i = obj.findIndex((x) => sameItem(x, id, keys));
    if (i < 0) return;
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '.')) obj.splice(i, 1);
    else removePath(obj[i], rest);
    return;
  }
  if (Array.isArray(obj) && head.startsWith('v:')) {
    const i = obj.findIndex((x) => JSON.stringify(x) === head.slice(2));
    if (i >= 0) obj.splice(i, 1);
  }
}

interface Owner {
  entry: ManagedFieldsEntry;
  paths: Set<string>;
}

function ownersOf(obj: unknown): Owner[] {
  const mf = (isObject(obj) && isObject(obj['metadata']) ? (obj['metadata']['managedFields'] as ManagedFieldsEntry[] | undefined) : undefined) ?? [];
  return mf.filter((e) => isObject(e)).map((entry) => ({ entry, paths: fromFieldsV1(entry.fieldsV1) }));
}

function sameOwner(e: ManagedFieldsEntry, manager: string, operation: 'Apply' | 'Update', subresource: string | undefined): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');
}

function serialize(owners: Owner[]): ManagedFieldsEntry[] {
  return owners
    .filter((o) => o.paths.size > 0)
    .map((o) => {
      const e: ManagedFieldsEntry = { ...o.entry, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1([...o.paths].sort()) };
      if (!e.subresource) delete e.subresource;
      return e;
    });
}

/** Inputs of a server-side apply. */
export interface ServerSideApplyInput {
  defs: SchemaDefinitions;
  /** Definition name of the kind. */
  name: string;
  /** The live object, or undefined to create. */
  live: unknown;
  /** The applied configuration. */
  applied: unknown;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: Date;
  subresource?: string;
}

/**
 * Applies a configuration. Returns the resulting object with updated managedFields. Throws 409
 * Conflict (causes of reason FieldManagerConflict) when the configuration changes a field another
 * manager owns, unless `force`.
 */
export function serverSideApply(input: ServerSideApplyInput): { object: Record<string, unknown>; managedFields: ManagedFieldsEntry[] } {
  const { defs, name, live, manager } = input;
  if (!isObject(input.applied)) throw badRequest('the applied configuration must be an object');
  const applied = structuredClone(input.applied);
  const meta = isObject(applied['metadata']) ? applied['metadata'] : {};
  if (meta['managedFields'] !== undefined) throw badRequest('metadata.managedFields must be nil');
  if (!input.subresource) delete applied['status'];
  const appliedValues = fieldValuesOf(defs, name, applied, { status: input.subresource === 'status' });
  const time = formatTime(input.now);
  const root: SchemaNode = { $ref: `#/components/schemas/${name}` };
  if (live === undefined) {
    const mf: ManagedFieldsEntry[] = appliedValues.size === 0 ? [] : [{ manager, operation: 'Apply', apiVersion: input.apiVersion, time, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1([...appliedValues.keys()].sort()) }];
    const object = applied;
    object['metadata'] = { ...meta, managedFields: mf };
    return { object, managedFields: mf };
  }
  const owners = ownersOf(live);
  const liveValues = fieldValuesOf(defs, name, live, { status: input.subresource === 'status' });
  // An object never applied before: its fields belong to "before-first-apply" (as in Kubernetes).
  if (owners.length === 0 && liveValues.size > 0) owners.push({ entry: { manager: 'before-first-apply', operation: 'Update', apiVersion: input.apiVersion, time }, paths: new Set(liveValues.keys()) });
  // Conflicts: fields another manager owns that this configuration would change.
  const conflicts: { owner: Owner; path: string }[] = [];
  for (const [path, value] of appliedValues) {
    const current = liveValues.get(path);
    if (current === undefined || current === value) continue;
    for (const o of owners) {
      if (sameOwner(o.entry, manager, 'Apply', input.subresource)) continue;
      if (o.paths.has(path)) conflicts.push({ owner: o, path });
    }
  }
  if (conflicts.length > 0 && !input.force) {
    const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.owner.entry.manager}"${c.owner.entry.operation === 'Update' ? ` using ${c.owner.entry.apiVersion ?? 'v1'}` : ''}`, field: formatFieldPath(c.path) }));
    const list = causes.map((c) => `- ${c.message}: ${c.field}`).join('\n');
    throw new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.length === 1 ? `${causes[0]!.message}: ${causes[0]!.field}` : `\n${list}`}`, { causes });
  }
  if (input.force) for (const c of conflicts) c.owner.paths.delete(c.path);
  // Merge, then drop what this applier stopped applying and nobody else owns.
  const result = applyMerge(defs, root, structuredClone(live), applied) as Record<string, unknown>;
  const mine = owners.find((o) => sameOwner(o.entry, manager, 'Apply', input.subresource));
  if (mine) {
    for (const path of mine.paths) {
      if (appliedValues.has(path)) continue;
      if (owners.some((o) => o !== mine && o.paths.has(path))) continue;
      removePath(result, splitPathKey(path));
    }
  }
  const next: Owner = mine ?? { entry: { manager, operation: 'Apply', apiVersion: input.apiVersion }, paths: new Set() };
  next.paths = new Set(appliedValues.keys());
  next.entry = { ...next.entry, apiVersion: input.apiVersion, time };
  if (input.subresource) next.entry.subresource = input.subresource;
  const all = mine ? owners : [...owners, next];
  const mf = serialize(all);
  const resultMeta = (isObject(result['metadata']) ? result['metadata'] : (result['metadata'] = {})) as Record<string, unknown>;
  resultMeta['managedFields'] = mf;
  return { object: result, managedFields: mf };
}

/** Inputs of an ordinary write's ownership update. */
export interface ManagedFieldsUpdate {
  defs: SchemaDefinitions;
  name: string;
  /** The object before the write (undefined for a create). */
  old: unknown;
  /** The object after the write; its metadata.managedFields is replaced. */
  obj: Record<string, unknown> & { metadata: Record<string, unknown> };
  manager: string;
  apiVersion: string;
  now: Date;
  subresource?: string;
}

function changedPaths(before: FieldValues, after: FieldValues): { changed: string[]; removed: string[] } {
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) changed.push(k);
  for (const k of before.keys()) if (!after.has(k)) removed.push(k);
  return { changed, removed };
}

/**
 * Records an ordinary write (create, update, patch): the manager becomes owner of every field it
 * set or changed; other managers lose those; removed fields belong to nobody. A write that changes
 * nothing leaves managedFields as they were.
 */
export function updateManagedFields(u: ManagedFieldsUpdate): void {
  const status = u.subresource === 'status';
  const after = fieldValuesOf(u.defs, u.name, u.obj, { status });
  const before = u.old === undefined ? new Map<string, string>() : fieldValuesOf(u.defs, u.name, u.old, { status });
  const owners = u.old === undefined ? [] : ownersOf(u.old);
  const { changed, removed } = changedPaths(before, after);
  if (changed.length === 0 && removed.length === 0) {
    u.obj.metadata['managedFields'] = u.old === undefined ? [] : ((u.old as { metadata?: { managedFields?: unknown } }).metadata?.managedFields ?? []);
    if (Array.isArray(u.obj.metadata['managedFields']) && u.obj.metadata['managedFields'].length === 0) delete u.obj.metadata['managedFields'];
    return;
  }
  for (const o of owners) {
    if (sameOwner(o.entry, u.manager, 'Update', u.subresource)) continue;
    for (const p of changed) o.paths.delete(p);
    for (const p of removed) o.paths.delete(p);
  }
  let mine = owners.find((o) => sameOwner(o.entry, u.manager, 'Update', u.subresource));
  if (!mine) {
    mine = { entry: { manager: u.manager, operation: 'Update', apiVersion: u.apiVersion }, paths: new Set() };
    if (u.subresource) mine.entry.subresource = u.subresource;
    owners.push(mine);
  }
  for (const p of changed) mine.paths.add(p);
  for (const p of removed) mine.paths.delete(p);
  mine.entry = { ...mine.entry, apiVersion: u.apiVersion, time: formatTime(u.now) };
  const mf = serialize(owners);
  if (mf.length > 0) u.obj.metadata['managedFields'] = mf;
  else delete u.obj.metadata['managedFields'];
}

