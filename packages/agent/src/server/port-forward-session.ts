/**
 * Port-forward over a WebSocket (the kubelet's protocol): for the i-th requested port, channel 2i
 * carries data and 2i+1 errors; the first message on each channel is the port (2 bytes, little
 * endian). Each port gets one TCP connection to the pod, made from the host to the pod's IP.
 */
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { frame } from './channel-protocols.js';

function portPrefix(channel: number, port: number): Buffer {
  const b = Buffer.alloc(3);
  b[0] = channel;
  b.writeUInt16LE(port, 1);
  return b;
}

/** Relays until every connection has ended or the client goes away. */
export function runPortForwardSession(ws: WebSocket, podIP: string, ports: number[]): void {
  const sockets: Socket[] = [];
  let open = ports.length;
  const finishOne = () => {
    open -= 1;
    if (open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  ports.forEach((port, i) => {
    ws.send(portPrefix(2 * i, port));
    ws.send(portPrefix(2 * i + 1, port));
    const socket = connect({ host: podIP, port });
    sockets.push(socket);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      finishOne();
    };
    socket.on('data', (d: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(2 * i, d));
    });
    socket.on('error', (err) => {
      if (ws.readyState === ws.OPEN) ws.send(frame(2 * i + 1, `error forwarding port ${port} to pod ${podIP}: ${err.message}`));
      finish();
    });
    socket.on('close', finish);
  });
  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    const channel = data[0]!;
    const socket = channel % 2 === 0 ? sockets[channel / 2] : undefined;
    if (socket && data.length > 1 && !socket.destroyed) socket.write(data.subarray(1));
  });
  ws.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  ws.on('error', () => undefined);
}
