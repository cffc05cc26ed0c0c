/**
 * Service accounts end to end, with the real API server, controller manager, agent and Docker
 * engine: a pod gets the projected kube-api-access volume (a token bound to it, the cluster CA from
 * `kube-root-ca.crt`, its namespace) and the `kubernetes` Service's variables; the token is the
 * pod's service account to the API server, so RBAC decides what the pod may do, and it stops working
 * once the pod is gone. (The test uses the pods' tokens from the host: busybox's TLS client cannot
 * talk to the API server's ECDSA certificate.)
 *
 * Every container the agent creates here carries `io.flotilla.test=true` and this run's node name;
 * the suite removes exactly those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { res, type RestClient } from '@flotilla/client';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { RawClient } from './harness/http.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const NAMESPACES = res('namespaces');
const SERVICEACCOUNTS = res('serviceaccounts');
const ROLES = res('roles.rbac.authorization.k8s.io');
const ROLEBINDINGS = res('rolebindings.rbac.authorization.k8s.io');
const MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

const docker = hasDockerSocket();
const NODE = `agent-sa-e2e-${process.pid}`;
const cluster = new DockerTestCluster('agent-sa', NODE);
let server: ApiServerProcess;
let client: RestClient;
let raw: RawClient;

interface PodView extends KubeObject {
  spec: { serviceAccountName?: string; volumes?: { name: string; projected?: unknown }[]; containers: { volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[] };
  status?: { phase?: string };
}

function pod(name: string, command: string, spec: Record<string, unknown> = {}): KubeObject {
  return { metadata: { name }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', command] }], ...spec } };
}

async function logsOf(ns: string, name: string, until: string): Promise<string> {
  return waitFor(`output of ${ns}/${name}`, async () => {
    const r = await raw.request(`/api/v1/namespaces/${ns}/pods/${name}/log`);
    return r.status === 200 && r.body.includes(until) ? r.body : undefined;
  }, { timeoutMs: 60_000 });
}

/** The section of the output between `BEGIN name` and `END name` lines. */
function section(out: string, name: string): string {
  const m = new RegExp(`BEGIN ${name}\\n([\\s\\S]*?)\\nEND ${name}`).exec(out);
  if (!m) throw new Error(`no section ${name} in ${out}`);
  return m[1]!;
}

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function whoAmI(token: string): Promise<{ status: number; user?: { username: string; groups: string[]; extra?: Record<string, string[]> } }> {
  const r = await raw.request('/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', token, body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
  return { status: r.status, user: (r.json as { status?: { userInfo?: { username: string; groups: string[]; extra?: Record<string, string[]> } } } | undefined)?.status?.userInfo };
}

const DUMP = [`echo BEGIN token; cat ${MOUNT}/token; echo; echo END token`, `echo BEGIN namespace; cat ${MOUNT}/namespace; echo; echo END namespace`, `echo BEGIN ca; cat ${MOUNT}/ca.crt; echo; echo END ca`, 'echo BEGIN env; env | grep ^KUBERNETES_ | sort; echo END env'].join('; ');

describe.skipIf(!docker)('service accounts with the agent', () => {
  beforeAll(async () => {
    ({ server, client } = await cluster.start());
    raw = new RawClient(server.url, server.caPem, server.token);
    await cluster.startAgent();
    await client.create(NAMESPACES, '', { metadata: { name: 'tokens' } });
    await waitFor('default service account', () => client.get(SERVICEACCOUNTS, 'tokens', 'default').catch(() => undefined));
  }, 120_000);

  afterAll(() => cluster.stop());

  it('mounts a bound token, the cluster CA and the namespace, and sets the kubernetes Service variables', async () => {
    await client.create(PODS, 'tokens', pod('reader', `${DUMP}; sleep 3600`));
    const spec = (await client.get<PodView>(PODS, 'tokens', 'reader')).spec;
    expect(spec.serviceAccountName).toBe('default');
    const volume = spec.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!;
    expect(spec.containers[0]!.volumeMounts).toContainEqual({ name: volume.name, readOnly: true, mountPath: MOUNT });

    const out = await logsOf('tokens', 'reader', 'END env');
    expect(section(out, 'namespace')).toBe('tokens');
    expect(section(out, 'ca').trim()).toBe(server.caPem.trim());
    const env = section(out, 'env');
    expect(env).toMatch(/^KUBERNETES_SERVICE_HOST=\d+\.\d+\.\d+\.\d+$/m);
    expect(env).toMatch(/^KUBERNETES_SERVICE_PORT=443$/m);

    const token = section(out, 'token');
    const reader = await client.get<PodView>(PODS, 'tokens', 'reader');
    const c = claims(token);
    expect(c['sub']).toBe('system:serviceaccount:tokens:default');
    expect((c['kubernetes.io'] as { pod?: { name: string; uid: string } }).pod).toEqual({ name: 'reader', uid: reader.metadata.uid });
    const who = await whoAmI(token);
    expect(who.status).toBe(201);
    expect(who.user?.username).toBe('system:serviceaccount:tokens:default');
    expect(who.user?.groups).toEqual(expect.arrayContaining(['system:serviceaccounts', 'system:serviceaccounts:tokens', 'system:authenticated']));

    // Bound to the pod: once the pod is gone the token is refused.
    await client.delete(PODS, 'tokens', 'reader');
    await waitFor('pod gone', () => client.get(PODS, 'tokens', 'reader').then(() => undefined, () => true), { timeoutMs: 30_000 });
    expect((await whoAmI(token)).status).toBe(401);
  }, 120_000);

  it('mounts nothing when automounting is off, on the pod or on its account', async () => {
    await client.create(SERVICEACCOUNTS, 'tokens', { metadata: { name: 'quiet' }, automountServiceAccountToken: false });
    const probe = `if [ -e ${MOUNT} ]; then echo mounted; else echo absent; fi; sleep 3600`;
    await client.create(PODS, 'tokens', pod('off', probe, { automountServiceAccountToken: false }));
    await client.create(PODS, 'tokens', pod('quiet', probe, { serviceAccountName: 'quiet' }));
    for (const name of ['off', 'quiet']) {
      const out = await logsOf('tokens', name, 'e'); // "mounted" or "absent"
      expect(out.trim()).toBe('absent');
      expect((await client.get<PodView>(PODS, 'tokens', name)).spec.volumes ?? []).toEqual([]);
    }
  }, 90_000);

  it('rejects a pod naming an account that does not exist', async () => {
    const r = await raw.request('/api/v1/namespaces/tokens/pods', { method: 'POST', body: JSON.stringify(pod('ghostly', 'true', { serviceAccountName: 'ghost' })) });
    expect(r.status).toBe(403);
    expect((r.json as { message: string }).message).toBe('pods "ghostly" is forbidden: error looking up service account tokens/ghost: serviceaccount "ghost" not found');
  });

  it('a pod\'s token can do what RBAC grants its account, no more', async () => {
    await client.create(SERVICEACCOUNTS, 'tokens', { metadata: { name: 'lister' } });
    await client.create(PODS, 'tokens', pod('lister', `${DUMP}; sleep 3600`, { serviceAccountName: 'lister' }));
    const token = section(await logsOf('tokens', 'lister', 'END env'), 'token');
    const listPods = () => raw.request('/api/v1/namespaces/tokens/pods', { token });
    const before = await listPods();
    expect(before.status).toBe(403);
    expect((before.json as { message: string }).message).toBe('pods is forbidden: User "system:serviceaccount:tokens:lister" cannot list resource "pods" in API group "" in the namespace "tokens"');

    await client.create(ROLES, 'tokens', { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] });
    await client.create(ROLEBINDINGS, 'tokens', { metadata: { name: 'lister-reads-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace: 'tokens' }] });
    const after = await listPods();
    expect(after.status).toBe(200);
    expect((after.json as { items: KubeObject[] }).items.map((p) => p.metadata.name)).toContain('lister');
    // Only what the role says: no deleting, no other namespace.
    expect((await raw.request('/api/v1/namespaces/tokens/pods/lister', { method: 'DELETE', token })).status).toBe(403);
    expect((await raw.request('/api/v1/namespaces/default/pods', { token })).status).toBe(403);
  }, 120_000);
});
