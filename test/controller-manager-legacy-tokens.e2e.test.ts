/**
 * Long-lived service account tokens kept in Secrets, as Kubernetes documents them ("manually create a
 * long-lived API token for a ServiceAccount"), with the real API server and controller manager
 * processes and stock kubectl: the controller manager's serviceaccount-token controller, signing with
 * the API server's pki/sa.key (`--service-account-private-key-file`), fills a Secret of type
 * kubernetes.io/service-account-token with a token, the kubeconfig's CA and the namespace; the token
 * authenticates as the account until the Secret is deleted; a Secret naming a missing account is
 * deleted, and so are an account's token Secrets when the account is; without the key the controller
 * does not run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, type KubeObject } from '@flotilla/api';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { killAll, tempDir, type RunningProcess } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const NAMESPACES = res('namespaces');
const SERVICEACCOUNTS = res('serviceaccounts');
const SECRETS = res('secrets');
const TYPE = 'kubernetes.io/service-account-token';

interface SecretView extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}
interface WhoAmI {
  status: { userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> } };
}

const kubectlPath = findKubectl();
if (!kubectlPath) console.warn('skipping legacy service account token end-to-end tests: no kubectl on PATH');

let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let client: RestClient;
let kubectl: Kubectl;
let kubeconfigCa: string;
let manager: RunningProcess;
const managerArgs = () => ['--controllers', 'serviceaccount-token', '--leader-elect', 'false', '--service-account-private-key-file', join(server.dataDir, 'pki', 'sa.key')];

const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The recipe of Kubernetes' documentation, in namespace `ns`. */
const tokenSecretYaml = (ns: string, name: string, account: string) => `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${ns}
  annotations:
    kubernetes.io/service-account.name: ${account}
type: kubernetes.io/service-account-token
`;

async function namespace(name: string): Promise<string> {
  await client.create(NAMESPACES, '', { metadata: { name } });
  return name;
}

async function secretOrUndefined(ns: string, name: string): Promise<SecretView | undefined> {
  try {
    return await client.get<SecretView>(SECRETS, ns, name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Waits until the controller has filled the Secret; returns it. */
const filled = (ns: string, name: string) =>
  waitFor(`${ns}/${name} filled by the tokens controller`, async () => {
    const s = await secretOrUndefined(ns, name);
    return s?.data?.['token'] && s.data['ca.crt'] && s.data['namespace'] ? s : undefined;
  });

const gone = (ns: string, name: string) => waitFor(`${ns}/${name} deleted`, async () => (await secretOrUndefined(ns, name)) === undefined);

describe.skipIf(!kubectlPath)('long-lived service account token Secrets', () => {
  beforeAll(async () => {
    dir = tempDir('legacy-tokens');
    server = await startApiServer(dir.path);
    const config = loadClientConfig({ kubeconfig: server.kubeconfig });
    kubeconfigCa = config.ca!;
    client = new RestClient(config);
    kubectl = new Kubectl(kubectlPath!, server.kubeconfig, dir.path);
    manager = await startControllerManager(server.kubeconfig, managerArgs());
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await killAll();
    dir?.remove();
  });

  it('fills the documented Secret with a token, the CA and the namespace; the token is the account until the Secret is deleted', async () => {
    const ns = await namespace('legacy-token-filled');
    await kubectl.ok(['-n', ns, 'create', 'serviceaccount', 'build-robot']);
    await kubectl.ok(['apply', '-f', '-'], { input: tokenSecretYaml(ns, 'build-robot-secret', 'build-robot') });
    const account = await client.get(SERVICEACCOUNTS, ns, 'build-robot');

    const secret = await filled(ns, 'build-robot-secret');
    expect(secret.type).toBe(TYPE);
    expect(unb64(secret.data?.['ca.crt'])).toBe(kubeconfigCa);
    expect(unb64(secret.data?.['namespace'])).toBe(ns);
    expect(secret.metadata.annotations).toMatchObject({ 'kubernetes.io/service-account.name': 'build-robot', 'kubernetes.io/service-account.uid': account.metadata.uid });
    // As the documentation reads it: kubectl get secret -o jsonpath={.data.token} | base64 -d
    const token = unb64(await kubectl.ok(['-n', ns, 'get', 'secret', 'build-robot-secret', '-o', 'jsonpath={.data.token}']));
    expect(token).toBe(unb64(secret.data?.['token']));
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims).toEqual({
      iss: 'kubernetes/serviceaccount',
      sub: `system:serviceaccount:${ns}:build-robot`,
      'kubernetes.io/serviceaccount/namespace': ns,
      'kubernetes.io/serviceaccount/secret.name': 'build-robot-secret',
      'kubernetes.io/serviceaccount/service-account.name': 'build-robot',
      'kubernetes.io/serviceaccount/service-account.uid': account.metadata.uid,
    });

    const who = JSON.parse(await kubectl.ok(['--token', token, 'auth', 'whoami', '-o', 'json'])) as WhoAmI;
    expect(who.status.userInfo).toEqual({ username: `system:serviceaccount:${ns}:build-robot`, uid: account.metadata.uid, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] });
    expect(await kubectl.ok(['--token', token, 'auth', 'whoami'])).toContain(`system:serviceaccount:${ns}:build-robot`);

    // Applying the manifest again leaves the token as it is.
    await kubectl.ok(['apply', '-f', '-'], { input: tokenSecretYaml(ns, 'build-robot-secret', 'build-robot') });
    expect((await client.get<SecretView>(SECRETS, ns, 'build-robot-secret')).data?.['token']).toBe(secret.data?.['token']);

    await kubectl.ok(['-n', ns, 'delete', 'secret', 'build-robot-secret']);
    const after = await waitFor('the token refused once its Secret is deleted', async () => {
      const r = await kubectl.run(['--token', token, 'auth', 'whoami']);
      return r.code !== 0 ? r : undefined;
    });
    expect(after.stderr).toContain('error: You must be logged in to the server (Unauthorized)');
  });

  it('deletes a token Secret naming an account that does not exist', async () => {
    const ns = await namespace('legacy-token-orphan');
    await kubectl.ok(['apply', '-f', '-'], { input: tokenSecretYaml(ns, 'orphan-token', 'nobody') });
    await gone(ns, 'orphan-token');
  });

  it('deletes the token Secrets of an account when the account is deleted, and no other Secret', async () => {
    const ns = await namespace('legacy-token-account-deleted');
    await kubectl.ok(['-n', ns, 'create', 'serviceaccount', 'builder']);
    await kubectl.ok(['-n', ns, 'create', 'serviceaccount', 'keeper']);
    await kubectl.ok(['apply', '-f', '-'], { input: [tokenSecretYaml(ns, 'builder-a', 'builder'), tokenSecretYaml(ns, 'builder-b', 'builder'), tokenSecretYaml(ns, 'keeper-token', 'keeper')].join('---\n') });
    await kubectl.ok(['-n', ns, 'create', 'secret', 'generic', 'builder-notes', '--from-literal=note=kept']);
    await kubectl.ok(['-n', ns, 'annotate', 'secret', 'builder-notes', 'kubernetes.io/service-account.name=builder']);
    const a = await filled(ns, 'builder-a');
    await filled(ns, 'builder-b');
    await filled(ns, 'keeper-token');
    const token = unb64(a.data?.['token']);
    expect((JSON.parse(await kubectl.ok(['--token', token, 'auth', 'whoami', '-o', 'json'])) as WhoAmI).status.userInfo.username).toBe(`system:serviceaccount:${ns}:builder`);

    await kubectl.ok(['-n', ns, 'delete', 'serviceaccount', 'builder']);
    await gone(ns, 'builder-a');
    await gone(ns, 'builder-b');
    expect((await kubectl.ok(['-n', ns, 'get', 'secrets', '-o', 'name'])).trim().split('\n').sort()).toEqual(['secret/builder-notes', 'secret/keeper-token']);
    expect((await kubectl.run(['--token', token, 'auth', 'whoami'])).stderr).toContain('Unauthorized');
  });

  it('does not run without --service-account-private-key-file', async () => {
    await manager.stop();
    manager = await startControllerManager(server.kubeconfig, ['--controllers', 'serviceaccount-token', '--leader-elect', 'false', '--log-level', 'info']);
    await waitFor('the disabled controller logged', () => manager.stderr().includes('controller is disabled because there is no private key'));
    const started = await waitFor('the controllers logged as running', () => /"controllers":\[([^\]]*)\][^\n]*"msg":"informers synced; running controllers"/.exec(manager.stderr()) ?? undefined);
    expect(started[1]).toBe('');
  });
});
