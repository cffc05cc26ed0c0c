import type { KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import type { UserInfo } from './authenticator.js';
import { forbidden, GroupAuthorizer, type AuthorizationAttributes } from './authorizer.js';
import { podReferenceGraph, podReferences } from './node-authorizer.js';

const ADMIN: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const BOOT: UserInfo = { name: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
const NODE: UserInfo = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const SOMEONE: UserInfo = { name: 'someone', groups: ['system:authenticated'] };

const pods: KubeObject[] = [
  {
    metadata: { name: 'web', namespace: 'app' },
    spec: {
      nodeName: 'n1',
      volumes: [{ name: 'v', secret: { secretName: 'vol-secret' } }, { name: 'p', projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }] } }, { name: 'c', configMap: { name: 'vol-cm' } }],
      containers: [{ name: 'm', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }], envFrom: [{ configMapRef: { name: 'envfrom-cm' } }] }],
      initContainers: [{ name: 'i', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
      imagePullSecrets: [{ name: 'pull' }],
    },
  },
  { metadata: { name: 'other', namespace: 'app' }, spec: { nodeName: 'n2', volumes: [{ name: 'v', secret: { secretName: 'n2-secret' } }], containers: [] } },
];
const pvs: KubeObject[] = [
  { metadata: { name: 'pv-n1', labels: { 'flotilla.io/local-path-node': 'n1' } } },
  { metadata: { name: 'pv-n2', labels: { 'flotilla.io/local-path-node': 'n2' } } },
];
const graph = podReferenceGraph({
  getPod: (ns, name) => pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name),
  podsOnNode: (node, ns) => pods.filter((p) => p.metadata.namespace === ns && (p['spec'] as { nodeName?: string }).nodeName === node),
  getPersistentVolume: (name) => pvs.find((p) => p.metadata.name === name),
});
const authorizer = new GroupAuthorizer(graph);

/** `verb group/resource[/sub] [ns/]name`, e.g. `get /secrets app/vol-secret`, `list apps/deployments`. */
function req(user: UserInfo, line: string, extra: Partial<AuthorizationAttributes> & { body?: KubeObject } = {}): AuthorizationAttributes {
  const [verb, gr, target = ''] = line.split(' ') as [string, string, string?];
  if (gr.startsWith('path:')) return { user, verb, path: gr.slice(5) };
  const [group, resource, subresource = ''] = gr.split('/') as [string, string, string?];
  const [namespace, name] = target.includes('/') ? (target.split('/') as [string, string]) : ['', target];
  const { body, ...rest } = extra;
  return { user, verb, path: '/x', resource: { group, version: 'v1', resource, subresource, namespace, name }, ...(body ? { object: () => body } : {}), ...rest };
}

const allowed = (a: AuthorizationAttributes) => authorizer.authorize(a).allowed;

describe('GroupAuthorizer', () => {
  it('lets system:masters do anything', () => {
    for (const l of ['list /secrets', 'create apps/deployments default/', 'delete /nodes n9', 'get path:/metrics']) expect(allowed(req(ADMIN, l)), l).toBe(true);
  });

  it('gives every authenticated user discovery only', () => {
    for (const p of ['/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/version', '/cacerts', '/openapi/v3', '/openapi/v3/api/v1', '/healthz']) expect(allowed(req(SOMEONE, `get path:${p}`)), p).toBe(true);
    for (const l of ['get path:/metrics', 'post path:/api', 'list /pods', 'get /namespaces default']) expect(allowed(req(SOMEONE, l)), l).toBe(false);
  });

  it('lets bootstrap tokens request node credentials and nothing else', () => {
    expect(allowed(req(BOOT, 'create flotilla.io/nodecredentials'))).toBe(true);
    expect(allowed(req(BOOT, 'get path:/cacerts'))).toBe(true);
    for (const l of ['list /secrets', 'get /nodes n1', 'create /nodes', 'list flotilla.io/nodecredentials', 'get path:/metrics']) expect(allowed(req(BOOT, l)), l).toBe(false);
  });

  it('never lets a node request more credentials', () => {
    expect(allowed(req(NODE, 'create flotilla.io/nodecredentials'))).toBe(false);
  });

  // One row per agent call: [line, allowed, extra attributes].
  const nodeTable: [string, boolean, (Partial<AuthorizationAttributes> & { body?: KubeObject })?][] = [
    // informers and reads
    ['list /pods', true],
    ['watch /pods', true],
    ['get /pods app/other', true],
    ['list /services', true],
    ['watch /endpoints', true],
    ['list discovery.k8s.io/endpointslices', true],
    ['watch /nodes', true],
    ['get /nodes n1', true],
    ['get /nodes n2', true],
    ['list /persistentvolumeclaims', true],
    ['get /persistentvolumes pv-n2', true],
    ['list storage.k8s.io/storageclasses', true],
    ['list networking.k8s.io/ingresses', true],
    ['watch networking.k8s.io/ingressclasses', true],
    // secrets and configmaps: only those its pods reference
    ['get /secrets app/vol-secret', true],
    ['get /secrets app/proj-secret', true],
    ['get /secrets app/env-secret', true],
    ['get /secrets app/init-secret', true],
    ['get /secrets app/pull', true],
    ['get /configmaps app/vol-cm', true],
    ['get /configmaps app/proj-cm', true],
    ['get /configmaps app/envfrom-cm', true],
    ['get /secrets app/n2-secret', false],
    ['get /secrets other/vol-secret', false],
    ['get /configmaps app/vol-secret', false],
    ['list /secrets', false],
    ['watch /secrets', false],
    ['list /secrets', true, { fieldSelector: 'type=kubernetes.io/tls' }],
    ['watch /secrets', true, { fieldSelector: 'type=kubernetes.io/tls' }],
    ['list /secrets', false, { fieldSelector: 'type=Opaque' }],
    ['list /configmaps', false],
    ['create /secrets app/', false],
    // its own Node and Lease
    ['create /nodes', true, { body: { metadata: { name: 'n1' } } }],
    ['create /nodes', false, { body: { metadata: { name: 'n2' } } }],
    ['create /nodes', false],
    ['patch /nodes n1', true],
    ['update /nodes n1', true],
    ['patch /nodes n2', false],
    ['patch /nodes/status n1', true],
    ['update /nodes/status n2', false],
    ['delete /nodes n1', false],
    ['get coordination.k8s.io/leases kube-node-lease/n1', true],
    ['create coordination.k8s.io/leases kube-node-lease/', true, { body: { metadata: { name: 'n1' } } }],
    ['update coordination.k8s.io/leases kube-node-lease/n1', true],
    ['update coordination.k8s.io/leases kube-node-lease/n2', false],
    ['update coordination.k8s.io/leases kube-system/n1', false],
    ['get coordination.k8s.io/leases kube-system/kube-scheduler', false],
    // pods bound to it
    ['patch /pods/status app/web', true],
    ['update /pods/status app/web', true],
    ['patch /pods/status app/other', false],
    ['delete /pods app/web', true],
    ['delete /pods app/other', false],
    ['delete /pods app/missing', false],
    ['patch /pods app/web', false],
    ['create /pods app/', false],
    ['deletecollection /pods app/', false],
    ['create /pods/binding app/web', false],
    ['create /pods/eviction app/web', false],
    // events
    ['create /events app/', true],
    ['patch /events app/web.123', true],
    ['delete /events app/web.123', false],
    // local-path provisioner, service and ingress status
    ['create /persistentvolumes', true, { body: { metadata: { name: 'pvc-1', labels: { 'flotilla.io/local-path-node': 'n1' } } } }],
    ['create /persistentvolumes', false, { body: { metadata: { name: 'pvc-1', labels: { 'flotilla.io/local-path-node': 'n2' } } } }],
    ['patch /persistentvolumes/status pv-n1', true],
    ['patch /persistentvolumes/status pv-n2', false],
    ['delete /persistentvolumes pv-n1', true],
    ['delete /persistentvolumes pv-n2', false],
    ['update /persistentvolumes pv-n1', false],
    ['patch /persistentvolumeclaims app/data', true],
    ['patch /persistentvolumeclaims/status app/data', true],
    ['delete /persistentvolumeclaims app/data', false],
    ['update /services/status app/web', true],
    ['update /services app/web', false],
    ['update networking.k8s.io/ingresses/status app/web', true],
    ['update networking.k8s.io/ingresses app/web', false],
    ['create storage.k8s.io/storageclasses', true],
    ['delete storage.k8s.io/storageclasses local-path', false],
    ['create networking.k8s.io/ingressclasses', true],
    ['patch networking.k8s.io/ingressclasses flotilla', false],
    // nothing else
    ['create apps/deployments default/', false],
    ['list apps/deployments', false],
    ['create /namespaces', false],
    ['list rbac.authorization.k8s.io/clusterroles', false],
    ['connect /pods/exec app/web', false],
    ['get /pods/log app/web', false],
    ['get path:/metrics', false],
  ];
  it.each(nodeTable)('node n1: %s → %s', (line, want, extra) => {
    expect(allowed(req(NODE, line, extra))).toBe(want);
  });

  it('refuses a system:nodes member whose name is not system:node:<name>', () => {
    expect(allowed(req({ name: 'mallory', groups: ['system:nodes'] }, 'list /pods'))).toBe(false);
    expect(allowed(req({ name: 'system:node:', groups: ['system:nodes'] }, 'list /pods'))).toBe(false);
  });
});

describe('podReferences', () => {
  it('collects secrets and configmaps like the node graph', () => {
    expect([...podReferences(pods[0]!, 'secrets')].sort()).toEqual(['env-secret', 'init-secret', 'proj-secret', 'pull', 'vol-secret']);
    expect([...podReferences(pods[0]!, 'configmaps')].sort()).toEqual(['envfrom-cm', 'proj-cm', 'vol-cm']);
  });
});

describe('forbidden', () => {
  it("words the Status like Kubernetes'", () => {
    const list = forbidden(req(NODE, 'list /secrets')).toStatus();
    expect(list).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message: 'secrets is forbidden: User "system:node:n1" cannot list resource "secrets" in API group "" at the cluster scope',
      details: { group: '', kind: 'secrets' },
    });
    expect(forbidden(req(NODE, 'create apps/deployments default/')).message).toBe(
      'deployments.apps is forbidden: User "system:node:n1" cannot create resource "deployments" in API group "apps" in the namespace "default"',
    );
    const named = authorizer.authorize(req(NODE, 'get /secrets app/n2-secret'));
    expect(named.allowed).toBe(false);
    expect(forbidden(req(NODE, 'get /secrets app/n2-secret'), named.allowed ? undefined : named.reason).message).toBe(
      `secrets "n2-secret" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "app": no relationship found between node 'n1' and this object`,
    );
    expect(forbidden(req(NODE, 'patch /nodes/status n2')).toStatus().details).toEqual({ name: 'n2', group: '', kind: 'nodes' });
    expect(forbidden(req(SOMEONE, 'get path:/metrics')).message).toBe('forbidden: User "someone" cannot get path "/metrics"');
  });
});
