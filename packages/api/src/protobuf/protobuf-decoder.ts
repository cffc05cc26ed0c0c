/**
 * Decodes Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`) of API objects into
 * the JSON form the rest of the API server works on: what the same Go object would marshal to with
 * encoding/json. kubectl >= 1.32 sends its imperative `create <kind>`, `create token`, `auth can-i`,
 * `drain` and `run` bodies this way, as do client-go programs configured for protobuf.
 *
 * The envelope: the 4 bytes `k8s\0`, then a runtime.Unknown message whose typeMeta names the
 * apiVersion and kind and whose raw bytes are the object's message. The message schema
 * (messages.generated.ts) comes from kubectl's own descriptors and Go types. Translation to JSON follows the Go
 * types: a non-pointer scalar is always on the wire, so its zero value is dropped where the JSON tag
 * says omitempty; a pointer's zero value was set and is kept; the wrapper messages of meta/v1 and
 * friends become their JSON forms (Time, MicroTime, Duration, Quantity, IntOrString, RawExtension,
 * FieldsV1); bytes become base64; embedded structs (a Volume's VolumeSource, a Probe's handler)
 * are inlined into their parent as JSON has them. Unknown fields are skipped, as Kubernetes'
 * decoder does.
 */
import protobuf from 'protobufjs/minimal.js';
import { ApiError, badRequest, unsupportedMediaType } from '../api-error.js';
import { PROTO_MESSAGES } from './messages.generated.js';
import type { ProtoField } from './wire-schema.js';

const { Reader } = protobuf;
type ProtoReader = protobuf.Reader;

/** The media type of Kubernetes' protobuf encoding. */
export const KUBERNETES_PROTOBUF = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const MAX_DEPTH = 64;

/** Wire types (the low 3 bits of a field's tag). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

interface Compiled {
  byNumber: Map<number, ProtoField>;
}
const compiled = new Map<string, Compiled>();
function schemaOf(name: string): Compiled | undefined {
  let c = compiled.get(name);
  if (!c) {
    const fields = PROTO_MESSAGES[name];
    if (!fields) return undefined;
    c = { byNumber: new Map(fields.map((f) => [f[0], f])) };
    compiled.set(name, c);
  }
  return c;
}

/** The protobuf message of an apiVersion and kind, or undefined when Flotilla has no schema for it. */
export function protobufMessageOf(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const pkg = group === '' ? 'core' : group.split('.')[0];
  for (const name of [`k8s.io.api.${pkg}.${version}.${kind}`, `${META}.${kind}`]) if (PROTO_MESSAGES[name]) return name;
  return undefined;
}

/** True when the body starts with the Kubernetes protobuf envelope's prefix. */
export function hasProtobufPrefix(body: Uint8Array): boolean {
  return body.length >= 4 && body[0] === MAGIC[0] && body[1] === MAGIC[1] && body[2] === MAGIC[2] && body[3] === MAGIC[3];
}

/**
 * Decodes a protobuf request body into its JSON object (apiVersion and kind from the envelope).
 * Malformed input is a 400 BadRequest, a kind without a protobuf schema a 415.
 */
export function decodeKubernetesProtobuf(body: Uint8Array): Record<string, unknown> {
  if (!hasProtobufPrefix(body)) throw badRequest('error decoding request body: the protobuf body does not start with the "k8s\\x00" prefix of the Kubernetes encoding');
  let envelope: Record<string, unknown>;
  try {
    envelope = decodeMessage(Reader.create(body.subarray(4)), 'k8s.io.apimachinery.pkg.runtime.Unknown', 0, true);
  } catch (err) {
    throw decodingFailed(err);
  }
  const typeMeta = (envelope['typeMeta'] ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion ?? '';
  const kind = typeMeta.kind ?? '';
  if (!kind || !apiVersion) throw badRequest('error decoding request body: the protobuf envelope does not name the apiVersion and kind of its object');
  const encoding = envelope['contentEncoding'];
  if (encoding) throw unsupportedMediaType(`the body of the request was in an unknown format: protobuf content encoding ${JSON.stringify(encoding)} is not supported`);
  const message = protobufMessageOf(apiVersion, kind);
  if (!message) throw unsupportedMediaType(`the body of the request was in an unknown format: Flotilla has no protobuf schema for ${apiVersion}, Kind=${kind}; send it as application/json`);
  const raw = envelope['raw'];
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'base64') : new Uint8Array();
  let object: Record<string, unknown>;
  try {
    object = decodeMessage(Reader.create(bytes), message, 0, false);
  } catch (err) {
    throw decodingFailed(err);
  }
  return { apiVersion, kind, ...object };
}

function decodingFailed(err: unknown): Error {
  if (err instanceof ApiError) return err;
  return badRequest(`error decoding request body: invalid protobuf: ${(err as Error).message}`);
}

class ProtoError extends Error {}

/** Reads one message's fields until the reader's end. `raw` keeps every field as it is (the envelope). */
function decodeMessage(r: ProtoReader, name: string, depth: number, raw: boolean): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new ProtoError(`messages nested deeper than ${MAX_DEPTH}`);
  const schema = schemaOf(name);
  if (!schema) throw new ProtoError(`no schema for message ${name}`);
  const out: Record<string, unknown> = {};
  while (r.pos < r.len) {
    const tag = r.uint32();
    const number = tag >>> 3;
    const wire = tag & 7;
    const field = schema.byNumber.get(number);
    if (!field) {
      r.skipType(wire);
      continue;
    }
    const [, json, type, flags, ref] = field;
    if (type.startsWith('map:')) {
      if (wire !== LENGTH_DELIMITED) throw new ProtoError(`field ${json} of ${name}: wire type ${wire} for a map entry`);
      const [key, value] = mapEntry(r, type.slice(4), ref, depth);
      // Defined, not assigned: a key may be "__proto__" (a ConfigMap's, say).
      Object.defineProperty((out[json] ??= {}) as Record<string, unknown>, key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const repeated = flags.includes('r');
    if (repeated && wire === LENGTH_DELIMITED && type !== 's' && type !== 'y' && type !== 'm') {
      // A packed run of scalars.
      const end = r.uint32() + r.pos;
      if (end > r.len) throw new ProtoError(`field ${json} of ${name}: length past the end of the data`);
      const list = (out[json] ??= []) as unknown[];
      while (r.pos < end) list.push(scalar(r, type, wireTypeOf(type), name, json));
      continue;
    }
    const value = type === 'm' ? nested(r, wire, ref!, depth, name, json) : scalar(r, type, wire, name, json);
    if (repeated) ((out[json] ??= []) as unknown[]).push(value);
    else if (!raw && flags.includes('i') && value !== null && typeof value === 'object') Object.assign(out, value);
    else out[json] = value;
  }
  return raw ? out : toJson(out, schema);
}

function wireTypeOf(type: string): number {
  if (type === 'd') return FIXED64;
  if (type === 'f') return FIXED32;
  return VARINT;
}

function scalar(r: ProtoReader, type: string, wire: number, message: string, json: string): unknown {
  const expected = type === 's' || type === 'y' ? LENGTH_DELIMITED : wireTypeOf(type);
  if (wire !== expected) throw new ProtoError(`field ${json} of ${message}: wire type ${wire}, expected ${expected}`);
  switch (type) {
    case 's':
      return r.string();
    case 'y':
      return Buffer.from(r.bytes()).toString('base64');
    case 'b':
      return r.bool();
    case 'i':
      return toNumber(r.int64(), false);
    case 'u':
      return toNumber(r.uint64(), true);
    case 'z':
      return toNumber(r.sint64(), false);
    case 'd':
      return r.double();
    case 'f':
      return r.float();
    default:
      throw new ProtoError(`field ${json} of ${message}: unsupported type ${type}`);
  }
}

function toNumber(v: number | protobuf.Long, unsigned: boolean): number {
  return typeof v === 'number' ? v : protobuf.util.LongBits.from(v).toNumber(unsigned);
}

function nested(r: ProtoReader, wire: number, ref: string, depth: number, message: string, json: string): unknown {
  if (wire !== LENGTH_DELIMITED) throw new ProtoError(`field ${json} of ${message}: wire type ${wire} for a message`);
  const len = r.uint32();
  if (r.pos + len > r.len) throw new ProtoError(`field ${json} of ${message}: length ${len} past the end of the data`);
  const sub = Reader.create(r.buf.subarray(r.pos, r.pos + len));
  r.pos += len;
  const special = SPECIAL[ref];
  if (special) return special(decodeMessage(sub, ref, depth + 1, true));
  return decodeMessage(sub, ref, depth + 1, false);
}

function mapEntry(r: ProtoReader, valueType: string, ref: string | undefined, depth: number): [string, unknown] {
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new ProtoError('map entry past the end of the data');
  let key = '';
  let value: unknown;
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    if (tag >>> 3 === 1) key = scalar(r, 's', wire, 'map entry', 'key') as string;
    else if (tag >>> 3 === 2) value = valueType === 'm' ? nested(r, wire, ref!, depth, 'map entry', 'value') : scalar(r, valueType, wire, 'map entry', 'value');
    else r.skipType(wire);
  }
  // An absent value is the type's zero.
  if (value === undefined) value = valueType === 'm' ? (SPECIAL[ref!] ? SPECIAL[ref!]!({}) : {}) : ZERO_VALUES[valueType];
  return [key, value];
}

/**
 * Drops what encoding/json would not write: zero values of non-pointer omitempty fields (and a zero
 * IntOrString there, which Kubernetes' defaulting treats as unset, e.g. a Service port's targetPort).
 */
function toJson(decoded: Record<string, unknown>, schema: Compiled): Record<string, unknown> {
  for (const [, json, type, flags, ref] of schema.byNumber.values()) {
    if (!(json in decoded)) continue;
    const v = decoded[json];
    if (v === undefined) delete decoded[json];
    else if (flags.includes('p') || !flags.includes('o') || flags.includes('r') || type.startsWith('map:')) continue;
    else if (type === 'm' ? ref === INT_OR_STRING && v === 0 : v === '' || v === 0 || v === false) delete decoded[json];
  }
  return decoded;
}

// ---- the wrapper types with a JSON form of their own ----

const ZERO = undefined;
const ZERO_VALUES: Record<string, unknown> = { s: '', y: '', b: false, i: 0, u: 0, z: 0, d: 0, f: 0 };
const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';

function rfc3339(seconds: number, fraction?: string): string {
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) throw new ProtoError(`timestamp ${seconds} out of range`);
  return `${d.toISOString().slice(0, 19)}${fraction ?? ''}Z`;
}

/** Go's time.Duration String(): "1h2m3.5s", "150ms", "0s". */
export function formatGoDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  let n = Math.abs(nanos);
  if (n < 1e9) {
    if (n < 1e3) return `${sign}${n}ns`;
    if (n < 1e6) return `${sign}${trim(n / 1e3)}µs`;
    return `${sign}${trim(n / 1e6)}ms`;
  }
  const h = Math.floor(n / 3.6e12);
  n -= h * 3.6e12;
  const m = Math.floor(n / 6e10);
  n -= m * 6e10;
  const s = `${trim(n / 1e9)}s`;
  if (h > 0) return `${sign}${h}h${m}m${s}`;
  if (m > 0) return `${sign}${m}m${s}`;
  return `${sign}${s}`;
}

function trim(v: number): string {
  return String(Number(v.toFixed(9)));
}

function parseRawJson(raw: unknown, what: string): unknown {
  if (typeof raw !== 'string' || raw === '') return ZERO;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtoError(`${what} is not JSON (only JSON-encoded embedded objects are supported)`);
  }
}

const SPECIAL: Record<string, (m: Record<string, unknown>) => unknown> = {
  // A zero Time is an empty message; protobuf clients send whole seconds (the JSON form has no fraction).
  [`${META}.Time`]: (m) => (m['seconds'] === undefined && m['nanos'] === undefined ? ZERO : rfc3339(Number(m['seconds'] ?? 0))),
  [`${META}.MicroTime`]: (m) =>
    m['seconds'] === undefined && m['nanos'] === undefined ? ZERO : rfc3339(Number(m['seconds'] ?? 0), `.${String(Math.floor(Number(m['nanos'] ?? 0) / 1000)).padStart(6, '0')}`),
  [`${META}.Duration`]: (m) => formatGoDuration(Number(m['duration'] ?? 0)),
  [`${META}.FieldsV1`]: (m) => parseRawJson(m['Raw'], 'FieldsV1'),
  'k8s.io.apimachinery.pkg.runtime.RawExtension': (m) => parseRawJson(m['raw'], 'an embedded object (RawExtension)'),
  'k8s.io.apimachinery.pkg.api.resource.Quantity': (m) => (typeof m['string'] === 'string' && m['string'] !== '' ? m['string'] : ZERO),
  [INT_OR_STRING]: (m) => (Number(m['type'] ?? 0) === 1 ? (m['strVal'] ?? '') : Number(m['intVal'] ?? 0)),
};
