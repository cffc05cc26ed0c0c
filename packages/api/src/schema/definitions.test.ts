import { describe, expect, it } from 'vitest';
import { RESOURCES, isStoredResource } from '../resources.js';
import { DEFINITIONS, kindDefinitionName, listDefinitionName } from './definitions.js';
import { REF_PREFIX, resolveSchema, type SchemaNode } from './schema-node.js';

function refsOf(n: SchemaNode | boolean | undefined, out: string[]): void {
  if (!n || typeof n !== 'object') return;
  if (n.$ref) out.push(n.$ref.slice(REF_PREFIX.length));
  n.allOf?.forEach((x) => refsOf(x, out));
  refsOf(n.items, out);
  Object.values(n.properties ?? {}).forEach((x) => refsOf(x, out));
  if (typeof n.additionalProperties === 'object') refsOf(n.additionalProperties, out);
}

/** The property node at a dotted path below a definition, following references. */
function prop(def: string, path: string): SchemaNode {
  let node: SchemaNode | undefined = DEFINITIONS[def];
  let last: SchemaNode | undefined;
  for (const seg of path.split('.')) {
    const resolved = resolveSchema(DEFINITIONS, node);
    const target = resolved?.type === 'array' ? resolveSchema(DEFINITIONS, resolved.items) : resolved;
    last = target?.properties?.[seg];
    if (!last) throw new Error(`no ${path} in ${def}`);
    node = last;
  }
  return last!;
}

const CORE = 'io.k8s.api.core.v1';

describe('schema definitions', () => {
  it('resolve every reference', () => {
    const dangling: string[] = [];
    for (const [name, node] of Object.entries(DEFINITIONS)) {
      const refs: string[] = [];
      refsOf(node, refs);
      for (const r of refs) if (!DEFINITIONS[r]) dangling.push(`${name} -> ${r}`);
    }
    expect(dangling).toEqual([]);
  });

  it('exist for every stored kind and its list, with the group-version-kind', () => {
    const stored = RESOURCES.filter(isStoredResource);
    expect(stored.length).toBeGreaterThan(30);
    for (const r of stored) {
      const name = kindDefinitionName(r.group, r.version, r.kind)!;
      expect(DEFINITIONS[name], name).toBeDefined();
      expect(DEFINITIONS[name]!['x-kubernetes-group-version-kind']).toEqual([{ group: r.group, version: r.version, kind: r.kind }]);
      const list = listDefinitionName(r.group, r.version, r.kind)!;
      expect(DEFINITIONS[list]!['x-kubernetes-group-version-kind']).toEqual([{ group: r.group, version: r.version, kind: r.listKind }]);
    }
  });

  it('name the subresource and meta kinds', () => {
    for (const name of [`${CORE}.Binding`, 'io.k8s.api.policy.v1.Eviction', 'io.k8s.api.autoscaling.v1.Scale', 'io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions']) {
      expect(DEFINITIONS[name], name).toBeDefined();
    }
    expect(kindDefinitionName('example.com', 'v1', 'Widget')).toBeUndefined();
  });

  it('describe every definition and every property (kubectl explain shows them)', () => {
    const undescribed: string[] = [];
    for (const [name, node] of Object.entries(DEFINITIONS)) {
      if (!node.description) undescribed.push(name);
      for (const [k, p] of Object.entries(node.properties ?? {})) if (!p.description) undescribed.push(`${name}.${k}`);
    }
    expect(undescribed).toEqual([]);
  });

  it.each([
    [`${CORE}.PodSpec`, 'containers', 'name', 'merge', 'map', ['name']],
    [`${CORE}.PodSpec`, 'initContainers', 'name', 'merge', 'map', ['name']],
    [`${CORE}.PodSpec`, 'volumes', 'name', 'merge,retainKeys', 'map', ['name']],
    [`${CORE}.PodSpec`, 'imagePullSecrets', 'name', 'merge', 'map', ['name']],
    [`${CORE}.PodSpec`, 'tolerations', undefined, undefined, undefined, undefined],
    [`${CORE}.PodSpec`, 'topologySpreadConstraints', 'topologyKey', 'merge', 'map', ['topologyKey', 'whenUnsatisfiable']],
    [`${CORE}.PodSpec`, 'containers.env', 'name', 'merge', 'map', ['name']],
    [`${CORE}.PodSpec`, 'containers.ports', 'containerPort', 'merge', 'map', ['containerPort', 'protocol']],
    [`${CORE}.PodSpec`, 'containers.volumeMounts', 'mountPath', 'merge', 'map', ['mountPath']],
    [`${CORE}.PodSpec`, 'containers.envFrom', undefined, undefined, undefined, undefined],
    [`${CORE}.PodStatus`, 'conditions', 'type', 'merge', 'map', ['type']],
    [`${CORE}.PodStatus`, 'podIPs', 'ip', 'merge', 'map', ['ip']],
    [`${CORE}.PodStatus`, 'hostIPs', 'ip', 'merge', 'atomic', undefined],
    [`${CORE}.ServiceSpec`, 'ports', 'port', 'merge', 'map', ['port', 'protocol']],
    [`${CORE}.NodeStatus`, 'conditions', 'type', 'merge', 'map', ['type']],
    [`${CORE}.NodeStatus`, 'addresses', 'type', 'merge', 'map', ['type']],
    ['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'ownerReferences', 'uid', 'merge', 'map', ['uid']],
    ['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'finalizers', undefined, 'merge', 'set', undefined],
    ['io.k8s.api.apps.v1.DeploymentStatus', 'conditions', 'type', 'merge', 'map', ['type']],
    ['io.k8s.api.batch.v1.JobStatus', 'conditions', 'type', 'merge', 'atomic', undefined],
  ])('%s.%s: merge key %s, strategy %s, list type %s %j', (def, path, key, strategy, listType, mapKeys) => {
    const node = prop(def, path);
    expect(node['x-kubernetes-patch-merge-key']).toBe(key);
    expect(node['x-kubernetes-patch-strategy']).toBe(strategy);
    expect(node['x-kubernetes-list-type']).toBe(listType);
    expect(node['x-kubernetes-list-map-keys']).toEqual(mapKeys);
  });

  it('mark atomic structs and maps as Kubernetes does', () => {
    expect(DEFINITIONS['io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector']!['x-kubernetes-map-type']).toBe('atomic');
    expect(prop(`${CORE}.PodSpec`, 'nodeSelector')['x-kubernetes-map-type']).toBe('atomic');
    expect(DEFINITIONS[`${CORE}.ObjectReference`]!['x-kubernetes-map-type']).toBe('atomic');
  });

  it('carry the static defaults Kubernetes applies', () => {
    expect(prop(`${CORE}.PodSpec`, 'restartPolicy').default).toBe('Always');
    expect(prop(`${CORE}.PodSpec`, 'dnsPolicy').default).toBe('ClusterFirst');
    expect(prop(`${CORE}.PodSpec`, 'terminationGracePeriodSeconds').default).toBe(30);
    expect(prop(`${CORE}.PodSpec`, 'schedulerName').default).toBe('default-scheduler');
    expect(prop(`${CORE}.Container`, 'terminationMessagePath').default).toBe('/dev/termination-log');
    expect(prop(`${CORE}.Container`, 'terminationMessagePolicy').default).toBe('File');
    expect(prop(`${CORE}.ContainerPort`, 'protocol').default).toBe('TCP');
    expect(prop(`${CORE}.ServiceSpec`, 'type').default).toBe('ClusterIP');
    expect(prop(`${CORE}.ServiceSpec`, 'sessionAffinity').default).toBe('None');
    expect(prop('io.k8s.api.apps.v1.DeploymentSpec', 'replicas').default).toBe(1);
    expect(prop('io.k8s.api.apps.v1.DeploymentSpec', 'revisionHistoryLimit').default).toBe(10);
    expect(prop('io.k8s.api.apps.v1.DeploymentSpec', 'progressDeadlineSeconds').default).toBe(600);
    expect(prop('io.k8s.api.apps.v1.RollingUpdateDeployment', 'maxSurge').default).toBe('25%');
  });

  it('give every enum value the declared type', () => {
    for (const [name, node] of Object.entries(DEFINITIONS)) {
      const visit = (n: SchemaNode | undefined, path: string): void => {
        if (!n) return;
        if (n.enum) for (const v of n.enum) expect(typeof v, `${name}${path}`).toBe('string');
        if (n.default !== undefined && n.enum && n.default !== '') expect(n.enum, `${name}${path}`).toContain(n.default);
        for (const [k, p] of Object.entries(n.properties ?? {})) visit(p, `${path}.${k}`);
        visit(n.items, `${path}[]`);
      };
      visit(node, '');
    }
  });
});
