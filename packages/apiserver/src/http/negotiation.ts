/**
 * Content negotiation and query parameters the Kubernetes way: JSON whenever the client accepts
 * JSON or anything; Table and PartialObjectMetadata views by `as=`; form-encoded query strings.
 */
import { badRequest, notAcceptable } from '@flotilla/api';
import type { FieldValidation } from '../registry/codec.js';

/** How a response should be rendered. */
export type OutputView = 'object' | 'table' | 'partial';

export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

/** The media ranges of an Accept header, in order (types lower-cased, parameter names lower-cased). */
export function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const eq = kv.indexOf('=');
      if (eq > 0) p[kv.slice(0, eq).trim().toLowerCase()] = kv.slice(eq + 1).trim();
    }
    return { type: (type ?? '').toLowerCase(), params: p };
  });
}

/**
 * Picks the view for an Accept header: the first acceptable of Table / PartialObjectMetadata(List) /
 * plain JSON. Throws 406 when nothing offered is JSON (protobuf-only clients).
 */
export function negotiateView(accept: string | undefined): OutputView {
  if (!accept || accept.trim() === '') return 'object';
  for (const m of parseAccept(accept)) {
    if (m.type === 'application/json' || m.type === 'application/*' || m.type === '*/*' || m.type === 'application/yaml') {
      const as = m.params['as'];
      if (as === undefined) return 'object';
      if (m.params['g'] !== 'meta.k8s.io') continue;
      if (as === 'Table' && (m.params['v'] === 'v1' || m.params['v'] === 'v1beta1')) return 'table';
      if ((as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') && (m.params['v'] === 'v1' || m.params['v'] === 'v1beta1')) return 'partial';
    }
  }
  throw notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
}

/** The bare media type of a Content-Type header (`application/json`). */
export function mediaTypeOf(contentType: string | undefined): string {
  if (!contentType) return '';
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Parsed query string; repeated keys keep every value. */
export type Query = Record<string, string | string[]>;

/** Parses a query string with form semantics (`+` is a space). */
export function parseQuery(qs: string): Query {
  const out: Query = {};
  for (const [k, v] of new URLSearchParams(qs)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

/** The last value of a query parameter. */
export function queryString(q: Query, key: string): string | undefined {
  const v = q[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Every value of a query parameter. */
export function queryAll(q: Query, key: string): string[] {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A boolean query parameter (`true`/`1`). */
export function queryBool(q: Query, key: string): boolean {
  const v = queryString(q, key);
  return v === 'true' || v === '1';
}

/** A non-negative integer query parameter; 400 when malformed. */
export function queryInt(q: Query, key: string): number | undefined {
  const v = queryString(q, key);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${key}: ${JSON.stringify(v)}: must be an integer`);
  return Number(v);
}

/** `?fieldValidation=`, default Warn (the server default since Kubernetes 1.27). */
export function fieldValidationOf(q: Query): FieldValidation {
  const v = queryString(q, 'fieldValidation');
  if (v === undefined || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}`);
}

/** `?dryRun=All`; 400 on any other value. */
export function dryRunOf(q: Query): boolean {
  const vs = queryAll(q, 'dryRun');
  for (const v of vs) if (v !== 'All') throw badRequest(`Invalid dry run value: ${JSON.stringify(v)}: supported values: "All"`);
  return vs.length > 0;
}
