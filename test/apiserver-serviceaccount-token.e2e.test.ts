/**
 * Service account tokens with the real API server and stock kubectl: `kubectl create token` (plain,
 * with a duration, bound to a pod) returns a JWT the server then accepts as
 * `system:serviceaccount:NS:NAME` (kubectl auth whoami, and raw HTTPS with the cluster CA); deleting
 * the account or the bound pod revokes it (401); it survives an API server restart (the signing key
 * is kept in pki/); errors are Kubernetes' (NotFound for a missing account, 422 below ten minutes);
 * a node identity may request a token only for the account of a pod bound to it, bound to that pod.
 * Skipped with a printed reason when kubectl is not installed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNotFound } from '@flotilla/api';
import { issueCertificate } from '@flotilla/api/pki';
import { loadClientConfig, requestServiceAccountToken, RestClient } from '@flotilla/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { tempDir } from './harness/processes.js';

const kubectlPath = findKubectl();
if (!kubectlPath) console.warn('skipping service account token end-to-end tests: no kubectl on PATH');

const NS = 'sa-token-e2e';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

interface WhoAmI {
  status: { userInfo: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> } };
}

describe.skipIf(!kubectlPath)('service account tokens', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let kubectl: Kubectl;
  let raw: RawClient;

  const uidOf = async (kind: string, name: string) => (await kubectl.ok(['-n', NS, 'get', kind, name, '-o', 'jsonpath={.metadata.uid}'])).trim();
  const createToken = async (args: string[]) => (await kubectl.ok(['-n', NS, 'create', 'token', ...args])).trim();
  const whoAmI = async (token: string): Promise<WhoAmI['status']['userInfo']> => (JSON.parse(await kubectl.ok(['--token', token, 'auth', 'whoami', '-o', 'json'])) as WhoAmI).status.userInfo;
  const rawWhoAmI = (token: string) => raw.request('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', token, body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
  const apply = (yaml: string) => kubectl.ok(['apply', '-f', '-'], { input: yaml });
  const pod = (name: string, account: string, node: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${NS}}\nspec: {serviceAccountName: ${account}, nodeName: ${node}, containers: [{name: c, image: busybox}]}\n`;
  const account = (name: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${name}, namespace: ${NS}}\n`;

  beforeAll(async () => {
    dir = tempDir('sa-token');
    server = await startApiServer(join(dir.path, 'data'));
    kubectl = new Kubectl(kubectlPath!, server.kubeconfig, dir.path);
    raw = new RawClient(server.url, server.caPem, server.token);
    await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  }, 60_000);

  afterAll(() => stopApiServerWithClient({ client: raw, server, dir }));

  it('creates a token the server accepts as the service account, over kubectl and raw HTTPS', async () => {
    await apply(account('robot'));
    const uid = await uidOf('serviceaccount', 'robot');
    const token = await createToken(['robot', '--duration=10m']);
    const c = claims(token);
    expect(c).toMatchObject({ iss: ISSUER, sub: `system:serviceaccount:${NS}:robot`, aud: [ISSUER], 'kubernetes.io': { namespace: NS, serviceaccount: { name: 'robot', uid } } });
    expect((c['exp'] as number) - (c['iat'] as number)).toBe(600);

    const user = await whoAmI(token);
    expect(user).toEqual({
      username: `system:serviceaccount:${NS}:robot`,
      uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
      extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${c['jti'] as string}`] },
    });
    const r = await rawWhoAmI(token);
    expect(r.status).toBe(201);
    expect((r.json as WhoAmI).status.userInfo.username).toBe(`system:serviceaccount:${NS}:robot`);
    // The account may do only what it is allowed (nothing was granted here).
    const denied = await kubectl.run(['--token', token, '-n', NS, 'get', 'pods']);
    expect(denied.stderr).toContain(`pods is forbidden: User "system:serviceaccount:${NS}:robot" cannot list resource "pods" in API group "" in the namespace "${NS}"`);

    // The signing key is published for relying parties.
    const jwks = JSON.parse(await kubectl.ok(['get', '--raw', '/openid/v1/jwks'])) as { keys: { kid: string; alg: string }[] };
    const kid = (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
    expect(jwks.keys).toEqual([expect.objectContaining({ kid, alg: 'RS256', kty: 'RSA' })]);
    const discovery = JSON.parse(await kubectl.ok(['get', '--raw', '/.well-known/openid-configuration'])) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(ISSUER);
    expect(discovery.jwks_uri).toBe(`${server.url}/openid/v1/jwks`);
    // Service accounts may read them (the bootstrap system:service-account-issuer-discovery binding).
    const asAccount = await kubectl.run(['--token', token, 'get', '--raw', '/openid/v1/jwks']);
    expect(asAccount.code).toBe(0);
    expect(JSON.parse(asAccount.stdout)).toEqual(jwks);
  });

  it('lists serviceaccounts/token in discovery as authentication.k8s.io/v1 TokenRequest', async () => {
    const list = JSON.parse(await kubectl.ok(['get', '--raw', '/api/v1'])) as { resources: { name: string }[] };
    expect(list.resources.find((r) => r.name === 'serviceaccounts/token')).toEqual({ name: 'serviceaccounts/token', singularName: '', namespaced: true, kind: 'TokenRequest', verbs: ['create'], group: 'authentication.k8s.io', version: 'v1' });
  });

  it('binds a token to a pod: it names the pod and stops working when the pod is deleted', async () => {
    await apply(account('binder'));
    await apply(pod('web', 'binder', 'some-node'));
    const podUid = await uidOf('pod', 'web');
    const token = await createToken(['binder', '--bound-object-kind', 'Pod', '--bound-object-name', 'web', '--duration=1h']);
    expect(claims(token)['kubernetes.io']).toMatchObject({ pod: { name: 'web', uid: podUid }, node: { name: 'some-node' } });
    const user = await whoAmI(token);
    expect(user.extra).toMatchObject({ 'authentication.kubernetes.io/pod-name': ['web'], 'authentication.kubernetes.io/pod-uid': [podUid], 'authentication.kubernetes.io/node-name': ['some-node'] });

    const other = await kubectl.run(['-n', NS, 'create', 'token', 'robot', '--bound-object-kind', 'Pod', '--bound-object-name', 'web']);
    expect(other.stderr).toContain('error: failed to create token: cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name.');

    await kubectl.ok(['-n', NS, 'delete', 'pod', 'web', '--grace-period=0', '--force']);
    const r = await rawWhoAmI(token);
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const after = await kubectl.run(['--token', token, 'auth', 'whoami']);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toContain('Unauthorized');
  });

  it('answers a missing account with NotFound and a lifetime under ten minutes with 422, as Kubernetes', async () => {
    const missing = await kubectl.run(['-n', NS, 'create', 'token', 'missing']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('error: failed to create token: serviceaccounts "missing" not found');
    const short = await kubectl.run(['-n', NS, 'create', 'token', 'robot', '--duration=5m']);
    expect(short.stderr).toContain('error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes');

    const post = (name: string, spec: Record<string, unknown>) =>
      raw.request(`/api/v1/namespaces/${NS}/serviceaccounts/${name}/token`, { method: 'POST', body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec }) });
    const notFound = await post('missing', {});
    expect([notFound.status, (notFound.json as { reason: string }).reason]).toEqual([404, 'NotFound']);
    const invalid = await post('robot', { expirationSeconds: 599 });
    expect(invalid.status).toBe(422);
    expect(invalid.json).toMatchObject({ reason: 'Invalid', details: { kind: 'TokenRequest', group: 'authentication.k8s.io', causes: [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds' }] } });
    const ok = await post('robot', { audiences: ['vault'] });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: 'robot', namespace: NS }, spec: { audiences: ['vault'], expirationSeconds: 3600 } });
    // A token for another audience does not authenticate to the API server.
    expect((await rawWhoAmI((ok.json as { status: { token: string } }).status.token)).status).toBe(401);
  });

  it('stops accepting a token once its service account is deleted', async () => {
    await apply(account('doomed'));
    const token = await createToken(['doomed']);
    expect((await rawWhoAmI(token)).status).toBe(201);
    await kubectl.ok(['-n', NS, 'delete', 'serviceaccount', 'doomed']);
    expect((await rawWhoAmI(token)).status).toBe(401);
    // Recreated under the same name it is another account: the old token stays refused.
    await apply(account('doomed'));
    expect((await rawWhoAmI(token)).status).toBe(401);
  });

  it('lets a node request a token only for the account of a pod bound to it, bound to that pod', async () => {
    await apply(account('on-node'));
    await apply(account('elsewhere'));
    await apply(pod('local', 'on-node', 'n1'));
    await apply(pod('remote', 'elsewhere', 'n2'));
    const ca = { cert: readFileSync(join(server.dataDir, 'pki', 'ca.crt'), 'utf8'), key: readFileSync(join(server.dataDir, 'pki', 'ca.key'), 'utf8') };
    const cred = await issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], usage: 'client' });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const kubeconfig = join(dir.path, 'node.kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: '${server.url}', certificate-authority-data: ${b64(ca.cert)}}}]\nusers: [{name: n1, user: {client-certificate-data: ${b64(cred.cert)}, client-key-data: ${b64(cred.key)}}}]\ncontexts: [{name: n1, context: {cluster: c, user: n1, namespace: ${NS}}}]\ncurrent-context: n1\n`,
    );
    const node = new Kubectl(kubectlPath!, kubeconfig, join(dir.path, 'node'));
    expect(JSON.parse(await node.ok(['auth', 'whoami', '-o', 'json'])).status.userInfo.username).toBe('system:node:n1');

    const localUid = await uidOf('pod', 'local');
    const token = (await node.ok(['create', 'token', 'on-node', '--bound-object-kind', 'Pod', '--bound-object-name', 'local', '--bound-object-uid', localUid])).trim();
    expect((await whoAmI(token)).username).toBe(`system:serviceaccount:${NS}:on-node`);

    const unbound = await node.run(['create', 'token', 'on-node']);
    expect(unbound.stderr).toContain('error: failed to create token: serviceaccounts "on-node" is forbidden: node requested token not bound to a pod');
    const noUid = await node.run(['create', 'token', 'on-node', '--bound-object-kind', 'Pod', '--bound-object-name', 'local']);
    expect(noUid.stderr).toContain('node requested token with a pod binding without a uid');
    const remote = await node.run(['create', 'token', 'elsewhere', '--bound-object-kind', 'Pod', '--bound-object-name', 'remote', '--bound-object-uid', await uidOf('pod', 'remote')]);
    expect(remote.stderr).toContain(
      `error: failed to create token: serviceaccounts "elsewhere" is forbidden: User "system:node:n1" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${NS}": no relationship found between node 'n1' and this object`,
    );
  });

  it('issues tokens through the client library helper', async () => {
    await apply(account('library'));
    await apply(pod('lib-pod', 'library', 'n1'));
    const podUid = await uidOf('pod', 'lib-pod');
    const client = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }));
    try {
      const issued = await requestServiceAccountToken(client, NS, 'library', { audiences: [ISSUER], expirationSeconds: 900, boundPod: { name: 'lib-pod', uid: podUid } });
      expect(Date.parse(issued.expirationTimestamp) - Date.now()).toBeGreaterThan(800_000);
      expect(claims(issued.token)['kubernetes.io']).toMatchObject({ serviceaccount: { name: 'library' }, pod: { name: 'lib-pod', uid: podUid } });
      expect((await whoAmI(issued.token)).username).toBe(`system:serviceaccount:${NS}:library`);
      const missing = await requestServiceAccountToken(client, NS, 'nobody').then(() => undefined, (e: unknown) => e);
      expect(isNotFound(missing)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('keeps accepting tokens across an API server restart (the signing key is kept)', async () => {
    await apply(account('keeper'));
    const token = await createToken(['keeper']);
    const key = readFileSync(join(server.dataDir, 'pki', 'sa.key'), 'utf8');
    raw.close();
    await server.stop();
    server = await startApiServer(server.dataDir);
    raw = new RawClient(server.url, server.caPem, server.token);
    expect(readFileSync(join(server.dataDir, 'pki', 'sa.key'), 'utf8')).toBe(key);
    expect((await whoAmI(token)).username).toBe(`system:serviceaccount:${NS}:keeper`);
    expect((await rawWhoAmI(token)).status).toBe(201);
  }, 60_000);
});
