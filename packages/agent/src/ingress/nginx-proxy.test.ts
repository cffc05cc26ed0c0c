/**
 * The nginx Ingress proxy with a real nginx (skipped where none is installed): nginx must route
 * every request as `RoutingTable.match` does, follow changes by reloading, and replace an nginx left
 * running in its directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule } from '@flotilla/api';
import { createSelfSignedCertificate } from '@flotilla/api/pki';
import { findExecutable } from '../find-executable.js';
import { CertificateStore } from './certificate-store.js';
import type { Upstream } from './backend-endpoints.js';
import { NginxIngressProxy } from './nginx-proxy.js';
import { RoutingTable } from './routing-table.js';

const nginx = findExecutable('nginx');
const logger = pino({ level: process.env.NGINX_TEST_LOG ?? 'silent' });

function path(p: string, svc: string, pathType: HTTPIngressPath['pathType'] = 'Prefix'): HTTPIngressPath {
  return { path: p, pathType, backend: { service: { name: svc, port: { number: 80 } } } };
}

function ingress(name: string, created: string, rules: IngressRule[], extra: Partial<NonNullable<Ingress['spec']>> = {}): Ingress {
  return { metadata: { name, namespace: 'ns', creationTimestamp: created }, spec: { rules, ...extra } };
}

const SERVICES = ['a-app', 'a-exact', 'a-deep', 'a-def', 'wild', 'wild-x', 'any', 'any-root', 'global', 'empty'];

/** Rules that exercise every decision of the table: exact, wildcard and host-less groups, Exact vs Prefix, defaults. */
const INGRESSES: Ingress[] = [
  ingress('first', '2024-01-01T00:00:00Z', [
    { host: 'a.test', http: { paths: [path('/app', 'a-app'), path('/app', 'a-exact', 'Exact'), path('/app/deep/', 'a-deep'), path('/app/x', 'a-exact', 'Exact'), path('/e', 'empty')] } },
    { host: '*.w.test', http: { paths: [path('/', 'wild'), path('/x', 'wild-x', 'Exact')] } },
  ], { defaultBackend: { service: { name: 'a-def', port: { number: 80 } } } }),
  ingress('second', '2024-01-02T00:00:00Z', [
    { http: { paths: [path('/any', 'any'), path('/', 'any-root', 'Prefix')] } },
    { host: 'a.test', http: { paths: [path('/app', 'global')] } },
    { host: 'b.test', http: { paths: [path('/only', 'global', 'Exact')] } },
  ], { defaultBackend: { service: { name: 'global', port: { number: 80 } } } }),
];

const HOSTS = ['a.test', 'A.Test:8080', 'x.w.test', 'w.test', 'x.y.w.test', 'b.test', 'tls-only.test', 'other.test'];
const PATHS = ['/', '/app', '/app/', '/apple', '/app/x', '/app/x/', '/app/deep', '/app/deep/er', '/app/deeper', '/e', '/x', '/x/', '/any', '/any/1', '/anything', '/only', '/only/'];

const servers: Server[] = [];
const ports = new Map<string, number>();
let dir: string;
let certificates: CertificateStore;

/** Status and body of GET `path` with Host `host` (no Host header when empty). */
function get(port: number, host: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: p, agent: false, setHost: false, headers: host ? { host } : {} }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function proxyFor(table: () => RoutingTable, dirName = dir, listeners: { httpPort?: number; httpsPort?: number } = { httpPort: 0, httpsPort: 0 }): NginxIngressProxy {
  return new NginxIngressProxy({
    binary: nginx!,
    dir: dirName,
    bindAddress: '127.0.0.1',
    ...listeners,
    retryMs: 300,
    logger,
    routes: () => ({
      table: table(),
      upstreams: (ref): Upstream[] => (ports.has(ref.service) ? [{ ip: '127.0.0.1', port: ports.get(ref.service)! }] : []),
      certificate: (h) => certificates.pemFor(h),
      certificateHosts: certificates.hosts(),
    }),
  });
}

/** Runs `body` against a started proxy serving `table` (read at every reload), then closes it. */
async function withProxy(table: () => RoutingTable, body: (proxy: NginxIngressProxy) => Promise<void>): Promise<void> {
  const proxy = proxyFor(table);
  await proxy.listen();
  try {
    await body(proxy);
  } finally {
    await proxy.close();
  }
}

/** What the table says a request gets: the service's name, or the status nginx must answer. */
function expected(table: RoutingTable, host: string, p: string): string {
  const m = table.match(host, p);
  if (!m) return '404';
  return ports.has(m.backend.service) ? m.backend.service : '503';
}

describe.skipIf(!nginx)('NginxIngressProxy with nginx', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-nginx-test-'));
    for (const name of SERVICES.filter((s) => s !== 'empty')) {
      const s = createServer((req, res) => {
        if (req.method !== 'POST') return void res.end(name);
        // Counts the upload, then answers with 8 MiB.
        let n = 0;
        req.on('data', (d: Buffer) => (n += d.length));
        req.on('end', () => {
          res.setHeader('x-received', String(n));
          res.end(Buffer.alloc(8 << 20, 'y'));
        });
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      ports.set(name, (s.address() as AddressInfo).port);
    }
    certificates = new CertificateStore(await createSelfSignedCertificate('default', ['ingress.local']), logger);
    const tls = await createSelfSignedCertificate('tls-only.test', ['tls-only.test']);
    const secret = { metadata: { name: 's', namespace: 'ns', resourceVersion: '1' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(tls.cert).toString('base64'), 'tls.key': Buffer.from(tls.key).toString('base64') } };
    certificates.update(new Map([['tls-only.test', { namespace: 'ns', secretName: 's' }]]), () => secret);
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes every host and path as RoutingTable.match does, and follows a new table after a reload', async () => {
    let table = RoutingTable.build(INGRESSES);
    await withProxy(() => table, async (proxy) => {
      const port = Number(new URL(proxy.httpUrl!).port);
      const compare = async () => {
        const mismatches: string[] = [];
        for (const host of HOSTS) {
          for (const p of PATHS) {
            const want = expected(table, host, p);
            const r = await get(port, host, p);
            const got = r.status === 200 ? r.body : String(r.status);
            if (got !== want) mismatches.push(`${host || '(no host)'} ${p}: nginx ${got}, table ${want}`);
          }
        }
        return mismatches;
      };
      expect(await compare()).toEqual([]);

      // A new table (the first Ingress deleted): nginx reloads and follows.
      table = RoutingTable.build(INGRESSES.slice(1));
      proxy.update();
      const deadline = Date.now() + 10_000;
      let mismatches = await compare();
      while (mismatches.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        mismatches = await compare();
      }
      expect(mismatches).toEqual([]);
      expect((await get(port, 'a.test', '/app')).body).toBe('global');
    });
  });

  it('answers HTTP/2 on the HTTPS listener, with the certificate of the server name', async () => {
    const table = RoutingTable.build(INGRESSES);
    await withProxy(() => table, async (proxy) => {
      const session = connect(proxy.httpsUrl!, { rejectUnauthorized: false, servername: 'tls-only.test' });
      try {
        const peer = await new Promise<string>((resolve, reject) => {
          session.once('error', reject);
          session.once('connect', () => resolve(String((session.socket as TLSSocket).getPeerCertificate().subject?.CN)));
        });
        expect(peer).toBe('tls-only.test');
        const body = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = session.request({ ':path': '/app', ':authority': 'a.test' });
          let text = '';
          let status = 0;
          req.on('response', (h) => (status = Number(h[':status'])));
          req.setEncoding('utf8');
          req.on('data', (d: string) => (text += d));
          req.on('end', () => resolve({ status, body: text }));
          req.on('error', reject);
          req.end();
        });
        expect(body).toEqual({ status: 200, body: 'a-exact' });
      } finally {
        session.close();
      }
    });
  });

  it('streams large request and response bodies both ways', async () => {
    const table = RoutingTable.build(INGRESSES);
    await withProxy(() => table, async (proxy) => {
      const port = Number(new URL(proxy.httpUrl!).port);
      const upload = Buffer.alloc(5 << 20, 'x');
      const r = await new Promise<{ status: number; received: string; length: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/any', method: 'POST', agent: false, headers: { host: 'other.test', 'content-length': upload.length } }, (res) => {
          let length = 0;
          res.on('data', (d: Buffer) => (length += d.length));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, received: String(res.headers['x-received']), length }));
        });
        req.on('error', reject);
        req.end(upload);
      });
      expect(r).toEqual({ status: 200, received: String(5 << 20), length: 8 << 20 });
    });
  });

  it('keeps trying while its port is taken, and serves once the port is free', async () => {
    const blocker = createServer((_req, res) => res.end('blocker'));
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const table = RoutingTable.build(INGRESSES);
    const busyDir = mkdtempSync(join(tmpdir(), 'flotilla-nginx-busy-'));
    const proxy = proxyFor(() => table, busyDir, { httpPort: port });
    try {
      await proxy.listen();
      expect(proxy.httpUrl).toBeUndefined();
      expect((await get(port, 'a.test', '/app')).body).toBe('blocker');
      await new Promise((r) => blocker.close(r));
      const deadline = Date.now() + 20_000;
      let body = '';
      while (body !== 'a-exact' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        body = await get(port, 'a.test', '/app').then((r) => r.body, () => '');
      }
      expect(body).toBe('a-exact');
      expect(proxy.httpUrl).toBe(`http://127.0.0.1:${port}`);
    } finally {
      await proxy.close();
      blocker.close();
      rmSync(busyDir, { recursive: true, force: true });
    }
  }, 30_000);

  it('stops an nginx an earlier agent left running in its directory, and exits cleanly', async () => {
    const leftDir = mkdtempSync(join(tmpdir(), 'flotilla-nginx-left-'));
    try {
      // An nginx started as the proxy starts it, but not our child: it outlives nothing here.
      writeFileSync(join(leftDir, 'nginx.conf'), `daemon off; pid ${join(leftDir, 'nginx.pid')}; error_log stderr; events {} http { client_body_temp_path ${leftDir}/b; proxy_temp_path ${leftDir}/p; fastcgi_temp_path ${leftDir}/f; uwsgi_temp_path ${leftDir}/u; scgi_temp_path ${leftDir}/s; server { listen 127.0.0.1:0; } }`.replace('127.0.0.1:0', '127.0.0.1:1'));
      const left = spawn(nginx!, ['-p', leftDir, '-c', join(leftDir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'ignore', detached: true });
      left.unref();
      const deadline = Date.now() + 5000;
      while (!existsSync(join(leftDir, 'nginx.pid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const leftPid = Number(readFileSync(join(leftDir, 'nginx.pid'), 'utf8'));
      expect(leftPid).toBe(left.pid);

      const table = RoutingTable.build(INGRESSES);
      const proxy = proxyFor(() => table, leftDir);
      await proxy.listen();
      expect(existsSync(`/proc/${leftPid}`)).toBe(false);
      const pid = Number(readFileSync(join(leftDir, 'nginx.pid'), 'utf8'));
      expect(pid).not.toBe(leftPid);
      expect((await get(Number(new URL(proxy.httpUrl!).port), 'a.test', '/app')).body).toBe('a-exact');
      await proxy.close();
      expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      rmSync(leftDir, { recursive: true, force: true });
    }
  });
});
