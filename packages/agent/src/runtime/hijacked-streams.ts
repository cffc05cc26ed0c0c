/**
 * Turns a hijacked engine connection (exec start, attach) into separate stdout/stderr streams:
 * without a TTY the engine multiplexes them in 8-byte-header frames, with one everything is stdout.
 */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { ProcessStreams, StreamOptions } from './runtime.js';

/** Splits `socket` into process streams; `resize` and `exitCode` come from the caller. */
export function processStreamsOf(socket: Socket, options: StreamOptions, extra: Pick<ProcessStreams, 'resize' | 'exitCode'>, behaviour: { endInput?: boolean } = {}): ProcessStreams {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let pending: Buffer = Buffer.alloc(0);
  const finish = () => {
    if (!stdout.writableEnded) stdout.end();
    if (!stderr.writableEnded) stderr.end();
  };
  socket.on('data', (chunk: Buffer) => {
    if (options.tty) {
      if (!stdout.write(chunk)) socket.pause();
      return;
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let blocked = false;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const type = pending[0];
      const data = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      if (size > 0 && !(type === 2 ? stderr : stdout).write(data)) blocked = true;
    }
    if (blocked) socket.pause();
  });
  // Back-pressure: resume the engine connection once the slow reader drained.
  stdout.on('drain', () => socket.resume());
  stderr.on('drain', () => socket.resume());
  socket.on('end', finish);
  socket.on('close', finish);
  socket.on('error', finish);
  let stdin: PassThrough | undefined;
  if (options.stdin) {
    stdin = new PassThrough();
    stdin.pipe(socket, { end: false });
    // Ending stdin half-closes the engine connection, unless the caller keeps it open (`endInput: false`).
    if (behaviour.endInput !== false) {
      stdin.on('end', () => {
        if (!socket.destroyed) socket.end();
      });
    }
  }
  return {
    stdin,
    stdout,
    stderr,
    resize: extra.resize,
    exitCode: extra.exitCode,
    close: () => socket.destroy(),
  };
}
