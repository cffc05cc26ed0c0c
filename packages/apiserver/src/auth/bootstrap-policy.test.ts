import type { KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_CLUSTER_ROLE_BINDINGS, BOOTSTRAP_CLUSTER_ROLES, clusterRoleBindingObject, clusterRoleObject, reconcileBinding, reconcileRole } from './bootstrap-policy.js';

const byName = <T extends { name: string }>(list: readonly T[], name: string): T => list.find((x) => x.name === name)!;
const role = (name: string) => clusterRoleObject(byName(BOOTSTRAP_CLUSTER_ROLES, name));
const binding = (name: string) => clusterRoleBindingObject(byName(BOOTSTRAP_CLUSTER_ROLE_BINDINGS, name));

describe('bootstrap policy', () => {
  it('has Kubernetes bootstrap roles, labels and annotations', () => {
    expect(role('cluster-admin')).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' }, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' } },
      rules: [
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
        { verbs: ['*'], nonResourceURLs: ['*'] },
      ],
    });
    // Aggregated roles: a selector and no rules (the aggregation controller fills them).
    expect(role('edit')).toMatchObject({
      metadata: { labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' } }] },
    });
    expect(role('edit')['rules']).toBeUndefined();
    expect(role('system:aggregate-to-view').metadata.labels).toEqual({ 'kubernetes.io/bootstrapping': 'rbac-defaults', 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
    expect(binding('system:public-info-viewer')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:public-info-viewer' },
      subjects: [
        { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' },
        { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:unauthenticated' },
      ],
    });
    expect(BOOTSTRAP_CLUSTER_ROLES.map((r) => r.name).sort()).toEqual(
      ['admin', 'cluster-admin', 'edit', 'system:aggregate-to-admin', 'system:aggregate-to-edit', 'system:aggregate-to-view', 'system:basic-user', 'system:discovery', 'system:public-info-viewer', 'system:service-account-issuer-discovery', 'view'].sort(),
    );
  });

  it('leaves an object that has everything alone', () => {
    expect(reconcileRole(role('view'), role('view'))).toBeUndefined();
    expect(reconcileRole(role('system:discovery'), role('system:discovery'))).toBeUndefined();
    expect(reconcileBinding(binding('cluster-admin'), binding('cluster-admin'))).toBeUndefined();
  });

  it('adds missing rules, labels and annotations and keeps what the operator added', () => {
    const existing: KubeObject = {
      ...role('system:basic-user'),
      metadata: { name: 'system:basic-user', labels: { mine: 'yes', 'kubernetes.io/bootstrapping': 'changed' }, resourceVersion: '7' },
      rules: [
        { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'] },
        { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
      ],
    };
    const out = reconcileRole(existing, role('system:basic-user'))!;
    expect(out.metadata).toEqual({
      name: 'system:basic-user',
      labels: { mine: 'yes', 'kubernetes.io/bootstrapping': 'changed' },
      annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
      resourceVersion: '7',
    });
    expect(out['rules']).toEqual([
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'] },
      { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectrulesreviews'] },
      { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
    ]);
  });

  it('adds missing aggregation selectors and keeps extra ones', () => {
    const mine = { matchLabels: { 'example.com/aggregate-to-view': 'true' } };
    const existing: KubeObject = { ...role('view'), aggregationRule: { clusterRoleSelectors: [mine] }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }] };
    const out = reconcileRole(existing, role('view'))!;
    expect(out['aggregationRule']).toEqual({ clusterRoleSelectors: [mine, { matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }] });
    // Rules the aggregation controller filled in stay.
    expect(out['rules']).toEqual([{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]);
  });

  it('adds missing subjects and keeps added ones', () => {
    const existing: KubeObject = { ...binding('system:public-info-viewer'), subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'jane' }, { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' }] };
    const out = reconcileBinding(existing, binding('system:public-info-viewer'))!;
    expect(out.recreate).toBe(false);
    expect(out.object['subjects']).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'jane' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' },
      { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:unauthenticated' },
    ]);
  });

  it('recreates a binding whose roleRef changed', () => {
    const existing: KubeObject = { ...binding('cluster-admin'), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' } };
    const out = reconcileBinding(existing, binding('cluster-admin'))!;
    expect(out.recreate).toBe(true);
    expect(out.object['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });
  });

  it('does not touch objects annotated autoupdate "false"', () => {
    const annotations = { 'rbac.authorization.kubernetes.io/autoupdate': 'false' };
    expect(reconcileRole({ ...role('view'), metadata: { name: 'view', annotations }, aggregationRule: undefined }, role('view'))).toBeUndefined();
    expect(reconcileBinding({ ...binding('cluster-admin'), metadata: { name: 'cluster-admin', annotations }, subjects: [] }, binding('cluster-admin'))).toBeUndefined();
  });
});
