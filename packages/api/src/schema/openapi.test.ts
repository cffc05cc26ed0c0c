import { describe, expect, it } from 'vitest';
import { apiGroups, RESOURCES, type ResourceInfo } from '../resources.js';
import { DEFINITIONS } from './definitions.js';
import { buildOpenApiV3, buildOpenApiV3Index, openApiHash } from './openapi.js';
import { REF_PREFIX } from './schema-node.js';

type Operation = { operationId: string; parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, unknown> }; 'x-kubernetes-action': string; 'x-kubernetes-group-version-kind': unknown };
type PathItem = Record<string, Operation> & { parameters?: { name: string; in: string; required?: boolean }[] };
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, { 'x-kubernetes-group-version-kind'?: unknown }> };
}

function groupVersions(): { gv: string; path: string; resources: ResourceInfo[] }[] {
  return apiGroups().flatMap((g) => g.versions.map((v) => ({ gv: g.name === '' ? v : `${g.name}/${v}`, path: g.name === '' ? `api/${v}` : `apis/${g.name}/${v}`, resources: RESOURCES.filter((r) => r.group === g.name && r.version === v) })));
}

function docOf(gv: string): Doc {
  const g = groupVersions().find((x) => x.gv === gv)!;
  return JSON.parse(JSON.stringify(buildOpenApiV3(gv, g.resources))) as Doc;
}

function refsIn(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) v.forEach((x) => refsIn(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.add(x);
      else refsIn(x, out);
    }
  }
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

describe('OpenAPI v3 documents', () => {
  it('exist for every group version, as JSON with only resolvable references', () => {
    for (const { gv } of groupVersions()) {
      const doc = docOf(gv);
      expect(doc.openapi).toBe('3.0.0');
      expect(doc.info).toEqual({ title: 'Kubernetes', version: 'v1.31.0' });
      const refs = new Set<string>();
      refsIn(doc, refs);
      for (const r of refs) {
        expect(r.startsWith(REF_PREFIX), r).toBe(true);
        expect(doc.components.schemas[r.slice(REF_PREFIX.length)], `${gv}: ${r}`).toBeDefined();
      }
    }
  });

  it('have the collection, item and subresource paths of every resource, scoped right', () => {
    const v1 = docOf('v1');
    expect(Object.keys(v1.paths['/api/v1/namespaces/{namespace}/pods']!).filter((m) => METHODS.includes(m)).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(v1.paths['/api/v1/namespaces/{namespace}/pods/{name}']!).filter((m) => METHODS.includes(m)).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    expect(Object.keys(v1.paths['/api/v1/namespaces/{namespace}/pods/{name}/status']!).filter((m) => METHODS.includes(m)).sort()).toEqual(['get', 'patch', 'put']);
    expect(v1.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding']!['post']!['x-kubernetes-group-version-kind']).toEqual({ group: '', version: 'v1', kind: 'Binding' });
    expect(v1.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction']!['post']!['x-kubernetes-group-version-kind']).toEqual({ group: 'policy', version: 'v1', kind: 'Eviction' });
    expect(v1.paths['/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token']!['post']!['x-kubernetes-group-version-kind']).toEqual({ group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' });
    expect(v1.paths['/api/v1/nodes/{name}']!.parameters!.map((p) => p.name)).not.toContain('namespace');
    expect(v1.paths['/api/v1/namespaces/{namespace}/services']!['delete']).toBeDefined();
    expect(v1.paths['/api/v1/namespaces/{namespace}/bindings']!['post']).toBeDefined();
    const apps = docOf('apps/v1');
    const scale = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale']!;
    expect(scale['patch']!['x-kubernetes-group-version-kind']).toEqual({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale']).toBeDefined();
    expect(docOf('rbac.authorization.k8s.io/v1').paths['/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}']!['get']!.operationId).toBe('readRbacAuthorizationV1ClusterRole');
    for (const { gv, path, resources } of groupVersions()) {
      const doc = docOf(gv);
      for (const r of resources) {
        if (!r.verbs.includes('get')) continue;
        const collection = `/${path}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
        expect(doc.paths[`${collection}/{name}`], `${collection}/{name}`).toBeDefined();
        expect(doc.paths[collection]!['get']!['x-kubernetes-action']).toBe('list');
      }
    }
  });

  it('tag every operation with its action and kind and keep operation ids unique', () => {
    for (const { gv } of groupVersions()) {
      const ids = new Set<string>();
      for (const [path, item] of Object.entries(docOf(gv).paths)) {
        for (const m of METHODS) {
          const op = item[m];
          if (!op) continue;
          expect(op['x-kubernetes-action'], `${m} ${path}`).toMatch(/^(get|list|put|patch|post|delete|deletecollection)$/);
          expect(op['x-kubernetes-group-version-kind'], `${m} ${path}`).toMatchObject({ kind: expect.any(String) });
          expect(ids.has(op.operationId), op.operationId).toBe(false);
          ids.add(op.operationId);
        }
      }
    }
  });

  it('let every PATCH take fieldValidation and the four patch content types', () => {
    for (const { gv } of groupVersions()) {
      for (const [path, item] of Object.entries(docOf(gv).paths)) {
        const patch = item['patch'];
        if (!patch) continue;
        expect(patch.parameters!.some((p) => p.name === 'fieldValidation' && p.in === 'query'), path).toBe(true);
        expect(Object.keys(patch.requestBody!.content).sort()).toEqual(['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
      }
    }
  });

  it('carry the kind schemas with their group-version-kind for explain', () => {
    const schemas = docOf('v1').components.schemas;
    expect(schemas['io.k8s.api.core.v1.Pod']!['x-kubernetes-group-version-kind']).toEqual([{ group: '', version: 'v1', kind: 'Pod' }]);
    expect(schemas['io.k8s.api.core.v1.Container']).toEqual(DEFINITIONS['io.k8s.api.core.v1.Container']);
    expect(schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']).toBeDefined();
    expect(docOf('apps/v1').components.schemas['io.k8s.api.core.v1.Service']).toBeUndefined();
  });

  it('hash documents by content for the index', () => {
    const a = JSON.stringify(buildOpenApiV3('v1', RESOURCES.filter((r) => r.group === '')));
    expect(openApiHash(a)).toMatch(/^[0-9A-F]{128}$/);
    expect(openApiHash(a)).toBe(openApiHash(JSON.stringify(buildOpenApiV3('v1', RESOURCES.filter((r) => r.group === '')))));
    expect(openApiHash(a)).not.toBe(openApiHash(`${a} `));
    const index = buildOpenApiV3Index(new Map([['api/v1', a]]));
    expect(index.paths['api/v1']!.serverRelativeURL).toBe(`/openapi/v3/api/v1?hash=${openApiHash(a)}`);
  });
});
