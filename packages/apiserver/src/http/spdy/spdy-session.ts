/**
 * A minimal SPDY/3.1 server session, enough for what kubectl's streams (client-go over
 * moby/spdystream) do: the client opens streams (SYN_STREAM with headers), the server answers
 * (SYN_REPLY), both send DATA and half-close with FIN, either may RST_STREAM; PING is echoed,
 * GOAWAY ends the session. Header blocks are zlib-compressed with the SPDY/3 dictionary, one zlib
 * context per direction. Flow control is not enforced (spdystream does not send WINDOW_UPDATE).
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { constants as zc, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.js';

/** Where the session's bytes come from and go to (a socket, or a WebSocket tunnel). */
export interface SpdyTransport {
  write(data: Buffer): void;
  end(): void;
  onData(listener: (data: Buffer) => void): void;
  onClose(listener: () => void): void;
}

const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const PING = 6;
const GOAWAY = 7;
const FLAG_FIN = 0x01;
const MAX_DATA = 64 * 1024;

/** RST_STREAM status codes used here. */
export const RST_CANCEL = 5;
export const RST_INTERNAL_ERROR = 6;

/** A zlib context used for one header block at a time, flushed after each (SPDY's rule). */
class HeaderCodec {
  private chunks: Buffer[] = [];
  private failure: Error | undefined;

  constructor(private readonly z: Deflate | Inflate) {
    z.on('data', (c: Buffer) => this.chunks.push(c));
    z.on('error', (err: Error) => {
      this.failure = err;
    });
  }

  run(input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.z.write(input);
      this.z.flush(zc.Z_SYNC_FLUSH, () => {
        if (this.failure) return reject(this.failure);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [k, v] of entries) {
    const name = Buffer.from(k.toLowerCase(), 'utf8');
    const value = Buffer.from(v, 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(name.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(value.length);
    parts.push(nl, name, vl, value);
  }
  return Buffer.concat(parts);
}

function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  const count = block.readUInt32BE(off);
  off += 4;
  for (let i = 0; i < count; i++) {
    const nl = block.readUInt32BE(off);
    off += 4;
    const name = block.subarray(off, off + nl).toString('utf8');
    off += nl;
    const vl = block.readUInt32BE(off);
    off += 4;
    // Several values are NUL-separated; the first is what the stream protocols use.
    out[name.toLowerCase()] = block.subarray(off, off + vl).toString('utf8').split('\0')[0]!;
    off += vl;
  }
  return out;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(payload.length, 4);
  head[4] = flags;
  return Buffer.concat([head, payload]);
}

/** One stream: a Duplex whose readable side is the client's data and writable side ours. */
export class SpdyStream extends Duplex {
  /** True once the client half-closed (FIN) or reset the stream. */
  remoteClosed = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: Record<string, string>,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Accepts the stream (SYN_REPLY). */
  reply(headers: Record<string, string> = {}): void {
    this.session.send(async () => {
      const id = Buffer.alloc(4);
      id.writeUInt32BE(this.id);
      return controlFrame(SYN_REPLY, 0, Buffer.concat([id, await this.session.compress(encodeHeaderBlock(headers))]));
    });
  }

  /** Aborts the stream (RST_STREAM). */
  reset(status = RST_CANCEL): void {
    this.session.sendReset(this.id, status);
    this.session.forget(this.id);
    this.destroy();
  }

  override _read(): void {
    // Data is pushed as it arrives; there is no flow control to resume.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    for (let off = 0; off < chunk.length; off += MAX_DATA) this.session.sendData(this.id, chunk.subarray(off, off + MAX_DATA), false);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.session.sendData(this.id, Buffer.alloc(0), true);
    cb();
  }

  /** @internal */
  receive(data: Buffer, fin: boolean): void {
    if (data.length > 0) this.push(data);
    if (fin && !this.remoteClosed) {
      this.remoteClosed = true;
      this.push(null);
    }
  }
}

/** Events: `stream` (a new client stream, to be replied to), `close`. */
export class SpdySession extends EventEmitter {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflate = new HeaderCodec(createInflate({ dictionary: SPDY3_DICTIONARY }));
  private readonly deflate = new HeaderCodec(createDeflate({ dictionary: SPDY3_DICTIONARY }));
  private pending: Buffer = Buffer.alloc(0);
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private lastStreamId = 0;
  private closed = false;

  constructor(private readonly transport: SpdyTransport) {
    super();
    transport.onData((d) => this.onData(d));
    transport.onClose(() => this.shutdown());
  }

  /** @internal Compresses a header block in order with the others. */
  compress(block: Buffer): Promise<Buffer> {
    return this.deflate.run(block);
  }

  /** @internal Queues a frame; frames leave in the order they were queued. */
  send(build: () => Buffer | Promise<Buffer>): void {
    this.outbound = this.outbound.then(async () => {
      if (this.closed) return;
      this.transport.write(await build());
    }).catch(() => this.close());
  }

  /** @internal */
  sendData(id: number, data: Buffer, fin: boolean): void {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(id & 0x7fffffff, 0);
    head.writeUInt32BE(data.length, 4);
    head[4] = fin ? FLAG_FIN : 0;
    const frame = Buffer.concat([head, data]);
    this.send(() => frame);
  }

  /** @internal */
  sendReset(id: number, status: number): void {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(id, 0);
    p.writeUInt32BE(status, 4);
    this.send(() => controlFrame(RST_STREAM, 0, p));
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  /** Sends GOAWAY once queued frames are out, then closes the transport. */
  close(): void {
    if (this.closed) return;
    const p = Buffer.alloc(8);
    p.writeUInt32BE(this.lastStreamId, 0);
    this.send(() => controlFrame(GOAWAY, 0, p));
    void this.outbound.then(() => {
      this.transport.end();
      this.shutdown();
    });
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) {
      if (!s.remoteClosed) s.receive(Buffer.alloc(0), true);
      s.destroy();
    }
    this.streams.clear();
    this.inflate.close();
    this.deflate.close();
    this.emit('close');
  }

  private onData(data: Buffer): void {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4) & 0xffffff;
      if (this.pending.length < 8 + length) break;
      const frame = this.pending.subarray(0, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      this.inbound = this.inbound.then(() => this.handle(frame)).catch(() => this.close());
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.closed) return;
    const flags = frame[4]!;
    const payload = frame.subarray(8);
    if ((frame[0]! & 0x80) === 0) {
      const id = frame.readUInt32BE(0) & 0x7fffffff;
      this.streams.get(id)?.receive(payload, (flags & FLAG_FIN) !== 0);
      return;
    }
    const type = frame.readUInt16BE(2);
    switch (type) {
      case SYN_STREAM: {
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.inflate.run(payload.subarray(10)));
        this.lastStreamId = Math.max(this.lastStreamId, id);
        const stream = new SpdyStream(this, id, headers);
        this.streams.set(id, stream);
        if ((flags & FLAG_FIN) !== 0) stream.receive(Buffer.alloc(0), true);
        this.emit('stream', stream);
        return;
      }
      case RST_STREAM: {
        const id = payload.readUInt32BE(0) & 0x7fffffff;
        const s = this.streams.get(id);
        this.streams.delete(id);
        if (s) {
          s.remoteClosed = true;
          s.emit('reset');
          s.destroy();
        }
        return;
      }
      case PING:
        this.send(() => controlFrame(PING, 0, Buffer.from(payload)));
        return;
      case GOAWAY:
        this.close();
        return;
      case 8: // HEADERS
        // Keep the inbound zlib context in step even though the headers are not used.
        await this.inflate.run(payload.subarray(4));
        return;
      default:
        // SETTINGS, WINDOW_UPDATE, SYN_REPLY (we open no streams): nothing to do.
        return;
    }
  }
}
