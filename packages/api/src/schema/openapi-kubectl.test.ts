/**
 * Real kubectl (1.27, 1.31, 1.33) against a tiny loopback server that serves /version, discovery and
 * our OpenAPI documents: `kubectl explain` renders our schemas, and `kubectl create --validate=strict`
 * finds fieldValidation on PATCH and sends it. Skipped when kubectl is not installed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGroups, groupVersionOf, RESOURCES } from '../resources.js';
import { buildOpenApiV3, buildOpenApiV3Index } from './openapi.js';

const KUBECTL = '/usr/bin/kubectl';
const run = promisify(execFile);

interface TestServer {
  server: Server;
  minor: string;
  requests: string[];
}

function discoveryServer(): TestServer {
  const docs = new Map<string, string>();
  for (const g of apiGroups()) {
    for (const v of g.versions) {
      const gv = g.name === '' ? v : `${g.name}/${v}`;
      docs.set(g.name === '' ? `api/${v}` : `apis/${g.name}/${v}`, JSON.stringify(buildOpenApiV3(gv, RESOURCES.filter((r) => r.group === g.name && r.version === v))));
    }
  }
  const index = JSON.stringify(buildOpenApiV3Index(docs));
  const resourceList = (gv: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: gv,
    resources: RESOURCES.filter((r) => groupVersionOf(r) === gv).flatMap((r) => [
      { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, shortNames: r.shortNames },
      ...r.subresources.map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] })),
    ]),
  });
  const state: TestServer = { server: undefined as unknown as Server, minor: '31', requests: [] };
  const send = (res: ServerResponse, code: number, body: string, type = 'application/json') => {
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  state.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    state.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const p = url.pathname;
      if (p === '/version') return send(res, 200, JSON.stringify({ major: '1', minor: state.minor, gitVersion: `v1.${state.minor}.0`, platform: 'linux/amd64' }));
      if (p === '/api') return send(res, 200, JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }));
      if (p === '/apis') {
        const groups = apiGroups().filter((g) => g.name !== '').map((g) => ({ name: g.name, versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })), preferredVersion: { groupVersion: `${g.name}/${g.versions[0]}`, version: g.versions[0] } }));
        return send(res, 200, JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups }));
      }
      if (p === '/api/v1') return send(res, 200, JSON.stringify(resourceList('v1')));
      const gvMatch = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p);
      if (gvMatch) return send(res, 200, JSON.stringify(resourceList(`${gvMatch[1]}/${gvMatch[2]}`)));
      if (p === '/openapi/v3') return send(res, 200, index);
      const doc = p.startsWith('/openapi/v3/') ? docs.get(p.slice('/openapi/v3/'.length)) : undefined;
      if (doc) return send(res, 200, doc);
      if (p === '/openapi/v2') return send(res, 200, '', 'application/octet-stream');
      if (req.method === 'POST' && p === '/api/v1/namespaces/default/pods') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: Record<string, unknown> };
        body.metadata['namespace'] = 'default';
        return send(res, 201, JSON.stringify(body));
      }
      return send(res, 404, JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' }));
    });
  });
  return state;
}

describe.skipIf(!existsSync(KUBECTL))('kubectl against the OpenAPI documents', () => {
  let ts: TestServer;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    ts = discoveryServer();
    await new Promise<void>((resolve) => ts.server.listen(0, '127.0.0.1', resolve));
    const { port } = ts.server.address() as AddressInfo;
    dir = await mkdtemp(join(tmpdir(), 'flotilla-openapi-'));
    kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}` } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'default' } }], 'current-context': 'x' }));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => ts.server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const kubectl = async (minor: string, args: string[]) => {
    ts.minor = minor;
    ts.requests.length = 0;
    // A fresh cache directory per call, so each kubectl version fetches the documents itself.
    const cache = await mkdtemp(join(dir, 'cache-'));
    return run(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', cache, ...args], { timeout: 60_000, env: { ...process.env, HOME: dir } });
  };

  it.each(['27', '31', '33'])('kubectl 1.%s explains pods.spec.containers from our schemas', async (minor) => {
    const { stdout } = await kubectl(minor, ['explain', 'pods.spec.containers']);
    expect(stdout).toContain('KIND:');
    expect(stdout).toMatch(/FIELD:\s+containers\s+<\[\]Container>/);
    expect(stdout).toContain('One container of a pod');
    expect(stdout).toMatch(/imagePullPolicy\s+<string>/);
    expect(stdout).toMatch(/name\s+<string> -required-/);
    expect(ts.requests.some((r) => r.startsWith('GET /openapi/v3/api/v1?hash='))).toBe(true);
  }, 90_000);

  it.each(['27', '33'])('kubectl 1.%s explains deployments.spec.strategy in apps/v1', async (minor) => {
    const { stdout } = await kubectl(minor, ['explain', 'deployments.spec.strategy']);
    expect(stdout).toContain('GROUP:      apps');
    expect(stdout).toMatch(/rollingUpdate\s+<RollingUpdateDeployment>/);
    expect(stdout).toContain('Recreate or RollingUpdate');
  }, 90_000);

  it.each(['27', '31', '33'])('kubectl 1.%s sends fieldValidation=Strict instead of validating itself', async (minor) => {
    const pod = join(dir, `pod-${minor}.json`);
    await writeFile(pod, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx', bogus: 1 }] } }));
    const { stdout } = await kubectl(minor, ['create', '-f', pod, '--validate=strict']);
    expect(stdout).toContain('pod/p created');
    expect(ts.requests.find((r) => r.startsWith('POST '))).toMatch(/fieldValidation=Strict/);
  }, 90_000);
});
