/**
 * JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the API server applies them.
 */
import jsonpatch from 'fast-json-patch';
import { ApiError, badRequest } from '../api-error.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Applies a JSON merge patch: objects merge recursively, null deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** The merge patch that turns `original` into `modified` (null for removed keys; lists replace). */
export function createMergePatch(original: unknown, modified: unknown): unknown {
  if (!isObject(original) || !isObject(modified)) return structuredClone(modified);
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(original)) if (!(k in modified)) patch[k] = null;
  for (const [k, v] of Object.entries(modified)) {
    const o = original[k];
    if (JSON.stringify(o) === JSON.stringify(v)) continue;
    patch[k] = isObject(o) && isObject(v) ? createMergePatch(o, v) : structuredClone(v);
  }
  return patch;
}

/** One JSON patch operation. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

/**
 * Applies a JSON patch to a copy of `target`. A malformed operation list is 400 BadRequest; an
 * operation that cannot apply (failed test, missing path) is 422 Invalid, as Kubernetes answers.
 */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  for (const [i, op] of operations.entries()) {
    if (!isObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') {
      throw badRequest(`the JSON patch operation at index ${i} is malformed: it needs "op" and "path"`);
    }
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op['op'])) throw badRequest(`unexpected kind: ${String(op['op'])}`);
    if ((op['op'] === 'move' || op['op'] === 'copy') && typeof op['from'] !== 'string') throw badRequest(`the JSON patch operation at index ${i} (${op['op']}) needs "from"`);
    if ((op['op'] === 'add' || op['op'] === 'replace' || op['op'] === 'test') && !('value' in op)) throw badRequest(`the JSON patch operation at index ${i} (${op['op']}) needs "value"`);
  }
  try {
    return jsonpatch.applyPatch(structuredClone(target), operations as jsonpatch.Operation[], true, false).newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string; index?: number };
    const msg = (e.message ?? 'cannot apply patch').split('\n')[0]!;
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${msg}`, { causes: [{ reason: 'FieldValueInvalid', message: msg, field: '' }] });
  }
}
