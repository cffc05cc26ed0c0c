/**
 * `buildServer()`: the fastify application of the API server — authentication, metrics, one error
 * handler producing Kubernetes Status objects, discovery, OpenAPI and the generic resource handler.
 * It never listens; `start()` does (tests use `inject()`).
 */
import { createHash } from 'node:crypto';
import type { SecureServerOptions } from 'node:http2';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyWebsocket from '@fastify/websocket';
import { ALTERNATE_VERSIONS, ApiError, reasonForCode, type KubeObject, type SubresourceName } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Authenticator, UserInfo } from './auth/authenticator.js';
import { forbidden, type AuthorizationAttributes, type Authorizer } from './auth/authorizer.js';
import { registerNodeCredentials } from './auth/node-credentials.js';
import { ACCESS_REVIEW_API_GROUPS, accessReviewResourceList, registerAccessReviews } from './auth/access-reviews.js';
import { impersonatedUser } from './auth/impersonation.js';
import { registerServiceAccountIssuerDiscovery, type ServiceAccountIssuerDiscovery } from './auth/service-account-issuer-discovery.js';
import type { KeyPairPem } from './auth/pki.js';
import { decodeObjectBody } from './http/body.js';
import { aggregatedDiscovery, aggregatedDiscoveryMediaType, apiGroupList, apiVersions, discoveredGroups, negotiateAggregatedDiscovery, versionInfo, type AggregatedDiscoveryVersion } from './http/discovery.js';
import { OpenApiDocuments } from './http/openapi-routes.js';
import { createResourceHandler, type ResourceHandlerDeps, type WebSocketLike } from './http/resource-handler.js';
import { servedVersions } from './registry/conversion.js';
import { queryString } from './http/negotiation.js';
import { isRequestInfo, requestTarget } from './http/request-info.js';
import { routeSpdyUpgrades, unaliasProtocol } from './http/spdy-upgrade-routing.js';
import type { ApiServerMetrics } from './metrics.js';
import type { SummarySource } from './resource-metrics/agent-summary-client.js';
import { METRICS_API_GROUP, metricsResourceList, registerMetricsApi } from './resource-metrics/metrics-api.js';
import type { Registry } from './registry/registry.js';
import type { Patcher } from './registry/patcher.js';
import type { Storage } from './storage/storage.js';

/** Largest accepted request body (Kubernetes' limit is 3 MiB). */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

/** Over-limit bodies up to this size are drained before the 413 (larger ones get the connection closed). */
const MAX_DRAINED_BODY_BYTES = 16 * 1024 * 1024;

/** Subresources with generic implementations in this server. */
export const SERVED_SUBRESOURCES: ReadonlySet<SubresourceName> = new Set<SubresourceName>(['status', 'ephemeralcontainers', 'scale', 'binding', 'eviction', 'finalize', 'token']);

/** Paths answered without credentials, as Kubernetes' system:public-info-viewer allows. */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/cacerts']);

/** What the server is made of. */
export interface ServerDeps {
  registry: Registry;
  storage: Storage;
  patcher: Patcher;
  authenticator: Authenticator;
  /** Decides what an authenticated user may do; omitted = everything (tests of other concerns). */
  authorizer?: Authorizer;
  /** The cluster CA: served at `/cacerts`, signs node credentials. */
  ca?: KeyPairPem;
  metrics: ApiServerMetrics;
  logger: Logger;
  /** TLS options; omitted = plain HTTP (tests with inject only). */
  https?: HttpsServerOptions;
  /** `host:port` clients should use (for /api's serverAddressByClientCIDRs). */
  advertiseAddress: () => string;
  /** Readiness: false while starting or stopping. */
  isReady: () => boolean;
  /** Extra streaming subresource handlers (logs, exec...), added by later components. */
  connectHandlers?: ResourceHandlerDeps['connectHandlers'];
  webSocketHandlers?: ResourceHandlerDeps['webSocketHandlers'];
  /** Agents' usage summaries; when set, metrics.k8s.io/v1beta1 is served. */
  resourceMetrics?: SummarySource;
  /** Service account issuer discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`); when set, served. */
  serviceAccountIssuer?: ServiceAccountIssuerDiscovery;
}

function statusReply(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.code).type('application/json').send(JSON.stringify(err.toStatus()));
}

function bodyTooLarge(): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `the request body is too large: limit is ${MAX_REQUEST_BODY_BYTES} bytes`);
}

/** Maps anything thrown in a handler to a Kubernetes Status. Unknown errors are logged as bugs. */
function toApiError(err: unknown, log: Logger, req: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as FastifyError;
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'UnsupportedMediaType', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'BadRequest', fe.message);
    default:
      break;
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, reasonForCode(fe.statusCode), fe.message);
  }
  log.error({ err, method: req.method, url: req.url }, 'unhandled error in request');
  return new ApiError(500, 'InternalError', 'an internal error occurred; see the API server log');
}

/** What the authorizer needs to know about a request. */
function authorizationAttributes(req: FastifyRequest, user: UserInfo): AuthorizationAttributes {
  const { path, query: q, parsed } = requestTarget(req);
  if (!isRequestInfo(parsed)) return { user, verb: req.method.toLowerCase(), path };
  const fieldSelector = queryString(q, 'fieldSelector');
  let decoded: { object: KubeObject | undefined } | undefined;
  return {
    user,
    verb: parsed.verb,
    path,
    resource: { group: parsed.group, version: parsed.version, resource: parsed.plural, subresource: parsed.subresource, namespace: parsed.namespace, name: parsed.name },
    ...(fieldSelector !== undefined ? { fieldSelector } : {}),
    object: () => {
      if (!decoded) {
        try {
          const o = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']) as KubeObject;
          decoded = { object: o && typeof o === 'object' && o.metadata && typeof o.metadata === 'object' ? o : undefined };
        } catch {
          decoded = { object: undefined };
        }
      }
      return decoded.object;
    },
  };
}

/** Builds the fastify app. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const log = deps.logger;
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_REQUEST_BODY_BYTES,
    // Queries are parsed by the handlers with form semantics (`+` is a space).
    routerOptions: { querystringParser: () => ({}) },
    return503OnClosing: true,
    forceCloseConnections: true,
    keepAliveTimeout: 90_000,
    requestTimeout: 0,
    ...(deps.https ? { https: deps.https as SecureServerOptions } : {}),
  }) as unknown as FastifyInstance;

  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: 16 * 1024 * 1024,
      // Offer the first protocol the client lists that a handler understands (channel.k8s.io variants).
      handleProtocols: (protocols: Set<string>) => {
        for (const p of protocols) return unaliasProtocol(p);
        return false;
      },
    },
  });

  routeSpdyUpgrades(app);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BODY_BYTES }, (_req, body, done) => done(null, body));

  // A declared body over the limit is read and discarded (up to a bound) before the 413, so the client
  // gets the Status instead of a connection reset while it is still sending.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const length = Number(req.headers['content-length']);
    if (!(length > MAX_REQUEST_BODY_BYTES && length <= MAX_DRAINED_BODY_BYTES)) return payload;
    for await (const _chunk of payload) {
      // discarded
    }
    throw bodyTooLarge();
  });

  app.setErrorHandler((err, req, reply) => statusReply(reply, toApiError(err, log, req)));
  app.setNotFoundHandler((_req, reply) => statusReply(reply, new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})));

  // Authentication, after the Host check: Go's HTTP server, in front of every Kubernetes API server,
  // refuses a request with two Host headers (which one a proxy routed by is ambiguous); Node keeps the first.
  app.addHook('onRequest', async (req, reply) => {
    if (hostHeaderCount(req.raw.rawHeaders) > 1) {
      await statusReply(reply, new ApiError(400, 'BadRequest', 'too many Host headers'));
      return reply;
    }
    const path = req.url.split('?', 1)[0]!;
    if (PUBLIC_PATHS.has(path)) return;
    const user = await deps.authenticator.authenticate({ headers: req.headers, socket: req.raw.socket });
    if (!user) {
      await statusReply(reply, new ApiError(401, 'Unauthorized', 'Unauthorized'));
      return reply;
    }
    try {
      req.user = impersonatedUser(user, req.headers, deps.authorizer, path);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      await statusReply(reply, err);
      return reply;
    }
    return;
  });

  // Authorization, after the body is read (a create is decided on the object's name).
  const authorizer = deps.authorizer;
  if (authorizer) {
    app.addHook('preHandler', async (req, reply) => {
      if (!req.user) return;
      const attrs = authorizationAttributes(req, req.user);
      const decision = authorizer.authorize(attrs);
      if (decision.allowed) return;
      await statusReply(reply, forbidden(attrs, decision.reason));
      return reply;
    });
  }

  // Metrics: count every request; time the ones that are not streams.
  const startTimes = new WeakMap<FastifyRequest, bigint>();
  app.addHook('onRequest', async (req) => {
    startTimes.set(req, process.hrtime.bigint());
  });
  app.addHook('onResponse', async (req, reply) => {
    const started = startTimes.get(req);
    const { parsed } = requestTarget(req);
    const info = isRequestInfo(parsed) ? parsed : undefined;
    const verb = info?.verb ?? req.method.toLowerCase();
    const resource = info?.plural ?? '';
    deps.metrics.requests.inc({ verb, resource, subresource: info?.subresource ?? '', code: String(reply.statusCode) });
    if (started !== undefined && verb !== 'watch') deps.metrics.latency.observe({ verb, resource }, Number(process.hrtime.bigint() - started) / 1e9);
  });

  const health = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!deps.isReady()) return reply.code(500).type('text/plain').send('[-]ready failed: the server is starting or stopping\nreadyz check failed\n');
    return reply.type('text/plain').send('ok');
  };
  app.get('/healthz', health);
  app.get('/livez', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', health);
  if (deps.ca) {
    const caPem = deps.ca.cert;
    app.get('/cacerts', async (_req, reply) => reply.type('application/x-pem-file').send(caPem));
    registerNodeCredentials(app, { ca: deps.ca, logger: log });
  }
  app.get('/version', async (_req, reply) => reply.type('application/json').send(JSON.stringify(versionInfo())));
  const extraGroups = [...ACCESS_REVIEW_API_GROUPS.map((g) => ({ ...g, list: () => accessReviewResourceList(g.name) })), ...(deps.resourceMetrics ? [{ ...METRICS_API_GROUP, list: metricsResourceList }] : [])];
  // Aggregated discovery documents, built on first request (the resources do not change while serving).
  const aggregated = new Map<string, { body: Buffer; etag: string }>();
  const sendAggregated = (req: FastifyRequest, reply: FastifyReply, which: 'core' | 'apis', v: AggregatedDiscoveryVersion): FastifyReply => {
    const key = `${which}/${v}`;
    let doc = aggregated.get(key);
    if (doc === undefined) {
      // As bytes: fastify would rewrite a string's JSON Content-Type (quoted parameters, a charset).
      const body = Buffer.from(JSON.stringify(aggregatedDiscovery(discoveredGroups(SERVED_SUBRESOURCES, extraGroups)[which], v)));
      doc = { body, etag: `"${createHash('sha256').update(body).digest('hex').toUpperCase()}"` };
      aggregated.set(key, doc);
    }
    // As kube-apiserver: an ETag, and 304 to a client that holds this very document.
    reply.header('vary', 'Accept').header('etag', doc.etag);
    if (req.headers['if-none-match'] === doc.etag) return reply.code(304).send();
    return reply.header('content-type', aggregatedDiscoveryMediaType(v)).send(doc.body);
  };
  /** `/api` or `/apis`: the aggregated document when the client asks for one, else the legacy one. */
  const discoveryRoute = (which: 'core' | 'apis', legacy: () => unknown) => async (req: FastifyRequest, reply: FastifyReply) => {
    const v = negotiateAggregatedDiscovery(req.headers.accept);
    if (v) return sendAggregated(req, reply, which, v);
    return reply.header('vary', 'Accept').type('application/json').send(JSON.stringify(legacy()));
  };
  app.get('/api', discoveryRoute('core', () => apiVersions(deps.advertiseAddress())));
  app.get('/apis', discoveryRoute('apis', () => apiGroupList(extraGroups)));
  registerAccessReviews(app, { authorizer: deps.authorizer });
  if (deps.resourceMetrics) registerMetricsApi(app, { registry: deps.registry, summaries: deps.resourceMetrics });
  if (deps.serviceAccountIssuer) await registerServiceAccountIssuerDiscovery(app, deps.serviceAccountIssuer, deps.advertiseAddress);
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));

  const openapi = new OpenApiDocuments();
  app.get('/openapi/v2', async (_req, reply) => reply.type('application/octet-stream').send(''));
  app.get('/openapi/v3', async (_req, reply) => reply.type('application/json').send(openapi.index()));
  app.get('/openapi/v3/*', async (req, reply) => {
    const path = req.url.split('?', 1)[0]!.slice('/openapi/v3/'.length);
    const doc = openapi.document(path);
    if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    reply.header('Cache-Control', 'public, immutable');
    reply.header('ETag', `"${doc.hash}"`);
    return reply.type('application/json').send(doc.body);
  });

  const { handle, handleWebSocket } = createResourceHandler({
    registry: deps.registry,
    storage: deps.storage,
    patcher: deps.patcher,
    logger: log,
    servedSubresources: SERVED_SUBRESOURCES,
    conversions: servedVersions(ALTERNATE_VERSIONS, (d) => deps.registry.codecFor(d)),
    ...(deps.connectHandlers ? { connectHandlers: deps.connectHandlers } : {}),
    ...(deps.webSocketHandlers ? { webSocketHandlers: deps.webSocketHandlers } : {}),
  });
  for (const url of ['/api/*', '/apis/*']) {
    app.route({
      method: 'GET',
      url,
      handler: handle,
      wsHandler: (socket, req) => handleWebSocket(socket as unknown as WebSocketLike, req as unknown as FastifyRequest),
    });
    app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url, handler: handle });
  }
  return app;
}

/** How many Host headers a request carries (raw header names alternate with their values). */
function hostHeaderCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}
