/**
 * One TCP listener of a service port: accepts on ADDRESS:PORT, connects to an endpoint its
 * selector picks and splices the two sockets (half-close passed through). A failed connect moves
 * on to the next endpoint with growing timeouts (kube-proxy userspace's four dials: 250 ms, 500 ms,
 * 1 s, 2 s; untried endpoints first, then any again); with no endpoint at all, or after the four
 * dials, the client gets a reset.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endpointKey, type EndpointSelector, type ProxyEndpoint } from './endpoint-selector.js';

const DIAL_TIMEOUTS_MS = [250, 500, 1000, 2000];

/** A listening TCP proxy socket. */
export class TcpProxier {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly address: string,
    readonly port: number,
    /** Where connections go; swapped by the proxy when the service changes. */
    public selector: EndpointSelector,
    private readonly log: Logger,
  ) {
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => this.accept(s));
  }

  /** Starts listening; rejects on EADDRINUSE and the like. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.address, port: this.port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.log.warn({ err, address: this.address, port: this.port }, 'tcp proxy listener failed'));
        resolve();
      });
    });
  }

  /** Stops listening and cuts every proxied connection. */
  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    const clientIP = client.remoteAddress ?? '';
    const tried = new Set<string>();
    const attempt = (n: number) => {
      if (client.destroyed) return;
      // Untried endpoints first; once all were tried, any again (kube-proxy's four dials).
      const ep = n < DIAL_TIMEOUTS_MS.length ? (this.selector.pick(clientIP, tried) ?? (tried.size > 0 ? this.selector.pick(clientIP) : undefined)) : undefined;
      if (!ep) {
        this.log.debug({ address: this.address, port: this.port, tried: [...tried] }, 'no endpoint for the connection');
        client.resetAndDestroy();
        return;
      }
      tried.add(endpointKey(ep));
      this.dial(ep, DIAL_TIMEOUTS_MS[n]!, (upstream) => {
        if (!upstream) {
          this.selector.forget(clientIP);
          attempt(n + 1);
          return;
        }
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        this.splice(client, upstream);
      });
    };
    attempt(0);
  }

  private dial(ep: ProxyEndpoint, timeoutMs: number, done: (s: Socket | undefined) => void): void {
    const upstream = connect({ host: ep.ip, port: ep.port, allowHalfOpen: true, noDelay: true });
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      upstream.off('error', onError);
      if (!ok) upstream.destroy();
      done(ok ? upstream : undefined);
    };
    const onError = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    upstream.once('error', onError);
    upstream.once('connect', () => finish(true));
  }

  private splice(client: Socket, upstream: Socket): void {
    this.track(upstream);
    const fail = (err: Error) => {
      this.log.debug({ err, address: this.address, port: this.port, upstream: `${upstream.remoteAddress}:${upstream.remotePort}` }, 'proxied connection failed');
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    // With half-open allowed a socket lingers until both directions end; close both together.
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}
