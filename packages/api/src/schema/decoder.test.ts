import { describe, expect, it } from 'vitest';
import { RESOURCES, isStoredResource } from '../resources.js';
import { compileDecoder } from './decoder.js';
import { DEFINITIONS, kindDefinitionName } from './definitions.js';
import { buildOpenApiV3 } from './openapi.js';
import { REF_PREFIX, type SchemaNode } from './schema-node.js';

function refsOf(n: SchemaNode | boolean | undefined, out: string[]): void {
  if (!n || typeof n !== 'object') return;
  if (n.$ref) out.push(n.$ref.slice(REF_PREFIX.length));
  n.allOf?.forEach((x) => refsOf(x, out));
  refsOf(n.items, out);
  Object.values(n.properties ?? {}).forEach((x) => refsOf(x, out));
  if (typeof n.additionalProperties === 'object') refsOf(n.additionalProperties, out);
}

describe('definitions', () => {
  it('resolve every reference', () => {
    const dangling: string[] = [];
    for (const [name, node] of Object.entries(DEFINITIONS)) {
      const refs: string[] = [];
      refsOf(node, refs);
      for (const r of refs) if (!DEFINITIONS[r]) dangling.push(`${name} -> ${r}`);
    }
    expect(dangling).toEqual([]);
  });

  it('exist for every stored kind, with its group-version-kind', () => {
    for (const r of RESOURCES.filter(isStoredResource)) {
      const name = kindDefinitionName(r.group, r.version, r.kind)!;
      expect(DEFINITIONS[name], name).toBeDefined();
      expect(DEFINITIONS[name]!['x-kubernetes-group-version-kind']).toEqual([{ group: r.group, version: r.version, kind: r.kind }]);
      expect(DEFINITIONS[`${name}List`], `${name}List`).toBeDefined();
    }
  });

  it('carry strategic merge keys where Kubernetes has them', () => {
    const spec = DEFINITIONS['io.k8s.api.core.v1.PodSpec']!.properties!;
    expect(spec['containers']!['x-kubernetes-patch-merge-key']).toBe('name');
    expect(spec['volumes']!['x-kubernetes-patch-strategy']).toBe('merge,retainKeys');
    const container = DEFINITIONS['io.k8s.api.core.v1.Container']!.properties!;
    expect(container['ports']!['x-kubernetes-patch-merge-key']).toBe('containerPort');
    expect(container['volumeMounts']!['x-kubernetes-patch-merge-key']).toBe('mountPath');
    expect(DEFINITIONS['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']!.properties!['finalizers']!['x-kubernetes-patch-strategy']).toBe('merge');
  });
});

describe('decoder', () => {
  const pod = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Pod');
  const deployment = compileDecoder(DEFINITIONS, 'io.k8s.api.apps.v1.Deployment');

  it('round-trips a realistic deployment', () => {
    const input = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' }, annotations: { a: 'b' } },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'nginx:1.25',
                ports: [{ containerPort: 80, name: 'http' }],
                env: [{ name: 'A', value: '1' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: 1 } },
                readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
              },
            ],
            tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } } }] } },
          },
        },
      },
    };
    const r = deployment.decode(input, { fieldValidation: 'Strict' });
    expect(r.decodeErrors).toEqual([]);
    expect(r.unknownFields).toEqual([]);
    const c = (r.object['spec'] as { template: { spec: { containers: { ports: { protocol: string }[]; resources: { limits: { cpu: string } } }[] } } }).template.spec.containers[0]!;
    expect(c.ports[0]!.protocol).toBe('TCP');
    expect(c.resources.limits.cpu).toBe('1');
  });

  it('reports unknown fields with their paths and prunes them', () => {
    const r = pod.decode({ metadata: { name: 'p', bogus: 1 }, spec: { containers: [{ name: 'c', image: 'i', imagePullPolice: 'x' }], extra: true } }, { fieldValidation: 'Strict' });
    expect(r.unknownFields.sort()).toEqual(['metadata.bogus', 'spec.containers[0].imagePullPolice', 'spec.extra']);
    expect(JSON.stringify(r.object)).not.toContain('bogus');
    expect(pod.decode({ metadata: {}, zzz: 1 }, { fieldValidation: 'Ignore' }).unknownFields).toEqual([]);
  });

  it('reports type mismatches like Kubernetes JSON decoding', () => {
    const r = pod.decode({ metadata: { name: 'p' }, spec: { terminationGracePeriodSeconds: 'thirty', containers: { name: 'c' }, hostNetwork: 'yes' } }, { fieldValidation: 'Strict' });
    expect(r.decodeErrors).toEqual([
      'json: cannot unmarshal string into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64',
      'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []Container',
      'json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool',
    ]);
    expect(pod.decode({ metadata: {}, spec: { containers: [{ name: 'c', ports: [{ containerPort: 80.5 }] }] } }, { fieldValidation: 'Strict' }).decodeErrors[0]).toMatch(/of type int32/);
  });

  it('normalizes quantities and timestamps and checks base64', () => {
    const r = pod.decode({ metadata: { name: 'p', creationTimestamp: '2024-01-02T03:04:05.678Z' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: 0.5, memory: '1024Mi' } } }] } }, { fieldValidation: 'Strict' });
    expect((r.object.metadata as { creationTimestamp: string }).creationTimestamp).toBe('2024-01-02T03:04:05Z');
    expect(JSON.stringify(r.object)).toContain('"cpu":"500m"');
    expect(JSON.stringify(r.object)).toContain('"memory":"1Gi"');
    const secret = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Secret');
    expect(secret.decode({ metadata: {}, data: { ok: 'aGVsbG8=' } }, { fieldValidation: 'Strict' }).decodeErrors).toEqual([]);
    expect(secret.decode({ metadata: {}, data: { bad: 'not base64!' } }, { fieldValidation: 'Strict' }).decodeErrors[0]).toMatch(/illegal base64/);
    expect(pod.decode({ metadata: {}, spec: { containers: [{ name: 'c', resources: { limits: { cpu: 'lots' } } }] } }, { fieldValidation: 'Strict' }).decodeErrors[0]).toMatch(/quantities must match/);
  });

  it('treats null as absent and never mutates its input', () => {
    const input = { metadata: { name: 'p', labels: null }, spec: { containers: [{ name: 'c', image: 'i' }], nodeSelector: null } };
    const copy = structuredClone(input);
    const r = pod.decode(input, { fieldValidation: 'Strict' });
    expect(r.object.metadata).toEqual({ name: 'p' });
    expect(input).toEqual(copy);
  });

  it('decodes a 2 KB pod in tens of microseconds', () => {
    const big = { metadata: { name: 'p', labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', env: Array.from({ length: 12 }, (_, i) => ({ name: `E${i}`, value: 'x'.repeat(40) })), ports: [{ containerPort: 80 }], resources: { requests: { cpu: '100m' } } }] } };
    for (let i = 0; i < 200; i++) pod.decode(big, { fieldValidation: 'Strict' });
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pod.decode(big, { fieldValidation: 'Strict' });
    const us = ((performance.now() - t0) / n) * 1000;
    expect(us).toBeLessThan(200);
  });
});

describe('OpenAPI documents', () => {
  it('let kubectl find fieldValidation on PATCH and the kinds for explain', () => {
    const doc = buildOpenApiV3('v1', RESOURCES.filter((r) => r.group === '' && isStoredResource(r))) as { paths: Record<string, { patch?: { parameters: { name: string }[]; 'x-kubernetes-group-version-kind': unknown } }>; components: { schemas: Record<string, unknown> } };
    const podPatch = doc.paths['/api/v1/namespaces/{namespace}/pods/{name}']!.patch!;
    expect(podPatch['x-kubernetes-group-version-kind']).toEqual({ group: '', version: 'v1', kind: 'Pod' });
    expect(podPatch.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect(doc.components.schemas['io.k8s.api.core.v1.Pod']).toBeDefined();
    expect(doc.components.schemas['io.k8s.api.core.v1.Container']).toBeDefined();
    expect(doc.paths['/api/v1/nodes/{name}']).toBeDefined();
  });
});
