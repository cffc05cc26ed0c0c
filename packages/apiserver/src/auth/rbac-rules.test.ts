import { describe, expect, it } from 'vitest';
import { compactRules, compactString, covers, ruleAllows, type PolicyRule, type RuleRequest } from './rbac-rules.js';

/** `verb group/resource[/sub] [name]` or `verb path:/x`. */
function req(line: string): RuleRequest {
  const [verb, target, name = ''] = line.split(' ') as [string, string, string?];
  if (target.startsWith('path:')) return { verb, path: target.slice(5) };
  const [group, resource, subresource = ''] = target.split('/') as [string, string, string?];
  return { verb, path: '/x', resource: { group, resource, subresource, name } };
}

const cases: { rule: PolicyRule; allows: string[]; denies: string[] }[] = [
  {
    rule: { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
    allows: ['get /pods web', 'list /pods'],
    denies: ['watch /pods', 'get apps/pods web', 'get /pods/log web', 'get /secrets web', 'get path:/pods'],
  },
  { rule: { verbs: ['*'], apiGroups: ['apps'], resources: ['deployments'] }, allows: ['delete apps/deployments d', 'escalate apps/deployments'], denies: ['get /deployments d'] },
  { rule: { verbs: ['get'], apiGroups: ['*'], resources: ['*'] }, allows: ['get /pods p', 'get apps/deployments/scale d', 'get x.io/anything'], denies: ['list /pods', 'get path:/api'] },
  { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, allows: ['get /pods/log p'], denies: ['get /pods p', 'get /pods/exec p'] },
  { rule: { verbs: ['update'], apiGroups: ['*'], resources: ['*/scale'] }, allows: ['update apps/deployments/scale d', 'update /replicationcontrollers/scale r'], denies: ['update apps/deployments d', 'update apps/deployments/status d'] },
  // `pods/*` is no pattern in Kubernetes: it only matches a subresource literally named `*`.
  { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods/*'] }, allows: [], denies: ['get /pods/log p', 'get /pods p'] },
  {
    rule: { verbs: ['get', 'list', 'watch', 'create', 'update', 'delete', 'deletecollection'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['app-config'] },
    allows: ['get /configmaps app-config', 'update /configmaps app-config', 'delete /configmaps app-config', 'watch /configmaps app-config'],
    // A request without a name (list, watch, create, deletecollection) never matches a rule with names.
    denies: ['get /configmaps other', 'list /configmaps', 'watch /configmaps', 'create /configmaps', 'deletecollection /configmaps'],
  },
  { rule: { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] }, allows: ['get path:/healthz', 'get path:/apis/', 'get path:/apis/apps/v1'], denies: ['get path:/healthz/ping', 'get path:/apis', 'post path:/healthz', 'get /healthz'] },
  { rule: { verbs: ['*'], nonResourceURLs: ['*'] }, allows: ['get path:/metrics', 'post path:/anything'], denies: ['get /pods p'] },
  { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'], nonResourceURLs: ['/x'] }, allows: ['get /pods p', 'get path:/x'], denies: [] },
  { rule: { verbs: [], apiGroups: ['*'], resources: ['*'] }, allows: [], denies: ['get /pods p'] },
  { rule: { verbs: ['get'], apiGroups: [''], resources: ['*/'] }, allows: [], denies: ['get /pods p'] },
];

describe('ruleAllows', () => {
  for (const c of cases) {
    it(JSON.stringify(c.rule), () => {
      for (const l of c.allows) expect(ruleAllows(req(l), c.rule), l).toBe(true);
      for (const l of c.denies) expect(ruleAllows(req(l), c.rule), l).toBe(false);
    });
  }
});

describe('covers', () => {
  const owner: PolicyRule[] = [
    { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'] },
    { verbs: ['get'], apiGroups: [''], resources: ['*/status'] },
    { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] },
    { verbs: ['get'], nonResourceURLs: ['/apis/*'] },
  ];
  it.each<[string, PolicyRule[], boolean]>([
    ['a subset', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }], true],
    ['a subresource by */sub', [{ verbs: ['get'], apiGroups: [''], resources: ['pods/status', 'nodes/status'] }], true],
    ['a named subset', [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['a'] }], true],
    ['all names from a named rule', [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }], false],
    ['another verb', [{ verbs: ['get', 'delete'], apiGroups: [''], resources: ['pods'] }], false],
    ['a wildcard', [{ verbs: ['get'], apiGroups: ['*'], resources: ['pods'] }], false],
    ['a URL under a prefix', [{ verbs: ['get'], nonResourceURLs: ['/apis/apps'] }], true],
    ['a URL outside', [{ verbs: ['get'], nonResourceURLs: ['/metrics'] }], false],
  ])('%s', (_name, servant, expected) => {
    expect(covers(owner, servant).covered).toBe(expected);
  });

  it('reports the missing pieces as single-verb rules, compacted for the message', () => {
    const { missing } = covers(owner, [{ verbs: ['get', 'delete', 'create'], apiGroups: [''], resources: ['pods', 'secrets'] }]);
    expect(missing).toEqual([
      { verbs: ['delete'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['create'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['get'], apiGroups: [''], resources: ['secrets'] },
      { verbs: ['delete'], apiGroups: [''], resources: ['secrets'] },
      { verbs: ['create'], apiGroups: [''], resources: ['secrets'] },
    ]);
    expect(compactRules(missing).map(compactString).sort()).toEqual(['{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}', '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete" "create"]}']);
  });

  it('prints rules as Kubernetes CompactString', () => {
    expect(compactString({ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['d'] })).toBe('{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["d"], Verbs:["get"]}');
    expect(compactString({ verbs: ['get'], nonResourceURLs: ['/healthz'] })).toBe('{NonResourceURLs:["/healthz"], Verbs:["get"]}');
  });
});
