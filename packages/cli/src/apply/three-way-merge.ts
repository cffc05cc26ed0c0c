/**
 * kubectl's client-side apply patch: `CreateThreeWayMergePatch(original, modified, current)` of
 * apimachinery's strategicpatch. Additions and changes come from current -> modified (so fields
 * others set survive); deletions come from original -> modified (only what the last apply set and
 * the new configuration dropped is removed). Lists merge by their patch merge key
 * (`$patch: delete` for removed items, `$setElementOrder` for order), merged primitive lists use
 * `$deleteFromPrimitiveList`, other lists are replaced. Without a schema it degrades to JSON merge
 * patch semantics.
 */
import { childNode, resolveSchema, type SchemaDefinitions, type SchemaNode } from '@flotilla/api';

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

interface ListMeta {
  merge: boolean;
  mergeKey?: string;
  items?: SchemaNode;
}

function listMeta(defs: SchemaDefinitions, node: SchemaNode | undefined): ListMeta {
  if (!node) return { merge: false };
  const resolved = resolveSchema(defs, node) ?? node;
  const strategy = node['x-kubernetes-patch-strategy'] ?? resolved['x-kubernetes-patch-strategy'] ?? '';
  const mergeKey = node['x-kubernetes-patch-merge-key'] ?? resolved['x-kubernetes-patch-merge-key'];
  return { merge: strategy.split(',').includes('merge'), ...(mergeKey ? { mergeKey } : {}), ...(resolved.items ? { items: resolved.items } : {}) };
}

interface DiffMode {
  ignoreDeletions: boolean;
  ignoreChangesAndAdditions: boolean;
}

/** The schema context of a diff: definitions plus the node of the value being diffed. */
interface SchemaCtx {
  defs: SchemaDefinitions;
  node: SchemaNode | undefined;
}

function child(s: SchemaCtx, key: string): SchemaCtx {
  return { defs: s.defs, node: s.node ? childNode(s.defs, s.node, key) : undefined };
}

function diffMaps(from: Obj, to: Obj, s: SchemaCtx, mode: DiffMode): Obj {
  const patch: Obj = {};
  for (const [k, tv] of Object.entries(to)) {
    const fv = from[k];
    if (!(k in from)) {
      if (!mode.ignoreChangesAndAdditions) patch[k] = tv;
      continue;
    }
    if (isObject(fv) && isObject(tv)) {
      const sub = diffMaps(fv, tv, child(s, k), mode);
      if (Object.keys(sub).length > 0) patch[k] = sub;
      continue;
    }
    if (Array.isArray(fv) && Array.isArray(tv)) {
      diffLists(patch, k, fv, tv, child(s, k), mode);
      continue;
    }
    if (!deepEqual(fv, tv) && !mode.ignoreChangesAndAdditions) patch[k] = tv;
  }
  if (!mode.ignoreDeletions) for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  return patch;
}

function diffLists(patch: Obj, key: string, from: unknown[], to: unknown[], s: SchemaCtx, mode: DiffMode): void {
  const meta = s.node ? listMeta(s.defs, s.node) : { merge: false };
  if (!meta.merge) {
    if (!deepEqual(from, to) && !mode.ignoreChangesAndAdditions) patch[key] = to;
    return;
  }
  if (!meta.mergeKey) {
    const added = to.filter((t) => !from.some((f) => deepEqual(f, t)));
    const removed = from.filter((f) => !to.some((t) => deepEqual(f, t)));
    if (added.length > 0 && !mode.ignoreChangesAndAdditions) {
      patch[key] = added;
      patch[`$setElementOrder/${key}`] = to;
    }
    if (removed.length > 0 && !mode.ignoreDeletions) patch[`$deleteFromPrimitiveList/${key}`] = removed;
    return;
  }
  const mk = meta.mergeKey;
  const itemCtx: SchemaCtx = { defs: s.defs, node: meta.items };
  const keyOf = (x: unknown) => (isObject(x) ? JSON.stringify(x[mk]) : JSON.stringify(x));
  const items: unknown[] = [];
  let changed = false;
  for (const t of to) {
    const f = from.find((x) => keyOf(x) === keyOf(t));
    if (f === undefined) {
      if (!mode.ignoreChangesAndAdditions) {
        items.push(t);
        changed = true;
      }
      continue;
    }
    if (isObject(f) && isObject(t)) {
      const sub = diffMaps(f, t, itemCtx, mode);
      if (Object.keys(sub).length > 0) {
        items.push({ [mk]: t[mk], ...sub });
        changed = true;
      }
    }
  }
  if (!mode.ignoreDeletions) {
    for (const f of from) {
      if (isObject(f) && !to.some((t) => keyOf(t) === keyOf(f))) {
        items.push({ [mk]: f[mk], $patch: 'delete' });
        changed = true;
      }
    }
  }
  if (!changed) return;
  patch[key] = items;
  if (!mode.ignoreChangesAndAdditions) patch[`$setElementOrder/${key}`] = to.filter(isObject).map((t) => ({ [mk]: t[mk] }));
}

/** Merges two patches (deletions and changes) into one; list items with the same merge key become one. */
function mergePatches(a: Obj, b: Obj, s: SchemaCtx): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    if (isObject(cur) && isObject(v)) out[k] = mergePatches(cur, v, child(s, k));
    else if (Array.isArray(cur) && Array.isArray(v) && !k.startsWith('$')) {
      const meta = s.node ? listMeta(s.defs, childNode(s.defs, s.node, k)) : { merge: false };
      const mk = meta.mergeKey;
      if (!mk) {
        out[k] = [...v, ...cur.filter((c) => !v.some((x) => deepEqual(x, c)))];
        continue;
      }
      const merged: unknown[] = v.map((x) => x);
      for (const c of cur) {
        const i = merged.findIndex((x) => isObject(x) && isObject(c) && deepEqual(x[mk], c[mk]));
        if (i >= 0) merged[i] = mergePatches(c as Obj, merged[i] as Obj, { defs: s.defs, node: meta.items });
        else merged.push(c);
      }
      out[k] = merged;
    } else out[k] = v;
  }
  return out;
}

/**
 * The patch that takes `current` to `modified`, deleting only what `original` (the last applied
 * configuration) had and `modified` dropped. `schema` is the kind's definition (undefined for kinds
 * without one: merge-patch semantics). An empty object means nothing to do.
 */
export function createThreeWayMergePatch(original: Obj | undefined, modified: Obj, current: Obj, schema?: { defs: SchemaDefinitions; node: SchemaNode | undefined }): Obj {
  const s: SchemaCtx = schema ?? { defs: {}, node: undefined };
  const delta = diffMaps(current, modified, s, { ignoreDeletions: true, ignoreChangesAndAdditions: false });
  const deletions = original ? diffMaps(original, modified, s, { ignoreDeletions: false, ignoreChangesAndAdditions: true }) : {};
  return mergePatches(deletions, delta, s);
}
