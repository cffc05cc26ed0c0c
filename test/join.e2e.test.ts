/**
 * Joining a machine with a token: `flotilla server --disable-agent` (control plane only) and a second
 * agent started with `flotilla agent --server URL --token TOKEN`. The agent checks the server's CA
 * against the token, obtains node credentials (system:node:<name>) with the bootstrap token, writes
 * its kubeconfig and runs; the node becomes Ready and runs a pod. The node's credentials are limited
 * to what an agent needs (403 with Kubernetes' Status otherwise). Wrong, expired and wrong-CA tokens
 * are refused; `flctl token create` makes working tokens.
 *
 * Containers the joined agents create carry `io.flotilla.test=true` and their node names; the suite
 * removes exactly those.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type KubeObject } from '@flotilla/api';
import { createCa, issueCertificate } from '@flotilla/api/pki';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { DockerClient } from '@flotilla/agent';
import { removeMemoryVolumes } from './harness/agent.js';
import { binPath, REPO_ROOT, startProcess, tempDir, type RunningProcess } from './harness/processes.js';
import { ensurePauseImage, ensureTestImage, hasDockerSocket, PAUSE_IMAGE, TEST_IMAGE, TEST_LABEL } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const NODES = res('nodes');
const PODS = res('pods');
const SECRETS = res('secrets');
const NAMESPACES = res('namespaces');
const DEPLOYMENTS = res('deployments.apps');
const FLOTILLA = binPath('flotilla', 'flotilla');
const FLCTL = join(REPO_ROOT, 'packages', 'cli', 'bin', 'flctl.js');
const NS = `join-e2e-${process.pid}`;
const NODE = `joined-${process.pid}`;

const docker = hasDockerSocket();
const requireDocker = process.env['CI'] === 'true';

type NodeView = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
type PodView = KubeObject & { status?: { phase?: string } };

let dir: ReturnType<typeof tempDir>;
let server: RunningProcess;
let url: string;
let token: string;
let admin: RestClient;
let adminKubeconfig: string;
const agents: RunningProcess[] = [];
const nodeNames = new Set<string>();

/** `flotilla agent --server/--token` with the flags that keep it off host-wide state. */
function startJoinedAgent(nodeName: string, dataDir: string, joinArgs: string[]): RunningProcess {
  nodeNames.add(nodeName);
  const p = startProcess(FLOTILLA, [
    'agent',
    ...joinArgs,
    '--node-name', nodeName,
    '--data-dir', dataDir,
    '--pod-infra-image', PAUSE_IMAGE,
    '--container-labels', `${TEST_LABEL}=true`,
    '--port', '0',
    '--bind-address', '127.0.0.1',
    '--node-ip', '127.0.0.1',
    '--proxy-mode', 'none',
    '--enable-dns', 'false',
    '--ingress-http-port', '0',
    '--ingress-https-port', '0',
    '--log-level', 'warn',
  ]);
  agents.push(p);
  return p;
}

/** Waits for a process to exit; resolves with its code. */
async function exitCodeOf(p: RunningProcess, timeoutMs = 30_000): Promise<number | null> {
  await waitFor('the process to exit', () => p.exited(), { timeoutMs });
  return p.stop();
}

function flctl(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [FLCTL, '--kubeconfig', adminKubeconfig, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function statusOf(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

beforeAll(async () => {
  if (!docker) {
    if (requireDocker) throw new Error('CI=true but no Docker engine socket');
    return;
  }
  await ensureTestImage();
  await ensurePauseImage();
  dir = tempDir('join');
  server = startProcess(FLOTILLA, ['server', '--data-dir', join(dir.path, 'server'), '--secure-port', '0', '--disable-agent', '--log-level', 'warn']);
  const out = await server.waitForOutput(/Stop with/, 90_000);
  void out;
  const text = server.stdout();
  const m = /flotilla agent --server (https:\/\/\S+) --token (\S+)/.exec(text)!;
  url = m[1]!;
  token = m[2]!;
  adminKubeconfig = join(dir.path, 'server', 'admin.kubeconfig');
  admin = new RestClient(loadClientConfig({ kubeconfig: adminKubeconfig }));
  await admin.create(NAMESPACES, '', { metadata: { name: NS } });
}, 150_000);

afterAll(async () => {
  if (!docker) return;
  for (const a of agents) await a.stop('SIGTERM');
  const engine = new DockerClient({});
  try {
    for (const node of nodeNames) {
      const mine = (await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${node}`] } })) as { Id: string }[];
      for (const c of mine) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
      removeMemoryVolumes(node);
    }
  } finally {
    await engine.close();
  }
  await admin?.close();
  await server?.stop('SIGTERM');
  dir?.remove();
}, 60_000);

describe.skipIf(!docker && !requireDocker)('joining with a token', () => {
  it('prints the secure join token and keeps it in DATA_DIR/token', () => {
    expect(token).toMatch(/^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$/);
    const file = join(dir.path, 'server', 'token');
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('joins: node credentials in DATA_DIR/kubeconfig, the node becomes Ready and runs a pod', async () => {
    const dataDir = join(dir.path, 'joined');
    const agent = startJoinedAgent(NODE, dataDir, ['--server', url, '--token', token]);
    await agent.waitForOutput(/agent running/, 90_000);
    expect(agent.stderr()).toContain(`joined the cluster at ${url} as node ${NODE}`);
    const kubeconfig = join(dataDir, 'kubeconfig');
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const kc = readFileSync(kubeconfig, 'utf8');
    expect(kc).toContain('client-certificate-data');
    expect(kc).not.toMatch(/token:/);

    await waitFor('the joined node is Ready', async () => {
      const n = await admin.get<NodeView>(NODES, '', NODE).catch(() => undefined);
      return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 60_000 });

    // A pod with a Secret in its environment: the node may read exactly that Secret.
    await admin.create(SECRETS, NS, { metadata: { name: 'greeting' }, stringData: { text: 'hello from a secret' } });
    await admin.create(PODS, NS, {
      metadata: { name: 'on-joined' },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': NODE },
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sh', '-c', 'echo "$GREETING"; sleep 3600'], env: [{ name: 'GREETING', valueFrom: { secretKeyRef: { name: 'greeting', key: 'text' } } }] }],
      },
    });
    const pod = await waitFor('the pod runs on the joined node', async () => {
      const p = await admin.get<PodView>(PODS, NS, 'on-joined');
      return p.status?.phase === 'Running' ? p : undefined;
    }, { timeoutMs: 60_000 });
    expect((pod['spec'] as { nodeName?: string }).nodeName).toBe(NODE);
    const logs = await admin.request('GET', `/api/v1/namespaces/${NS}/pods/on-joined/log`);
    expect(logs.body).toContain('hello from a secret');
  }, 180_000);

  it("limits the node's credentials to what an agent needs", async () => {
    const node = new RestClient(loadClientConfig({ kubeconfig: join(dir.path, 'joined', 'kubeconfig') }));
    try {
      const own = await node.get<NodeView>(NODES, '', NODE);
      expect(own.metadata.name).toBe(NODE);
      expect((await node.list(PODS, { fieldSelector: `spec.nodeName=${NODE}` })).items.map((p) => p.metadata.name)).toContain('on-joined');
      expect((await node.get(SECRETS, NS, 'greeting')).metadata.name).toBe('greeting');

      const list = await statusOf(node.list(SECRETS));
      expect(list.code).toBe(403);
      expect(list.toStatus()).toMatchObject({
        kind: 'Status',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: `secrets is forbidden: User "system:node:${NODE}" cannot list resource "secrets" in API group "" at the cluster scope`,
      });
      const deploy = await statusOf(node.create(DEPLOYMENTS, NS, { metadata: { name: 'nope' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: TEST_IMAGE }] } } } }));
      expect(deploy.code).toBe(403);
      expect(deploy.message).toBe(`deployments.apps is forbidden: User "system:node:${NODE}" cannot create resource "deployments" in API group "apps" in the namespace "${NS}"`);
      await admin.create(SECRETS, NS, { metadata: { name: 'unrelated' }, stringData: { a: 'b' } });
      expect((await statusOf(node.get(SECRETS, NS, 'unrelated'))).code).toBe(403);
      expect((await statusOf(node.patch(NODES, '', 'some-other-node', { metadata: { labels: { a: 'b' } } }, 'merge'))).code).toBe(403);
      // A node certificate cannot obtain more credentials.
      const more = await node.request('POST', '/apis/flotilla.io/v1/nodecredentials', { body: '{}', contentType: 'application/json' }).then(() => undefined, (e: unknown) => e);
      expect((more as ApiError).code).toBe(403);
    } finally {
      await node.close();
    }

    // The agent deletes its pod's object once the containers are gone (delete of a pod bound to it).
    await admin.delete(PODS, NS, 'on-joined', { gracePeriodSeconds: 1 });
    await waitFor('the pod object is gone', async () => (await admin.get(PODS, NS, 'on-joined').then(() => false, () => true)), { timeoutMs: 60_000 });
    // Registration, heartbeats, pod status, events, the secret: nothing the agent did was refused.
    expect(agents[0]!.stderr()).not.toMatch(/forbidden/i);
  }, 120_000);

  it('reuses the node credentials on a later start, without a token', async () => {
    const first = agents.find((a) => !a.exited())!;
    expect(await first.stop('SIGTERM')).toBe(0);
    const again = startJoinedAgent(NODE, join(dir.path, 'joined'), []);
    await again.waitForOutput(/agent running/, 90_000);
    expect(again.stderr()).not.toContain('joined the cluster');
    await again.stop('SIGTERM');
  }, 120_000);

  it('refuses a wrong token with 401 and exits 1', async () => {
    const hash = /^K10([0-9a-f]{64})::/.exec(token)![1]!;
    const p = startJoinedAgent(`wrong-${process.pid}`, join(dir.path, 'wrong'), ['--server', url, '--token', `K10${hash}::abcdef.0000000000000000`]);
    expect(await exitCodeOf(p)).toBe(1);
    expect(p.stderr()).toMatch(/the server refused the token \(401 Unauthorized\)/);
  }, 60_000);

  it('checks the CA hash before sending any credential', async () => {
    // A server with a CA of its own that records what it is sent.
    const ca = await createCa('impostor-ca');
    const serving = await issueCertificate(ca, { commonName: 'impostor', hosts: ['127.0.0.1'], usage: 'server' });
    const seen: { method: string; url: string; authorization: string | undefined }[] = [];
    const impostor: Server = createServer({ key: serving.key, cert: serving.cert }, (req, resp) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      if (req.url === '/cacerts') resp.end(ca.cert);
      else resp.writeHead(201).end('{}');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    try {
      const port = (impostor.address() as AddressInfo).port;
      const p = startJoinedAgent(`impostor-${process.pid}`, join(dir.path, 'impostor'), ['--server', `https://127.0.0.1:${port}`, '--token', token]);
      expect(await exitCodeOf(p)).toBe(1);
      expect(p.stderr()).toContain("the server's CA does not match the token");
      expect(seen).toEqual([{ method: 'GET', url: '/cacerts', authorization: undefined }]);
    } finally {
      await new Promise((r) => impostor.close(r));
    }

    // The real server with a token whose hash is wrong: refused the same way.
    const p = startJoinedAgent(`badhash-${process.pid}`, join(dir.path, 'badhash'), ['--server', url, '--token', token.replace(/^K10[0-9a-f]{64}/, `K10${'0'.repeat(64)}`)]);
    expect(await exitCodeOf(p)).toBe(1);
    expect(p.stderr()).toContain("the server's CA does not match the token");
  }, 60_000);

  it('flctl token create gives a working token; an expired or deleted token is refused', async () => {
    const created = flctl(['token', 'create', '--ttl', '1h', '--description', 'join e2e']);
    expect(created.code, created.stderr).toBe(0);
    const fresh = created.stdout.trim();
    expect(fresh).toMatch(/^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(fresh.split('::')[0]).toBe(token.split('::')[0]);
    const id = /::([a-z0-9]{6})\./.exec(fresh)![1]!;
    const listed = flctl(['token', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+(59m|60m|1h)\\s+\\S+Z\\s+authentication\\s+join e2e`, 'm'));

    const second = `second-${process.pid}`;
    const p = startJoinedAgent(second, join(dir.path, 'second'), ['--server', url, '--token', fresh]);
    await p.waitForOutput(/agent running/, 90_000);
    expect(p.stderr()).toContain(`as node ${second}`);
    await p.stop('SIGTERM');
    await admin.delete(NODES, '', second).catch(() => undefined);

    // Deleted: refused.
    expect(flctl(['token', 'delete', id]).stdout).toContain(`bootstrap token "${id}" deleted`);
    const deleted = startJoinedAgent(`deleted-${process.pid}`, join(dir.path, 'deleted'), ['--server', url, '--token', fresh]);
    expect(await exitCodeOf(deleted)).toBe(1);
    expect(deleted.stderr()).toMatch(/401 Unauthorized/);

    // Expired: refused.
    await admin.create(SECRETS, 'kube-system', {
      metadata: { name: 'bootstrap-token-xpired' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: { 'token-id': 'xpired', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', expiration: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(flctl(['token', 'list']).stdout).toMatch(/^xpired\s+<expired>/m);
    const expired = startJoinedAgent(`expired-${process.pid}`, join(dir.path, 'expired'), ['--server', url, '--token', `${token.split('::')[0]}::xpired.0123456789abcdef`]);
    expect(await exitCodeOf(expired)).toBe(1);
    expect(expired.stderr()).toMatch(/401 Unauthorized/);
    await admin.delete(SECRETS, 'kube-system', 'bootstrap-token-xpired');
  }, 180_000);
});
