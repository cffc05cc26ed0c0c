/**
 * OpenAPI v3 documents per group version, built from the schema definitions: the paths kubectl
 * inspects (every PATCH accepts `fieldValidation`, so `kubectl apply` validates on the server) and
 * the component schemas `kubectl explain` and kubectl's strategic-merge-patch code read.
 */
import { createHash } from 'node:crypto';
import type { ResourceInfo } from '../resources.js';
import { DEFINITIONS, kindDefinitionName } from './definitions.js';
import { REF_PREFIX, type SchemaDefinitions, type SchemaNode } from './schema-node.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const PATCH = `${META}.Patch`;

/** The Kubernetes release whose API Flotilla serves (the `info.version` of the documents). */
export const OPENAPI_KUBERNETES_VERSION = 'v1.31.0';

type Json = Record<string, unknown>;
interface Gvk {
  group: string;
  version: string;
  kind: string;
}

function refTo(name: string): { $ref: string } {
  return { $ref: REF_PREFIX + name };
}

/** Every definition reachable from `start`, in sorted order. */
function reachableDefinitions(defs: SchemaDefinitions, start: Iterable<string>): string[] {
  const out = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (out.has(name) || !defs[name]) continue;
    out.add(name);
    const visit = (n: SchemaNode | boolean | undefined): void => {
      if (!n || typeof n !== 'object') return;
      if (n.$ref) stack.push(n.$ref.slice(REF_PREFIX.length));
      n.allOf?.forEach(visit);
      visit(n.items);
      if (n.properties) Object.values(n.properties).forEach(visit);
      visit(n.additionalProperties);
    };
    visit(defs[name]);
  }
  return [...out].sort();
}

function queryParam(name: string, description: string, type: 'string' | 'boolean' | 'integer' = 'string'): Json {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } };
}

function pathParam(name: string, description: string): Json {
  return { name, in: 'path', description, required: true, schema: { type: 'string', uniqueItems: true } };
}

const PRETTY = queryParam('pretty', "If 'true', the output is pretty printed.");
const DRY_RUN = queryParam('dryRun', 'When present (All), the request is validated and admitted but nothing is persisted.');
const FIELD_MANAGER = queryParam('fieldManager', 'Name of the actor making the change; used for field ownership (server-side apply).');
const FIELD_VALIDATION = queryParam('fieldValidation', 'What to do with unknown fields in the body: Ignore (drop them), Warn (drop them and warn) or Strict (fail the request).');
const FORCE = queryParam('force', 'Server-side apply: take ownership of fields owned by other managers instead of failing with a conflict.', 'boolean');
const LIST_PARAMS = [
  queryParam('labelSelector', 'Only objects whose labels match this selector.'),
  queryParam('fieldSelector', 'Only objects whose fields match this selector.'),
  queryParam('limit', 'The most items to return; continue with the returned token.', 'integer'),
  queryParam('continue', 'The token of the next page, from a previous list.'),
  queryParam('resourceVersion', 'The state to serve: "0" any cached state, unset the latest.'),
  queryParam('watch', 'Stream changes (ADDED, MODIFIED, DELETED, BOOKMARK events) instead of listing.', 'boolean'),
  queryParam('allowWatchBookmarks', 'Let the watch send BOOKMARK events.', 'boolean'),
  queryParam('timeoutSeconds', 'Close the list or watch after this many seconds.', 'integer'),
];
const DELETE_PARAMS = [DRY_RUN, queryParam('gracePeriodSeconds', 'Seconds before the object is deleted; 0 deletes at once.', 'integer'), queryParam('propagationPolicy', 'What happens to dependents: Orphan, Background or Foreground.')];

const BODY_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

function content(types: readonly string[], schema: unknown): Json {
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

function responses(codes: Record<string, [string, unknown]>): Json {
  const out: Json = {};
  for (const [code, [description, schema]] of Object.entries(codes)) out[code] = { description, content: content(BODY_TYPES, schema) };
  out['401'] = { description: 'Unauthorized' };
  return out;
}

/** `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the group-version part of upstream operation ids. */
function operationPrefix(group: string, version: string): string {
  const words = group === '' ? ['core'] : group.replace(/\.k8s\.io$/, '').split(/[.-]/);
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('') + version.charAt(0).toUpperCase() + version.slice(1);
}

/**
 * The `/openapi/v3/<api/v1|apis/g/v>` document of a group version: list/create (and
 * deletecollection) on the collection path, get/put/patch/delete on the item path, the status and
 * scale subresources, pods/binding and pods/eviction, and every schema reachable from the kinds.
 */
export function buildOpenApiV3(groupVersion: string, resources: readonly ResourceInfo[], defs: SchemaDefinitions = DEFINITIONS): Json {
  const slash = groupVersion.indexOf('/');
  const group = slash < 0 ? '' : groupVersion.slice(0, slash);
  const version = slash < 0 ? groupVersion : groupVersion.slice(slash + 1);
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const prefix = operationPrefix(group, version);
  const paths: Record<string, Json> = {};
  const roots = new Set<string>([`${META}.Status`, `${META}.DeleteOptions`]);

  for (const r of resources) {
    const def = kindDefinitionName(r.group, r.version, r.kind);
    if (!def || !defs[def]) continue;
    roots.add(def);
    const listDef = defs[`${def}List`] ? `${def}List` : undefined;
    if (listDef) roots.add(listDef);
    const gvk: Gvk = { group: r.group, version: r.version, kind: r.kind };
    const scope = r.namespaced ? 'Namespaced' : '';
    const op = (verb: string, action: string, opGvk: Gvk, suffix: string, description: string, extra: Json): Json => ({
      description,
      operationId: verb === 'deleteCollection' ? `delete${prefix}Collection${scope}${r.kind}` : `${verb}${prefix}${scope}${r.kind}${suffix}`,
      tags: [`${group === '' ? 'core' : group.replace(/\.k8s\.io$/, '').replace(/\./g, '_')}_${version}`],
      ...extra,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': opGvk,
    });
    const nsParam = r.namespaced ? [pathParam('namespace', 'The namespace of the objects.')] : [];
    const nameParam = (kind: string) => pathParam('name', `The name of the ${kind}.`);
    const collection = `${r.namespaced ? `${base}/namespaces/{namespace}` : base}/${r.plural}`;
    const item = `${collection}/{name}`;
    const write = (schema: string, types: readonly string[], params: Json[]) => ({ parameters: params, requestBody: { content: content(types, refTo(schema)), required: true } });
    const patchBody = { parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE], requestBody: { content: content(PATCH_TYPES, refTo(PATCH)), required: true } };
    const writeParams = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];

    const collectionOps: Json = {};
    if (r.verbs.includes('list') && listDef) collectionOps['get'] = op('list', 'list', gvk, '', `List or watch ${r.kind} objects.`, { parameters: LIST_PARAMS, responses: responses({ '200': ['OK', refTo(listDef)] }) });
    if (r.verbs.includes('create')) collectionOps['post'] = op('create', 'post', gvk, '', `Create a ${r.kind}.`, { ...write(def, BODY_TYPES, writeParams), responses: responses({ '200': ['OK', refTo(def)], '201': ['Created', refTo(def)], '202': ['Accepted', refTo(def)] }) });
    if (r.verbs.includes('deletecollection')) collectionOps['delete'] = op('deleteCollection', 'deletecollection', gvk, '', `Delete a collection of ${r.kind} objects.`, { parameters: [...DELETE_PARAMS, ...LIST_PARAMS.slice(0, 4)], requestBody: { content: content(BODY_TYPES, refTo(`${META}.DeleteOptions`)) }, responses: responses({ '200': ['OK', refTo(`${META}.Status`)] }) });
    if (Object.keys(collectionOps).length > 0) paths[collection] = { ...collectionOps, parameters: [...nsParam, PRETTY] };

    const itemOps: Json = {};
    if (r.verbs.includes('get')) itemOps['get'] = op('read', 'get', gvk, '', `Read the specified ${r.kind}.`, { responses: responses({ '200': ['OK', refTo(def)] }) });
    if (r.verbs.includes('update')) itemOps['put'] = op('replace', 'put', gvk, '', `Replace the specified ${r.kind}.`, { ...write(def, BODY_TYPES, writeParams), responses: responses({ '200': ['OK', refTo(def)], '201': ['Created', refTo(def)] }) });
    if (r.verbs.includes('patch')) itemOps['patch'] = op('patch', 'patch', gvk, '', `Partially update the specified ${r.kind}.`, { ...patchBody, responses: responses({ '200': ['OK', refTo(def)], '201': ['Created', refTo(def)] }) });
    if (r.verbs.includes('delete')) itemOps['delete'] = op('delete', 'delete', gvk, '', `Delete the specified ${r.kind}.`, { parameters: DELETE_PARAMS, requestBody: { content: content(BODY_TYPES, refTo(`${META}.DeleteOptions`)) }, responses: responses({ '200': ['OK', refTo(def)], '202': ['Accepted', refTo(def)] }) });
    if (Object.keys(itemOps).length > 0) paths[item] = { ...itemOps, parameters: [nameParam(r.kind), ...nsParam, PRETTY] };

    if (r.subresources.includes('status')) {
      paths[`${item}/status`] = {
        get: op('read', 'get', gvk, 'Status', `Read the status of the specified ${r.kind}.`, { responses: responses({ '200': ['OK', refTo(def)] }) }),
        put: op('replace', 'put', gvk, 'Status', `Replace the status of the specified ${r.kind}.`, { ...write(def, BODY_TYPES, writeParams), responses: responses({ '200': ['OK', refTo(def)], '201': ['Created', refTo(def)] }) }),
        patch: op('patch', 'patch', gvk, 'Status', `Partially update the status of the specified ${r.kind}.`, { ...patchBody, responses: responses({ '200': ['OK', refTo(def)], '201': ['Created', refTo(def)] }) }),
        parameters: [nameParam(r.kind), ...nsParam, PRETTY],
      };
    }
    if (r.subresources.includes('scale')) {
      const scale = 'io.k8s.api.autoscaling.v1.Scale';
      roots.add(scale);
      const sgvk: Gvk = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
      paths[`${item}/scale`] = {
        get: op('read', 'get', sgvk, 'Scale', `Read the scale of the specified ${r.kind}.`, { responses: responses({ '200': ['OK', refTo(scale)] }) }),
        put: op('replace', 'put', sgvk, 'Scale', `Replace the scale of the specified ${r.kind}.`, { ...write(scale, BODY_TYPES, writeParams), responses: responses({ '200': ['OK', refTo(scale)], '201': ['Created', refTo(scale)] }) }),
        patch: op('patch', 'patch', sgvk, 'Scale', `Partially update the scale of the specified ${r.kind}.`, { ...patchBody, responses: responses({ '200': ['OK', refTo(scale)], '201': ['Created', refTo(scale)] }) }),
        parameters: [nameParam('Scale'), ...nsParam, PRETTY],
      };
    }
    const creators: [string, string, Gvk][] = [
      ['binding', 'io.k8s.api.core.v1.Binding', { group: '', version: 'v1', kind: 'Binding' }],
      ['eviction', 'io.k8s.api.policy.v1.Eviction', { group: 'policy', version: 'v1', kind: 'Eviction' }],
      ['token', 'io.k8s.api.authentication.v1.TokenRequest', { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' }],
    ];
    for (const [sub, subDef, subGvk] of creators) {
      if (!r.subresources.includes(sub as ResourceInfo['subresources'][number]) || !defs[subDef]) continue;
      roots.add(subDef);
      const suffix = sub.charAt(0).toUpperCase() + sub.slice(1);
      paths[`${item}/${sub}`] = {
        post: op('create', 'post', subGvk, suffix, `Create the ${sub} of a ${r.kind}.`, { ...write(subDef, BODY_TYPES, writeParams), responses: responses({ '200': ['OK', refTo(subDef)], '201': ['Created', refTo(subDef)], '202': ['Accepted', refTo(subDef)] }) }),
        parameters: [nameParam(subGvk.kind), ...nsParam, PRETTY],
      };
    }
  }

  const schemas: Record<string, SchemaNode> = {};
  for (const name of reachableDefinitions(defs, roots)) schemas[name] = defs[name]!;
  schemas[PATCH] = { type: 'object', description: 'The body of a PATCH: a JSON patch, a JSON merge patch, a strategic merge patch or an apply configuration, by Content-Type.' };
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: OPENAPI_KUBERNETES_VERSION },
    paths,
    components: { schemas, securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer token authentication', name: 'authorization', in: 'header' } } },
  };
}

/**
 * The content hash of a served document (upper-case hex SHA-512 of its exact bytes), for the
 * `serverRelativeURL` entries of the `/openapi/v3` index: it changes exactly when the body changes.
 */
export function openApiHash(body: string): string {
  return createHash('sha512').update(body).digest('hex').toUpperCase();
}

/** The `/openapi/v3` index: each document path (`api/v1`, `apis/apps/v1`) with its hashed URL. */
export function buildOpenApiV3Index(bodies: ReadonlyMap<string, string>): { paths: Record<string, { serverRelativeURL: string }> } {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [path, body] of bodies) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${openApiHash(body)}` };
  return { paths };
}
