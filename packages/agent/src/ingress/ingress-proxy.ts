/**
 * The node's Ingress reverse proxy (http-proxy-3): one HTTP and one HTTPS listener (SNI picks the
 * certificate), each request routed by the current routing table to a ready pod of the backend in
 * round robin, over kept-alive connections. 404 when no rule matches, 503 when the backend has no
 * ready endpoint, 502 when every tried endpoint failed. A refused connection is retried on another
 * endpoint for requests without a body. X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP are set
 * from the connection (client-sent values are replaced, not trusted). WebSocket (any `Upgrade`)
 * requests are passed through.
 *
 * A backend that closes its connection after each response (`Connection: close`, as busybox httpd
 * does) costs the proxy a new upstream connection per request. When the proxy finishes reading such
 * a response before the backend's FIN arrives, Node.js would close first and leave this host's side
 * in TIME_WAIT for 60 s; thousands of those towards one pod make every later connect() search longer
 * for a free source port (and can exhaust the ports towards that pod). Such a connection is reset
 * instead, once the whole response has been read and the request had no body to deliver.
 */
import { Agent, createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import { upstreamKey, type RoundRobin, type Upstream } from './backend-endpoints.js';
import type { CertificateStore } from './certificate-store.js';
import { requestPath, type RouteMatch } from './routing-table.js';

/** Where a request goes: its route and the backend's rotation (undefined: no rule matches). */
export interface RouteResolver {
  resolve(host: string | undefined, path: string): { match: RouteMatch; upstreams: RoundRobin } | undefined;
}

/** Listener settings; a port left undefined is not opened, 0 picks a free one. */
export interface IngressProxyOptions {
  bindAddress: string;
  httpPort?: number;
  httpsPort?: number;
  resolver: RouteResolver;
  certificates: CertificateStore;
  logger: Logger;
  /** How long a backend may take to respond (ms, default 60 s, as ingress-nginx's proxy_read_timeout). */
  proxyTimeoutMs?: number;
}

const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);
const MAX_TRIES = 3;

function reply(res: ServerResponse, code: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${text}\n`);
}

function rejectUpgrade(socket: Socket, code: number, reason: string): void {
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Whether the backend closes the connection after this response (HTTP/1.1 `close`, or HTTP/1.0 without `keep-alive`). */
function closesAfter(res: IncomingMessage): boolean {
  const c = res.headers['connection'];
  if (res.httpVersionMajor === 1 && res.httpVersionMinor === 0) return !(c && /\bkeep-alive\b/i.test(c));
  return c !== undefined && /\bclose\b/i.test(c);
}

/**
 * Resets the upstream connection at the end of a response after which the backend closes, unless its
 * FIN is already in: Node.js would otherwise close first (see the module comment). Runs before
 * Node's own end-of-response handling, which then finds the socket no longer writable.
 */
function resetWhenDone(res: IncomingMessage): void {
  const socket = res.socket;
  res.prependOnceListener('end', () => {
    if (!socket.destroyed && !socket.readableEnded) socket.resetAndDestroy();
  });
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function clientIP(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Replaces the forwarding headers with what this hop knows. */
function setForwardedHeaders(req: IncomingMessage, isTls: boolean): void {
  const ip = clientIP(req);
  req.headers['x-forwarded-for'] = ip;
  req.headers['x-real-ip'] = ip;
  req.headers['x-forwarded-proto'] = isTls ? 'https' : 'http';
  req.headers['x-forwarded-host'] = req.headers.host ?? '';
  req.headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
}

function target(u: Upstream): { host: string; port: number; protocol: string } {
  return { host: u.ip, port: u.port, protocol: 'http:' };
}

function urlOf(server: Server, scheme: string): string {
  const a = server.address() as AddressInfo;
  return `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** The listeners of the node's Ingress proxy. */
export class IngressProxy {
  private readonly proxy;
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo' });
  private readonly servers: Server[] = [];
  private readonly log: Logger;
  httpUrl: string | undefined;
  httpsUrl: string | undefined;

  constructor(private readonly options: IngressProxyOptions) {
    this.log = options.logger;
    this.proxy = createProxyServer({ agent: this.agent, ws: true, xfwd: false, proxyTimeout: options.proxyTimeoutMs ?? 60_000 });
    // Errors without a per-call callback (a WebSocket failing after the upgrade): the sockets are already torn down.
    this.proxy.on('error', (err) => this.log.debug({ err }, 'ingress proxy error'));
    this.proxy.on('proxyRes', (proxyRes, req) => {
      if (proxyRes.statusCode === 101) return;
      // A request with a body may still be streaming to the backend: that connection closes normally.
      if (closesAfter(proxyRes) && !hasBody(req)) resetWhenDone(proxyRes);
      // Hop-by-hop: a backend closing its connection must not close the client's kept-alive one.
      delete proxyRes.headers['connection'];
      delete proxyRes.headers['keep-alive'];
    });
  }

  /**
   * Opens the configured listeners on every bind address (comma-separated); a port that cannot be
   * bound is logged and left closed. Port 0 picks one port, then used on every address.
   */
  async listen(): Promise<void> {
    const o = this.options;
    const addresses = o.bindAddress.split(',').map((a) => a.trim()).filter(Boolean);
    for (const [port, tls] of [[o.httpPort, false], [o.httpsPort, true]] as const) {
      if (port === undefined) continue;
      let chosen = port;
      for (const address of addresses) {
        const s = tls
          ? createHttpsServer({ ...o.certificates.defaultCertificate, SNICallback: o.certificates.sniCallback }, (req, res) => this.handle(req, res, true))
          : createHttpServer((req, res) => this.handle(req, res, false));
        s.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head, tls));
        if (!(await this.open(s, chosen, address))) continue;
        chosen = (s.address() as AddressInfo).port;
        if (tls) this.httpsUrl ??= urlOf(s, 'https');
        else this.httpUrl ??= urlOf(s, 'http');
      }
    }
  }

  private async open(server: Server, port: number, address: string): Promise<boolean> {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.log.warn({ err, port, bindAddress: address }, 'ingress listener could not be opened');
      return false;
    }
    this.servers.push(server);
    return true;
  }

  private handle(req: IncomingMessage, res: ServerResponse, isTls: boolean): void {
    const route = this.options.resolver.resolve(req.headers.host, requestPath(req.url));
    if (!route) {
      reply(res, 404, 'default backend - 404');
      return;
    }
    setForwardedHeaders(req, isTls);
    this.forward(req, res, route, undefined);
  }

  /** Proxies to the next upstream not in `tried` (the endpoints already failed for this request; none on the first try). */
  private forward(req: IncomingMessage, res: ServerResponse, route: { match: RouteMatch; upstreams: RoundRobin }, tried: Set<string> | undefined): void {
    const u = route.upstreams.pick(tried);
    if (!u) {
      if (!tried) reply(res, 503, 'service unavailable: no ready endpoints');
      else reply(res, 502, 'bad gateway');
      return;
    }
    // A retried request's body was already consumed by the first attempt; only bodiless requests are retried.
    const options = tried ? { target: target(u), buffer: Readable.from([]) } : { target: target(u) };
    this.proxy.web(req, res, options, (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      (tried ??= new Set()).add(upstreamKey(u));
      if (!res.headersSent && RETRYABLE.has(code) && !hasBody(req) && tried.size < MAX_TRIES && !req.socket.destroyed) {
        this.log.debug({ err, upstream: upstreamKey(u), ingress: route.match.ingress }, 'ingress upstream failed; trying another');
        this.forward(req, res, route, tried);
        return;
      }
      this.log.debug({ err, upstream: upstreamKey(u), ingress: route.match.ingress }, 'ingress upstream failed');
      reply(res, 502, 'bad gateway');
    });
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer, isTls: boolean): void {
    socket.on('error', () => undefined);
    const route = this.options.resolver.resolve(req.headers.host, requestPath(req.url));
    if (!route) return rejectUpgrade(socket, 404, 'Not Found');
    const u = route.upstreams.pick();
    if (!u) return rejectUpgrade(socket, 503, 'Service Unavailable');
    setForwardedHeaders(req, isTls);
    this.proxy.ws(req, socket, head, { target: target(u) }, (err) => {
      this.log.debug({ err, upstream: upstreamKey(u), ingress: route.match.ingress }, 'ingress websocket upstream failed');
      if (!socket.destroyed) rejectUpgrade(socket, 502, 'Bad Gateway');
    });
  }

  /** Closes the listeners, their connections and the upstream connections. */
  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.agent.destroy();
  }
}

