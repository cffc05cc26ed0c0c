/**
 * Aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) against a real flotilla-apiserver: the
 * documents agree with the legacy per-group-version documents they are built from, the Content-Type
 * is exactly the one client-go compares, an ETag answers If-None-Match with 304, a client that does
 * not ask gets the legacy documents, and
 * every kubectl on the machine (1.27 asks for v2beta1, 1.30+ for v2) discovers everything with two
 * requests, `/api` and `/apis`, where the legacy documents took one more per group version.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { Kubectl, kubectlVersions } from './harness/kubectl.js';
import { tempDir } from './harness/processes.js';

const V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
const V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

interface ResourceDiscovery {
  resource: string;
  responseKind: { group: string; version: string; kind: string };
  scope: string;
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  subresources?: { subresource: string; responseKind: { group: string; version: string; kind: string }; verbs: string[] }[];
}
interface GroupDiscoveryList {
  kind: string;
  apiVersion: string;
  items: { metadata: { name?: string }; versions: { version: string; freshness: string; resources: ResourceDiscovery[] }[] }[];
}
interface LegacyResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
}

describe('aggregated discovery', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let raw: RawClient;

  beforeAll(async () => {
    dir = tempDir('discovery');
    server = await startApiServer(join(dir.path, 'data'));
    raw = new RawClient(server.url, server.caPem, server.token);
  });

  afterAll(() => stopApiServerWithClient({ server, dir }));

  it('answers /api and /apis with the exact media type asked for, and the legacy documents otherwise', async () => {
    for (const [accept, type] of [
      [`${V2},${V2BETA1},application/json`, V2],
      [`${V2BETA1},application/json`, V2BETA1],
      // kubectl 1.32+ puts protobuf first; JSON is what is served.
      [`application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,${V2},application/json`, V2],
    ] as const) {
      for (const path of ['/api', '/apis']) {
        const r = await raw.request(path, { headers: { Accept: accept } });
        expect(r.status).toBe(200);
        expect(r.headers['content-type']).toBe(type);
        expect(r.headers['vary']).toBe('Accept');
        const doc = r.json as GroupDiscoveryList;
        expect(doc.kind).toBe('APIGroupDiscoveryList');
        expect(doc.apiVersion).toBe(`apidiscovery.k8s.io/${type === V2 ? 'v2' : 'v2beta1'}`);
      }
    }
    // An ETag per document; a client that holds it gets 304 without a body.
    for (const path of ['/api', '/apis']) {
      const first = await raw.request(path, { headers: { Accept: V2 } });
      const etag = first.headers['etag'] as string;
      expect(etag).toMatch(/^"[0-9A-F]{64}"$/);
      const again = await raw.request(path, { headers: { Accept: V2, 'If-None-Match': etag } });
      expect(again.status).toBe(304);
      expect(again.body).toBe('');
      const other = await raw.request(path, { headers: { Accept: V2BETA1, 'If-None-Match': etag } });
      expect(other.status).toBe(200);
      expect(other.headers['etag']).not.toBe(etag);
    }
    // Plain JSON first, or no aggregated form at all: the legacy documents.
    for (const accept of ['application/json', `application/json,${V2}`, 'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,*/*']) {
      const api = await raw.request('/api', { headers: { Accept: accept } });
      expect((api.json as { kind: string }).kind).toBe('APIVersions');
      const apis = await raw.request('/apis', { headers: { Accept: accept } });
      expect((apis.json as { kind: string }).kind).toBe('APIGroupList');
    }
  });

  it('holds every group, version, resource and subresource of the legacy documents', async () => {
    const aggregated = [
      ...((await raw.request('/api', { headers: { Accept: V2 } })).json as GroupDiscoveryList).items,
      ...((await raw.request('/apis', { headers: { Accept: V2 } })).json as GroupDiscoveryList).items,
    ];
    const groups = ((await raw.request('/apis')).json as { groups: { name: string; versions: { version: string }[] }[] }).groups;
    expect(aggregated.map((g) => g.metadata.name ?? '')).toEqual(['', ...groups.map((g) => g.name)]);
    let compared = 0;
    for (const item of aggregated) {
      const group = item.metadata.name ?? '';
      const legacyVersions = group === '' ? ['v1'] : groups.find((g) => g.name === group)!.versions.map((v) => v.version);
      expect(item.versions.map((v) => v.version)).toEqual(legacyVersions);
      for (const v of item.versions) {
        expect(v.freshness).toBe('Current');
        const legacy = ((await raw.request(group === '' ? `/api/${v.version}` : `/apis/${group}/${v.version}`)).json as { resources: LegacyResource[] }).resources;
        // Rebuild the legacy list from the aggregated one: main entries, then each one's subresources.
        const rebuilt = v.resources.flatMap((r) => [
          { name: r.resource, namespaced: r.scope === 'Namespaced', kind: r.responseKind.kind, verbs: r.verbs, group: r.responseKind.group, version: r.responseKind.version },
          ...(r.subresources ?? []).map((s) => ({ name: `${r.resource}/${s.subresource}`, namespaced: r.scope === 'Namespaced', kind: s.responseKind.kind, verbs: s.verbs, group: s.responseKind.group, version: s.responseKind.version })),
        ]);
        expect(rebuilt).toEqual(legacy.map((l) => ({ name: l.name, namespaced: l.namespaced, kind: l.kind, verbs: l.verbs, group: l.group ?? group, version: l.version ?? v.version })));
        compared += legacy.length;
      }
    }
    expect(compared).toBeGreaterThan(60);
    const apps = aggregated.find((g) => g.metadata.name === 'apps')!.versions[0]!.resources.find((r) => r.resource === 'deployments')!;
    expect(apps).toMatchObject({ scope: 'Namespaced', singularResource: 'deployment', shortNames: ['deploy'], responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' } });
    expect(apps.subresources).toContainEqual({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] });
  });

  const versions = kubectlVersions();
  if (versions.length === 0) console.warn('skipping kubectl aggregated discovery checks: no versioned kubectl binaries');
  it.skipIf(versions.length === 0)('lets every kubectl discover the API with /api and /apis alone', async () => {
    for (const v of versions) {
      // A fresh discovery cache for each, so discovery really happens.
      const kubectl = new Kubectl(v.path, server.kubeconfig, join(dir.path, `cache-${v.name}`));
      const r = await kubectl.run(['api-resources', '-v=6']);
      expect(r.code, `${v.name}: ${r.stderr.slice(-500)}`).toBe(0);
      expect(r.stdout).toMatch(/deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
      expect(r.stdout).toMatch(/poddisruptionbudgets\s+pdb\s+policy\/v1\s+true\s+PodDisruptionBudget/);
      expect(r.stdout).toMatch(/selfsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SelfSubjectAccessReview/);
      const paths = [...r.stderr.matchAll(/https:\/\/[^/\s"]+(\/[^\s"?]*)/g)].map((m) => m[1]);
      expect(paths, v.name).toContain('/api');
      expect(paths, v.name).toContain('/apis');
      expect(paths.filter((p) => /^\/apis?\/./.test(p!)), v.name).toEqual([]);
    }
  });
});
