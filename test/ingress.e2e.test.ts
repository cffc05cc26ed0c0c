/**
 * Ingress through the agent's proxy, with a real API server, controller manager (EndpointSlices),
 * agent and busybox httpd pods: host and path routing (Prefix by element, Exact), 404 for unknown
 * hosts and paths, round robin over ready pods and removal of an unready one, X-Forwarded-*
 * headers, WebSocket-style upgrades, HTTPS with an Ingress's Secret certificate (verified with the
 * test's CA) and the default certificate for other hosts, the IngressClass and the Ingress status.
 * The suite runs against both Ingress proxies: nginx (where installed; it also checks that nginx
 * exits with a killed agent) and the agent's Node.js proxy.
 *
 * The agent listens on free loopback ports (`--ingress-*-port auto`); its containers carry
 * `io.flotilla.test=true` and this run's node name, and the suite removes exactly those.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { createCa, issueCertificate, type KeyPairPem } from '@flotilla/api/pki';
import { res, RestClient } from '@flotilla/client';
import { findExecutable } from '../packages/agent/src/find-executable.js';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import type { RunningProcess } from './harness/processes.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const SERVICES = res('services');
const SECRETS = res('secrets');
const NAMESPACES = res('namespaces');
const INGRESSES = res('ingresses.networking.k8s.io');
const INGRESSCLASSES = res('ingressclasses.networking.k8s.io');

const docker = hasDockerSocket();
const NS = 'ingress-e2e';
const nginx = findExecutable('nginx');

/** The listeners of the suite that runs now. */
let httpPort: number;
let httpsPort: number;

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  peerCN?: string;
}

/** One request to the ingress on loopback with a Host header (HTTPS: SNI = host). */
function get(host: string, path: string, options: { tls?: boolean; ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const common = { host: '127.0.0.1', path, headers: { host }, agent: false as const };
    const onResponse = (r: import('node:http').IncomingMessage) => {
      const peer = options.tls ? (r.socket as TLSSocket).getPeerCertificate() : undefined;
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body, headers: r.headers, ...(peer ? { peerCN: String(peer.subject?.CN ?? '') } : {}) }));
    };
    const req = options.tls
      ? httpsRequest({ ...common, port: httpsPort, servername: host, ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }) }, onResponse)
      : httpRequest({ ...common, port: httpPort }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

/**
 * A busybox pod serving `files` with httpd on 8080 (plus /cgi-bin/env printing its environment)
 * and echoing after a `101 Switching Protocols` on 9000; Ready while /tmp/ready exists.
 */
function webPodOn(node: string, name: string, app: string, files: Record<string, string>): KubeObject {
  const script = [
    ...Object.entries(files).map(([p, c]) => `mkdir -p "$(dirname /www${p})" && echo "${c}" > /www${p}`),
    `mkdir -p /www/cgi-bin && printf '#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\nenv\\n' > /www/cgi-bin/env && chmod +x /www/cgi-bin/env`,
    `printf '#!/bin/sh\\nwhile IFS= read -r l; do [ \${#l} -le 1 ] && break; done\\nprintf "HTTP/1.1 101 Switching Protocols\\\\r\\\\nUpgrade: websocket\\\\r\\\\nConnection: Upgrade\\\\r\\\\n\\\\r\\\\n"\\nexec cat\\n' > /ws.sh && chmod +x /ws.sh`,
    'touch /tmp/ready',
    '(nc -ll -p 9000 -e /ws.sh &)',
    'exec httpd -f -p 8080 -h /www',
  ].join('; ');
  return {
    metadata: { name, labels: { app } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'main',
        image: TEST_IMAGE,
        imagePullPolicy: 'Never',
        command: ['sh', '-c', script],
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
      }],
    },
  };
}

/** The whole suite against one Ingress proxy (`--ingress-proxy nginx` or `node`). */
function ingressSuite(proxy: 'nginx' | 'node'): void {
  const NODE = `ingress-e2e-${proxy}-${process.pid}`;
  const cluster = new DockerTestCluster(`ingress-${proxy}`, NODE);
  const engine = cluster.engine;
  let server: ApiServerProcess;
  let client: RestClient;
  let agent: RunningProcess;
  let ca: KeyPairPem;
  const webPod = (name: string, app: string, files: Record<string, string>) => webPodOn(NODE, name, app, files);

  beforeAll(async () => {
    ({ server, client } = await cluster.start());
    await startControllerManager(server.kubeconfig);
    agent = (await cluster.startAgent(['--ingress-http-port', 'auto', '--ingress-https-port', 'auto', '--ingress-bind-address', '127.0.0.1', '--ingress-proxy', proxy])).process;
    const m = await agent.waitForOutput(/ingress listening on http:\/\/127\.0\.0\.1:(\d+) https:\/\/127\.0\.0\.1:(\d+)/, 60_000);
    httpPort = Number(m[1]);
    httpsPort = Number(m[2]);

    ca = await createCa('ingress-e2e-ca');
    const aCert = await issueCertificate(ca, { commonName: 'a.test', hosts: ['a.test'], usage: 'server' });
    await client.create(NAMESPACES, '', { metadata: { name: NS } });
    await client.create(SECRETS, NS, { metadata: { name: 'a-tls' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': aCert.cert, 'tls.key': aCert.key } });
    await client.create(PODS, NS, webPod('one-a', 'one', { '/app/index.html': 'svc1 $POD_NAME', '/app/special/index.html': 'svc1 special' }));
    await client.create(PODS, NS, webPod('one-b', 'one', { '/app/index.html': 'svc1 $POD_NAME', '/app/special/index.html': 'svc1 special' }));
    await client.create(PODS, NS, webPod('two', 'two', { '/index.html': 'svc2 root', '/other/index.html': 'svc2 other', '/app/special': 'svc2 special' }));
    await client.create(SERVICES, NS, { metadata: { name: 'svc1' }, spec: { selector: { app: 'one' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    await client.create(SERVICES, NS, { metadata: { name: 'svc2' }, spec: { selector: { app: 'two' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'ws', port: 9000, targetPort: 9000 }] } });
    const backend = (name: string, port: { number?: number; name?: string } = { number: 80 }) => ({ service: { name, port } });
    await client.create(INGRESSES, NS, {
      metadata: { name: 'web' },
      spec: {
        tls: [{ hosts: ['a.test'], secretName: 'a-tls' }],
        rules: [
          { host: 'a.test', http: { paths: [
            { path: '/app', pathType: 'Prefix', backend: backend('svc1') },
            { path: '/app/special', pathType: 'Exact', backend: backend('svc2') },
            { path: '/other', pathType: 'Prefix', backend: backend('svc2') },
          ] } },
          { host: 'b.test', http: { paths: [
            { path: '/', pathType: 'Prefix', backend: backend('svc2') },
            { path: '/ws', pathType: 'Exact', backend: backend('svc2', { name: 'ws' }) },
          ] } },
        ],
      },
    });
    // Every pod Ready and in the EndpointSlices: the ingress reaches each backend.
    await waitFor('svc1 pods behind the ingress', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await get('a.test', '/app/')).body.trim());
      return seen.has('svc1 one-a') && seen.has('svc1 one-b');
    }, { timeoutMs: 90_000, intervalMs: 250, stableForMs: 1000 });
    await waitFor('svc2 behind the ingress', async () => (await get('b.test', '/')).body.trim() === 'svc2 root' && (await get('a.test', '/app/special')).body.trim() === 'svc2 special', { timeoutMs: 60_000, intervalMs: 250, stableForMs: 1000 });
  }, 180_000);

  afterAll(() => cluster.stop());

  it('creates the flotilla IngressClass as the default and writes the node IP into the Ingress status', async () => {
    const ic = await client.get<KubeObject & { spec: { controller: string } }>(INGRESSCLASSES, '', 'flotilla');
    expect(ic.spec.controller).toBe('flotilla.io/ingress');
    expect(ic.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class']).toBe('true');
    // The API server's DefaultIngressClass admission names the default class in a class-less Ingress.
    await client.create(INGRESSES, NS, { metadata: { name: 'defaulted' }, spec: { rules: [{ host: 'defaulted.test' }] } });
    expect((await client.get<KubeObject & { spec: { ingressClassName?: string } }>(INGRESSES, NS, 'defaulted')).spec.ingressClassName).toBe('flotilla');
    await client.delete(INGRESSES, NS, 'defaulted');
    const node = await client.get<KubeObject & { status: { addresses: { type: string; address: string }[] } }>(res('nodes'), '', NODE);
    const ip = node.status.addresses.find((a) => a.type === 'InternalIP')!.address;
    const status = await waitFor('ingress status', async () => {
      const ing = await client.get<KubeObject & { status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>(INGRESSES, NS, 'web');
      return ing.status?.loadBalancer?.ingress?.length ? ing.status.loadBalancer.ingress : undefined;
    });
    expect(status).toEqual([{ ip }]);
  });

  it('routes by host and path: Prefix by path element, Exact, 404 for unknown hosts and paths', async () => {
    expect((await get('a.test', '/app/')).body).toMatch(/^svc1 one-[ab]\n$/);
    expect((await get('a.test', '/app/special/')).body).toBe('svc1 special\n');
    expect((await get('a.test', '/app/special')).body).toBe('svc2 special\n');
    expect((await get('A.TEST:80', '/other/')).body).toBe('svc2 other\n');
    expect((await get('b.test', '/')).body).toBe('svc2 root\n');
    expect((await get('b.test', '/other/')).body).toBe('svc2 other\n');
    // `/app` does not match `/apple`; a.test has no other rule for it.
    const apple = await get('a.test', '/apple');
    expect(apple.status).toBe(404);
    expect(apple.body).toMatch(/default backend - 404/);
    const unknown = await get('unknown.test', '/');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatch(/default backend - 404/);
  });

  it('sets X-Forwarded-For/-Proto/-Host and keeps the Host header', async () => {
    const env = (await get('b.test', '/cgi-bin/env')).body;
    expect(env).toMatch(/^HTTP_HOST=b\.test$/m);
    expect(env).toMatch(/^HTTP_X_FORWARDED_FOR=127\.0\.0\.1$/m);
    expect(env).toMatch(/^HTTP_X_FORWARDED_PROTO=http$/m);
    expect(env).toMatch(/^HTTP_X_FORWARDED_HOST=b\.test$/m);
    const tlsEnv = (await get('b.test', '/cgi-bin/env', { tls: true })).body;
    expect(tlsEnv).toMatch(/^HTTP_X_FORWARDED_PROTO=https$/m);
  });

  it('passes upgrades (WebSocket) through to the backend port by name', async () => {
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = connect(httpPort, '127.0.0.1');
      let buf = '';
      let upgraded = false;
      const timer = setTimeout(() => (s.destroy(), reject(new Error(`no echo; got ${JSON.stringify(buf)}`))), 10_000);
      s.on('error', reject);
      s.on('data', (d) => {
        buf += d.toString();
        if (!upgraded && buf.includes('\r\n\r\n')) {
          upgraded = true;
          expect(buf).toMatch(/^HTTP\/1\.1 101 /);
          buf = '';
          s.write('hello through the ingress\n');
        } else if (upgraded && buf.includes('\n')) {
          clearTimeout(timer);
          s.destroy();
          resolve(buf);
        }
      });
      s.write('GET /ws HTTP/1.1\r\nHost: b.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    });
    expect(echoed).toBe('hello through the ingress\n');
  });

  it('serves the Secret certificate for a.test over HTTPS and the default certificate for other hosts', async () => {
    const a = await get('a.test', '/app/special', { tls: true, ca: ca.cert });
    expect(a.status).toBe(200);
    expect(a.body).toBe('svc2 special\n');
    expect(a.peerCN).toBe('a.test');
    const b = await get('b.test', '/', { tls: true });
    expect(b.body).toBe('svc2 root\n');
    expect(b.peerCN).toBe('Flotilla Ingress Default Certificate');
    // The default certificate is not signed by the test's CA.
    await expect(get('b.test', '/', { tls: true, ca: ca.cert })).rejects.toThrow();
  });

  it('round-robins over ready pods and takes an unready pod out of rotation', async () => {
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await get('a.test', '/app/')).body.trim());
    expect([...bodies].sort()).toEqual(['svc1 one-a', 'svc1 one-b']);
    const pod = await client.get<KubeObject & { status: { containerStatuses: { containerID: string }[] } }>(PODS, NS, 'one-b');
    const id = pod.status.containerStatuses[0]!.containerID.replace('docker://', '');
    await engine.exec(id, ['rm', '-f', '/tmp/ready']);
    await waitFor('one-b out of rotation', async () => {
      for (let i = 0; i < 6; i++) if ((await get('a.test', '/app/')).body.trim() !== 'svc1 one-a') return false;
      return true;
    }, { timeoutMs: 30_000, intervalMs: 250, stableForMs: 1000 });
    // Stays out.
    for (let i = 0; i < 10; i++) expect((await get('a.test', '/app/')).body.trim()).toBe('svc1 one-a');
  });

  it('answers 503 when the backend has no ready endpoints, and ignores Ingresses of other classes', async () => {
    const rule = (host: string, service: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } });
    await client.create(INGRESSES, NS, { metadata: { name: 'other-class' }, spec: { ingressClassName: 'nginx', rules: [rule('other.test', 'svc2')] } });
    await client.create(SERVICES, NS, { metadata: { name: 'empty' }, spec: { selector: { app: 'nothing' }, ports: [{ port: 80, targetPort: 8080 }] } });
    await client.create(INGRESSES, NS, { metadata: { name: 'empty' }, spec: { ingressClassName: 'flotilla', rules: [rule('empty.test', 'empty')] } });
    const r = await waitFor('503', async () => {
      const x = await get('empty.test', '/');
      return x.status === 503 ? x : undefined;
    });
    expect(r.body).toMatch(/no ready endpoints/);
    // The other-class Ingress was created first, so the table that serves empty.test has seen it.
    expect((await get('other.test', '/')).status).toBe(404);
  });

  it.runIf(proxy === 'nginx')('runs nginx as the agent\'s child, which exits with the agent even when the agent is killed -9', async () => {
    const pid = Number(readFileSync(join(cluster.dir.path, 'agent', 'ingress-nginx', 'nginx.pid'), 'utf8'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/nginx/);
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(agent.child.pid));
    await agent.stop('SIGKILL');
    await waitFor('nginx gone', () => !existsSync(`/proc/${pid}`), { timeoutMs: 10_000, intervalMs: 50 });
    await expect(get('b.test', '/')).rejects.toThrow(/ECONNREFUSED/);
  });
}

describe.skipIf(!docker || !nginx)('Ingress served by nginx (--ingress-proxy nginx)', () => ingressSuite('nginx'));
describe.skipIf(!docker)('Ingress served by the agent\'s Node.js proxy (--ingress-proxy node)', () => ingressSuite('node'));
