/**
 * RBAC against a real flotilla-apiserver with stock kubectl: a non-admin user (a bearer token from
 * the token file, and the same user through `--as`) is forbidden until Roles and ClusterRoles are
 * bound to them (by user, group or service account), `kubectl auth can-i --list` shows the bound
 * rules, the bootstrap roles exist and a deleted bootstrap binding comes back at the next start, a
 * user cannot grant what they do not hold, and cluster-admin can do everything.
 * Skipped with a printed reason when kubectl is not installed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { tempDir } from './harness/processes.js';

const kubectlPath = findKubectl();
if (!kubectlPath) console.warn('skipping RBAC end-to-end tests: no kubectl on PATH');

const JANE_TOKEN = 'jane-token-0123456789abcdef';

describe.skipIf(!kubectlPath)('RBAC in flotilla-apiserver', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let dataDir: string;
  let kubectl: Kubectl;
  const asJane = ['--token', JANE_TOKEN];
  const apply = (yaml: string) => kubectl.ok(['apply', '-f', '-'], { input: yaml });
  const bindingYaml = (name: string, roleRef: string, user: string, namespace?: string) => {
    const [kind, role] = roleRef.split('/') as [string, string];
    return `apiVersion: rbac.authorization.k8s.io/v1
kind: ${namespace ? 'RoleBinding' : 'ClusterRoleBinding'}
metadata: {name: ${name}${namespace ? `, namespace: ${namespace}` : ''}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ${kind}, name: ${role}}
subjects:
- {kind: User, name: ${user}}
`;
  };
  const createBinding = (who: string[], name: string, roleRef: string, user: string, namespace?: string) => kubectl.run([...who, 'create', '-f', '-'], { input: bindingYaml(name, roleRef, user, namespace) });

  beforeAll(async () => {
    dir = tempDir('rbac');
    dataDir = join(dir.path, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // The token file is read at start; the admin line is added by the server.
    writeFileSync(join(dataDir, 'tokens.csv'), `${JANE_TOKEN},jane,jane-uid,"qa"\n`, { mode: 0o600 });
    server = await startApiServer(dataDir);
    kubectl = new Kubectl(kubectlPath!, server.kubeconfig, dir.path);
    await kubectl.ok(['create', 'namespace', 'team']);
  });

  afterAll(() => stopApiServerWithClient({ server, dir }));

  it('creates the bootstrap roles and bindings', async () => {
    const roles = await kubectl.ok(['get', 'clusterrole', 'cluster-admin', 'view', 'edit', 'admin', 'system:basic-user', 'system:discovery', 'system:public-info-viewer', 'system:aggregate-to-view']);
    for (const name of ['cluster-admin', 'view', 'edit', 'admin', 'system:basic-user', 'system:aggregate-to-view']) expect(roles).toMatch(new RegExp(`^${name}\\s+\\d`, 'm'));
    const view = JSON.parse(await kubectl.ok(['get', 'clusterrole', 'view', '-o', 'json'])) as Record<string, { [k: string]: unknown }>;
    expect(view['metadata']!['labels']).toEqual({ 'kubernetes.io/bootstrapping': 'rbac-defaults', 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' });
    expect(view['metadata']!['annotations']).toEqual({ 'rbac.authorization.kubernetes.io/autoupdate': 'true' });
    expect(view['aggregationRule']).toEqual({ clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }] });
    const crb = JSON.parse(await kubectl.ok(['get', 'clusterrolebinding', 'cluster-admin', '-o', 'json'])) as Record<string, unknown>;
    expect(crb['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' });
    expect(crb['subjects']).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }]);
    const bindings = await kubectl.ok(['get', 'clusterrolebindings', '-o', 'wide']);
    expect(bindings).toMatch(/^system:public-info-viewer\s+ClusterRole\/system:public-info-viewer\s+\S+\s+system:authenticated, system:unauthenticated/m);
  });

  it('forbids a user without bindings, with Kubernetes message', async () => {
    expect(await kubectl.ok([...asJane, 'auth', 'whoami'])).toMatch(/Username\s+jane\s+UID\s+jane-uid\s+Groups\s+\[qa system:authenticated\]/);
    const r = await kubectl.run([...asJane, 'get', 'pods']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"');
    const g = await kubectl.run([...asJane, '-n', 'team', 'get', 'secret', 'x']);
    expect(g.stderr).toContain('Error from server (Forbidden): secrets "x" is forbidden: User "jane" cannot get resource "secrets" in API group "" in the namespace "team"');
    expect((await kubectl.run(['--as=jane', 'get', 'pods'])).stderr).toContain('User "jane" cannot list resource "pods"');
  });

  it('honours a RoleBinding to a Role in its namespace only', async () => {
    await apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-reads-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
`);
    // The next request already sees the binding.
    const listed = await kubectl.run([...asJane, '-n', 'team', 'get', 'pods']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toContain('No resources found in team namespace.');
    expect((await kubectl.run(['--as=jane', '-n', 'team', 'get', 'pods'])).code).toBe(0);
    expect((await kubectl.run([...asJane, '-n', 'default', 'get', 'pods'])).stderr).toContain('pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"');
    expect((await kubectl.run([...asJane, '-n', 'team', 'delete', 'pod', 'x'])).stderr).toContain('pods "x" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "team"');
    expect((await kubectl.run([...asJane, 'get', 'pods', '-A'])).stderr).toContain('cannot list resource "pods" in API group "" at the cluster scope');
    expect((await kubectl.run([...asJane, '-n', 'team', 'auth', 'can-i', 'list', 'pods'])).stdout.trim()).toBe('yes');
    expect((await kubectl.run([...asJane, '-n', 'default', 'auth', 'can-i', 'list', 'pods'])).stdout.trim()).toBe('no');
  });

  it('lists the bound rules with auth can-i --list', async () => {
    const list = await kubectl.ok(['auth', 'can-i', '--list', '--as=jane', '-n', 'team']);
    expect(list).toMatch(/^pods\s+\[\]\s+\[\]\s+\[get list\]$/m);
    expect(list).toMatch(/^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    expect(list).toMatch(/^\s+\[\/api\/\*\]\s+\[\]\s+\[get\]$/m);
    expect(await kubectl.ok(['auth', 'can-i', '--list', '--as=jane', '-n', 'default'])).not.toMatch(/^pods\s/m);
  });

  it('honours a ClusterRoleBinding to a custom ClusterRole, and group and service account subjects', async () => {
    await apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-reader}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [configmaps], verbs: [get, list], resourceNames: [settings]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jane-reads-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}
subjects:
- {kind: User, name: jane}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cm-reader}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: qa-reads-configmaps, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cm-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: qa}
- {kind: ServiceAccount, name: builder}
`);
    expect((await kubectl.run([...asJane, 'get', 'nodes'])).code).toBe(0);
    expect((await kubectl.run([...asJane, 'delete', 'node', 'n1'])).stderr).toContain('nodes "n1" is forbidden: User "jane" cannot delete resource "nodes" in API group "" at the cluster scope');
    // resourceNames: a named get is allowed, a list is not.
    await kubectl.ok(['-n', 'default', 'create', 'configmap', 'settings', '--from-literal=a=b']);
    expect((await kubectl.run([...asJane, '-n', 'default', 'get', 'configmap', 'settings'])).code).toBe(0);
    expect((await kubectl.run([...asJane, '-n', 'default', 'get', 'configmaps'])).stderr).toContain('configmaps is forbidden');
    // The group qa (jane's token has it) may list configmaps in team; a user without the group may not.
    expect((await kubectl.run([...asJane, '-n', 'team', 'get', 'configmaps'])).code).toBe(0);
    expect((await kubectl.run(['--as=sam', '--as-group=qa', '-n', 'team', 'get', 'configmaps'])).code).toBe(0);
    expect((await kubectl.run(['--as=sam', '-n', 'team', 'get', 'configmaps'])).stderr).toContain('User "sam" cannot list resource "configmaps"');
    // A ServiceAccount subject without a namespace is the binding's namespace's.
    expect((await kubectl.run(['--as=system:serviceaccount:team:builder', '-n', 'team', 'get', 'configmaps'])).code).toBe(0);
    expect((await kubectl.run(['--as=system:serviceaccount:other:builder', '-n', 'team', 'get', 'configmaps'])).code).not.toBe(0);
  });

  it('refuses to grant permissions the user does not hold', async () => {
    await apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rbac-manager, namespace: team}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings], verbs: [create, get, list, update, patch, delete]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-manages-rbac, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-manager}
subjects:
- {kind: User, name: jane}
`);
    // What jane holds she may hand on.
    await kubectl.ok([...asJane, '-n', 'team', 'create', 'role', 'pods-again', '--verb=get', '--resource=pods']);
    expect((await createBinding(asJane, 'bob-reads-pods', 'Role/pod-reader', 'bob', 'team')).code).toBe(0);
    // What she does not hold she may not.
    const role = await kubectl.run([...asJane, '-n', 'team', 'create', 'role', 'sneaky', '--verb=get,list', '--resource=secrets']);
    expect(role.code).toBe(1);
    expect(role.stderr).toContain(
      'Error from server (Forbidden): roles.rbac.authorization.k8s.io "sneaky" is forbidden: user "jane" (groups=["qa" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}',
    );
    const binding = await createBinding(asJane, 'jane-admin', 'ClusterRole/cluster-admin', 'jane', 'team');
    expect(binding.stderr).toContain('rolebindings.rbac.authorization.k8s.io "jane-admin" is forbidden: user "jane" (groups=["qa" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:');
    // With bind on that ClusterRole she may bind it.
    await apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: bind-cm-reader}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cm-reader]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-binds, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bind-cm-reader}
subjects:
- {kind: User, name: jane}
`);
    expect((await createBinding(asJane, 'bob-reads-cms', 'ClusterRole/cm-reader', 'bob', 'team')).code).toBe(0);
    expect((await createBinding(asJane, 'bob-nodes', 'ClusterRole/node-reader', 'bob', 'team')).code).toBe(0); // she holds node-reader herself
    expect((await createBinding(asJane, 'bob-ca', 'ClusterRole/cluster-admin', 'bob', 'team')).stderr).toContain('is attempting to grant RBAC permissions not currently held');
    // A binding to a role that does not exist is refused as Kubernetes does.
    expect((await createBinding(asJane, 'bob-ghost', 'Role/ghost', 'bob', 'team')).stderr).toContain('rolebindings.rbac.authorization.k8s.io "bob-ghost" is forbidden: roles.rbac.authorization.k8s.io "ghost" not found');
  });

  it('brings back a deleted bootstrap binding at the next start', async () => {
    await kubectl.ok(['delete', 'clusterrolebinding', 'system:basic-user']);
    await kubectl.ok(['label', 'clusterrole', 'system:discovery', 'mine=yes']);
    expect((await kubectl.run(['get', 'clusterrolebinding', 'system:basic-user'])).code).toBe(1);
    const versions = async () => kubectl.ok(['get', 'clusterrole/cluster-admin', 'clusterrole/view', 'clusterrolebinding/cluster-admin', '-o', 'jsonpath={.items[*].metadata.resourceVersion}']);
    const before = await versions();
    await server.stop();
    server = await startApiServer(dataDir);
    const crb = JSON.parse(await kubectl.ok(['get', 'clusterrolebinding', 'system:basic-user', '-o', 'json'])) as Record<string, unknown>;
    expect(crb['subjects']).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }]);
    const discovery = JSON.parse(await kubectl.ok(['get', 'clusterrole', 'system:discovery', '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
    expect(discovery.metadata.labels).toEqual({ 'kubernetes.io/bootstrapping': 'rbac-defaults', mine: 'yes' });
    // What was complete is not rewritten.
    expect(await versions()).toBe(before);
    // Policy written before the restart is enforced after it.
    expect((await kubectl.run([...asJane, '-n', 'team', 'get', 'pods'])).code).toBe(0);
    expect((await kubectl.run([...asJane, '-n', 'default', 'get', 'pods'])).code).toBe(1);
  });

  it('lets a user bound to cluster-admin do everything', async () => {
    expect((await createBinding([], 'jane-is-admin', 'ClusterRole/cluster-admin', 'jane')).code).toBe(0);
    await kubectl.ok([...asJane, 'create', 'namespace', 'janes']);
    await kubectl.ok([...asJane, '-n', 'janes', 'create', 'secret', 'generic', 's', '--from-literal=a=b']);
    expect(await kubectl.ok([...asJane, 'get', 'secrets', '-A'])).toMatch(/^janes\s+s\s+Opaque/m);
    expect((await kubectl.ok([...asJane, 'auth', 'can-i', 'delete', 'nodes'])).trim()).toBe('yes');
    expect(await kubectl.ok([...asJane, 'auth', 'can-i', '--list'])).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
    await kubectl.ok([...asJane, '-n', 'team', 'create', 'role', 'anything', '--verb=*', '--resource=secrets']);
    await kubectl.ok(['delete', 'clusterrolebinding', 'jane-is-admin']);
    expect((await kubectl.run([...asJane, 'get', 'secrets', '-A'])).code).toBe(1);
  });
});
