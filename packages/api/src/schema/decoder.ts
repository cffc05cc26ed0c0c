/**
 * Request decoding against a kind's schema, the way Kubernetes decodes JSON into its Go types: type
 * mismatches are decode errors worded like Go's JSON errors (400 at the server), unknown fields are
 * pruned and reported by path (Strict makes them a 400, Warn a warning), quantities and timestamps
 * are normalized, static defaults are applied, and schema constraints (required, enum, minimum,
 * maximum, maxLength, pattern) become field errors (422). Each definition is compiled once into
 * closures; the input is never mutated nor shared with the result.
 */
import type { FieldError } from '../api-error.js';
import { formatQuantity, parseQuantity } from '../quantity.js';
import { formatRfc3339Micro, formatRfc3339Seconds, parseRfc3339 } from './go-time.js';
import { REF_PREFIX, resolveSchema, type SchemaDefinitions, type SchemaNode } from './schema-node.js';

/** What to do with unknown fields. */
export type FieldValidationMode = 'Strict' | 'Warn' | 'Ignore';

/** The outcome of decoding. */
export interface DecodeOutcome {
  /** The decoded object: pruned, normalized, defaulted. Never shares structure with the input. */
  object: Record<string, unknown> & { metadata: Record<string, unknown> };
  /** Paths of pruned unknown fields (`spec.containers[0].imagePullPolice`); empty with Ignore. */
  unknownFields: string[];
  /** Type errors, worded like Go's JSON decoding (`json: cannot unmarshal string into Go struct field …`). */
  decodeErrors: string[];
  /** Schema constraint violations. */
  fieldErrors: FieldError[];
}

/** A compiled decoder of one definition. */
export interface CompiledDecoder {
  /** Decodes a parsed JSON body. */
  decode(input: unknown, options: { fieldValidation: FieldValidationMode }): DecodeOutcome;
}

/**
 * Where a value sits in the input. `owner` is the short name of the innermost struct type holding
 * the field (Go names it in its errors); `key` marks map keys, which Go leaves out of its paths.
 */
interface Loc {
  parent: Loc | undefined;
  seg: string | number;
  key: boolean;
  owner: string;
}

/** `spec.containers[0].ports[1].name`, map keys as `[key]`. */
function fieldPath(loc: Loc | undefined): string {
  const segs: Loc[] = [];
  for (let cur = loc; cur; cur = cur.parent) segs.push(cur);
  let out = '';
  for (let i = segs.length - 1; i >= 0; i--) {
    const l = segs[i]!;
    if (typeof l.seg === 'number' || l.key) out += `[${l.seg}]`;
    else out += out ? `.${l.seg}` : l.seg;
  }
  return out;
}

/** Go's field path in type errors: struct fields only, no indexes, no map keys. */
function goPath(loc: Loc | undefined): string {
  const segs: string[] = [];
  for (let cur = loc; cur; cur = cur.parent) if (typeof cur.seg === 'string' && !cur.key) segs.push(cur.seg);
  return segs.reverse().join('.');
}

interface Ctx {
  unknown: string[];
  errors: string[];
  fieldErrors: FieldError[];
  collectUnknown: boolean;
}

type Decode = (v: unknown, loc: Loc | undefined, ctx: Ctx) => unknown;

/** Marks "leave this field out" (after an error). */
const OMIT = Symbol('omit');

/** Go's name for the JSON value kind in an UnmarshalTypeError. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    default:
      return 'object';
  }
}

function typeError(ctx: Ctx, v: unknown, loc: Loc | undefined, goType: string, withNumber = false): typeof OMIT {
  const what = withNumber && typeof v === 'number' ? `number ${String(v)}` : jsonKind(v);
  ctx.errors.push(loc ? `json: cannot unmarshal ${what} into Go struct field ${loc.owner}.${goPath(loc)} of type ${goType}` : `json: cannot unmarshal ${what} into Go value of type ${goType}`);
  return OMIT;
}

const QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Go's `illegal base64 data at input byte N` offset for standard base64 (newlines ignored), or -1 when valid. */
function base64ErrorOffset(s: string): number {
  let j = 0; // position within the current quantum
  let quantumStart = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 10 || ch === 13) continue;
    const isAlpha = (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122) || (ch >= 48 && ch <= 57) || ch === 43 || ch === 47;
    if (isAlpha) {
      if (j === 0) quantumStart = i;
      j = (j + 1) % 4;
      continue;
    }
    if (ch !== 61) return i;
    // Padding: allowed after 2 or 3 characters of a quantum, and then only padding follows.
    if (j < 2) return i;
    let k = i + 1;
    if (j === 2) {
      while (k < s.length && (s[k] === '\n' || s[k] === '\r')) k++;
      if (k >= s.length) return s.length;
      if (s[k] !== '=') return k;
      k++;
    }
    while (k < s.length && (s[k] === '\n' || s[k] === '\r')) k++;
    return k < s.length ? k : -1;
  }
  return j === 0 ? -1 : quantumStart;
}

/** A deep copy of parsed JSON. */
function cloneJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(cloneJson);
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>) setKey(out, k, cloneJson((v as Record<string, unknown>)[k]));
  return out;
}

/** Assigns a property, keeping `__proto__` an ordinary key. */
function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

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

function formatValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Go's type name for a node (`v1.PodSpec`, `[]v1.Container`, `map[string]string`, `int32`). */
function goTypeName(defs: SchemaDefinitions, node: SchemaNode | undefined): string {
  if (!node) return 'interface {}';
  const refName = node.$ref ?? (node.allOf?.length === 1 && node.type === undefined ? node.allOf[0]!.$ref : undefined);
  if (refName) {
    const name = refName.slice(REF_PREFIX.length);
    const parts = name.split('.');
    return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
  }
  switch (node.type) {
    case 'integer':
      return node.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'array':
      return `[]${goTypeName(defs, node.items)}`;
    case 'string':
      return node.format === 'byte' ? '[]uint8' : 'string';
    case 'object':
      if (node.properties) return 'struct';
      if (node.additionalProperties && typeof node.additionalProperties === 'object') return `map[string]${goTypeName(defs, node.additionalProperties)}`;
      return 'map[string]interface {}';
    default:
      return 'interface {}';
  }
}

interface PropEntry {
  name: string;
  decode: Decode;
  /** The schema default, if any. */
  default?: unknown;
  /** The default run through the property's own decoder (nested defaults applied), computed once. */
  decodedDefault?: unknown;
  /** Go treats "" as unset for defaulted strings. */
  emptyIsUnset: boolean;
  required: boolean;
  /** Required strings must also be non-empty (Go cannot tell "" from absent). */
  requiredNonEmpty: boolean;
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
    // A trampoline first, so recursive definitions compile lazily.
    let compiled: Decode | undefined;
    d = (v, loc, ctx) => (compiled ??= this.compile(node, name))(v, loc, ctx);
    this.byName.set(name, d);
    return d;
  }

  private node(n: SchemaNode): Decode {
    if (n.$ref !== undefined) return this.forName(n.$ref.slice(REF_PREFIX.length));
    if (n.allOf && n.allOf.length === 1 && n.type === undefined) return this.node(n.allOf[0]!);
    return this.compile(n, undefined);
  }

  private compile(n: SchemaNode, defName: string | undefined): Decode {
    if (n['x-kubernetes-preserve-unknown-fields']) return (v) => cloneJson(v);
    if (n['x-kubernetes-int-or-string']) {
      return (v, _loc, ctx) => {
        if (typeof v === 'string') return v;
        if (typeof v === 'number' && Number.isInteger(v) && v <= 2147483647 && v >= -2147483648) return v;
        // IntOrString decodes non-strings into an int32 itself, so Go names no struct field.
        return typeError(ctx, v, undefined, 'int32', true);
      };
    }
    switch (n.type) {
      case 'string':
        return this.compileString(n);
      case 'integer':
        return this.compileNumber(n, true);
      case 'number':
        return this.compileNumber(n, false);
      case 'boolean':
        return (v, loc, ctx) => (typeof v === 'boolean' ? v : typeError(ctx, v, loc, 'bool'));
      case 'array':
        return this.compileArray(n);
      case 'object':
      case undefined:
        return this.compileObject(n, defName);
      default:
        return (v) => cloneJson(v);
    }
  }

  private compileNumber(n: SchemaNode, integer: boolean): Decode {
    const int32 = integer && n.format === 'int32';
    const max = int32 ? 2147483647 : Number.MAX_VALUE;
    const min = int32 ? -2147483648 : -Number.MAX_VALUE;
    const type = integer ? (int32 ? 'int32' : 'int64') : 'float64';
    const check = this.rangeCheck(n);
    return (v, loc, ctx) => {
      if (typeof v !== 'number') return typeError(ctx, v, loc, type);
      if ((integer && !Number.isInteger(v)) || v > max || v < min) return typeError(ctx, v, loc, type, true);
      if (check) check(v, loc, ctx);
      return v;
    };
  }

  private rangeCheck(n: SchemaNode): ((v: number, loc: Loc | undefined, ctx: Ctx) => void) | undefined {
    const { minimum: lo, maximum: hi } = n;
    if (lo === undefined && hi === undefined) return undefined;
    const message = lo !== undefined && hi !== undefined ? `must be between ${lo} and ${hi}, inclusive` : lo !== undefined ? `must be greater than or equal to ${lo}` : `must be less than or equal to ${hi}`;
    return (v, loc, ctx) => {
      if ((lo !== undefined && v < lo) || (hi !== undefined && v > hi)) ctx.fieldErrors.push({ type: 'FieldValueInvalid', field: fieldPath(loc), message: `${v}: ${message}` });
    };
  }

  private compileString(n: SchemaNode): Decode {
    switch (n.format) {
      case 'quantity':
        return (v, _loc, ctx) => {
          if (typeof v === 'string' || typeof v === 'number') {
            try {
              const q = parseQuantity(v);
              return formatQuantity(q.nano, typeof v === 'number' ? 'DecimalSI' : q.format);
            } catch {
              // Reported below, as Quantity's own unmarshaller does (no field path).
            }
          }
          ctx.errors.push(QUANTITY_ERROR);
          return OMIT;
        };
      case 'date-time':
      case 'date-time-micro': {
        const micro = n.format === 'date-time-micro';
        return (v, _loc, ctx) => {
          // Time unmarshals through a Go string first, so a non-string names no struct field.
          if (typeof v !== 'string') return typeError(ctx, v, undefined, 'string');
          const t = parseRfc3339(v);
          if (typeof t === 'string') {
            ctx.errors.push(t);
            return OMIT;
          }
          return micro ? formatRfc3339Micro(t) : formatRfc3339Seconds(t);
        };
      }
      case 'byte':
        return (v, loc, ctx) => {
          if (typeof v !== 'string') return typeError(ctx, v, loc, '[]uint8');
          const at = base64ErrorOffset(v);
          if (at >= 0) {
            ctx.errors.push(`illegal base64 data at input byte ${at}`);
            return OMIT;
          }
          return v;
        };
      default: {
        const allowed = n.enum ? new Set(n.enum) : undefined;
        const supported = n.enum ? [...n.enum].filter((x) => x !== '').map((x) => JSON.stringify(x)).sort().join(', ') : '';
        const pattern = n.pattern !== undefined ? new RegExp(n.pattern, 'u') : undefined;
        const maxLength = n.maxLength;
        if (!allowed && !pattern && maxLength === undefined) return (v, loc, ctx) => (typeof v === 'string' ? v : typeError(ctx, v, loc, 'string'));
        return (v, loc, ctx) => {
          if (typeof v !== 'string') return typeError(ctx, v, loc, 'string');
          // "" is Go's unset string: constraints apply to values that were given.
          if (v === '') return v;
          if (allowed && !allowed.has(v)) ctx.fieldErrors.push({ type: 'FieldValueNotSupported', field: fieldPath(loc), message: `${formatValue(v)}: supported values: ${supported}` });
          if (maxLength !== undefined && Buffer.byteLength(v) > maxLength) ctx.fieldErrors.push({ type: 'FieldValueTooLong', field: fieldPath(loc), message: `may not be more than ${maxLength} bytes` });
          if (pattern && !pattern.test(v)) ctx.fieldErrors.push({ type: 'FieldValueInvalid', field: fieldPath(loc), message: `${formatValue(v)}: should match '${n.pattern}'` });
          return v;
        };
      }
    }
  }

  private compileArray(n: SchemaNode): Decode {
    const item = n.items ? this.node(n.items) : (v: unknown) => cloneJson(v);
    const itemNode = (n.items ? resolveSchema(this.defs, n.items) : undefined) ?? {};
    const type = goTypeName(this.defs, n);
    return (v, loc, ctx) => {
      if (!Array.isArray(v)) return typeError(ctx, v, loc, type);
      const out: unknown[] = new Array(v.length);
      const owner = loc?.owner ?? '';
      for (let i = 0; i < v.length; i++) {
        const el = v[i];
        if (el === null || el === undefined) {
          out[i] = zeroOf(itemNode);
          continue;
        }
        const r = item(el, { parent: loc, seg: i, key: false, owner }, ctx);
        out[i] = r === OMIT ? zeroOf(itemNode) : r;
      }
      return out;
    };
  }

  private compileObject(n: SchemaNode, defName: string | undefined): Decode {
    const typeName = defName ? defName.slice(defName.lastIndexOf('.') + 1) : undefined;
    const goType = defName ? goTypeName(this.defs, { $ref: REF_PREFIX + defName }) : goTypeName(this.defs, n);
    if (!n.properties) {
      // A map (or an object without declared properties, kept as is).
      const ap = n.additionalProperties;
      const value = ap && typeof ap === 'object' ? this.node(ap) : (v: unknown) => cloneJson(v);
      return (v, loc, ctx) => {
        if (!isObject(v)) return typeError(ctx, v, loc, goType);
        const out: Record<string, unknown> = {};
        const owner = loc?.owner ?? typeName ?? '';
        for (const k in v) {
          const x = v[k];
          if (x === null || x === undefined) continue;
          const r = value(x, { parent: loc, seg: k, key: true, owner }, ctx);
          if (r !== OMIT) setKey(out, k, r);
        }
        return out;
      };
    }
    const required = new Set(n.required ?? []);
    const props = new Map<string, PropEntry>();
    for (const [k, sub] of Object.entries(n.properties)) {
      const resolved = resolveSchema(this.defs, sub);
      const def = sub.default !== undefined ? sub.default : resolved?.default;
      const entry: PropEntry = {
        name: k,
        decode: this.node(sub),
        emptyIsUnset: typeof def === 'string',
        required: required.has(k),
        requiredNonEmpty: required.has(k) && resolved?.type === 'string',
      };
      if (def !== undefined) entry.default = def;
      props.set(k, entry);
    }
    const defaults = [...props.values()].filter((e) => e.default !== undefined);
    const requiredEntries = [...props.values()].filter((e) => e.required);
    const defaultOf = (e: PropEntry): unknown => {
      if (e.default === null || typeof e.default !== 'object') return e.default;
      if (e.decodedDefault === undefined) {
        const scratch: Ctx = { unknown: [], errors: [], fieldErrors: [], collectUnknown: false };
        e.decodedDefault = e.decode(cloneJson(e.default), undefined, scratch);
      }
      return cloneJson(e.decodedDefault);
    };
    return (v, loc, ctx) => {
      if (!isObject(v)) return typeError(ctx, v, loc, goType);
      const owner = typeName ?? loc?.owner ?? '';
      const out: Record<string, unknown> = {};
      for (const k in v) {
        const x = v[k];
        const e = props.get(k);
        if (e === undefined) {
          if (ctx.collectUnknown) ctx.unknown.push(fieldPath({ parent: loc, seg: k, key: false, owner }));
          continue;
        }
        if (x === null || x === undefined || (x === '' && e.emptyIsUnset)) continue;
        const r = e.decode(x, { parent: loc, seg: k, key: false, owner }, ctx);
        if (r !== OMIT) out[k] = r;
      }
      for (const e of defaults) if (out[e.name] === undefined) out[e.name] = defaultOf(e);
      for (const e of requiredEntries) {
        const x = out[e.name];
        // A field dropped for a type error is already reported.
        if ((x === undefined && (v[e.name] === undefined || v[e.name] === null)) || (e.requiredNonEmpty && x === '')) {
          ctx.fieldErrors.push({ type: 'FieldValueRequired', field: fieldPath({ parent: loc, seg: e.name, key: false, owner }), message: '' });
        }
      }
      return out;
    };
  }

  /** The decoder of a named definition. */
  compileRoot(name: string): CompiledDecoder {
    const d = this.forName(name);
    const hasMetadata = this.defs[name]?.properties?.['metadata'] !== undefined;
    return {
      decode: (input, options) => {
        const ctx: Ctx = { unknown: [], errors: [], fieldErrors: [], collectUnknown: options.fieldValidation !== 'Ignore' };
        const r = d(input, undefined, ctx);
        const object = (isObject(r) ? r : {}) as DecodeOutcome['object'];
        if (hasMetadata) object.metadata ??= {};
        return { object, unknownFields: ctx.unknown, decodeErrors: ctx.errors, fieldErrors: ctx.fieldErrors };
      },
    };
  }
}

const compilers = new WeakMap<SchemaDefinitions, DecoderCompiler>();

/** A decoder for the definition `name` of `defs` (compiled once per definition set and name). */
export function compileDecoder(defs: SchemaDefinitions, name: string): CompiledDecoder {
  let c = compilers.get(defs);
  if (!c) compilers.set(defs, (c = new DecoderCompiler(defs)));
  return c.compileRoot(name);
}
