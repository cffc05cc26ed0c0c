/**
 * Request decoding against a kind's schema, the way Kubernetes decodes JSON into its Go types: type
 * mismatches are decode errors (400), unknown fields are pruned and reported (Strict makes them a
 * 400, Warn a warning), quantities and timestamps are normalized, defaults are applied. Each
 * definition is compiled once into closures.
 */
import type { FieldError } from '../api-error.js';
import { formatQuantity, parseQuantity } from '../quantity.js';
import { REF_PREFIX, resolveSchema, type SchemaDefinitions, type SchemaNode } from './schema-node.js';

/** What to do with unknown fields. */
export type FieldValidationMode = 'Strict' | 'Warn' | 'Ignore';

/** The outcome of decoding. */
export interface DecodeOutcome {
  object: Record<string, unknown> & { metadata: Record<string, unknown> };
  unknownFields: string[];
  decodeErrors: string[];
  fieldErrors: FieldError[];
}

/** A compiled decoder of one definition. */
export interface CompiledDecoder {
  decode(input: unknown, options: { fieldValidation: FieldValidationMode }): DecodeOutcome;
}

/** A field path, built lazily (only errors print it). */
interface Path {
  parent: Path | undefined;
  seg: string | number;
}

function formatPath(p: Path | undefined, withIndexes: boolean): string {
  const segs: (string | number)[] = [];
  for (let cur = p; cur; cur = cur.parent) segs.push(cur.seg);
  let out = '';
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i]!;
    if (typeof s === 'number') {
      if (withIndexes) out += `[${s}]`;
    } else out += out ? `.${s}` : s;
  }
  return out;
}

interface Ctx {
  unknown: string[];
  errors: string[];
  fieldErrors: FieldError[];
  collectUnknown: boolean;
}

type Decode = (v: unknown, path: Path | undefined, ctx: Ctx, owner: string) => unknown;

/** Marks "leave this field out". */
const OMIT = Symbol('omit');

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return `number ${v}`;
  return typeof v === 'object' ? 'object' : typeof v;
}

function goType(node: SchemaNode, defName: string | undefined): string {
  if (defName) return defName.slice(defName.lastIndexOf('.') + 1);
  switch (node.type) {
    case 'integer':
      return node.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'array':
      return '[]';
    case 'object':
      return node.additionalProperties ? 'map[string]' : 'struct';
    default:
      return 'string';
  }
}

function typeError(ctx: Ctx, v: unknown, path: Path | undefined, owner: string, expected: string): typeof OMIT {
  const where = formatPath(path, false);
  ctx.errors.push(`json: cannot unmarshal ${jsonType(v).replace(/^number .*/, 'number')} into Go struct field ${owner}.${where} of type ${expected}`);
  return OMIT;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function zeroOf(node: SchemaNode): unknown {
  switch (node.type) {
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    default:
      return {};
  }
}

/** Compiles decoders for a definition set (shared cache across roots). */
export class DecoderCompiler {
  private readonly byName = new Map<string, Decode>();

  constructor(private readonly defs: SchemaDefinitions) {}

  private forName(name: string): Decode {
    let d = this.byName.get(name);
    if (d) return d;
    const node = this.defs[name];
    if (!node) throw new Error(`dangling schema reference ${name}`);
    // Placeholder first, so recursive definitions resolve lazily.
    let compiled: Decode | undefined;
    d = (v, p, ctx, owner) => (compiled ??= this.compile(node, name))(v, p, ctx, owner);
    this.byName.set(name, d);
    return d;
  }

  private node(n: SchemaNode): Decode {
    if (n.$ref !== undefined) return this.forName(n.$ref.slice(REF_PREFIX.length));
    if (n.allOf && n.allOf.length === 1 && n.type === undefined) return this.node(n.allOf[0]!);
    return this.compile(n, undefined);
  }

  private compile(n: SchemaNode, defName: string | undefined): Decode {
    if (n['x-kubernetes-preserve-unknown-fields']) return (v) => v;
    if (n['x-kubernetes-int-or-string']) {
      return (v, p, ctx, owner) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'number' && Number.isInteger(v)) return v;
        return typeError(ctx, v, p, owner, 'IntOrString');
      };
    }
    switch (n.type) {
      case 'string':
        return this.compileString(n);
      case 'integer': {
        const max = n.format === 'int32' ? 2147483647 : Number.MAX_SAFE_INTEGER;
        const min = n.format === 'int32' ? -2147483648 : Number.MIN_SAFE_INTEGER;
        const t = n.format === 'int32' ? 'int32' : 'int64';
        return (v, p, ctx, owner) => {
          if (typeof v !== 'number' || !Number.isInteger(v) || v > max || v < min) return typeError(ctx, v, p, owner, t);
          return v;
        };
      }
      case 'number':
        return (v, p, ctx, owner) => (typeof v === 'number' ? v : typeError(ctx, v, p, owner, 'float64'));
      case 'boolean':
        return (v, p, ctx, owner) => (typeof v === 'boolean' ? v : typeError(ctx, v, p, owner, 'bool'));
      case 'array': {
        const item = n.items ? this.node(n.items) : (v: unknown) => v;
        const itemNode = n.items ? resolveSchema(this.defs, n.items) ?? {} : {};
        const itemType = goType(itemNode, n.items?.$ref?.slice(REF_PREFIX.length));
        return (v, p, ctx, owner) => {
          if (!Array.isArray(v)) return typeError(ctx, v, p, owner, `[]${itemType}`);
          const out: unknown[] = new Array(v.length);
          for (let i = 0; i < v.length; i++) {
            const el = v[i];
            if (el === null) {
              out[i] = zeroOf(itemNode);
              continue;
            }
            const r = item(el, { parent: p, seg: i }, ctx, owner);
            out[i] = r === OMIT ? zeroOf(itemNode) : r;
          }
          return out;
        };
      }
      case 'object':
      case undefined:
        return this.compileObject(n, defName);
      default:
        return (v) => v;
    }
  }

  private compileString(n: SchemaNode): Decode {
    switch (n.format) {
      case 'quantity':
        return (v, p, ctx, owner) => {
          if (typeof v !== 'string' && typeof v !== 'number') return typeError(ctx, v, p, owner, 'Quantity');
          try {
            const q = parseQuantity(v);
            return typeof v === 'number' ? formatQuantity(q.nano, 'DecimalSI') : formatQuantity(q.nano, q.format);
          } catch {
            ctx.errors.push(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (${formatPath(p, true)})`);
            return OMIT;
          }
        };
      case 'date-time':
      case 'date-time-micro': {
        const micro = n.format === 'date-time-micro';
        return (v, p, ctx, owner) => {
          if (typeof v !== 'string') return typeError(ctx, v, p, owner, micro ? 'MicroTime' : 'Time');
          if (v === '') return OMIT;
          const ms = Date.parse(v);
          if (!RFC3339.test(v) || Number.isNaN(ms)) {
            ctx.errors.push(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse (${formatPath(p, true)})`);
            return OMIT;
          }
          const iso = new Date(ms).toISOString();
          if (!micro) return `${iso.slice(0, 19)}Z`;
          const frac = (/\.(\d+)/.exec(v)?.[1] ?? '').padEnd(6, '0').slice(0, 6);
          return `${iso.slice(0, 19)}.${frac}Z`;
        };
      }
      case 'byte':
        return (v, p, ctx, owner) => {
          if (typeof v !== 'string') return typeError(ctx, v, p, owner, '[]byte');
          if (!BASE64.test(v)) {
            ctx.errors.push(`illegal base64 data at input byte ${Math.max(0, v.search(/[^A-Za-z0-9+/=]/))} (${formatPath(p, true)})`);
            return OMIT;
          }
          return v;
        };
      default:
        return (v, p, ctx, owner) => (typeof v === 'string' ? v : typeError(ctx, v, p, owner, 'string'));
    }
  }

  private compileObject(n: SchemaNode, defName: string | undefined): Decode {
    const typeName = defName ? defName.slice(defName.lastIndexOf('.') + 1) : undefined;
    if (!n.properties) {
      // A map (or a free object without declared properties).
      const ap = n.additionalProperties;
      const value = ap && typeof ap === 'object' ? this.node(ap) : (v: unknown) => v;
      return (v, p, ctx, owner) => {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return typeError(ctx, v, p, owner, typeName ?? 'map[string]');
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          if (x === null) continue;
          const r = value(x, { parent: p, seg: k }, ctx, owner);
          if (r !== OMIT) out[k] = r;
        }
        return out;
      };
    }
    const props = new Map<string, { decode: Decode; default?: unknown }>();
    for (const [k, sub] of Object.entries(n.properties)) {
      const resolved = resolveSchema(this.defs, sub);
      const entry: { decode: Decode; default?: unknown } = { decode: this.node(sub) };
      const def = sub.default ?? resolved?.default;
      if (def !== undefined) entry.default = def;
      props.set(k, entry);
    }
    const defaults = [...props.entries()].filter(([, e]) => e.default !== undefined);
    return (v, p, ctx, owner) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return typeError(ctx, v, p, owner, typeName ?? 'struct');
      const own = typeName ?? owner;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const e = props.get(k);
        if (!e) {
          if (ctx.collectUnknown) ctx.unknown.push(formatPath({ parent: p, seg: k }, true));
          continue;
        }
        if (x === null || x === undefined) continue;
        const r = e.decode(x, { parent: p, seg: k }, ctx, own);
        if (r !== OMIT) out[k] = r;
      }
      for (const [k, e] of defaults) if (!(k in out)) out[k] = structuredClone(e.default);
      return out;
    };
  }

  /** The decoder of a named definition. */
  compileRoot(name: string): CompiledDecoder {
    const d = this.forName(name);
    const kindName = name.slice(name.lastIndexOf('.') + 1);
    return {
      decode: (input, options) => {
        const ctx: Ctx = { unknown: [], errors: [], fieldErrors: [], collectUnknown: options.fieldValidation !== 'Ignore' };
        const r = d(input, undefined, ctx, kindName);
        const object = (r === OMIT || r === null || typeof r !== 'object' ? { metadata: {} } : r) as DecodeOutcome['object'];
        object.metadata ??= {};
        return { object, unknownFields: ctx.unknown, decodeErrors: ctx.errors, fieldErrors: ctx.fieldErrors };
      },
    };
  }
}

const compilers = new WeakMap<SchemaDefinitions, DecoderCompiler>();

/** A decoder for the definition `name` of `defs` (compiled once per definition set). */
export function compileDecoder(defs: SchemaDefinitions, name: string): CompiledDecoder {
  let c = compilers.get(defs);
  if (!c) compilers.set(defs, (c = new DecoderCompiler(defs)));
  return c.compileRoot(name);
}
