/**
 * A small builder language for schema definitions: readable TypeScript that produces OpenAPI v3
 * schema objects with the Kubernetes extensions (`SchemaNode`).
 */
import { REF_PREFIX, type SchemaNode } from './schema-node.js';

/** List semantics for strategic merge patch and server-side apply. */
export interface ListOptions {
  /** Items are identified by this field when patched (strategic merge). */
  mergeKey?: string;
  /** `merge`, `retainKeys`, `merge,retainKeys`; default replace. */
  strategy?: string;
  /** Server-side apply list type (`map` needs mapKeys; default atomic, or map when mergeKey is set). */
  listType?: 'atomic' | 'set' | 'map';
  mapKeys?: string[];
}

function described(node: SchemaNode, description: string | undefined): SchemaNode {
  if (description) node.description = description;
  return node;
}

/** A string. */
export function str(description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return described({ type: 'string', ...extra }, description);
}

/** A string limited to `values`. */
export function oneOf(values: readonly string[], description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return described({ type: 'string', enum: [...values], ...extra }, description);
}

/** A 32-bit integer. */
export function int32(description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return described({ type: 'integer', format: 'int32', ...extra }, description);
}

/** A 64-bit integer. */
export function int64(description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return described({ type: 'integer', format: 'int64', ...extra }, description);
}

/** A number. */
export function num(description?: string): SchemaNode {
  return described({ type: 'number', format: 'double' }, description);
}

/** A boolean. */
export function bool(description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return described({ type: 'boolean', ...extra }, description);
}

/** Base64 bytes (`format: byte`). */
export function bytes(description?: string): SchemaNode {
  return described({ type: 'string', format: 'byte' }, description);
}

/** A reference to a named definition, with an optional description of its use here. */
export function ref(name: string, description?: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  if (!description && Object.keys(extra).length === 0) return { $ref: REF_PREFIX + name };
  return { allOf: [{ $ref: REF_PREFIX + name }], ...(description ? { description } : {}), ...extra };
}

/** A list. */
export function list(items: SchemaNode, description?: string, o: ListOptions = {}): SchemaNode {
  const node: SchemaNode = { type: 'array', items };
  if (o.mergeKey) node['x-kubernetes-patch-merge-key'] = o.mergeKey;
  if (o.strategy) node['x-kubernetes-patch-strategy'] = o.strategy;
  const listType = o.listType ?? (o.mapKeys || o.mergeKey ? 'map' : undefined);
  if (listType) node['x-kubernetes-list-type'] = listType;
  if (listType === 'map') node['x-kubernetes-list-map-keys'] = o.mapKeys ?? [o.mergeKey!];
  return described(node, description);
}

/** A list merged by key (strategy merge), identified by `key` for apply. */
export function listByKey(items: SchemaNode, key: string, description?: string, extra: Partial<ListOptions> = {}): SchemaNode {
  return list(items, description, { mergeKey: key, strategy: 'merge', ...extra });
}

/** A set of primitives merged by union (`finalizers`). */
export function set(items: SchemaNode, description?: string): SchemaNode {
  return list(items, description, { strategy: 'merge', listType: 'set' });
}

/** A map of string keys to `values`. */
export function map(values: SchemaNode, description?: string): SchemaNode {
  return described({ type: 'object', additionalProperties: values }, description);
}

/** A map of strings (labels, annotations, data). */
export function stringMap(description?: string): SchemaNode {
  return map({ type: 'string' }, description);
}

/** An object with known properties. */
export function obj(properties: Record<string, SchemaNode>, description?: string, o: { required?: string[]; mapType?: 'atomic' | 'granular' } = {}): SchemaNode {
  const node: SchemaNode = { type: 'object', properties };
  if (o.required && o.required.length > 0) node.required = o.required;
  if (o.mapType) node['x-kubernetes-map-type'] = o.mapType;
  return described(node, description);
}

/** Any JSON, kept as is. */
export function anyJson(description?: string): SchemaNode {
  return described({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, description);
}

/** Adds a default value. */
export function withDefault(node: SchemaNode, value: unknown): SchemaNode {
  return { ...node, default: value };
}

/** The named definitions being built. */
export class DefinitionSet {
  readonly defs: Record<string, SchemaNode> = {};

  /** Adds a definition; returns its name. */
  add(name: string, node: SchemaNode): string {
    if (this.defs[name]) throw new Error(`duplicate schema definition ${name}`);
    this.defs[name] = node;
    return name;
  }

  /** Adds a top-level kind: its object schema with apiVersion/kind/metadata and the GVK extension. */
  kind(name: string, gvk: { group: string; version: string; kind: string }, description: string, properties: Record<string, SchemaNode>, o: { required?: string[] } = {}): string {
    const node = obj(
      {
        apiVersion: str('The API version of the object: v1 for the core group, <group>/<version> otherwise (apps/v1).'),
        kind: str('The kind of the object in CamelCase (Pod, Deployment). Set by the server from the endpoint.'),
        metadata: ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'Name, namespace, labels, annotations, owners and the fields the server maintains.'),
        ...properties,
      },
      description,
      o,
    );
    node['x-kubernetes-group-version-kind'] = [gvk];
    return this.add(name, node);
  }

  /** Adds the `<Kind>List` of a kind. */
  listOf(name: string, gvk: { group: string; version: string; kind: string }, itemName: string): string {
    const node = obj(
      {
        apiVersion: str('The API version of the list.'),
        kind: str('The kind of the list (<Kind>List).'),
        metadata: ref('io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta', 'The resourceVersion of the list and the token for the next page.'),
        items: list(ref(itemName), `List of ${gvk.kind.replace(/List$/, '')} objects.`),
      },
      `${gvk.kind} is a list of ${gvk.kind.replace(/List$/, '')} objects.`,
      { required: ['items'] },
    );
    node['x-kubernetes-group-version-kind'] = [gvk];
    return this.add(name, node);
  }
}
