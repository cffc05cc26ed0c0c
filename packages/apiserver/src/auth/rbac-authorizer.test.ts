import type { KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import type { UserInfo } from './authenticator.js';
import { forbidden, GroupAuthorizer, UnionAuthorizer, type AuthorizationAttributes } from './authorizer.js';
import { podReferenceGraph } from './node-authorizer.js';
import { RbacAuthorizer, type RbacPlural, type RbacSource } from './rbac-authorizer.js';
import type { PolicyRule } from './rbac-rules.js';

/** An in-memory policy that reports changes as the registry's watches do. */
class FakeSource implements RbacSource {
  objects: Record<RbacPlural, KubeObject[]> = { roles: [], clusterroles: [], rolebindings: [], clusterrolebindings: [] };
  lists = 0;
  private listener: { changed(): void; ended(): void } | undefined;
  list(plural: RbacPlural): KubeObject[] {
    this.lists++;
    return this.objects[plural];
  }
  subscribe(listener: { changed(): void; ended(): void }): void {
    this.listener = listener;
  }
  add(plural: RbacPlural, obj: KubeObject): void {
    this.objects[plural].push(obj);
    this.listener?.changed();
  }
  remove(plural: RbacPlural, name: string): void {
    this.objects[plural] = this.objects[plural].filter((o) => o.metadata.name !== name);
    this.listener?.changed();
  }
}

const role = (namespace: string, name: string, rules: PolicyRule[]): KubeObject => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { namespace, name }, rules });
const clusterRole = (name: string, rules: PolicyRule[]): KubeObject => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules });
type Subj = { kind: string; name: string; namespace?: string };
const binding = (namespace: string, name: string, roleRef: { kind: string; name: string }, subjects: Subj[]): KubeObject => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { namespace, name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects,
});
const clusterBinding = (name: string, roleRef: string, subjects: Subj[]): KubeObject => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleRef },
  subjects,
});

const JANE: UserInfo = { name: 'jane', groups: ['system:authenticated'] };
const DEV: UserInfo = { name: 'bob', groups: ['developers', 'system:authenticated'] };
const SA: UserInfo = { name: 'system:serviceaccount:team:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated'] };
const OTHER_SA: UserInfo = { name: 'system:serviceaccount:other:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:other', 'system:authenticated'] };
const NOBODY: UserInfo = { name: 'nobody', groups: ['system:authenticated'] };

/** `verb group/resource[/sub] [ns/]name` or `verb path:/x`. */
function req(user: UserInfo, line: string): AuthorizationAttributes {
  const [verb, target, where = ''] = line.split(' ') as [string, string, string?];
  if (target.startsWith('path:')) return { user, verb, path: target.slice(5) };
  const [group, resource, subresource = ''] = target.split('/') as [string, string, string?];
  const [namespace, name] = where.includes('/') ? (where.split('/') as [string, string]) : ['', where];
  return { user, verb, path: '/x', resource: { group, version: 'v1', resource, subresource, namespace, name } };
}

function policy(): FakeSource {
  const s = new FakeSource();
  s.objects.roles = [
    role('team', 'pod-reader', [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'] }]),
    role('team', 'cm-one', [{ verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] }]),
    role('other', 'pod-reader', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]),
  ];
  s.objects.clusterroles = [
    clusterRole('deploy-viewer', [{ verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['deployments', '*/scale'] }]),
    clusterRole('metrics', [{ verbs: ['get'], nonResourceURLs: ['/metrics', '/debug/*'] }]),
    clusterRole('secret-admin', [{ verbs: ['*'], apiGroups: [''], resources: ['secrets'] }]),
  ];
  s.objects.rolebindings = [
    binding('team', 'jane-reads-pods', { kind: 'Role', name: 'pod-reader' }, [{ kind: 'User', name: 'jane' }]),
    binding('team', 'jane-one-cm', { kind: 'Role', name: 'cm-one' }, [{ kind: 'User', name: 'jane' }]),
    // A RoleBinding to a ClusterRole grants it in the binding's namespace only.
    binding('team', 'devs-secrets', { kind: 'ClusterRole', name: 'secret-admin' }, [{ kind: 'Group', name: 'developers' }]),
    // ServiceAccount without a namespace: the binding's.
    binding('team', 'builder-deploys', { kind: 'ClusterRole', name: 'deploy-viewer' }, [{ kind: 'ServiceAccount', name: 'builder' }]),
  ];
  s.objects.clusterrolebindings = [
    clusterBinding('jane-deploys', 'deploy-viewer', [{ kind: 'User', name: 'jane' }]),
    clusterBinding('metrics', 'metrics', [{ kind: 'Group', name: 'developers' }, { kind: 'ServiceAccount', name: 'builder', namespace: 'team' }]),
    // A ClusterRoleBinding's ServiceAccount subject without a namespace matches nobody.
    clusterBinding('sa-no-ns', 'secret-admin', [{ kind: 'ServiceAccount', name: 'builder' }]),
    // User subjects never match by group name, nor groups by user name.
    clusterBinding('kinds', 'secret-admin', [{ kind: 'User', name: 'developers' }, { kind: 'Group', name: 'jane' }, { kind: 'Robot', name: 'nobody' }]),
  ];
  return s;
}

describe('RbacAuthorizer', () => {
  const authorizer = new RbacAuthorizer(policy());
  const cases: [UserInfo, string, boolean][] = [
    // RoleBinding -> Role, namespace-scoped.
    [JANE, 'get /pods team/web', true],
    [JANE, 'list /pods team/', true],
    [JANE, 'get /pods/log team/web', true],
    [JANE, 'delete /pods team/web', false],
    [JANE, 'get /pods default/web', false],
    [JANE, 'list /pods', false], // across namespaces: only cluster bindings count
    [JANE, 'get /pods other/web', false], // the same role name in another namespace is not bound
    // resourceNames
    [JANE, 'get /configmaps team/settings', true],
    [JANE, 'update /configmaps team/settings', true],
    [JANE, 'get /configmaps team/other', false],
    [JANE, 'list /configmaps team/', false],
    [JANE, 'create /configmaps team/', false],
    // ClusterRoleBinding -> ClusterRole, every namespace and cluster-wide, with */scale.
    [JANE, 'list apps/deployments', true],
    [JANE, 'watch apps/deployments default/', true],
    [JANE, 'get apps/deployments/scale team/d', true],
    [JANE, 'get apps/replicasets/scale team/r', true],
    [JANE, 'update apps/deployments/scale team/d', false],
    [JANE, 'get apps/deployments/status team/d', false],
    // Group subjects; RoleBinding -> ClusterRole stays in its namespace.
    [DEV, 'delete /secrets team/s', true],
    [DEV, 'get /secrets default/s', false],
    [DEV, 'list /secrets', false],
    // nonResourceURLs through a group.
    [DEV, 'get path:/metrics', true],
    [DEV, 'get path:/debug/pprof', true],
    [DEV, 'get path:/debug', false],
    [DEV, 'post path:/metrics', false],
    // ServiceAccount subjects.
    [SA, 'get apps/deployments team/d', true],
    [SA, 'get apps/deployments default/d', false],
    [SA, 'get path:/metrics', true],
    [SA, 'get /secrets team/s', false],
    [OTHER_SA, 'get apps/deployments team/d', false],
    [OTHER_SA, 'get path:/metrics', false],
    // Nothing bound.
    [NOBODY, 'get /pods team/web', false],
    [NOBODY, 'get /secrets team/s', false],
    [JANE, 'get /secrets default/s', false], // Group "jane" is not the user jane
    [{ name: 'developers', groups: ['system:authenticated'] }, 'get /secrets default/s', true], // but User "developers" is
  ];
  it.each(cases)('%j %s -> %s', (user, line, expected) => {
    expect(authorizer.authorize(req(user, line)).allowed).toBe(expected);
  });

  it('honours a binding created or deleted since the last decision', () => {
    const s = policy();
    const a = new RbacAuthorizer(s);
    expect(a.authorize(req(NOBODY, 'get /secrets default/x')).allowed).toBe(false);
    s.add('clusterrolebindings', clusterBinding('nobody-secrets', 'secret-admin', [{ kind: 'User', name: 'nobody' }]));
    expect(a.authorize(req(NOBODY, 'get /secrets default/x')).allowed).toBe(true);
    s.remove('clusterrolebindings', 'nobody-secrets');
    expect(a.authorize(req(NOBODY, 'get /secrets default/x')).allowed).toBe(false);
    // A role edited changes what its bindings grant.
    s.remove('roles', 'pod-reader');
    expect(a.authorize(req(JANE, 'get /pods team/web')).allowed).toBe(false);
  });

  it('reads the policy once until it changes', () => {
    const s = policy();
    const a = new RbacAuthorizer(s);
    for (let i = 0; i < 10; i++) a.authorize(req(JANE, 'get /pods team/web'));
    expect(s.lists).toBe(4);
    s.add('roles', role('x', 'y', []));
    a.authorize(req(JANE, 'get /pods team/web'));
    expect(s.lists).toBe(8);
  });

  it('denies with the RBAC reason when a bound role does not exist, as Kubernetes', () => {
    const s = policy();
    s.objects.rolebindings.push(binding('team', 'dangling', { kind: 'Role', name: 'gone' }, [{ kind: 'User', name: 'nobody' }]));
    s.objects.clusterrolebindings.push(clusterBinding('dangling', 'gone-too', [{ kind: 'User', name: 'nobody' }]));
    const a = new RbacAuthorizer(s);
    const attrs = req(NOBODY, 'get /pods team/web');
    const d = a.authorize(attrs);
    expect(d).toEqual({ allowed: false, reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone-too" not found, role.rbac.authorization.k8s.io "gone" not found]' });
    expect(forbidden(attrs, d.allowed ? undefined : d.reason).message).toBe(
      'pods "web" is forbidden: User "nobody" cannot get resource "pods" in API group "" in the namespace "team": RBAC: [clusterrole.rbac.authorization.k8s.io "gone-too" not found, role.rbac.authorization.k8s.io "gone" not found]',
    );
    // Plain denials carry no reason.
    expect(authorizer.authorize(req(NOBODY, 'get /pods team/web'))).toEqual({ allowed: false });
  });

  it('lists the rules that apply in a namespace (SelfSubjectRulesReview)', () => {
    expect(authorizer.rulesFor(JANE, 'team')).toEqual({
      resourceRules: [
        { verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['deployments', '*/scale'] },
        { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'] },
        { verbs: ['get', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['settings'] },
      ],
      nonResourceRules: [],
      incomplete: false,
    });
    expect(authorizer.rulesFor(JANE, 'default').resourceRules).toEqual([{ verbs: ['get', 'list', 'watch'], apiGroups: ['apps'], resources: ['deployments', '*/scale'] }]);
    expect(authorizer.rulesFor(DEV, '').nonResourceRules).toEqual([{ verbs: ['get'], nonResourceURLs: ['/metrics', '/debug/*'] }]);
  });

  it('decides in microseconds with 200 bindings', () => {
    const s = new FakeSource();
    for (let i = 0; i < 50; i++) s.objects.clusterroles.push(clusterRole(`cr${i}`, [{ verbs: ['get', 'list'], apiGroups: ['', 'apps'], resources: [`things${i}`, 'pods'], resourceNames: [`n${i}`] }]));
    for (let i = 0; i < 100; i++) s.objects.clusterrolebindings.push(clusterBinding(`crb${i}`, `cr${i % 50}`, [{ kind: 'User', name: `user${i}` }, { kind: 'Group', name: `group${i % 10}` }]));
    for (let i = 0; i < 100; i++) s.objects.rolebindings.push(binding(`ns${i % 10}`, `rb${i}`, { kind: 'ClusterRole', name: `cr${i % 50}` }, [{ kind: 'Group', name: 'system:authenticated' }, { kind: 'ServiceAccount', name: `sa${i}` }]));
    const a = new RbacAuthorizer(s);
    const user: UserInfo = { name: 'user7', groups: ['group7', 'system:authenticated'] };
    const attrs = req(user, 'delete /pods ns3/p');
    a.authorize(attrs);
    const n = 20_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) a.authorize(attrs);
    const perDecisionUs = Number(process.hrtime.bigint() - t0) / n / 1000;
    const r0 = process.hrtime.bigint();
    s.add('roles', role('x', 'y', []));
    a.authorize(attrs);
    const rebuildMs = Number(process.hrtime.bigint() - r0) / 1e6;
    console.info(`RBAC decision with 200 bindings (denied, every binding of the user evaluated): ${perDecisionUs.toFixed(2)} µs; index rebuild: ${rebuildMs.toFixed(2)} ms`);
    expect(perDecisionUs).toBeLessThan(100);
  });
});

describe('UnionAuthorizer (Node,RBAC)', () => {
  const graph = podReferenceGraph({ getPod: () => undefined, podsOnNode: () => [], getPersistentVolume: () => undefined });
  const union = new UnionAuthorizer([new GroupAuthorizer(graph), new RbacAuthorizer(policy())]);

  it('allows what either allows', () => {
    expect(union.authorize(req(JANE, 'get /pods team/web')).allowed).toBe(true); // RBAC
    expect(union.authorize(req(JANE, 'get path:/version')).allowed).toBe(true); // fixed policy
    expect(union.authorize(req({ name: 'admin', groups: ['system:masters'] }, 'delete /nodes n1')).allowed).toBe(true);
    expect(union.authorize(req(JANE, 'delete /nodes n1'))).toEqual({ allowed: false });
  });

  it('lists both parts of the rules, each rule once', () => {
    const r = union.rulesFor(JANE, 'team');
    expect(r.resourceRules).toContainEqual({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] });
    expect(r.resourceRules).toContainEqual({ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'] });
    expect(r.incomplete).toBe(false);
    const twice = new UnionAuthorizer([new RbacAuthorizer(policy()), new RbacAuthorizer(policy())]).rulesFor(JANE, 'team');
    expect(twice.resourceRules).toHaveLength(3);
  });

  it('lists an entry both parts grant once (kubectl auth can-i --list prints a row per URL or resource)', () => {
    const a = { authorize: () => ({ allowed: false as const }), rulesFor: () => ({ resourceRules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods', 'secrets'] }], nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/version'] }], incomplete: false }) };
    const b = { authorize: () => ({ allowed: false as const }), rulesFor: () => ({ resourceRules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods', 'nodes'] }, { verbs: ['list'], apiGroups: [''], resources: ['pods'] }], nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/version', '/healthz'] }, { verbs: ['get'], nonResourceURLs: ['/api'] }], incomplete: false }) };
    const r = new UnionAuthorizer([a, b]).rulesFor(JANE, 'team');
    expect(r.resourceRules).toEqual([
      { verbs: ['get'], apiGroups: [''], resources: ['pods', 'secrets'] },
      { verbs: ['get'], apiGroups: [''], resources: ['nodes'] },
      { verbs: ['list'], apiGroups: [''], resources: ['pods'] },
    ]);
    expect(r.nonResourceRules).toEqual([
      { verbs: ['get'], nonResourceURLs: ['/api', '/version'] },
      { verbs: ['get'], nonResourceURLs: ['/healthz'] },
    ]);
  });
});
