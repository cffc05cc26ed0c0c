/**
 * Strategic merge patch, as Kubernetes' apimachinery `strategicpatch` applies it: lists with a
 * patch merge key merge item by item, merged primitive lists take the union, other lists are
 * replaced; `$patch` (replace, merge, delete), `$retainKeys`, `$setElementOrder/<list>` and
 * `$deleteFromPrimitiveList/<list>` directives; null deletes. The schema of the kind says which
 * lists merge by which key; unknown parts fall back to JSON merge-patch semantics.
 */
import { badRequest } from '../api-error.js';
import { resolveSchema, type SchemaDefinitions, type SchemaNode } from '../schema/schema-node.js';
import { childNode } from './field-set.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE = '$deleteFromPrimitiveList/';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The list semantics of a property: merge key and strategy (from the referencing node or the resolved one). */
function listMeta(defs: SchemaDefinitions, node: SchemaNode | undefined): { mergeKey?: string; merge: boolean; items?: SchemaNode } {
  if (!node) return { merge: false };
  const resolved = resolveSchema(defs, node) ?? node;
  const strategy = node['x-kubernetes-patch-strategy'] ?? resolved['x-kubernetes-patch-strategy'] ?? '';
  const mergeKey = node['x-kubernetes-patch-merge-key'] ?? resolved['x-kubernetes-patch-merge-key'];
  const out: { mergeKey?: string; merge: boolean; items?: SchemaNode } = { merge: strategy.split(',').includes('merge') };
  if (mergeKey) out.mergeKey = mergeKey;
  if (resolved.items) out.items = resolved.items;
  return out;
}

function sameKey(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Orders `items` as `order` (by merge key, or by value for primitives); unlisted items keep their order after. */
function applyOrder(items: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (x: unknown) => (mergeKey && isObject(x) ? JSON.stringify(x[mergeKey]) : JSON.stringify(x));
  const rank = new Map(order.map((o, i) => [mergeKey && isObject(o) ? JSON.stringify(o[mergeKey]) : JSON.stringify(o), i]));
  const listed = items.filter((x) => rank.has(keyOf(x))).sort((a, b) => rank.get(keyOf(a))! - rank.get(keyOf(b))!);
  const rest = items.filter((x) => !rank.has(keyOf(x)));
  return [...listed, ...rest];
}

function mergeList(defs: SchemaDefinitions, field: string, original: unknown, patch: unknown[], node: SchemaNode | undefined, order: unknown[] | undefined): unknown[] {
  const meta = listMeta(defs, node);
  const orig = Array.isArray(original) ? original : [];
  // `{"$patch": "replace"}` as an element replaces the list with the other elements.
  if (patch.some((p) => isObject(p) && p[DIRECTIVE] === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p[DIRECTIVE] === 'replace')).map((p) => stripDirectives(p));
  }
  if (!meta.merge) return patch.map((p) => stripDirectives(p));
  let result: unknown[];
  if (!meta.mergeKey) {
    // Primitive list merged as a set union, original order first.
    result = [...orig];
    for (const p of patch) if (!result.some((x) => sameKey(x, p))) result.push(structuredClone(p));
  } else {
    const key = meta.mergeKey;
    result = orig.map((x) => structuredClone(x));
    for (const p of patch) {
      if (!isObject(p)) throw badRequest(`unable to find api field in struct ${field} for the json field "${field}": list items must be objects with the merge key "${key}"`);
      if (!(key in p)) throw badRequest(`map: ${JSON.stringify(p)} does not contain declared merge key: ${key}`);
      const idx = result.findIndex((x) => isObject(x) && sameKey(x[key], p[key]));
      if (p[DIRECTIVE] === 'delete') {
        if (idx >= 0) result.splice(idx, 1);
        continue;
      }
      if (idx >= 0) result[idx] = mergeMap(defs, result[idx], p, meta.items);
      else result.push(mergeMap(defs, undefined, p, meta.items));
    }
  }
  return order ? applyOrder(result, order, meta.mergeKey) : result;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_FROM_PRIMITIVE)) continue;
    if (x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function mergeMap(defs: SchemaDefinitions, original: unknown, patch: Record<string, unknown>, node: SchemaNode | undefined): unknown {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') return stripDirectives(patch);
  if (directive === 'delete') return undefined;
  if (directive !== undefined && directive !== 'merge') throw badRequest(`Unknown patch type: ${String(directive)}`);
  let out: Record<string, unknown> = isObject(original) ? { ...original } : {};
  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw badRequest(`invalid ${RETAIN_KEYS}: must be a list of field names`);
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS) continue;
    if (k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_FROM_PRIMITIVE)) {
      const field = k.slice(DELETE_FROM_PRIMITIVE.length);
      if (!Array.isArray(v)) throw badRequest(`invalid ${k}: must be a list`);
      const cur = out[field];
      if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.some((d) => sameKey(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const sub = childNode(defs, node, k);
    if (Array.isArray(v)) {
      const order = patch[`${SET_ORDER}${k}`];
      out[k] = mergeList(defs, k, out[k], v, sub, Array.isArray(order) ? order : undefined);
    } else if (isObject(v)) {
      const merged = mergeMap(defs, out[k], v, sub);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  // An ordering directive for a list the patch did not touch still reorders it.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER) || !Array.isArray(v)) continue;
    const field = k.slice(SET_ORDER.length);
    if (field in patch || !Array.isArray(out[field])) continue;
    out[field] = applyOrder(out[field] as unknown[], v, listMeta(defs, childNode(defs, node, field)).mergeKey);
  }
  return out;
}

/**
 * Applies a strategic merge patch to `original` (an object of the kind `definitionName`). Returns a
 * new object; throws 400 BadRequest for malformed directives or list items missing their merge key.
 */
export function applyStrategicMergePatch(defs: SchemaDefinitions, definitionName: string, original: unknown, patch: Record<string, unknown>): unknown {
  if (!isObject(patch)) throw badRequest('a strategic merge patch must be a JSON object');
  const root: SchemaNode = { $ref: `#/components/schemas/${definitionName}` };
  return mergeMap(defs, structuredClone(original), patch, root) ?? {};
}
