/**
 * Field sets of server-side apply: which leaf fields an object sets, keyed the way Kubernetes'
 * structured-merge-diff names them (`f:spec`, `k:{"name":"c"}` for items of keyed lists, `v:"x"` for
 * set members, `.` for an item itself), with conversion to and from the FieldsV1 wire format.
 */
import { resolveSchema, type SchemaDefinitions, type SchemaNode } from '../schema/schema-node.js';

/** A field path: its segments. */
export type FieldPath = readonly string[];

/** Leaf paths (joined with \u0001) to the JSON text of their values. */
export type FieldValues = Map<string, string>;

const SEP = '\u0001';

/** Joins a path into a map key. */
export function pathKey(p: FieldPath): string {
  return p.join(SEP);
}

/** Splits a map key back into a path. */
export function splitPathKey(k: string): string[] {
  return k === '' ? [] : k.split(SEP);
}

/** Metadata fields the server owns; they never belong to a field manager. */
const SERVER_METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generateName']);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** List semantics for apply: map keys of keyed lists, or set / atomic. */
export function listTypeOf(defs: SchemaDefinitions, node: SchemaNode | undefined): { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' } {
  if (!node) return { type: 'atomic' };
  const r = resolveSchema(defs, node) ?? node;
  const listType = node['x-kubernetes-list-type'] ?? r['x-kubernetes-list-type'];
  const keys = node['x-kubernetes-list-map-keys'] ?? r['x-kubernetes-list-map-keys'];
  const mergeKey = node['x-kubernetes-patch-merge-key'] ?? r['x-kubernetes-patch-merge-key'];
  if (listType === 'map' && keys && keys.length > 0) return { type: 'map', keys };
  if (listType === 'set') return { type: 'set' };
  if (!listType && mergeKey) return { type: 'map', keys: [mergeKey] };
  return { type: 'atomic' };
}

/** `k:{"name":"c"}`: the identity segment of a keyed list item. */
export function itemSegment(item: Record<string, unknown>, keys: string[]): string {
  const id: Record<string, unknown> = {};
  for (const k of [...keys].sort()) if (item[k] !== undefined) id[k] = item[k];
  return `k:${JSON.stringify(id)}`;
}

/** The schema of a property (or map value) of an object schema. */
export function childNode(defs: SchemaDefinitions, node: SchemaNode | undefined, key: string): SchemaNode | undefined {
  const r = resolveSchema(defs, node);
  if (!r) return undefined;
  if (r.properties?.[key]) return r.properties[key];
  if (r.additionalProperties && typeof r.additionalProperties === 'object') return r.additionalProperties;
  return undefined;
}

/** True when a map is replaced as a whole (atomic or free-form). */
export function isAtomicMap(defs: SchemaDefinitions, node: SchemaNode | undefined): boolean {
  const r = resolveSchema(defs, node);
  return (node?.['x-kubernetes-map-type'] ?? r?.['x-kubernetes-map-type']) === 'atomic' || r?.['x-kubernetes-preserve-unknown-fields'] === true;
}

function walk(defs: SchemaDefinitions, node: SchemaNode | undefined, value: unknown, path: string[], out: FieldValues): void {
  if (isObject(value) && !isAtomicMap(defs, node)) {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      out.set(pathKey(path), '{}');
      return;
    }
    for (const k of keys) {
      if (path.length === 1 && path[0] === 'f:metadata' && SERVER_METADATA.has(k)) continue;
      walk(defs, childNode(defs, node, k), value[k], [...path, `f:${k}`], out);
    }
    return;
  }
  if (Array.isArray(value)) {
    const lt = listTypeOf(defs, node);
    const r = resolveSchema(defs, node);
    if (lt.type === 'map') {
      for (const item of value) {
        if (!isObject(item)) continue;
        const seg = itemSegment(item, lt.keys);
        out.set(pathKey([...path, seg, '.']), '');
        for (const [k, v] of Object.entries(item)) walk(defs, childNode(defs, r?.items, k), v, [...path, seg, `f:${k}`], out);
      }
      if (value.length === 0) out.set(pathKey(path), '[]');
      return;
    }
    if (lt.type === 'set') {
      for (const item of value) out.set(pathKey([...path, `v:${JSON.stringify(item)}`]), '');
      if (value.length === 0) out.set(pathKey(path), '[]');
      return;
    }
  }
  out.set(pathKey(path), JSON.stringify(value));
}

/**
 * The leaf fields an object sets (with their values), for the kind `definitionName`. Server-owned
 * metadata, apiVersion and kind are left out; `status` is only included when asked.
 */
export function fieldValuesOf(defs: SchemaDefinitions, definitionName: string, obj: unknown, options: { status?: boolean } = {}): FieldValues {
  const out: FieldValues = new Map();
  if (!isObject(obj)) return out;
  const root: SchemaNode = { $ref: `#/components/schemas/${definitionName}` };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'status' && !options.status) continue;
    if (k !== 'status' && options.status === true && k !== 'metadata') continue;
    walk(defs, childNode(defs, root, k), v, [`f:${k}`], out);
  }
  return out;
}

/** FieldsV1 JSON of a set of leaf paths. */
export function toFieldsV1(paths: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of paths) {
    let cur = root;
    for (const seg of splitPathKey(key)) {
      let next = cur[seg] as Record<string, unknown> | undefined;
      if (!next) cur[seg] = next = {};
      cur = next;
    }
  }
  return root;
}

/** Leaf paths of a FieldsV1 tree. */
export function fromFieldsV1(tree: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (node: unknown, path: string[]) => {
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length > 0) {
      out.add(pathKey(path));
      return;
    }
    for (const k of keys) visit(node[k], [...path, k]);
  };
  visit(tree, []);
  return out;
}

/** `.spec.containers[name="c"].image`: a path as Kubernetes prints it in conflicts. */
export function formatFieldPath(key: string): string {
  let out = '';
  for (const seg of splitPathKey(key)) {
    if (seg === '.') continue;
    if (seg.startsWith('f:')) out += `.${seg.slice(2)}`;
    else if (seg.startsWith('k:')) {
      const id = JSON.parse(seg.slice(2)) as Record<string, unknown>;
      out += `[${Object.entries(id).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (seg.startsWith('v:')) out += `[=${seg.slice(2)}]`;
  }
  return out;
}
