/**
 * The schema language of Flotilla: a subset of OpenAPI v3 schema objects with the Kubernetes
 * extensions. One set of named definitions (like `components.schemas` of the Kubernetes OpenAPI
 * document) drives request decoding and validation, the OpenAPI documents we serve (so
 * `kubectl explain` works), strategic-merge-patch and server-side-apply list semantics, and the
 * generated TypeScript types.
 */

/** One schema node. Exactly one of `$ref`, `allOf` (single ref, to carry a description) or a typed node. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  /** `int32`, `int64`, `double`, `date-time`, `byte`, `int-or-string`, `quantity`… */
  format?: string;
  description?: string;
  /** `#/components/schemas/<name>`. */
  $ref?: string;
  /** `[{ $ref }]`: used when a referencing property carries its own description. */
  allOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  /** For maps: the value schema. `true` = any value. */
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  /** Accepts an integer or a string (IntOrString, e.g. ports and maxSurge). */
  'x-kubernetes-int-or-string'?: true;
  /** Any JSON below this node is kept as is (RawExtension, fieldsV1). */
  'x-kubernetes-preserve-unknown-fields'?: true;
  /** Strategic merge patch: the key that identifies list items (`name`, `containerPort`, `mountPath`). */
  'x-kubernetes-patch-merge-key'?: string;
  /** Strategic merge patch: `merge`, `retainKeys`, `merge,retainKeys` or `replace`. */
  'x-kubernetes-patch-strategy'?: string;
  /** Server-side apply list semantics. */
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  /** On top-level kind definitions. */
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

/** The named definitions (`io.k8s.api.core.v1.Pod` -> schema). */
export type SchemaDefinitions = Readonly<Record<string, SchemaNode>>;

/** Prefix of every `$ref`. */
export const REF_PREFIX = '#/components/schemas/';

/**
 * Follows `$ref` and single-element `allOf` to the node that carries the type. Returns undefined for
 * a dangling reference (a bug in the definitions, caught by their tests).
 */
export function resolveSchema(defs: SchemaDefinitions, node: SchemaNode | undefined): SchemaNode | undefined {
  let cur = node;
  for (let i = 0; cur && i < 16; i++) {
    if (cur.$ref !== undefined) {
      cur = defs[cur.$ref.slice(REF_PREFIX.length)];
      continue;
    }
    if (cur.allOf && cur.allOf.length === 1 && cur.type === undefined) {
      cur = cur.allOf[0];
      continue;
    }
    return cur;
  }
  return cur;
}
