/**
 * Forwarding of names outside the cluster domain to the node's resolvers: the raw query goes to
 * each upstream in turn (UDP, or TCP when the client asked over TCP or UDP came back truncated)
 * until one answers within the timeout. The response is passed back byte for byte, with the
 * client's message ID restored.
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

/** One upstream resolver. */
export interface Upstream {
  address: string;
  port: number;
}

/** Thrown when no upstream answered. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
}

/** `1.2.3.4`, `1.2.3.4:5353`, `[fd00::1]:53`, `fd00::1` → an Upstream (port 53 by default). */
export function parseUpstream(text: string): Upstream {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { address: bracketed[1]!, port: Number(bracketed[2] ?? 53) };
  const v4 = /^([^:]+):(\d+)$/.exec(text);
  if (v4) return { address: v4[1]!, port: Number(v4[2]) };
  return { address: text, port: 53 };
}

/** Sends queries to upstream resolvers. */
export class UpstreamForwarder {
  private readonly timeoutMs: number;

  constructor(
    readonly upstreams: readonly Upstream[],
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Forwards `query` (a whole DNS message); resolves with the first upstream's response. */
  async forward(query: Buffer, options: { tcp?: boolean } = {}): Promise<Buffer> {
    const id = query.readUInt16BE(0);
    let lastError: unknown;
    for (const upstream of this.upstreams) {
      try {
        let response = options.tcp ? await this.tcp(upstream, query) : await this.udp(upstream, query);
        // TC bit: the answer did not fit a datagram.
        if (!options.tcp && response.length >= 4 && (response[2]! & 0x02) !== 0) response = await this.tcp(upstream, query);
        const out = Buffer.from(response);
        out.writeUInt16BE(id, 0);
        return out;
      } catch (err) {
        lastError = err;
      }
    }
    throw new UpstreamError(this.upstreams.length ? 'no upstream resolver answered' : 'no upstream resolvers configured', { cause: lastError });
  }

  private udp(upstream: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(isIPv6(upstream.address) ? 'udp6' : 'udp4');
      // A fresh ID per attempt, so a late answer to another query cannot be taken for this one.
      const id = Math.floor(Math.random() * 0x10000);
      const message = Buffer.from(query);
      message.writeUInt16BE(id, 0);
      let done = false;
      const finish = (err: Error | undefined, response?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(response!);
      };
      const timer = setTimeout(() => finish(new UpstreamError(`upstream ${upstream.address}:${upstream.port} timed out`)), this.timeoutMs);
      socket.on('error', (err) => finish(err));
      socket.on('message', (msg) => {
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) finish(undefined, msg);
      });
      socket.send(message, upstream.port, upstream.address);
    });
  }

  private tcp(upstream: Upstream, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: upstream.address, port: upstream.port });
      let received = Buffer.alloc(0);
      const finish = (err: Error | undefined, response?: Buffer) => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(response!);
      };
      const timer = setTimeout(() => finish(new UpstreamError(`upstream ${upstream.address}:${upstream.port} timed out`)), this.timeoutMs);
      socket.on('error', (err) => finish(err));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        socket.write(Buffer.concat([len, query]));
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
      });
      socket.on('end', () => finish(new UpstreamError(`upstream ${upstream.address}:${upstream.port} closed the connection`)));
    });
  }
}
