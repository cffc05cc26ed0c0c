/**
 * WebSocket channel protocols towards the API server (pods/exec, pods/attach, pods/portforward):
 * undici's WebSocket with the context's TLS settings and credentials. Every binary message is one
 * channel byte plus data (`*.channel.k8s.io`); v5 adds `[255, channel]` to close a channel.
 */
import { Agent, WebSocket } from 'undici';
import type { ClientConfig } from '@flotilla/client';

export { CLOSE, ERROR, frame, RESIZE, STDERR, STDIN, STDOUT } from '@flotilla/api';

/** The exec/attach protocols flctl offers, newest first. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
/** The port-forward protocols flctl offers (the API server relays either to the agent). */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'portforward.k8s.io'];

/** A dispatcher carrying the context's TLS settings; one per command, closed at the end. */
export function channelDispatcher(config: ClientConfig): Agent {
  return new Agent({
    connect: {
      ...(config.ca ? { ca: config.ca } : {}),
      ...(config.cert && config.key ? { cert: config.cert, key: config.key } : {}),
      ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
      rejectUnauthorized: config.insecureSkipTLSVerify !== true,
    },
  });
}

/** The `wss://` URL of an API path. */
export function socketUrl(config: ClientConfig, path: string): string {
  const base = new URL(config.server.replace(/\/+$/, '') + path);
  base.protocol = base.protocol === 'http:' ? 'ws:' : 'wss:';
  return base.toString();
}

/** A message's bytes, whatever the frame type. */
export function messageBytes(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.alloc(0);
}

/** Creates the socket (not yet open); binary messages arrive as ArrayBuffers. */
export function createChannelSocket(config: ClientConfig, dispatcher: Agent, path: string, protocols: string[]): WebSocket {
  const headers: Record<string, string> = { 'user-agent': 'flctl/v0.1.0' };
  if (config.token) headers['authorization'] = `Bearer ${config.token}`;
  const ws = new WebSocket(socketUrl(config, path), { protocols, dispatcher, headers });
  ws.binaryType = 'arraybuffer';
  return ws;
}

/** Opens a socket; rejects when the upgrade fails. */
export function openChannelSocket(config: ClientConfig, dispatcher: Agent, path: string, protocols: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = createChannelSocket(config, dispatcher, path, protocols);
    const onError = (ev: Event) => {
      ws.removeEventListener('open', onOpen);
      const message = (ev as Event & { message?: string; error?: Error }).error?.message ?? (ev as Event & { message?: string }).message ?? 'the connection failed';
      reject(new Error(`unable to upgrade connection: ${message}`));
    };
    const onOpen = () => {
      ws.removeEventListener('error', onError);
      resolve(ws);
    };
    ws.addEventListener('open', onOpen, { once: true });
    ws.addEventListener('error', onError, { once: true });
  });
}
