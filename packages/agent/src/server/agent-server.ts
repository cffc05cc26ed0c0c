/**
 * The agent's HTTP endpoint, kubelet style: one port answering HTTPS (self-signed serving
 * certificate, optional client certificates checked against the cluster CA) and, for /healthz and
 * /metrics only, plain HTTP — the first byte of a connection tells them apart. Streaming endpoints
 * (`/containerLogs`, `/exec`, `/attach` and `/portForward`, the last three as WebSocket upgrades)
 * need an authorized client certificate (see client-authorization.ts). The WebSocket library loads
 * with the first upgrade: an agent nobody execs into does not keep it in memory.
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Pod } from '@flotilla/api/core';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ContainerRuntime, StreamOptions } from '../runtime/runtime.js';
import { authorizeStreamingClient } from './client-authorization.js';
import { chooseProtocol, EXEC_PROTOCOLS, PORT_FORWARD_PROTOCOLS } from './channel-protocols.js';
import { containerInstances, serveContainerLogs, type ContainerLookup } from './container-logs.js';
import { runExecSession } from './exec-session.js';
import { runPortForwardSession } from './port-forward-session.js';

/** What the streaming endpoints need. */
export interface StreamingDeps {
  runtime: ContainerRuntime;
  getPod(namespace: string, name: string): Pod | undefined;
  logger: Logger;
}

/** TLS material of the endpoint. */
export interface AgentTls {
  cert: string;
  key: string;
  /** The cluster CA client certificates must chain to; without it no client is authorized. */
  ca?: string;
}

/** A listening agent endpoint. */
export interface AgentServer {
  /** `https://host:port`. */
  url: string;
  port: number;
  close(): void;
}

const PATHS = /^\/(containerLogs|exec|attach|portForward)\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function queryFlag(q: URLSearchParams, ...names: string[]): boolean {
  return names.some((n) => {
    const v = q.get(n);
    return v === '1' || v === 'true';
  });
}

/**
 * Handles the streaming endpoints' plain requests (logs; the upgrade-only ones answer 400).
 * Returns false for other paths.
 */
export function handleStreamingRequest(deps: StreamingDeps, req: IncomingMessage, resp: ServerResponse, url: URL): boolean {
  const m = PATHS.exec(url.pathname);
  if (!m) return false;
  const auth = authorizeStreamingClient(req);
  if (!auth.allowed) {
    resp.writeHead(auth.code, { 'content-type': 'text/plain' }).end(auth.message);
    return true;
  }
  const [, kind, ns, pod, container] = m;
  if (kind === 'containerLogs' && container) {
    void serveContainerLogs(deps, decodeURIComponent(ns!), decodeURIComponent(pod!), decodeURIComponent(container), url.searchParams, resp).catch((err: unknown) => {
      deps.logger.warn({ err }, 'serving logs failed');
      if (!resp.headersSent) resp.writeHead(500, { 'content-type': 'text/plain' });
      resp.end();
    });
    return true;
  }
  resp.writeHead(400, { 'content-type': 'text/plain' }).end('Upgrade request required');
  return true;
}

async function runningContainer(deps: ContainerLookup, ns: string, name: string, container: string): Promise<string> {
  const pod = deps.getPod(ns, name);
  if (!pod) throw new HttpError(404, `pod ${ns}/${name} not found on this node`);
  const current = (await containerInstances(deps, pod, container))[0];
  if (!current || current.state !== 'running') throw new HttpError(400, `container ${container} is not running in pod ${name}`);
  return current.id;
}

async function podIP(deps: StreamingDeps, ns: string, name: string): Promise<string> {
  const pod = deps.getPod(ns, name);
  if (!pod) throw new HttpError(404, `pod ${ns}/${name} not found on this node`);
  const sandboxes = await deps.runtime.listPodSandboxes({ podUid: pod.metadata.uid ?? '', state: 'ready' });
  if (sandboxes.length === 0) throw new HttpError(400, `pod ${name} is not running`);
  const status = await deps.runtime.sandboxStatus(sandboxes.sort((a, b) => b.createdAt - a.createdAt)[0]!.id);
  if (status.hostNetwork) return '127.0.0.1';
  if (!status.ip) throw new HttpError(400, `pod ${name} has no IP address`);
  return status.ip;
}

function refuse(socket: Duplex, code: number, message: string): void {
  const reason = code === 401 ? 'Unauthorized' : code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : code === 400 ? 'Bad Request' : 'Internal Server Error';
  const body = Buffer.from(message, 'utf8');
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${message}`);
}

/** Handles an upgrade request on the endpoint: exec, attach and port-forward WebSockets. */
async function handleUpgrade(deps: StreamingDeps, webSockets: () => Promise<WebSocketServer>, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://agent');
  const m = PATHS.exec(url.pathname);
  if (!m || m[1] === 'containerLogs') return refuse(socket, 404, 'not found');
  const auth = authorizeStreamingClient(req);
  if (!auth.allowed) return refuse(socket, auth.code, auth.message);
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 400, 'only WebSocket upgrades are supported');
  const [, kind, nsRaw, podRaw, containerRaw] = m;
  const ns = decodeURIComponent(nsRaw!);
  const pod = decodeURIComponent(podRaw!);
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const q = url.searchParams;
  try {
    if (kind === 'portForward') {
      const ports = [...q.getAll('port'), ...q.getAll('ports')].flatMap((p) => p.split(',')).map((p) => Number(p.trim()));
      if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new HttpError(400, 'query parameter "port" is required and must be a valid port');
      const protocol = offered.length === 0 ? 'portforward.k8s.io' : chooseProtocol(offered, PORT_FORWARD_PROTOCOLS);
      if (!protocol) throw new HttpError(400, `none of the offered protocols is supported: ${offered.join(', ')}`);
      const ip = await podIP(deps, ns, pod);
      const wss = await webSockets();
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => runPortForwardSession(ws, ip, ports));
      return;
    }
    if (!containerRaw) throw new HttpError(400, 'a container name is required');
    const container = decodeURIComponent(containerRaw);
    const protocol = chooseProtocol(offered, EXEC_PROTOCOLS);
    if (!protocol) throw new HttpError(400, `none of the offered protocols is supported: ${offered.join(', ')}`);
    const tty = queryFlag(q, 'tty');
    const options: StreamOptions = { stdin: queryFlag(q, 'input', 'stdin'), stdout: queryFlag(q, 'output', 'stdout'), stderr: queryFlag(q, 'error', 'stderr') && !tty, tty };
    const command = q.getAll('command');
    if (kind === 'exec' && command.length === 0) throw new HttpError(400, 'you must specify at least one command for the container');
    if (!options.stdin && !options.stdout && !options.stderr) throw new HttpError(400, 'you must specify at least one of stdin, stdout, stderr');
    const id = await runningContainer(deps, ns, pod, container);
    const wss = await webSockets();
    const proc = kind === 'exec' ? await deps.runtime.execStream(id, command, options) : await deps.runtime.attach(id, options);
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      void runExecSession(ws, protocol, proc, command, deps.logger);
    });
  } catch (err) {
    if (err instanceof HttpError) return refuse(socket, err.code, err.message);
    deps.logger.warn({ err, path: url.pathname }, 'streaming request failed');
    return refuse(socket, 500, (err as Error).message);
  }
}

/**
 * Listens on `bindAddress:port` (0 picks a port) with `listener` for plain requests; TLS
 * connections get client-certificate checks, WebSocket upgrades go to the streaming endpoints.
 */
export async function listenAgentServer(listener: RequestListener, deps: StreamingDeps, tls: AgentTls, bindAddress: string, port: number): Promise<AgentServer> {
  let wss: Promise<WebSocketServer> | undefined;
  const webSockets = () =>
    (wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, handleProtocols: (protocols) => chooseProtocol(protocols, PORT_FORWARD_PROTOCOLS) })));
  const https = createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: true, rejectUnauthorized: false }, listener);
  const http = createHttpServer(listener);
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handleUpgrade(deps, webSockets, req, socket, head);
  };
  https.on('upgrade', onUpgrade);
  http.on('upgrade', onUpgrade);
  https.on('tlsClientError', (_err, socket) => socket.destroy());
  const server = createNetServer((socket: Socket) => {
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) return void socket.destroy();
      socket.unshift(first);
      // 0x16: a TLS handshake record.
      (first[0] === 0x16 ? https : http).emit('connection', socket);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindAddress, resolve);
  });
  const a = server.address() as AddressInfo;
  return {
    url: `https://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    port: a.port,
    close: () => {
      server.close();
      https.close();
      http.close();
      void wss?.then((s) => {
        for (const ws of s.clients) ws.terminate();
      });
    },
  };
}
