import type { AggregationRule, PolicyRule } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { aggregateRules, AGGREGATION_FIELD_MANAGER, ClusterRoleAggregationController, isSameRules, type ClusterRoleView } from './cluster-role-aggregation-controller.js';

const CLUSTERROLES = res('clusterroles.rbac.authorization.k8s.io');

function role(name: string, rules: PolicyRule[], labels?: Record<string, string>, aggregationRule?: AggregationRule): ClusterRoleView {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, ...(labels ? { labels } : {}) }, rules, ...(aggregationRule ? { aggregationRule } : {}) };
}

const GET_PODS: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
const LIST_PODS: PolicyRule = { verbs: ['list'], apiGroups: [''], resources: ['pods'] };
const WATCH_DEPLOYS: PolicyRule = { verbs: ['watch'], apiGroups: ['apps'], resources: ['deployments'] };
const HEALTHZ: PolicyRule = { verbs: ['get'], nonResourceURLs: ['/healthz'] };

const TO_TEAM = { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-team': 'true' } }] };

describe('aggregateRules', () => {
  it('unites the selected roles\' rules by selector, then role name, then rule order, without duplicates or the role itself', () => {
    const team = role('team', [HEALTHZ], { 'example.com/aggregate-to-team': 'true' }, {
      clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-team': 'true' } }, { matchExpressions: [{ key: 'tier', operator: 'In', values: ['extra'] }] }],
    });
    const roles = [
      team,
      role('zeta', [WATCH_DEPLOYS, GET_PODS], { 'example.com/aggregate-to-team': 'true' }),
      role('alpha', [GET_PODS, { ...LIST_PODS, resourceNames: [] }], { 'example.com/aggregate-to-team': 'true' }),
      role('extra', [HEALTHZ, GET_PODS], { tier: 'extra' }),
      role('other', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], { 'example.com/aggregate-to-team': 'false' }),
    ];
    expect(aggregateRules(team, roles)).toEqual([GET_PODS, LIST_PODS, WATCH_DEPLOYS, HEALTHZ]);
  });

  it('selects nothing without selectors, and everything with an empty selector', () => {
    const none = role('none', [], undefined, { clusterRoleSelectors: [] });
    const all = role('all', [], undefined, { clusterRoleSelectors: [{}] });
    const roles = [none, all, role('b', [LIST_PODS]), role('a', [GET_PODS])];
    expect(aggregateRules(none, roles)).toEqual([]);
    expect(aggregateRules(all, roles)).toEqual([GET_PODS, LIST_PODS]);
  });

  it('treats absent and empty lists alike but keeps rule order significant', () => {
    expect(isSameRules([{ verbs: ['get'], resources: ['pods'], resourceNames: [] }], [{ resources: ['pods'], verbs: ['get'] }])).toBe(true);
    expect(isSameRules([], undefined)).toBe(true);
    expect(isSameRules([GET_PODS, LIST_PODS], [LIST_PODS, GET_PODS])).toBe(false);
  });
});

describe('ClusterRoleAggregationController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(roles: ClusterRoleView[]): Promise<ClusterRoleAggregationController> {
    t = testContext([{ resource: CLUSTERROLES, objects: roles }]);
    const c = new ClusterRoleAggregationController(t.ctx);
    await t.start();
    return c;
  }

  async function drain(c: ClusterRoleAggregationController): Promise<string[]> {
    const keys = await drainQueue(c);
    await t.settle();
    return keys.sort();
  }

  const rulesOf = (name: string) => t.client.peek<ClusterRoleView>(CLUSTERROLES, '', name)?.rules;

  it('applies the union of the selected roles\' rules as the aggregation field manager, forced', async () => {
    const c = await setup([role('team', [], undefined, TO_TEAM), role('pods', [GET_PODS, LIST_PODS], { 'example.com/aggregate-to-team': 'true' }), role('plain', [WATCH_DEPLOYS])]);
    const patch = vi.spyOn(t.client, 'patch');
    expect(await drain(c)).toEqual(['team']);
    expect(patch).toHaveBeenCalledTimes(1);
    expect(patch.mock.calls[0]!.slice(1)).toEqual([
      '',
      'team',
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'team' }, rules: [GET_PODS, LIST_PODS] },
      'apply',
      { fieldManager: AGGREGATION_FIELD_MANAGER, force: true },
    ]);
    expect(rulesOf('team')).toEqual([GET_PODS, LIST_PODS]);
    expect(rulesOf('pods')).toEqual([GET_PODS, LIST_PODS]);
    expect(t.client.writes().map((w) => w.name)).toEqual(['team']);
  });

  it('writes nothing when the rules already are the union', async () => {
    const c = await setup([role('team', [GET_PODS], undefined, TO_TEAM), role('pods', [GET_PODS], { 'example.com/aggregate-to-team': 'true' })]);
    expect(await drain(c)).toEqual(['team']);
    expect(t.client.writes()).toEqual([]);
  });

  it('follows label changes: a role labelled later adds its rules, removing the label drops them', async () => {
    const c = await setup([role('team', [], undefined, TO_TEAM), role('pods', [GET_PODS], { 'example.com/aggregate-to-team': 'true' }), role('deploys', [WATCH_DEPLOYS])]);
    await drain(c);
    expect(rulesOf('team')).toEqual([GET_PODS]);

    const deploys = t.client.peek<ClusterRoleView>(CLUSTERROLES, '', 'deploys')!;
    await t.client.update(CLUSTERROLES, { ...deploys, metadata: { ...deploys.metadata, labels: { 'example.com/aggregate-to-team': 'true' } } });
    await t.settle();
    expect(await drain(c)).toEqual(['team']);
    expect(rulesOf('team')).toEqual([WATCH_DEPLOYS, GET_PODS]);

    const pods = t.client.peek<ClusterRoleView>(CLUSTERROLES, '', 'pods')!;
    await t.client.update(CLUSTERROLES, { ...pods, metadata: { ...pods.metadata, labels: {} } });
    await t.settle();
    await drain(c);
    expect(rulesOf('team')).toEqual([WATCH_DEPLOYS]);

    await t.client.delete(CLUSTERROLES, '', 'deploys');
    await t.settle();
    await drain(c);
    expect(rulesOf('team')).toEqual([]);
  });

  it('leaves roles without an aggregation rule alone', async () => {
    const c = await setup([role('plain', [GET_PODS], { 'example.com/aggregate-to-team': 'true' })]);
    expect(c.queue.len()).toBe(0);
    await c.sync('plain');
    await c.sync('missing');
    expect(t.client.writes()).toEqual([]);
  });
});
