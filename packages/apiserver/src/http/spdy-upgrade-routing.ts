/**
 * SPDY upgrade requests (`Upgrade: SPDY/3.1`, kubectl's exec/attach/port-forward before WebSockets)
 * must reach the normal route handlers: @fastify/websocket takes every upgrade and hands it to `ws`,
 * which refuses anything but a WebSocket GET. This puts a dispatcher in front of its listener.
 * It also renames kubectl's tunnelled port-forward subprotocol (`SPDY/3.1+portforward.k8s.io`,
 * whose '/' and '+' `ws` rejects as a token) to an alias the server's `handleProtocols` maps back.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { isSpdyUpgrade, SPDY_PORT_FORWARD_TUNNEL } from './spdy-bridge.js';

/** What `ws` sees instead of `SPDY/3.1+portforward.k8s.io`. */
export const SPDY_TUNNEL_ALIAS = 'spdy-3.1.portforward.k8s.io';

/** For a WebSocket server's `handleProtocols`: the subprotocol to answer with. */
export function unaliasProtocol(protocol: string): string {
  return protocol === SPDY_TUNNEL_ALIAS ? SPDY_PORT_FORWARD_TUNNEL : protocol;
}

/** Routes SPDY upgrades as plain requests (the handler gets the raw socket); others go on as before. */
export function routeSpdyUpgrades(app: FastifyInstance): void {
  const server = app.server;
  const previous = server.listeners('upgrade') as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isSpdyUpgrade(req.headers)) {
      const offered = req.headers['sec-websocket-protocol'];
      if (offered?.includes(SPDY_PORT_FORWARD_TUNNEL)) req.headers['sec-websocket-protocol'] = offered.split(',').map((p) => (p.trim() === SPDY_PORT_FORWARD_TUNNEL ? SPDY_TUNNEL_ALIAS : p.trim())).join(', ');
      for (const l of previous) l.call(server, req, socket, head);
      return;
    }
    socket.on('error', () => socket.destroy());
    if (head.length > 0) socket.unshift(head);
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    app.routing(req, res);
  });
}
