/**
 * The controllers that prepare namespaces and roles for service accounts and RBAC, as real processes
 * (API server, controller manager) over real HTTP, with kubectl as referee where installed: every
 * namespace gets the ServiceAccount `default` and the ConfigMap `kube-root-ca.crt` holding the CA of
 * the controller manager's kubeconfig (or of `--root-ca-file`, which wins), both come back when
 * deleted and the ConfigMap is reverted when edited; an aggregated ClusterRole follows the rules of
 * the roles its selector matches as their labels change.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, type KubeObject, type PolicyRule } from '@flotilla/api';
import { createCa } from '@flotilla/api/pki';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { binPath, killAll, startProcess, tempDir, type RunningProcess } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const NAMESPACES = res('namespaces');
const SERVICEACCOUNTS = res('serviceaccounts');
const CONFIGMAPS = res('configmaps');
const CLUSTERROLES = res('clusterroles.rbac.authorization.k8s.io');
const ROOT_CA = 'kube-root-ca.crt';
const DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';
const CONTROLLERS = 'serviceaccount,root-ca-cert-publisher,clusterrole-aggregation';

interface ConfigMapView extends KubeObject {
  data?: Record<string, string>;
}
interface ClusterRoleView extends KubeObject {
  rules?: PolicyRule[];
}

let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let client: RestClient;
let kubeconfigCa: string;
let manager: RunningProcess;
const kubectlBinary = findKubectl();
let kubectl: Kubectl | undefined;

beforeAll(async () => {
  dir = tempDir('controller-manager-accounts');
  server = await startApiServer(dir.path);
  const config = loadClientConfig({ kubeconfig: server.kubeconfig });
  kubeconfigCa = config.ca!;
  client = new RestClient(config);
  if (kubectlBinary) kubectl = new Kubectl(kubectlBinary, server.kubeconfig, dir.path);
  manager = await startControllerManager(server.kubeconfig, ['--controllers', CONTROLLERS, '--leader-elect', 'false']);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await killAll();
  dir?.remove();
});

async function namespace(name: string): Promise<string> {
  await client.create(NAMESPACES, '', { metadata: { name } });
  return name;
}

const getOrUndefined = <T extends KubeObject>(r: typeof CONFIGMAPS, ns: string, name: string): Promise<T | undefined> =>
  client.get<T>(r, ns, name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });

async function rootCa(ns: string, ca = kubeconfigCa): Promise<ConfigMapView> {
  return waitFor(`${ns}/${ROOT_CA} with the expected CA`, async () => {
    const cm = await getOrUndefined<ConfigMapView>(CONFIGMAPS, ns, ROOT_CA);
    return cm?.data?.['ca.crt'] === ca && Object.keys(cm.data).length === 1 && cm.metadata.annotations?.['kubernetes.io/description'] === DESCRIPTION ? cm : undefined;
  });
}

async function defaultAccount(ns: string, notUid?: string): Promise<KubeObject> {
  return waitFor(`${ns}/default service account`, async () => {
    const sa = await getOrUndefined(SERVICEACCOUNTS, ns, 'default');
    return sa && sa.metadata.uid !== notUid ? sa : undefined;
  });
}

describe('service accounts and the root CA in every namespace', () => {
  it('gives the namespaces that existed at start and a new namespace a default account and kube-root-ca.crt with the kubeconfig CA', async () => {
    // The kubeconfig's CA is the API server's cluster CA.
    expect(kubeconfigCa).toBe(server.caPem);
    for (const ns of ['default', 'kube-system', 'kube-public']) {
      await defaultAccount(ns);
      await rootCa(ns);
    }
    const ns = await namespace('accounts-new');
    const sa = await defaultAccount(ns);
    expect(sa).toMatchObject({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
    const cm = await rootCa(ns);
    expect(cm.data).toEqual({ 'ca.crt': server.caPem });
    // Only these two: nothing else is created in the namespace.
    expect((await client.list(SERVICEACCOUNTS, { namespace: ns })).items.map((o) => o.metadata.name)).toEqual(['default']);
    expect((await client.list(CONFIGMAPS, { namespace: ns })).items.map((o) => o.metadata.name)).toEqual([ROOT_CA]);
    if (kubectl) {
      expect((await kubectl.ok(['get', 'serviceaccounts', '-n', ns, '-o', 'name'])).trim()).toBe('serviceaccount/default');
      expect(await kubectl.ok(['get', 'configmap', ROOT_CA, '-n', ns, '-o', 'jsonpath={.data.ca\\.crt}'])).toBe(server.caPem);
    }
  });

  it('recreates the default account when it is deleted', async () => {
    const ns = await namespace('accounts-sa-deleted');
    const first = await defaultAccount(ns);
    if (kubectl) await kubectl.ok(['delete', 'serviceaccount', 'default', '-n', ns]);
    else await client.delete(SERVICEACCOUNTS, ns, 'default');
    const second = await defaultAccount(ns, first.metadata.uid);
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
  });

  it('recreates kube-root-ca.crt when it is deleted and reverts edits to it', async () => {
    const ns = await namespace('accounts-ca-edited');
    const first = await rootCa(ns);
    await client.delete(CONFIGMAPS, ns, ROOT_CA);
    const second = await rootCa(ns);
    expect(second.metadata.uid).not.toBe(first.metadata.uid);

    // Forged CA plus an extra key: both reverted.
    if (kubectl) await kubectl.ok(['patch', 'configmap', ROOT_CA, '-n', ns, '--type', 'merge', '-p', JSON.stringify({ data: { 'ca.crt': 'forged', extra: 'x' } })]);
    else await client.patch(CONFIGMAPS, ns, ROOT_CA, { data: { 'ca.crt': 'forged', extra: 'x' } }, 'merge');
    const reverted = await rootCa(ns);
    expect(reverted.metadata.uid).toBe(second.metadata.uid);
    expect(reverted.data).toEqual({ 'ca.crt': server.caPem });

    // The description annotation removed: restored.
    await client.patch(CONFIGMAPS, ns, ROOT_CA, { metadata: { annotations: { 'kubernetes.io/description': null } } }, 'merge');
    await rootCa(ns);
  });
});

describe('ClusterRole aggregation', () => {
  const LABEL = 'e2e.flotilla.io/aggregate-to-team';
  const READ_PODS: PolicyRule = { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] };
  const READ_DEPLOYMENTS: PolicyRule = { verbs: ['get', 'list'], apiGroups: ['apps'], resources: ['deployments'] };

  async function rulesBecome(name: string, want: PolicyRule[]): Promise<ClusterRoleView> {
    return waitFor(`rules of ${name} = ${JSON.stringify(want)}`, async () => {
      const r = await client.get<ClusterRoleView>(CLUSTERROLES, '', name);
      return JSON.stringify(r.rules ?? []) === JSON.stringify(want) ? r : undefined;
    });
  }

  afterAll(async () => {
    for (const name of ['e2e-team', 'e2e-team-pods', 'e2e-team-deployments']) await client.delete(CLUSTERROLES, '', name).catch(() => undefined);
  });

  it('gives an aggregated role the rules of the roles labelled for it, and drops them when the label goes', async () => {
    await client.create(CLUSTERROLES, '', { metadata: { name: 'e2e-team' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [LABEL]: 'true' } }] }, rules: [] });
    await client.create(CLUSTERROLES, '', { metadata: { name: 'e2e-team-pods', labels: { [LABEL]: 'true' } }, rules: [READ_PODS] });
    const aggregated = await rulesBecome('e2e-team', [READ_PODS]);
    expect(aggregated.metadata.managedFields?.some((f) => f.manager === 'clusterrole-aggregation-controller')).toBe(true);

    // A second role, labelled after it was created, adds its rules (roles in name order).
    await client.create(CLUSTERROLES, '', { metadata: { name: 'e2e-team-deployments' }, rules: [READ_DEPLOYMENTS, READ_PODS] });
    if (kubectl) await kubectl.ok(['label', 'clusterrole', 'e2e-team-deployments', `${LABEL}=true`]);
    else await client.patch(CLUSTERROLES, '', 'e2e-team-deployments', { metadata: { labels: { [LABEL]: 'true' } } }, 'merge');
    await rulesBecome('e2e-team', [READ_DEPLOYMENTS, READ_PODS]);
    if (kubectl) {
      const described = JSON.parse(await kubectl.ok(['get', 'clusterrole', 'e2e-team', '-o', 'json'])) as ClusterRoleView;
      expect(described.rules).toEqual([READ_DEPLOYMENTS, READ_PODS]);
    }

    // The pods role loses its label: only the deployments role's rules remain (its copy of READ_PODS included).
    await client.patch(CLUSTERROLES, '', 'e2e-team-pods', { metadata: { labels: { [LABEL]: null } } }, 'merge');
    await client.patch(CLUSTERROLES, '', 'e2e-team-deployments', { rules: [READ_DEPLOYMENTS] }, 'merge');
    await rulesBecome('e2e-team', [READ_DEPLOYMENTS]);

    // Label removed from the last one: nothing left.
    if (kubectl) await kubectl.ok(['label', 'clusterrole', 'e2e-team-deployments', `${LABEL}-`]);
    else await client.patch(CLUSTERROLES, '', 'e2e-team-deployments', { metadata: { labels: { [LABEL]: null } } }, 'merge');
    await rulesBecome('e2e-team', []);
  });
});

describe('--root-ca-file', () => {
  it('publishes the file\'s bundle instead of the kubeconfig CA, and rejects a file without certificates', async () => {
    const other = await createCa('e2e-other-ca');
    const bundle = `${other.cert}${server.caPem}`;
    const file = join(dir.path, 'root-ca.pem');
    writeFileSync(file, bundle);
    const bad = join(dir.path, 'bad.pem');
    writeFileSync(bad, 'no certificate here\n');

    const rejected = startProcess(binPath('controller-manager', 'flotilla-controller-manager'), ['--kubeconfig', server.kubeconfig, '--port', '0', '--root-ca-file', bad]);
    const code = rejected.child.exitCode ?? (await once(rejected.child, 'exit'))[0];
    expect(code).toBe(2);
    expect(rejected.stderr()).toContain(`error parsing root-ca-file at ${bad}: data does not contain any valid RSA or ECDSA certificates`);

    await manager.stop();
    manager = await startControllerManager(server.kubeconfig, ['--controllers', 'root-ca-cert-publisher', '--leader-elect', 'false', '--root-ca-file', file]);
    // Existing ConfigMaps are brought to the new bundle, new namespaces get it.
    await rootCa('accounts-new', bundle);
    await rootCa('default', bundle);
    await rootCa(await namespace('accounts-flag'), bundle);
  });
});
