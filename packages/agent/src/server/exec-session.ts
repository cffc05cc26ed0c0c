/**
 * Connects a process' streams (exec or attach) to a WebSocket speaking a channel protocol, and
 * ends the session with the Status on the error channel (v4+) once the output is drained.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { ProcessStreams } from '../runtime/runtime.js';
import { CLOSE, ERROR, errorStatus, exitStatus, frame, hasStatusChannel, RESIZE, STDERR, STDIN, STDOUT } from './channel-protocols.js';

/** Relays until the process ends or the client goes away. */
export function runExecSession(ws: WebSocket, protocol: string, proc: ProcessStreams, command: string[], log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let closed = false;
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const channel = data[0];
      const payload = data.subarray(1);
      if (channel === STDIN) {
        if (payload.length > 0 && proc.stdin && !proc.stdin.writableEnded) proc.stdin.write(payload);
      } else if (channel === RESIZE) {
        try {
          const size = JSON.parse(payload.toString('utf8')) as { Width?: number; Height?: number };
          if (size.Width && size.Height) proc.resize(size.Width, size.Height).catch((err: unknown) => log.debug({ err }, 'resize failed'));
        } catch {
          // A malformed resize message is ignored, as the kubelet does.
        }
      } else if (channel === CLOSE && payload[0] === STDIN) {
        proc.stdin?.end();
      }
    });
    ws.on('close', () => {
      closed = true;
      proc.close();
      resolve();
    });
    ws.on('error', () => undefined);
    const pump = (stream: NodeJS.ReadableStream, channel: number) =>
      new Promise<void>((done) => {
        stream.on('data', (d: Buffer) => {
          if (!closed) ws.send(frame(channel, d));
        });
        stream.on('end', () => done());
        stream.on('close', () => done());
        stream.on('error', () => done());
      });
    void Promise.all([pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR)]).then(async () => {
      let status: Record<string, unknown>;
      try {
        status = exitStatus(await proc.exitCode(), command);
      } catch (err) {
        status = errorStatus(`error reading the exit code: ${(err as Error).message}`);
      }
      if (closed) return;
      if (hasStatusChannel(protocol)) ws.send(frame(ERROR, JSON.stringify(status)));
      else if (status['status'] !== 'Success') ws.send(frame(ERROR, String(status['message'] ?? 'command failed')));
      ws.close(1000);
    });
  });
}
