import { readFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '@flotilla/api/pki';
import pino from 'pino';
import { RoundRobin } from './backend-endpoints.js';
import { CertificateStore } from './certificate-store.js';
import { IngressProxy } from './ingress-proxy.js';
import { RoutingTable } from './routing-table.js';

const BODY = 'x'.repeat(1000);
let backend: Server;
let lateBackend: TcpServer;
let latePort: number;
let proxy: IngressProxy;
const upstreams = new RoundRobin();
const late = new RoundRobin();
const empty = new RoundRobin();

/** Sockets of this namespace in TIME_WAIT towards 127.0.0.1:`port` (-1 where /proc/net/tcp is unreadable). */
function timeWaitTowards(port: number): number {
  let text: string;
  try {
    text = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return -1;
  }
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[2] === remote && f[3] === '06';
  }).length;
}

function send(method: string, host: string, path: string, options: { agent?: Agent; body?: string } = {}): Promise<{ status: number; body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(proxy.httpUrl! + path, { method, headers: { host }, agent: options.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: res.socket }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

beforeAll(async () => {
  // A backend that closes every connection after its response, as busybox httpd does.
  backend = createServer((req, res) => {
    let received = '';
    req.on('data', (d: Buffer) => (received += d.toString()));
    req.on('end', () => {
      res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' });
      res.end(req.method === 'POST' ? `got ${received.length}` : BODY);
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  upstreams.set([{ ip: '127.0.0.1', port: (backend.address() as AddressInfo).port }]);
  // One that announces `Connection: close` but sends its FIN a moment after the response: the proxy
  // has the whole response before the backend closes.
  lateBackend = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.write(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
      setTimeout(() => socket.end(), 50);
    });
  });
  await new Promise<void>((r) => lateBackend.listen(0, '127.0.0.1', r));
  latePort = (lateBackend.address() as AddressInfo).port;
  late.set([{ ip: '127.0.0.1', port: latePort }]);
  const table = RoutingTable.build([
    {
      metadata: { name: 'web', namespace: 'ns', creationTimestamp: '2024-01-01T00:00:00Z' },
      spec: { rules: [{ host: 'web.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }, { host: 'late.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'late', port: { number: 80 } } } }] } }, { host: 'empty.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'empty', port: { number: 80 } } } }] } }] },
    },
  ]);
  const logger = pino({ level: 'silent' });
  proxy = new IngressProxy({
    bindAddress: '127.0.0.1',
    httpPort: 0,
    resolver: {
      resolve: (host, path) => {
        const match = table.match(host, path);
        return match ? { match, upstreams: { web: upstreams, late }[match.backend.service] ?? empty } : undefined;
      },
    },
    certificates: new CertificateStore(await createSelfSignedCertificate('test', ['ingress.local']), logger),
    logger,
  });
  await proxy.listen();
});

afterAll(async () => {
  await proxy?.close();
  await new Promise((r) => backend?.close(r));
  await new Promise((r) => lateBackend?.close(r));
});

describe('IngressProxy', () => {
  it('keeps the client connection alive over a backend that closes each one, whole bodies, no TIME_WAIT left by the proxy', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let i = 0; i < 30; i++) {
      const r = await send('GET', i % 2 ? 'web.test' : 'late.test', '/index.html', { agent });
      expect(r.status).toBe(200);
      expect(r.body).toBe(BODY);
      sockets.add(r.socket);
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
    // The proxy resets a connection whose backend has not closed yet: its side leaves no TIME_WAIT.
    const tw = timeWaitTowards(latePort);
    if (tw >= 0) expect(tw).toBe(0);
  });

  it('forwards a request body to a closing backend', async () => {
    const r = await send('POST', 'web.test', '/upload', { body: 'y'.repeat(50_000) });
    expect(r).toMatchObject({ status: 200, body: 'got 50000' });
  });

  it('answers 404 without a route and 503 without ready endpoints', async () => {
    expect((await send('GET', 'none.test', '/')).status).toBe(404);
    expect((await send('GET', 'empty.test', '/')).status).toBe(503);
  });
});
