/**
 * One UDP listener of a service port: each client (source ip:port) gets a session — an upstream
 * socket to the endpoint its selector picked — whose replies go back from the service address.
 * Sessions end after an idle timeout, or when their endpoint leaves the rotation. Datagrams with
 * no endpoint are dropped.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { endpointKey, type EndpointSelector, type ProxyEndpoint } from './endpoint-selector.js';

interface Session {
  upstream: Socket;
  endpoint: ProxyEndpoint;
  timer: NodeJS.Timeout;
}

/** A listening UDP proxy socket. */
export class UdpProxier {
  private readonly socket: Socket;
  private readonly sessions = new Map<string, Session>();

  constructor(
    readonly address: string,
    readonly port: number,
    /** Where datagrams go; swapped by the proxy when the service changes. */
    public selector: EndpointSelector,
    private readonly log: Logger,
    private readonly idleTimeoutMs = 30_000,
  ) {
    this.socket = createSocket({ type: 'udp4' });
    this.socket.on('message', (msg, rinfo) => this.forward(msg, rinfo));
  }

  /** Binds; rejects on EADDRINUSE and the like. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (err) => this.log.warn({ err, address: this.address, port: this.port }, 'udp proxy socket failed'));
        resolve();
      });
    });
  }

  /** Number of live client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Ends sessions whose endpoint is no longer in rotation. */
  prune(): void {
    const live = new Set(this.selector.endpoints.map(endpointKey));
    for (const [key, s] of this.sessions) if (!live.has(endpointKey(s.endpoint))) this.end(key);
  }

  /** Unbinds and ends every session. */
  close(): void {
    for (const key of [...this.sessions.keys()]) this.end(key);
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }

  private end(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    clearTimeout(s.timer);
    s.upstream.close();
  }

  private touch(key: string, s: Session): void {
    clearTimeout(s.timer);
    s.timer = setTimeout(() => this.end(key), this.idleTimeoutMs);
    s.timer.unref();
  }

  private forward(msg: Buffer, client: RemoteInfo): void {
    const key = `${client.address}:${client.port}`;
    let s = this.sessions.get(key);
    if (!s) {
      const endpoint = this.selector.pick(client.address);
      if (!endpoint) return;
      const upstream = createSocket({ type: 'udp4' });
      const session: Session = { upstream, endpoint, timer: setTimeout(() => undefined, 0) };
      upstream.on('message', (reply, from) => {
        if (from.address !== endpoint.ip || from.port !== endpoint.port) return;
        this.touch(key, session);
        this.socket.send(reply, client.port, client.address);
      });
      upstream.on('error', (err) => {
        this.log.debug({ err, endpoint: endpointKey(endpoint) }, 'udp upstream failed');
        this.end(key);
      });
      this.sessions.set(key, session);
      s = session;
    }
    this.touch(key, s);
    s.upstream.send(msg, s.endpoint.port, s.endpoint.ip);
  }
}
