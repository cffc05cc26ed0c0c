/**
 * The pods' streaming subresources — `log`, `exec`, `attach`, `portforward` — proxied to the agent
 * of the pod's node (its InternalIP and `status.daemonEndpoints.kubeletEndpoint.Port`) over HTTPS
 * with the API server's client certificate (`apiserver-kubelet-client`).
 *
 * The agent speaks plain HTTP for logs and WebSocket channel protocols for the rest. WebSocket
 * clients (kubectl ≥ 1.30 exec/attach, client-node) are relayed as they are; SPDY/3.1 clients (older
 * kubectl exec, kubectl port-forward — raw, or tunnelled in a WebSocket by kubectl ≥ 1.31) are
 * terminated here and translated (spdy-bridge.ts).
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest, type Pod } from '@flotilla/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { Registry } from '../registry/registry.js';
import type { RequestInfo } from './request-info.js';
import type { WebSocketLike } from './resource-handler.js';
import { bridgeSpdyExec, bridgeSpdyPortForward, isSpdyUpgrade, tunnelTransport, upgradeToSpdy, SPDY_PORT_FORWARD_TUNNEL } from './spdy-bridge.js';

/** What the handlers need. */
export interface PodStreamDeps {
  registry: Registry;
  /** The API server's client certificate towards agents. */
  kubeletClient: { cert: string; key: string };
  logger: Logger;
}

type ConnectHandler = (req: FastifyRequest, reply: FastifyReply, info: RequestInfo) => Promise<void>;
type WebSocketHandler = (socket: WebSocketLike, req: FastifyRequest, info: RequestInfo) => Promise<void>;

/** The handler maps `buildServer` takes. */
export interface PodStreamHandlers {
  connectHandlers: Map<string, ConnectHandler>;
  webSocketHandlers: Map<string, WebSocketHandler>;
  close(): void;
}

/** Where a pod's agent is and which container a request is for. */
export interface AgentTarget {
  pod: Pod;
  container: string;
  /** `https://ip:port` of the agent. */
  base: string;
}

interface PodShape {
  spec?: { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
  status?: { phase?: string };
}

function queryOf(url: string): URLSearchParams {
  const i = url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : url.slice(i + 1));
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

/** Resolves the pod, its container (defaulting like kubectl) and its agent. Throws ApiErrors. */
export function resolveAgentTarget(registry: Registry, namespace: string, name: string, container: string | null, needsContainer: boolean): AgentTarget {
  const pod = registry.mustStore('', 'pods').get(namespace, name) as Pod;
  const spec = (pod as PodShape).spec ?? {};
  const containers = (spec.containers ?? []).map((c) => c.name);
  const inits = (spec.initContainers ?? []).map((c) => c.name);
  const all = [...containers, ...inits, ...(spec.ephemeralContainers ?? []).map((c) => c.name)];
  let chosen = container ?? '';
  if (needsContainer) {
    if (!chosen) {
      const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
      if (annotated && all.includes(annotated)) chosen = annotated;
      else if (containers.length === 1 && inits.length === 0) chosen = containers[0]!;
      else throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]${inits.length > 0 ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`);
    }
    if (!all.includes(chosen)) throw badRequest(`container ${chosen} is not valid for pod ${name}`);
  }
  const nodeName = spec.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  let node: Record<string, unknown>;
  try {
    node = registry.mustStore('', 'nodes').get('', nodeName) as unknown as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) throw new ApiError(500, 'InternalError', `node ${nodeName} of pod ${name} does not exist`, undefined, { cause: err });
    throw err;
  }
  const status = (node['status'] ?? {}) as { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
  const address = status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? status.addresses?.find((a) => a.type === 'Hostname')?.address;
  const port = status.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!address || !port) throw new ApiError(500, 'InternalError', `node ${nodeName} has no agent address`);
  return { pod, container: chosen, base: `https://${address.includes(':') ? `[${address}]` : address}:${port}` };
}

function agentErrorToApiError(code: number, message: string): ApiError {
  const text = message.trim() || `the agent answered ${code}`;
  if (code === 404) return new ApiError(404, 'NotFound', text, {});
  if (code === 400) return badRequest(text);
  if (code === 401 || code === 403) return new ApiError(500, 'InternalError', `the agent refused the API server: ${text}`);
  return new ApiError(500, 'InternalError', text);
}

/** A Status as the last message on the error channel (what kubectl prints). */
function statusMessage(err: ApiError): Buffer {
  return Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(err.toStatus()), 'utf8')]);
}

/** Builds the handlers. */
export function podStreamHandlers(deps: PodStreamDeps): PodStreamHandlers {
  const log = deps.logger.child({ subsystem: 'pod-streams' });
  const tls = { cert: deps.kubeletClient.cert, key: deps.kubeletClient.key, rejectUnauthorized: false };
  const agent = new HttpsAgent({ ...tls, keepAlive: true, maxSockets: 256 });

  const agentPath = (kind: 'exec' | 'attach', info: RequestInfo, target: AgentTarget, q: URLSearchParams): string => {
    const out = new URLSearchParams();
    if (kind === 'exec') for (const c of q.getAll('command')) out.append('command', c);
    if (flag(q, 'stdin')) out.set('input', '1');
    if (flag(q, 'stdout')) out.set('output', '1');
    if (flag(q, 'stderr')) out.set('error', '1');
    if (flag(q, 'tty')) out.set('tty', '1');
    return `/${kind}/${encodeURIComponent(info.namespace)}/${encodeURIComponent(info.name)}/${encodeURIComponent(target.container)}?${out}`;
  };

  const portForwardPath = (info: RequestInfo, ports: string[]): string => `/portForward/${encodeURIComponent(info.namespace)}/${encodeURIComponent(info.name)}?${ports.map((p) => `port=${encodeURIComponent(p)}`).join('&')}`;

  /** Opens a WebSocket to the agent; rejects with an ApiError when the agent refuses. */
  const dialAgent = (url: string, protocol: string): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [protocol], { ...tls, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, handshakeTimeout: 30_000 });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => reject(agentErrorToApiError(res.statusCode ?? 500, body)));
        res.on('error', () => reject(agentErrorToApiError(res.statusCode ?? 500, body)));
      });
      ws.once('error', (err) => reject(new ApiError(500, 'InternalError', `error dialing the agent: ${err.message}`, undefined, { cause: err })));
    });

  const streamTarget = (info: RequestInfo, q: URLSearchParams): AgentTarget => {
    const target = resolveAgentTarget(deps.registry, info.namespace, info.name, q.get('container'), info.subresource !== 'portforward');
    const phase = (target.pod as PodShape).status?.phase;
    if (info.subresource !== 'portforward' && (phase === 'Succeeded' || phase === 'Failed')) throw badRequest(`cannot ${info.subresource} into a container in a completed pod; current phase is ${phase}`);
    return target;
  };

  const portsOf = (q: URLSearchParams): string[] => {
    const ports = q.getAll('ports').flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '');
    for (const p of ports) if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw badRequest(`invalid port "${p}"`);
    return ports;
  };

  // ---- log ----
  const logHandler: ConnectHandler = async (req, reply, info) => {
    if (info.verb !== 'get') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const q = queryOf(req.url);
    const target = resolveAgentTarget(deps.registry, info.namespace, info.name, q.get('container'), true);
    const out = new URLSearchParams();
    for (const k of ['follow', 'previous', 'timestamps']) if (flag(q, k)) out.set(k, 'true');
    for (const k of ['tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes']) {
      const v = q.get(k);
      if (v === null || v === '') continue;
      if (k !== 'sinceTime' && !/^-?\d+$/.test(v)) throw badRequest(`${k}: invalid value "${v}"`);
      if ((k === 'sinceSeconds' || k === 'limitBytes') && Number(v) < 1) throw badRequest(`${k}: must be greater than 0`);
      out.set(k, v);
    }
    const url = new URL(`/containerLogs/${encodeURIComponent(info.namespace)}/${encodeURIComponent(info.name)}/${encodeURIComponent(target.container)}?${out}`, target.base);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest(url, { agent, method: 'GET' }, resolve);
      r.on('error', (err) => reject(new ApiError(500, 'InternalError', `error reading logs from the agent: ${err.message}`, undefined, { cause: err })));
      req.raw.on('close', () => r.destroy());
      r.end();
    });
    if (res.statusCode !== 200) {
      let body = '';
      for await (const c of res) body += (c as Buffer).toString('utf8');
      throw agentErrorToApiError(res.statusCode ?? 500, body);
    }
    req.raw.on('close', () => res.destroy());
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-cache, private' });
    reply.raw.flushHeaders();
    res.on('data', (c: Buffer) => {
      if (!reply.raw.write(c)) {
        res.pause();
        reply.raw.once('drain', () => res.resume());
      }
    });
    res.on('end', () => reply.raw.end());
    res.on('error', () => reply.raw.destroy());
  };

  // ---- exec / attach / portforward over SPDY (plain upgrade) ----
  const spdyHandler: ConnectHandler = async (req, reply, info) => {
    if (!isSpdyUpgrade(req.headers)) throw badRequest('Upgrade request required');
    const q = queryOf(req.url);
    const target = streamTarget(info, q);
    if (info.subresource === 'portforward') {
      const session = upgradeToSpdy(req, reply, ['portforward.k8s.io']);
      if (!session) return;
      bridgeSpdyPortForward(session.session, (port) => dialAgent(new URL(portForwardPath(info, [port]), target.base).toString(), 'portforward.k8s.io'), log);
      return;
    }
    const kind = info.subresource as 'exec' | 'attach';
    const session = upgradeToSpdy(req, reply, ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
    if (!session) return;
    bridgeSpdyExec(session.session, session.protocol, { stdin: flag(q, 'stdin'), stdout: flag(q, 'stdout'), stderr: flag(q, 'stderr'), tty: flag(q, 'tty') }, () => dialAgent(new URL(agentPath(kind, info, target, q), target.base).toString(), 'v5.channel.k8s.io'), log);
  };

  // ---- exec / attach / portforward over WebSocket ----
  const wsHandler: WebSocketHandler = async (socketLike, req, info) => {
    const client = socketLike as unknown as WebSocket;
    const protocol = client.protocol;
    const q = queryOf(req.url);
    // Messages that arrive while the agent is dialled are kept in order.
    const early: Buffer[] = [];
    const keep = (d: Buffer) => early.push(d);
    client.on('message', keep);
    try {
      const target = streamTarget(info, q);
      if (protocol === SPDY_PORT_FORWARD_TUNNEL) {
        client.off('message', keep);
        const session = tunnelTransport(client, early);
        bridgeSpdyPortForward(session, (port) => dialAgent(new URL(portForwardPath(info, [port]), target.base).toString(), 'portforward.k8s.io'), log);
        return;
      }
      const path = info.subresource === 'portforward' ? portForwardPath(info, portsOf(q)) : agentPath(info.subresource as 'exec' | 'attach', info, target, q);
      if (info.subresource === 'portforward' && portsOf(q).length === 0) throw badRequest('query parameter "ports" is required');
      const upstream = await dialAgent(new URL(path, target.base).toString(), protocol || 'v4.channel.k8s.io');
      client.off('message', keep);
      for (const d of early) upstream.send(d);
      client.on('message', (d: Buffer) => {
        if (upstream.readyState === upstream.OPEN) upstream.send(d);
      });
      upstream.on('message', (d: Buffer) => {
        if (client.readyState === client.OPEN) client.send(d);
      });
      upstream.on('close', (code) => {
        if (client.readyState === client.OPEN) client.close(code === 1005 || code === 1006 ? 1000 : code);
      });
      client.on('close', () => upstream.close());
      upstream.on('error', () => client.terminate());
      client.on('error', () => upstream.terminate());
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
      if (!(err instanceof ApiError)) log.error({ err }, 'streaming request failed');
      if (client.readyState === client.OPEN) {
        if (info.subresource !== 'portforward') client.send(statusMessage(apiErr));
        client.close(1000);
      }
    }
  };

  return {
    connectHandlers: new Map<string, ConnectHandler>([
      ['log', logHandler],
      ['exec', spdyHandler],
      ['attach', spdyHandler],
      ['portforward', spdyHandler],
    ]),
    webSocketHandlers: new Map<string, WebSocketHandler>([
      ['exec', wsHandler],
      ['attach', wsHandler],
      ['portforward', wsHandler],
    ]),
    close: () => agent.destroy(),
  };
}
