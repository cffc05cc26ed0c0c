/**
 * Request bodies: JSON, YAML or Kubernetes protobuf objects for create/update (kubectl >= 1.32 sends
 * protobuf for imperative `create <kind>`, `create token`, `auth can-i`, `run` and `drain`), and the
 * four patch media types for PATCH.
 */
import { badRequest, unsupportedMediaType } from '@flotilla/api';
import { decodeKubernetesProtobuf, KUBERNETES_PROTOBUF as PROTOBUF } from '@flotilla/api/protobuf';
import { load as loadYaml } from 'js-yaml';
import { mediaTypeOf } from './negotiation.js';

/** The patch flavours Kubernetes accepts. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

function parseYaml(buf: Buffer): unknown {
  try {
    return loadYaml(buf.toString('utf8'));
  } catch (err) {
    throw badRequest(`error decoding YAML request body: ${(err as Error).message}`);
  }
}

/** Kubernetes' 400 for a body whose kind (or apiVersion, when one is expected) is given and not the endpoint's. */
export function checkTypeMeta(body: { apiVersion?: unknown; kind?: unknown }, kind: string, apiVersion?: string): void {
  if (apiVersion !== undefined && body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
  }
  if (body.kind !== undefined && body.kind !== kind) throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind})`);
}

/** Decodes a create/update body by Content-Type. Empty bodies are a 400. */
export function decodeObjectBody(body: Buffer | undefined, contentType: string | undefined): unknown {
  const type = mediaTypeOf(contentType);
  if (!body || body.length === 0) throw badRequest('request body is empty; expected an object');
  switch (type) {
    case PROTOBUF:
      return decodeKubernetesProtobuf(body);
    case '':
    case 'application/json':
    case '*/*':
      return parseJson(body);
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      return parseYaml(body);
    default:
      throw unsupportedMediaType(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, ${PROTOBUF}`);
  }
}

/** Decodes a PATCH body: returns the patch flavour and its parsed document. */
export function decodePatchBody(body: Buffer | undefined, contentType: string | undefined): { type: PatchType; patch: unknown } {
  const type = mediaTypeOf(contentType);
  let patchType: PatchType;
  switch (type) {
    case 'application/json-patch+json':
      patchType = 'json';
      break;
    case 'application/merge-patch+json':
      patchType = 'merge';
      break;
    case 'application/strategic-merge-patch+json':
      patchType = 'strategic';
      break;
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+json':
      patchType = 'apply';
      break;
    default:
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
  if (!body || body.length === 0) throw badRequest('the patch body is empty');
  const patch = patchType === 'apply' ? parseYaml(body) : parseJson(body);
  if (patchType === 'json') {
    if (!Array.isArray(patch)) throw badRequest('json patch must be an array of operations');
  } else if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw badRequest(patchType === 'apply' ? 'the apply configuration must be an object' : 'the patch must be a JSON object');
  }
  return { type: patchType, patch };
}

/** Decodes an optional DeleteOptions body (kubectl sends one; client-node uses query parameters). */
export function decodeOptionalBody(body: Buffer | undefined, contentType: string | undefined): Record<string, unknown> | undefined {
  if (!body || body.length === 0) return undefined;
  const type = mediaTypeOf(contentType);
  const v = type === PROTOBUF ? decodeKubernetesProtobuf(body) : type === 'application/yaml' ? parseYaml(body) : parseJson(body);
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('DeleteOptions must be a JSON object');
  return v as Record<string, unknown>;
}
