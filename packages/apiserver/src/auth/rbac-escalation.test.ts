import { ApiError, type KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { buildStrategies } from '../registry/strategies/index.js';
import type { RequestContext, Strategy } from '../registry/strategy.js';
import type { UserInfo } from './authenticator.js';
import { RbacAuthorizer, type RbacPlural, type RbacSource } from './rbac-authorizer.js';
import { EscalationCheck } from './rbac-escalation.js';
import type { PolicyRule } from './rbac-rules.js';

const G = 'rbac.authorization.k8s.io';
const objects: Record<RbacPlural, KubeObject[]> = {
  roles: [{ apiVersion: `${G}/v1`, kind: 'Role', metadata: { namespace: 'team', name: 'pod-reader' }, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] }],
  clusterroles: [
    { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'secret-reader' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['secrets'] }] },
    { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'escalator' }, rules: [{ verbs: ['escalate'], apiGroups: [G], resources: ['roles'] }] },
    { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'binder' }, rules: [{ verbs: ['bind'], apiGroups: [G], resources: ['clusterroles'], resourceNames: ['secret-reader'] }] },
  ],
  rolebindings: [
    { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace: 'team', name: 'jane' }, roleRef: { apiGroup: G, kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'User', name: 'jane' }, { kind: 'User', name: 'esc' }, { kind: 'User', name: 'binder' }] },
    { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace: 'team', name: 'esc' }, roleRef: { apiGroup: G, kind: 'ClusterRole', name: 'escalator' }, subjects: [{ kind: 'User', name: 'esc' }] },
    { apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace: 'team', name: 'binder' }, roleRef: { apiGroup: G, kind: 'ClusterRole', name: 'binder' }, subjects: [{ kind: 'User', name: 'binder' }] },
  ],
  clusterrolebindings: [],
};
const source: RbacSource = { list: (p) => objects[p], subscribe: () => {} };
const rbac = new RbacAuthorizer(source);
const check = new EscalationCheck();
check.attach(rbac, rbac);
const strategies = buildStrategies();
check.guard(strategies);
const strategy = (plural: RbacPlural): Strategy => strategies.get(`${G}/${plural}`)!;

const user = (name: string, groups = ['system:authenticated']): UserInfo => ({ name, groups });
const ctx = (u: UserInfo): RequestContext => ({ now: new Date(), user: u });
const role = (name: string, rules: PolicyRule[], namespace = 'team'): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'Role', metadata: { namespace, name }, rules });
const roleBinding = (name: string, kind: string, ref: string): KubeObject => ({ apiVersion: `${G}/v1`, kind: 'RoleBinding', metadata: { namespace: 'team', name }, roleRef: { apiGroup: G, kind, name: ref }, subjects: [{ kind: 'User', name: 'someone' }] });

function create(u: UserInfo, plural: RbacPlural, obj: KubeObject): ApiError | undefined {
  try {
    strategy(plural).validate(obj, ctx(u));
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

describe('RBAC escalation check', () => {
  it('lets a user create a role with permissions they hold', () => {
    expect(create(user('jane'), 'roles', role('r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]))).toBeUndefined();
  });

  it('refuses permissions the user does not hold, with Kubernetes message', () => {
    const err = create(user('jane'), 'roles', role('sneaky', [{ verbs: ['get', 'list', 'delete'], apiGroups: [''], resources: ['pods', 'secrets'] }]));
    expect(err?.code).toBe(403);
    expect(err?.reason).toBe('Forbidden');
    expect(err?.message).toBe(
      'roles.rbac.authorization.k8s.io "sneaky" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n' +
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]}',
    );
    // Held in team, not in another namespace.
    expect(create(user('jane'), 'roles', role('r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], 'default'))?.code).toBe(403);
    // Updates too.
    const old = role('r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]);
    expect(() => strategy('roles').validateUpdate(role('r', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]), old, ctx(user('jane')))).toThrow(/attempting to grant RBAC permissions not currently held/);
  });

  it('lets system:masters and holders of escalate write any role', () => {
    expect(create(user('admin', ['system:masters']), 'roles', role('any', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]))).toBeUndefined();
    expect(create(user('esc'), 'roles', role('any', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]))).toBeUndefined();
  });

  it('needs everything for an aggregationRule', () => {
    const agg: KubeObject = { apiVersion: `${G}/v1`, kind: 'ClusterRole', metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] } };
    expect(create(user('jane'), 'clusterroles', agg)?.message).toBe('clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule');
  });

  it('lets a user bind a role they hold or may bind, and nothing else', () => {
    expect(create(user('jane'), 'rolebindings', roleBinding('b', 'Role', 'pod-reader'))).toBeUndefined();
    const err = create(user('jane'), 'rolebindings', roleBinding('b', 'ClusterRole', 'secret-reader'));
    expect(err?.message).toBe(
      'rolebindings.rbac.authorization.k8s.io "b" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
    );
    expect(create(user('binder'), 'rolebindings', roleBinding('b', 'ClusterRole', 'secret-reader'))).toBeUndefined();
    expect(create(user('binder'), 'rolebindings', roleBinding('b', 'ClusterRole', 'escalator'))?.code).toBe(403);
    expect(create(user('jane'), 'rolebindings', roleBinding('b', 'Role', 'missing'))?.message).toBe('rolebindings.rbac.authorization.k8s.io "b" is forbidden: roles.rbac.authorization.k8s.io "missing" not found');
  });

  it('does not check updates of garbage-collection fields only', () => {
    const old = role('big', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]);
    const next: KubeObject = { ...old, metadata: { ...old.metadata, finalizers: ['x'], ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'u' }] } };
    expect(() => strategy('roles').validateUpdate(next, old, ctx(user('jane')))).not.toThrow();
    const relabelled: KubeObject = { ...old, metadata: { ...old.metadata, labels: { a: 'b' } } };
    expect(() => strategy('roles').validateUpdate(relabelled, old, ctx(user('jane')))).toThrow(/not currently held/);
  });
});
