/**
 * Generates TypeScript declarations from the schema definitions: one interface per object
 * definition under its short Kubernetes name (`Pod`, `PodSpec`, `Container`), doc comments from
 * the descriptions, string-literal unions for enums, required properties from `required`. The
 * meta/v1 types that hand-written modules already declare (`ObjectMeta`, `Condition`, `Status`…) are
 * imported, not generated. `scripts/generate-types.mjs` writes the result to `generated.ts`.
 */
import { REF_PREFIX, type SchemaDefinitions, type SchemaNode } from '../schema/schema-node.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** Definitions that map onto hand-written types (name, module) instead of being generated. */
const IMPORTED: Record<string, [string, string]> = {
  [`${META}.ObjectMeta`]: ['ObjectMeta', '../meta.js'],
  [`${META}.ListMeta`]: ['ListMeta', '../meta.js'],
  [`${META}.OwnerReference`]: ['OwnerReference', '../meta.js'],
  [`${META}.ManagedFieldsEntry`]: ['ManagedFieldsEntry', '../meta.js'],
  [`${META}.Condition`]: ['Condition', '../meta.js'],
  [`${META}.LabelSelector`]: ['LabelSelectorObject', '../label-selector.js'],
  [`${META}.Status`]: ['Status', '../api-error.js'],
  [`${META}.StatusDetails`]: ['StatusDetails', '../api-error.js'],
  [`${META}.StatusCause`]: ['StatusCause', '../api-error.js'],
};

/** Definitions written inline as a TypeScript type rather than named. */
const INLINE: Record<string, string> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': 'string',
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': 'number | string',
  [`${META}.Time`]: 'string',
  [`${META}.MicroTime`]: 'string',
  [`${META}.FieldsV1`]: 'Record<string, unknown>',
  'io.k8s.apimachinery.pkg.runtime.RawExtension': 'Record<string, unknown>',
};

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `discovery` from `io.k8s.api.discovery.v1.EndpointPort` (or `meta` for apimachinery). */
function packageOf(defName: string): string {
  const parts = defName.split('.');
  return parts[parts.length - 3] ?? '';
}

/** `v1` from `io.k8s.api.autoscaling.v1.Scale`. */
function versionOf(defName: string): string {
  const parts = defName.split('.');
  return parts[parts.length - 2] ?? '';
}

const capitalized = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}`;

/**
 * The TypeScript name of every generated definition: the short name, or, when two groups share a
 * short name, the group package prefixed to the non-core ones (`DiscoveryEndpointPort`). When one
 * group has the short name at several versions, the newest keeps the name and older ones add
 * package and version (`AutoscalingV1HorizontalPodAutoscaler`).
 */
export function typeNames(defs: SchemaDefinitions): Map<string, string> {
  const byShort = new Map<string, string[]>();
  for (const name of Object.keys(defs)) {
    if (IMPORTED[name] || INLINE[name]) continue;
    const short = name.slice(name.lastIndexOf('.') + 1);
    byShort.set(short, [...(byShort.get(short) ?? []), name]);
  }
  const out = new Map<string, string>();
  for (const [short, all] of byShort) {
    const newest = new Map<string, string>();
    for (const name of all) {
      const pkg = packageOf(name);
      const seen = newest.get(pkg);
      if (!seen || versionOf(name).localeCompare(versionOf(seen), 'en', { numeric: true }) > 0) newest.set(pkg, name);
    }
    const names = all.filter((n) => newest.get(packageOf(n)) === n);
    for (const name of all.filter((n) => !names.includes(n))) out.set(name, `${capitalized(packageOf(name))}${capitalized(versionOf(name))}${short}`);
    for (const name of names) {
      const pkg = packageOf(name);
      const prefixed = names.length > 1 && pkg !== 'core' ? `${capitalized(pkg)}${short}` : short;
      out.set(name, prefixed);
    }
  }
  for (const [name, [ts]] of Object.entries(IMPORTED)) if (defs[name]) out.set(name, ts);
  return out;
}

function docComment(text: string | undefined, indent: string): string {
  if (!text) return '';
  const words = text.replace(/\*\//g, '*\\/').split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + w.length + 1 > 96) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

class Writer {
  readonly imports = new Map<string, Set<string>>();

  constructor(
    private readonly defs: SchemaDefinitions,
    private readonly names: Map<string, string>,
  ) {}

  private refType(defName: string): string {
    const inline = INLINE[defName];
    if (inline) return inline;
    const imported = IMPORTED[defName];
    if (imported) {
      const set = this.imports.get(imported[1]) ?? new Set<string>();
      set.add(imported[0]);
      this.imports.set(imported[1], set);
      return imported[0];
    }
    const name = this.names.get(defName);
    if (!name) throw new Error(`no type name for ${defName}`);
    return name;
  }

  /** The TypeScript type of a schema node. */
  typeOf(n: SchemaNode | boolean | undefined, indent: string): string {
    if (n === undefined || n === true) return 'unknown';
    if (n === false) return 'never';
    if (n.$ref) return this.refType(n.$ref.slice(REF_PREFIX.length));
    if (n.allOf && n.allOf.length === 1 && n.type === undefined) return this.typeOf(n.allOf[0], indent);
    if (n['x-kubernetes-int-or-string']) return 'number | string';
    if (n.enum && n.enum.length > 0) return n.enum.map((v) => JSON.stringify(v)).join(' | ');
    switch (n.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        const item = this.typeOf(n.items, indent);
        return /^[A-Za-z0-9_]+$/.test(item) ? `${item}[]` : `Array<${item}>`;
      }
      default:
        if (n.properties) return this.objectBody(n, indent);
        if (n.additionalProperties !== undefined && n.additionalProperties !== false) return `Record<string, ${this.typeOf(n.additionalProperties, indent)}>`;
        return 'Record<string, unknown>';
    }
  }

  /** `{ a?: string; … }` for an object node, one property per line. */
  objectBody(n: SchemaNode, indent: string, requiredExtra: readonly string[] = []): string {
    const required = new Set([...(n.required ?? []), ...requiredExtra]);
    const inner = `${indent}  `;
    let out = '{\n';
    for (const [k, p] of Object.entries(n.properties ?? {})) {
      out += docComment(p.description, inner);
      const key = IDENTIFIER.test(k) ? k : JSON.stringify(k);
      out += `${inner}${key}${required.has(k) ? '' : '?'}: ${this.typeOf(p, inner)};\n`;
    }
    return `${out}${indent}}`;
  }
}

/** The content of `generated.ts` for a definition set. Deterministic: same input, same text. */
export function generateTypes(defs: SchemaDefinitions): string {
  const names = typeNames(defs);
  const w = new Writer(defs, names);
  const generated = [...names.entries()].filter(([def]) => !IMPORTED[def]).sort((a, b) => a[1].localeCompare(b[1]));
  let body = '';
  const kinds: [string, string][] = [];
  for (const [def, tsName] of generated) {
    const node = defs[def]!;
    const gvk = node['x-kubernetes-group-version-kind']?.[0];
    if (node.type === 'object' && node.properties) {
      if (gvk) {
        // Kinds are type aliases so that they are assignable to KubeObject's index signature.
        const isList = tsName.endsWith('List') && node.properties['items'] !== undefined;
        body += docComment(node.description, '');
        body += `export type ${tsName} = ${w.objectBody(node, '', isList ? ['metadata', 'items'] : ['metadata'])};\n\n`;
        if (!isList) kinds.push([`${gvk.group === '' ? '' : `${gvk.group}/`}${gvk.version}/${gvk.kind}`, tsName]);
      } else {
        body += docComment(node.description, '');
        body += `export interface ${tsName} ${w.objectBody(node, '')}\n\n`;
      }
    } else {
      body += docComment(node.description, '');
      body += `export type ${tsName} = ${w.typeOf(node, '')};\n\n`;
    }
  }
  let kindMap = '/** The type of each kind, by `<apiVersion>/<kind>` (`v1/Pod`, `apps/v1/Deployment`). */\nexport interface KindTypes {\n';
  for (const [key, tsName] of kinds.sort((a, b) => a[0].localeCompare(b[0]))) kindMap += `  ${JSON.stringify(key)}: ${tsName};\n`;
  kindMap += '}\n';
  let header = '// Generated by packages/api/scripts/generate-types.mjs from the schema definitions. Do not edit.\n';
  header += '/* eslint-disable */\n';
  header += '/**\n * The Kubernetes object types Flotilla serves, generated from the same schema definitions that\n * decode requests and feed the OpenAPI documents.\n */\n';
  for (const [module, set] of [...w.imports.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    header += `import type { ${[...set].sort().join(', ')} } from '${module}';\n`;
  }
  return `${header}\n${body}${kindMap}`;
}
