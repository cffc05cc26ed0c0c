/**
 * Translates SPDY/3.1 stream clients (client-go's remotecommand and portforward, as older kubectl
 * versions and every kubectl's port-forward use them) to the agent's WebSocket channel protocols.
 *
 * exec/attach: the client opens one stream per `streamType` (error, stdin, stdout, stderr, resize);
 * once all expected streams are there, one agent WebSocket (v5.channel.k8s.io) carries them.
 * portforward: each forwarded connection is a pair of streams (error, data) sharing a
 * `requestID`; each pair gets its own agent WebSocket (portforward.k8s.io) for its port.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { SpdySession, type SpdyStream, type SpdyTransport } from './spdy/spdy-session.js';

/** The WebSocket subprotocol kubectl ≥ 1.31 tunnels port-forward's SPDY in. */
export const SPDY_PORT_FORWARD_TUNNEL = 'SPDY/3.1+portforward.k8s.io';

/** True for a `Connection: Upgrade` / `Upgrade: SPDY/3.1` request. */
export function isSpdyUpgrade(headers: IncomingHttpHeaders): boolean {
  return (headers.upgrade ?? '').toLowerCase().startsWith('spdy/3.1');
}

function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  const raw = headers['x-stream-protocol-version'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Answers `101 Switching Protocols` with the first stream protocol of `supported` the client
 * offered (or 403 when none) and starts a SPDY session on the connection.
 */
export function upgradeToSpdy(req: FastifyRequest, reply: FastifyReply, supported: string[]): { session: SpdySession; protocol: string } | undefined {
  const offered = offeredProtocols(req.headers);
  const protocol = offered.length === 0 ? supported[supported.length - 1]! : supported.find((p) => offered.includes(p));
  const socket = req.raw.socket as Socket;
  reply.hijack();
  if (!protocol) {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server supports [${supported.join(' ')}]`, reason: 'Forbidden', code: 403 });
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return undefined;
  }
  socket.setTimeout(0);
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  const transport: SpdyTransport = {
    write: (d) => {
      if (!socket.destroyed) socket.write(d);
    },
    end: () => socket.end(),
    onData: (l) => socket.on('data', l),
    onClose: (l) => {
      socket.on('close', l);
      socket.on('error', () => socket.destroy());
    },
  };
  return { session: new SpdySession(transport), protocol };
}

/** A SPDY session carried in a WebSocket's binary messages (kubectl's tunnelled port-forward). */
export function tunnelTransport(ws: WebSocket, early: Buffer[]): SpdySession {
  const transport: SpdyTransport = {
    write: (d) => {
      if (ws.readyState === ws.OPEN) ws.send(d);
    },
    end: () => ws.close(1000),
    onData: (l) => {
      for (const d of early) l(d);
      ws.on('message', (d: Buffer) => l(d));
    },
    onClose: (l) => {
      ws.on('close', l);
      ws.on('error', () => ws.terminate());
    },
  };
  return new SpdySession(transport);
}

function frame(channel: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([channel]), data]);
}

/** Splits concatenated JSON objects (the resize stream) as they arrive. */
function jsonObjects(onObject: (json: string) => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('utf8');
    let depth = 0;
    let start = -1;
    let inString = false;
    let consumed = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}') {
        depth--;
        if (depth === 0 && start >= 0) {
          onObject(buf.slice(start, i + 1));
          consumed = i + 1;
        }
      }
    }
    buf = buf.slice(consumed);
  };
}

/** Which streams an exec/attach asked for. */
export interface ExecStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Runs one SPDY exec/attach session against the agent WebSocket `dial` opens. */
export function bridgeSpdyExec(session: SpdySession, protocol: string, want: ExecStreams, dial: () => Promise<WebSocket>, log: Logger): void {
  const expected = ['error'];
  if (want.stdin) expected.push('stdin');
  if (want.stdout) expected.push('stdout');
  if (want.stderr && !want.tty) expected.push('stderr');
  if (want.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io') expected.push('resize');
  const streams = new Map<string, SpdyStream>();
  let started = false;
  const timer = setTimeout(() => {
    if (!started) session.close();
  }, 30_000);
  const finish = () => {
    for (const s of streams.values()) if (!s.writableEnded && !s.destroyed) s.end();
    session.close();
  };
  const start = async () => {
    started = true;
    clearTimeout(timer);
    const error = streams.get('error');
    let ws: WebSocket;
    try {
      ws = await dial();
    } catch (err) {
      const e = err as Error & { toStatus?: () => Record<string, unknown> };
      error?.write(protocol === 'v4.channel.k8s.io' && e.toStatus ? JSON.stringify(e.toStatus()) : e.message);
      finish();
      return;
    }
    const stdin = streams.get('stdin');
    stdin?.on('data', (d: Buffer) => ws.send(frame(0, d)));
    stdin?.on('end', () => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.from([255, 0]));
    });
    streams.get('resize')?.on('data', jsonObjects((json) => ws.readyState === ws.OPEN && ws.send(frame(4, Buffer.from(json, 'utf8')))));
    ws.on('message', (d: Buffer) => {
      if (d.length === 0) return;
      const payload = d.subarray(1);
      switch (d[0]) {
        case 1:
          streams.get('stdout')?.write(payload);
          break;
        case 2:
          streams.get('stderr')?.write(payload);
          break;
        case 3: {
          if (protocol === 'v4.channel.k8s.io') {
            error?.write(payload);
            break;
          }
          try {
            const status = JSON.parse(payload.toString('utf8')) as { status?: string; message?: string };
            if (status.status !== 'Success') error?.write(status.message ?? 'command failed');
          } catch {
            error?.write(payload);
          }
          break;
        }
        default:
          break;
      }
    });
    ws.on('close', finish);
    ws.on('error', (err) => log.debug({ err }, 'agent exec stream failed'));
    session.on('close', () => ws.close());
  };
  session.on('stream', (s: SpdyStream) => {
    s.reply();
    s.on('error', () => undefined);
    streams.set(s.headers['streamtype'] ?? '', s);
    // Data the client may send on streams we only write to is drained.
    if (s.headers['streamtype'] !== 'stdin' && s.headers['streamtype'] !== 'resize') s.resume();
    if (!started && expected.every((t) => streams.has(t))) void start();
  });
  session.on('close', () => clearTimeout(timer));
}

/** Runs one SPDY port-forward session; each (error, data) stream pair dials the agent for its port. */
export function bridgeSpdyPortForward(session: SpdySession, dial: (port: string) => Promise<WebSocket>, log: Logger): void {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  const open = new Set<WebSocket>();
  session.on('close', () => {
    for (const ws of open) ws.close();
  });
  const forward = async (requestId: string, port: string, data: SpdyStream) => {
    const error = pairs.get(requestId)?.error;
    let ws: WebSocket;
    try {
      ws = await dial(port);
    } catch (err) {
      error?.end((err as Error).message);
      data.end();
      pairs.delete(requestId);
      return;
    }
    open.add(ws);
    const seen = [false, false];
    ws.on('message', (d: Buffer) => {
      const channel = d[0];
      if (channel !== 0 && channel !== 1) return;
      let payload = d.subarray(1);
      // The first message on each channel is the port number.
      if (!seen[channel]) {
        seen[channel] = true;
        payload = payload.subarray(2);
      }
      if (payload.length === 0) return;
      if (channel === 0) data.write(payload);
      else error?.write(payload);
    });
    data.on('data', (d: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(0, d));
    });
    const closeAll = () => {
      open.delete(ws);
      if (!data.writableEnded && !data.destroyed) data.end();
      if (error && !error.writableEnded && !error.destroyed) error.end();
      pairs.delete(requestId);
    };
    ws.on('close', closeAll);
    ws.on('error', (err) => log.debug({ err }, 'agent port-forward stream failed'));
    // A reset (the client dropped the connection) ends the pod connection too.
    data.on('reset', () => ws.close());
    data.on('close', () => {
      if (ws.readyState === ws.OPEN) ws.close();
    });
  };
  session.on('stream', (s: SpdyStream) => {
    s.reply();
    s.on('error', () => undefined);
    const type = s.headers['streamtype'];
    const port = s.headers['port'] ?? '';
    const requestId = s.headers['requestid'] ?? port;
    const pair = pairs.get(requestId) ?? {};
    pairs.set(requestId, pair);
    if (type === 'error') {
      pair.error = s;
      s.resume();
    } else if (type === 'data') {
      pair.data = s;
      void forward(requestId, port, s);
    } else {
      s.reset();
    }
  });
}
