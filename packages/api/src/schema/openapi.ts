/**
 * OpenAPI v3 documents per group version, built from the schema definitions: the paths kubectl
 * inspects (PATCH accepting `fieldValidation`) and the component schemas `kubectl explain` reads.
 */
import type { ResourceInfo } from '../resources.js';
import { DEFINITIONS, kindDefinitionName } from './definitions.js';
import { REF_PREFIX, type SchemaDefinitions, type SchemaNode } from './schema-node.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

function refTo(name: string): { $ref: string } {
  return { $ref: REF_PREFIX + name };
}

function collectRefs(defs: SchemaDefinitions, start: string[], out: Set<string>): void {
  const stack = [...start];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (out.has(name) || !defs[name]) continue;
    out.add(name);
    const visit = (n: SchemaNode | boolean | undefined): void => {
      if (!n || typeof n !== 'object') return;
      if (n.$ref) stack.push(n.$ref.slice(REF_PREFIX.length));
      n.allOf?.forEach(visit);
      if (n.items) visit(n.items);
      if (n.properties) Object.values(n.properties).forEach(visit);
      if (n.additionalProperties && typeof n.additionalProperties === 'object') visit(n.additionalProperties);
    };
    visit(defs[name]);
  }
}

function param(name: string, where: 'path' | 'query', description: string, required = false): Record<string, unknown> {
  return { name, in: where, description, ...(required ? { required: true } : {}), schema: { type: 'string', uniqueItems: true } };
}

const JSON_CONTENT = (schema: unknown) => ({ 'application/json': { schema }, 'application/yaml': { schema } });

function operation(action: string, gvk: { group: string; version: string; kind: string }, description: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    description,
    operationId: `${action}${gvk.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  };
}

/** The `/openapi/v3/<api/v1|apis/g/v>` document of a group version. */
export function buildOpenApiV3(groupVersion: string, resources: readonly ResourceInfo[], defs: SchemaDefinitions = DEFINITIONS): Record<string, unknown> {
  const [group, version] = groupVersion.includes('/') ? (groupVersion.split('/') as [string, string]) : ['', groupVersion];
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const paths: Record<string, Record<string, unknown>> = {};
  const roots = new Set<string>([`${META}.Status`, `${META}.DeleteOptions`]);
  const dryRun = param('dryRun', 'query', 'When present, the change is validated but not persisted (All).');
  const fieldManager = param('fieldManager', 'query', 'Name of the actor making the change.');
  const fieldValidation = param('fieldValidation', 'query', 'What to do with unknown or duplicate fields: Ignore, Warn (default) or Strict.');
  const force = { name: 'force', in: 'query', description: 'Server-side apply: take ownership of conflicting fields.', schema: { type: 'boolean', uniqueItems: true } };
  for (const r of resources) {
    const def = kindDefinitionName(r.group, r.version, r.kind);
    if (!def || !defs[def]) continue;
    roots.add(def);
    if (defs[`${def}List`]) roots.add(`${def}List`);
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const ok = (schema: unknown) => ({ '200': { description: 'OK', content: JSON_CONTENT(schema) } });
    const nsPrefix = r.namespaced ? `${base}/namespaces/{namespace}` : base;
    const nsParam = r.namespaced ? [param('namespace', 'path', 'object name and auth scope, such as for teams and projects', true)] : [];
    const collection = `${nsPrefix}/${r.plural}`;
    const item = `${collection}/{name}`;
    const patchBody = {
      content: {
        'application/json-patch+json': { schema: refTo(`${META}.Patch`) },
        'application/merge-patch+json': { schema: refTo(`${META}.Patch`) },
        'application/strategic-merge-patch+json': { schema: refTo(`${META}.Patch`) },
        'application/apply-patch+yaml': { schema: refTo(`${META}.Patch`) },
      },
      required: true,
    };
    if (r.verbs.includes('list') || r.verbs.includes('create')) {
      const ops: Record<string, unknown> = { parameters: nsParam };
      if (r.verbs.includes('list')) ops['get'] = operation('list', gvk, `list or watch objects of kind ${r.kind}`, { responses: ok(defs[`${def}List`] ? refTo(`${def}List`) : {}) });
      if (r.verbs.includes('create')) ops['post'] = operation('post', gvk, `create a ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation], requestBody: { content: JSON_CONTENT(refTo(def)), required: true }, responses: { ...ok(refTo(def)), '201': { description: 'Created', content: JSON_CONTENT(refTo(def)) } } });
      if (r.verbs.includes('deletecollection')) ops['delete'] = operation('deletecollection', gvk, `delete a collection of ${r.kind}`, { responses: ok(refTo(`${META}.Status`)) });
      paths[collection] = ops;
    }
    if (r.verbs.includes('get')) {
      paths[item] = {
        parameters: [param('name', 'path', `name of the ${r.kind}`, true), ...nsParam],
        get: operation('get', gvk, `read the specified ${r.kind}`, { responses: ok(refTo(def)) }),
        put: operation('put', gvk, `replace the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation], requestBody: { content: JSON_CONTENT(refTo(def)), required: true }, responses: ok(refTo(def)) }),
        patch: operation('patch', gvk, `partially update the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation, force], requestBody: patchBody, responses: ok(refTo(def)) }),
        delete: operation('delete', gvk, `delete a ${r.kind}`, { requestBody: { content: JSON_CONTENT(refTo(`${META}.DeleteOptions`)) }, responses: ok(refTo(`${META}.Status`)) }),
      };
    }
    if (r.subresources.includes('status')) {
      paths[`${item}/status`] = {
        parameters: [param('name', 'path', `name of the ${r.kind}`, true), ...nsParam],
        get: operation('get', gvk, `read status of the specified ${r.kind}`, { responses: ok(refTo(def)) }),
        put: operation('put', gvk, `replace status of the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation], requestBody: { content: JSON_CONTENT(refTo(def)), required: true }, responses: ok(refTo(def)) }),
        patch: operation('patch', gvk, `partially update status of the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation, force], requestBody: patchBody, responses: ok(refTo(def)) }),
      };
    }
    if (r.subresources.includes('scale')) {
      const scale = 'io.k8s.api.autoscaling.v1.Scale';
      roots.add(scale);
      const sgvk = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
      paths[`${item}/scale`] = {
        parameters: [param('name', 'path', 'name of the Scale', true), ...nsParam],
        get: operation('get', sgvk, `read scale of the specified ${r.kind}`, { responses: ok(refTo(scale)) }),
        put: operation('put', sgvk, `replace scale of the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation], requestBody: { content: JSON_CONTENT(refTo(scale)), required: true }, responses: ok(refTo(scale)) }),
        patch: operation('patch', sgvk, `partially update scale of the specified ${r.kind}`, { parameters: [dryRun, fieldManager, fieldValidation, force], requestBody: patchBody, responses: ok(refTo(scale)) }),
      };
    }
  }
  const reachable = new Set<string>();
  collectRefs(defs, [...roots], reachable);
  const schemas: Record<string, SchemaNode | Record<string, unknown>> = {};
  for (const name of [...reachable].sort()) schemas[name] = defs[name]!;
  schemas[`${META}.Patch`] = { type: 'object', description: 'A patch document: JSON patch, JSON merge patch, strategic merge patch or an apply configuration.' };
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.31.0' }, paths, components: { schemas } };
}
