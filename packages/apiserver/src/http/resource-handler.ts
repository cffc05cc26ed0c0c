/**
 * The one handler behind every `/api/...` and `/apis/...` URL: parses what the URL addresses (like
 * Kubernetes' RequestInfo), then dispatches the verb to the resource's GenericStore. No per-kind
 * route handlers: kinds differ only by their strategies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  badRequest,
  expired,
  methodNotAllowed,
  parseFieldSelector,
  parseLabelSelector,
  type KubeObject,
  type ListMeta,
  groupVersionOf,
  type ResourceInfo,
  type SubresourceName,
} from '@flotilla/api';
import type { Logger } from 'pino';
import type { UserInfo } from '../auth/authenticator.js';
import { readOnlyMutation, type GenericStore, type DeleteOptions, type WriteOptions, type WriteResult } from '../registry/generic-store.js';
import type { Registry } from '../registry/registry.js';
import type { Patcher } from '../registry/patcher.js';
import type { RequestContext, WriteTarget } from '../registry/strategy.js';
import type { ServedVersion } from '../registry/conversion.js';
import { bindPod, evictPod, finalizeNamespace, scaleOf, updateScale } from '../registry/subresources.js';
import type { CachedObject } from '../registry/resource-cache.js';
import { StorageError, type Storage } from '../storage/storage.js';
import { checkTypeMeta, decodeObjectBody, decodeOptionalBody, decodePatchBody } from './body.js';
import { apiGroup, apiResourceList } from './discovery.js';
import { dryRunOf, fieldValidationOf, negotiateView, parseQuery, queryBool, queryInt, queryString, type OutputView, type Query } from './negotiation.js';
import { isRequestInfo, parseResourcePath, requestTarget, type RequestInfo } from './request-info.js';
import { includeObjectOf, partialObject, renderTable } from './table.js';
import { httpTransport, startWatch, type EventTransport } from './watch.js';

/** What the handler needs. */
export interface ResourceHandlerDeps {
  registry: Registry;
  storage: Storage;
  patcher: Patcher;
  logger: Logger;
  /** Subresources this server implements (advertised in discovery). */
  servedSubresources: ReadonlySet<SubresourceName>;
  /** Handlers of subresources served outside the generic store, keyed by name: the streaming ones (log, exec, attach, portforward) and serviceaccounts/token. */
  connectHandlers?: ReadonlyMap<string, (req: FastifyRequest, reply: FastifyReply, info: RequestInfo) => Promise<void>>;
  /** WebSocket handlers for streaming subresources (exec, attach, portforward), keyed by name. */
  webSocketHandlers?: ReadonlyMap<string, (socket: WebSocketLike, req: FastifyRequest, info: RequestInfo) => Promise<void>>;
  /** Other served versions of stored resources, by `group/version/plural`, with their decoders. */
  conversions?: ReadonlyMap<string, ServedVersion>;
  /** Clock (tests inject one). */
  now?: () => Date;
}


declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook. */
    user?: UserInfo;
  }
}

/** The default field manager: the User-Agent up to its first '/' (Kubernetes' rule). */
export function managerFromUserAgent(ua: string | string[] | undefined): string {
  const s = (Array.isArray(ua) ? ua[0] : ua) ?? '';
  const name = s.split('/', 1)[0]!.trim();
  return (name || 'unknown').slice(0, 128);
}

const CONTINUE_TOO_OLD = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

/** A continue token: the list's revision and the id to continue after. */
interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'flotilla.v1', rv: t.rv, start: t.start })).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    if (t.v !== 'flotilla.v1' || typeof t.rv !== 'number' || typeof t.start !== 'string') throw new Error('bad token');
    return { rv: t.rv, start: t.start };
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

function parseRv(v: string, what = 'resourceVersion'): number {
  if (!/^\d+$/.test(v)) throw badRequest(`invalid ${what}: ${JSON.stringify(v)}`);
  return Number(v);
}

function send(reply: FastifyReply, code: number, json: string, warnings: readonly string[] = []): FastifyReply {
  if (warnings.length > 0) reply.header('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
  return reply.code(code).type('application/json').send(json);
}

function resourceNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** A field selector with the served version's labels renamed to the stored version's (`regarding.name=x` → `involvedObject.name=x`). */
export function renameFieldLabels(selector: string, labels: Readonly<Record<string, string>>): string {
  return selector
    .split(/(?<!\\),/)
    .map((term) => {
      const m = /^\s*([^!=\s]+)\s*(!=|==|=)/.exec(term);
      const to = m ? labels[m[1]!] : undefined;
      return m && to ? `${to}${term.slice(m[0].length - m[2]!.length)}` : term;
    })
    .join(',');
}

/** Builds the fastify handler for resource URLs. */
export function createResourceHandler(deps: ResourceHandlerDeps) {
  const now = deps.now ?? (() => new Date());
  const log = deps.logger;

  function ctxOf(req: FastifyRequest): RequestContext {
    return { now: now(), user: req.user ?? { name: 'system:anonymous', groups: [] } };
  }

  function writeOptions(q: Query, req: FastifyRequest): WriteOptions {
    const o: WriteOptions = { dryRun: dryRunOf(q), fieldValidation: fieldValidationOf(q) };
    const fm = queryString(q, 'fieldManager');
    if (fm !== undefined && fm.length > 128) throw badRequest('fieldManager must be no more than 128 characters');
    o.fieldManager = fm || managerFromUserAgent(req.headers['user-agent']);
    return o;
  }

  function render(store: GenericStore, obj: CachedObject | KubeObject, view: OutputView, q: Query): string {
    const json = 'json' in obj && typeof obj.json === 'string' ? obj.json : undefined;
    if (view === 'object') return json ?? JSON.stringify(obj);
    const parsed = json !== undefined ? (JSON.parse(json) as KubeObject) : (obj as KubeObject);
    if (view === 'partial') return JSON.stringify(partialObject(parsed));
    return JSON.stringify(renderTable(store.strategy, [parsed], { resourceVersion: parsed.metadata.resourceVersion ?? '' }, includeObjectOf(queryString(q, 'includeObject')), now()));
  }

  function renderList(store: GenericStore, items: readonly CachedObject[], meta: ListMeta, view: OutputView, q: Query, served?: ServedVersion): string {
    const r = served?.served ?? store.strategy.resource;
    if (view === 'table') {
      const objs = items.map((o) => JSON.parse(o.json) as KubeObject);
      return JSON.stringify(renderTable(store.strategy, objs, meta, includeObjectOf(queryString(q, 'includeObject')), now()));
    }
    if (view === 'partial') {
      const objs = items.map((o) => partialObject(JSON.parse(o.json) as KubeObject));
      return JSON.stringify({ kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: meta, items: objs });
    }
    const gv = r.group === '' ? r.version : `${r.group}/${r.version}`;
    let out = `{"kind":"${r.listKind}","apiVersion":"${gv}","metadata":${JSON.stringify(meta)},"items":[`;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out += ',';
      out += served ? JSON.stringify(served.fromStored(JSON.parse(items[i]!.json) as KubeObject)) : items[i]!.json;
    }
    return `${out}]}`;
  }

  function selectionOf(store: GenericStore, info: RequestInfo, q: Query, served?: ServedVersion) {
    const known = new Set(['metadata.name', 'metadata.namespace', ...Object.keys(store.strategy.selectableFields)]);
    const fields = queryString(q, 'fieldSelector');
    return {
      namespace: info.namespace || undefined,
      labelSelector: parseLabelSelector(queryString(q, 'labelSelector')),
      fieldSelector: parseFieldSelector(fields && served?.fieldLabels ? renameFieldLabels(fields, served.fieldLabels) : fields, known),
    };
  }

  async function list(store: GenericStore, info: RequestInfo, q: Query, view: OutputView, reply: FastifyReply, served?: ServedVersion): Promise<FastifyReply> {
    const selection = selectionOf(store, info, q, served);
    const limit = queryInt(q, 'limit') ?? 0;
    const cont = queryString(q, 'continue');
    const rvParam = queryString(q, 'resourceVersion');
    const rvMatch = queryString(q, 'resourceVersionMatch');
    const objects = deps.registry.cache;
    let listRv = objects.revision;
    let after: string | undefined;
    if (cont) {
      if (rvParam) throw badRequest('specifying resource version is not allowed when using continue');
      const t = decodeContinue(cont);
      if (t.rv < deps.storage.compactedRevision()) {
        throw expired(CONTINUE_TOO_OLD);
      }
      after = t.start;
      listRv = t.rv;
    } else if (rvParam && rvParam !== '0') {
      const wanted = parseRv(rvParam);
      if (rvMatch === 'Exact' && wanted !== objects.revision) {
        throw expired(`Timeout: Too large resource version or an exact historical list is not available: ${wanted}`);
      }
      if (wanted > objects.revision && !(await objects.waitForRevision(wanted, 3000))) {
        throw new ApiError(504, 'Timeout', `Too large resource version: ${wanted}, current: ${objects.revision}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
      }
      listRv = objects.revision;
    }
    const result = cont && listRv < objects.revision ? await listAtRevision(store, selection, listRv, Math.max(0, limit), after) : store.cache.list(selection, objects.revision, Math.max(0, limit), after);
    const meta: ListMeta = { resourceVersion: String(cont ? listRv : objects.revision) };
    if (result.continueAfter !== undefined) {
      meta.continue = encodeContinue({ rv: cont ? listRv : objects.revision, start: result.continueAfter });
      if (result.remaining !== undefined) meta.remainingItemCount = result.remaining;
    }
    return send(reply, 200, renderList(store, result.items, meta, view, q, served));
  }

  /**
   * A later page of a paginated list, as the objects were at its first page's revision: the changes
   * since are undone, read from the cache's window or, when older, from storage history. A revision
   * compacted away is a 410, as Kubernetes answers a continue token older than etcd's compaction.
   */
  async function listAtRevision(store: GenericStore, selection: ReturnType<typeof selectionOf>, revision: number, limit: number, after: string | undefined) {
    let changes = store.cache.changesSince(revision);
    if (!changes) {
      const upTo = deps.registry.cache.revision;
      try {
        const records = await deps.storage.history(revision, { prefix: store.cache.prefix });
        changes = records.filter((e) => e.revision <= upTo).map((e) => store.cache.eventFromHistory(e.type, e.value, e.revision, e.prevValue, e.prevRevision));
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Compacted') throw expired(CONTINUE_TOO_OLD);
        throw err;
      }
      // The cache may have moved on while storage was read: undo its later changes too.
      changes.push(...(store.cache.changesSince(upTo) ?? []));
    }
    return store.cache.listAt(selection, revision, changes, limit, after);
  }

  async function watch(store: GenericStore, info: RequestInfo, q: Query, view: OutputView, transport: EventTransport, onGone: (stop: () => void) => void, served?: ServedVersion): Promise<void> {
    const selection = selectionOf(store, info, q, served);
    if (info.name) selection.fieldSelector = parseFieldSelector(`metadata.name=${info.name}${selection.fieldSelector.isEmpty() ? '' : `,${selection.fieldSelector.toString()}`}`);
    const rv = queryString(q, 'resourceVersion');
    const timeoutSeconds = queryInt(q, 'timeoutSeconds') ?? Math.floor(1800 + Math.random() * 1800);
    const sendInitial = queryString(q, 'sendInitialEvents');
    let fromRevision: number | undefined = rv === undefined || rv === '' || rv === '0' ? undefined : parseRv(rv);
    if (sendInitial === 'false' && fromRevision === undefined) fromRevision = deps.registry.cache.revision;
    const handle = await startWatch(
      { objects: deps.registry.cache, cache: store.cache, storage: deps.storage, logger: log },
      transport,
      {
        strategy: store.strategy,
        selection,
        fromRevision: sendInitial === 'true' ? undefined : fromRevision,
        allowBookmarks: queryBool(q, 'allowWatchBookmarks'),
        sendInitialEventsEndBookmark: sendInitial === 'true',
        timeoutSeconds: Math.max(1, timeoutSeconds),
        view,
        includeObject: includeObjectOf(queryString(q, 'includeObject')),
        ...(served ? { served: { resource: served.served, fromStored: served.fromStored } } : {}),
      },
    );
    onGone(handle.stop);
  }

  function deleteOptionsOf(req: FastifyRequest, q: Query): DeleteOptions {
    const body = decodeOptionalBody(req.body as Buffer | undefined, req.headers['content-type']) ?? {};
    checkTypeMeta(body, 'DeleteOptions');
    const opts: DeleteOptions = { dryRun: dryRunOf(q) };
    const bodyDry = body['dryRun'];
    if (Array.isArray(bodyDry)) {
      for (const v of bodyDry) if (v !== 'All') throw badRequest(`Invalid dry run value: ${JSON.stringify(v)}: supported values: "All"`);
      if (bodyDry.length > 0) opts.dryRun = true;
    }
    const grace = body['gracePeriodSeconds'] ?? queryInt(q, 'gracePeriodSeconds');
    if (grace !== undefined && grace !== null) {
      if (typeof grace !== 'number' || !Number.isInteger(grace)) throw badRequest('gracePeriodSeconds must be an integer');
      opts.gracePeriodSeconds = Math.max(0, grace);
    }
    let policy = body['propagationPolicy'] ?? queryString(q, 'propagationPolicy');
    const orphan = body['orphanDependents'] ?? (queryString(q, 'orphanDependents') === undefined ? undefined : queryBool(q, 'orphanDependents'));
    if (policy === undefined && orphan !== undefined) policy = orphan === true ? 'Orphan' : 'Background';
    if (policy !== undefined && policy !== null) {
      if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
        throw badRequest(`DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${String(policy)}": supported values: "Foreground", "Background", "Orphan", "nil"`);
      }
      opts.propagationPolicy = policy;
    }
    const pre = body['preconditions'] as { uid?: string; resourceVersion?: string } | undefined;
    if (pre && typeof pre === 'object') opts.preconditions = pre;
    return opts;
  }

  /**
   * PATCH of every kind (merge, JSON, strategic, server-side apply). At a version served by
   * conversion the patch applies to the served form of the object, with that version's schema.
   */
  async function patch(store: GenericStore, info: RequestInfo, req: FastifyRequest, q: Query, subresource: WriteTarget, served?: ServedVersion): Promise<WriteResult> {
    const { type, patch: doc } = decodePatchBody(req.body as Buffer | undefined, req.headers['content-type']);
    const options = writeOptions(q, req);
    const ctx = ctxOf(req);
    const warnings: string[] = [];
    const def = served?.definitionName ?? store.strategy.definitionName;
    /** The object as the patch sees it. */
    const view = (cur: KubeObject) => (served ? served.fromStored(cur) : cur);
    /** A patched object decoded for the store (through the served version's schema first). */
    const decode = (patched: unknown) => (served ? store.decode(served.toStored(served.decode(patched, options.fieldValidation, warnings)), 'Ignore', warnings) : store.decode(patched, options.fieldValidation, warnings));
    if (type === 'apply') {
      // Apply needs an explicit manager; the User-Agent default is only for ordinary writes.
      const manager = queryString(q, 'fieldManager');
      const force = queryBool(q, 'force');
      // managedFields record the version applied at (a served version's field names).
      const gv = groupVersionOf(served?.served ?? store.strategy.resource);
      const existing = store.tryGet(info.namespace, info.name);
      if (!existing) {
        if (subresource) throw store.notFound(info.name);
        const applied = deps.patcher.serverSideApply(def, undefined, doc as Record<string, unknown>, manager, force, gv, ctx.now);
        const obj = decode(applied);
        options.managedFieldsSet = true;
        if (obj.metadata.name && obj.metadata.name !== info.name) throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${info.name})`);
        obj.metadata.name = info.name;
        if (store.strategy.resource.namespaced) obj.metadata.namespace = info.namespace;
        return store.createObject(obj, options, ctx, warnings);
      }
      options.managedFieldsSet = true;
      return store.guaranteedUpdate(info.namespace, info.name, options, ctx, subresource, (cur) => {
        const applied = deps.patcher.serverSideApply(def, view(cur), doc as Record<string, unknown>, manager, force, gv, ctx.now);
        return decode(applied);
      }, undefined, warnings);
    }
    // A resourceVersion inside the patch is a precondition (kubectl diff / apply send one).
    let preconditionRv: string | undefined;
    if (type !== 'json') preconditionRv = ((doc as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion as string | undefined) ?? undefined;
    return store.guaranteedUpdate(
      info.namespace,
      info.name,
      options,
      ctx,
      subresource,
      // The patch algorithms copy what they change, conversion builds a new object and decode builds
      // another: `cur` is only read.
      readOnlyMutation((cur) => {
        const patched = deps.patcher.apply(type, def, view(cur), doc);
        const obj = decode(patched);
        if (type === 'json') {
          const rv = obj.metadata.resourceVersion;
          if (rv && rv !== cur.metadata.resourceVersion) throw store.conflict(info.name);
        }
        return obj;
      }),
      preconditionRv,
      warnings,
    );
  }


  async function scale(store: GenericStore, info: RequestInfo, req: FastifyRequest, q: Query, reply: FastifyReply): Promise<FastifyReply> {
    switch (info.verb) {
      case 'get':
        return send(reply, 200, JSON.stringify(scaleOf(store.get(info.namespace, info.name))));
      case 'update':
        return send(reply, 200, JSON.stringify(await updateScale(store, info.namespace, info.name, decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']), writeOptions(q, req), ctxOf(req))));
      case 'patch': {
        const { type, patch: doc } = decodePatchBody(req.body as Buffer | undefined, req.headers['content-type']);
        if (type === 'apply') throw new ApiError(415, 'UnsupportedMediaType', 'server-side apply is not supported on the scale subresource');
        const current = scaleOf(store.get(info.namespace, info.name)) as KubeObject;
        const patched = deps.patcher.apply(type, 'io.k8s.api.autoscaling.v1.Scale', current, doc);
        return send(reply, 200, JSON.stringify(await updateScale(store, info.namespace, info.name, patched, writeOptions(q, req), ctxOf(req))));
      }
      default:
        throw methodNotAllowed();
    }
  }

  /** A watch answered on the hijacked HTTP response (chunked JSON lines). */
  async function watchOverHttp(store: GenericStore, info: RequestInfo, q: Query, view: OutputView, reply: FastifyReply, served?: ServedVersion): Promise<void> {
    reply.hijack();
    const transport = httpTransport(reply.raw);
    let stop: (() => void) | undefined;
    reply.raw.on('close', () => stop?.());
    try {
      await watch(store, info, q, view, transport, (s) => {
        stop = s;
        if (reply.raw.destroyed) s();
      }, served);
    } catch (err) {
      // Parameter errors are found before any event: answer them on the open stream.
      const status = err instanceof ApiError ? err : new ApiError(500, 'InternalError', 'internal error');
      transport.send(`${JSON.stringify({ type: 'ERROR', object: status.toStatus() })}\n`);
      transport.end();
    }
  }

  /**
   * A resource at a version served by conversion (autoscaling/v1 HPAs): reads convert the stored
   * objects, writes decode the served kind and convert it for the store. Tables and metadata views
   * are the stored kind's.
   */
  async function handleServedVersion(store: GenericStore, served: ServedVersion, info: RequestInfo, req: FastifyRequest, reply: FastifyReply, q: Query, view: OutputView): Promise<FastifyReply | void> {
    const sub = info.subresource;
    if (sub !== '' && sub !== 'status') throw resourceNotFound();
    const out = (o: KubeObject) => JSON.stringify(served.fromStored(o));
    /** A write's answer: the object converted, or the Status as it is. */
    const answer = (r: WriteResult) => send(reply, r.code, r.object && (JSON.parse(r.json) as { kind?: string }).kind === store.strategy.resource.kind ? out(r.object) : r.json, r.warnings);
    /** The request body decoded as the served kind (unknown-field warnings into `warnings`), converted for the store. */
    const body = (warnings: string[]) => served.toStored(served.decode(decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']), fieldValidationOf(q), warnings));
    switch (info.verb) {
      case 'get': {
        const cached = store.getCached(info.namespace, info.name);
        return send(reply, 200, view === 'object' ? out(JSON.parse(cached.json) as KubeObject) : render(store, cached, view, q));
      }
      case 'list':
        if (sub) throw methodNotAllowed();
        return list(store, info, q, view, reply, served);
      case 'watch':
        if (sub) throw methodNotAllowed();
        return watchOverHttp(store, info, q, view, reply, served);
      case 'create': {
        if (info.name || sub) throw methodNotAllowed(`the server does not allow this method on the requested resource`);
        const warnings: string[] = [];
        const r = await store.create(info.namespace, body(warnings), writeOptions(q, req), ctxOf(req));
        return answer({ ...r, warnings: [...warnings, ...r.warnings] });
      }
      case 'update': {
        const warnings: string[] = [];
        const r = await store.update(info.namespace, info.name, body(warnings), writeOptions(q, req), ctxOf(req), sub);
        return answer({ ...r, warnings: [...warnings, ...r.warnings] });
      }
      case 'patch':
        return answer(await patch(store, info, req, q, sub, served));
      case 'delete':
        if (sub) throw methodNotAllowed();
        return answer(await store.delete(info.namespace, info.name, deleteOptionsOf(req, q), ctxOf(req)));
      default:
        throw methodNotAllowed();
    }
  }

  async function handleResource(info: RequestInfo, req: FastifyRequest, reply: FastifyReply, q: Query): Promise<FastifyReply | void> {
    const resource = info.resource;
    if (!resource) throw resourceNotFound();
    // POST /api/v1/namespaces/NS/bindings: the binding names the pod.
    if (resource.plural === 'bindings' && resource.group === '') {
      if (info.verb !== 'create' || info.name) throw methodNotAllowed();
      const pods = deps.registry.mustStore('', 'pods');
      const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
      return send(reply, 201, JSON.stringify(await bindPod(pods, info.namespace, '', body, dryRunOf(q), ctxOf(req))));
    }
    const served = deps.conversions?.get(`${resource.group}/${resource.version}/${resource.plural}`);
    const store = deps.registry.storeFor(served?.stored ?? resource);
    if (!store) throw resourceNotFound();
    if (resource.namespaced && !info.namespace && info.verb !== 'list' && info.verb !== 'watch' && info.verb !== 'deletecollection') {
      throw resourceNotFound();
    }
    if (!resource.namespaced && info.namespace) throw resourceNotFound();
    const view = info.verb === 'get' || info.verb === 'list' || info.verb === 'watch' ? negotiateView(req.headers['accept']) : 'object';
    if (served) return handleServedVersion(store, served, info, req, reply, q, view);
    const sub = info.subresource;
    if (sub) return handleSubresource(store, resource, info, req, reply, q);
    switch (info.verb) {
      case 'get':
        return send(reply, 200, render(store, store.getCached(info.namespace, info.name), view, q));
      case 'list':
        return list(store, info, q, view, reply);
      case 'watch': {
        return watchOverHttp(store, info, q, view, reply);
      }
      case 'create': {
        if (info.name) throw methodNotAllowed(`the server does not allow this method on the requested resource`);
        const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
        const r = await store.create(info.namespace, body, writeOptions(q, req), ctxOf(req));
        return send(reply, r.code, r.json, r.warnings);
      }
      case 'update': {
        const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
        const r = await store.update(info.namespace, info.name, body, writeOptions(q, req), ctxOf(req));
        return send(reply, r.code, r.json, r.warnings);
      }
      case 'patch': {
        const r = await patch(store, info, req, q, '');
        return send(reply, r.code, r.json, r.warnings);
      }
      case 'delete': {
        const r = await store.delete(info.namespace, info.name, deleteOptionsOf(req, q), ctxOf(req));
        return send(reply, r.code, r.json, r.warnings);
      }
      case 'deletecollection': {
        if (!resource.verbs.includes('deletecollection')) throw methodNotAllowed();
        const opts = deleteOptionsOf(req, q);
        const selection = selectionOf(store, info, q);
        const items = store.cache.list(selection, deps.registry.cache.revision).items;
        const ctx = ctxOf(req);
        const deleted: string[] = [];
        for (const o of items) {
          try {
            const r = await store.delete(o.namespace, o.name, opts, ctx);
            deleted.push(JSON.stringify(r.object));
          } catch (err) {
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
        }
        const r = store.strategy.resource;
        const gv = r.group === '' ? r.version : `${r.group}/${r.version}`;
        return send(reply, 200, `{"kind":"${r.listKind}","apiVersion":"${gv}","metadata":{"resourceVersion":"${deps.registry.cache.revision}"},"items":[${deleted.join(',')}]}`);
      }
      default:
        throw methodNotAllowed();
    }
  }

  async function handleSubresource(store: GenericStore, resource: ResourceInfo, info: RequestInfo, req: FastifyRequest, reply: FastifyReply, q: Query): Promise<FastifyReply | void> {
    const sub = info.subresource;
    if (!resource.subresources.includes(sub as SubresourceName)) throw resourceNotFound();
    const connect = deps.connectHandlers?.get(sub);
    if (connect) return connect(req, reply, info);
    if (!deps.servedSubresources.has(sub as SubresourceName)) {
      throw new ApiError(503, 'ServiceUnavailable', `the ${resource.plural}/${sub} subresource is not available on this server yet`);
    }
    switch (sub) {
      case 'status':
      case 'ephemeralcontainers': {
        if (info.verb === 'get') return send(reply, 200, render(store, store.getCached(info.namespace, info.name), 'object', q));
        if (info.verb === 'update') {
          const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
          const r = await store.update(info.namespace, info.name, body, writeOptions(q, req), ctxOf(req), sub);
          return send(reply, r.code, r.json, r.warnings);
        }
        if (info.verb === 'patch') {
          const r = await patch(store, info, req, q, sub);
          return send(reply, r.code, r.json, r.warnings);
        }
        throw methodNotAllowed();
      }
      case 'scale':
        return scale(store, info, req, q, reply);
      case 'binding': {
        if (info.verb !== 'create') throw methodNotAllowed();
        const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
        return send(reply, 201, JSON.stringify(await bindPod(store, info.namespace, info.name, body, dryRunOf(q), ctxOf(req))));
      }
      case 'eviction': {
        if (info.verb !== 'create') throw methodNotAllowed();
        const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
        const pdbs = deps.registry.mustStore('policy', 'poddisruptionbudgets');
        return send(reply, 201, JSON.stringify(await evictPod(store, pdbs, info.namespace, info.name, body, ctxOf(req))));
      }
      case 'finalize': {
        if (info.verb !== 'update') throw methodNotAllowed();
        const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
        return send(reply, 200, await finalizeNamespace(store, info.name, body, dryRunOf(q)));
      }
      default:
        throw resourceNotFound();
    }
  }

  /**
   * A WebSocket upgrade on a resource URL: `?watch=true` streams watch events, one JSON text message
   * each; streaming subresources (exec, attach, portforward) go to their connect handlers.
   */
  async function handleWebSocket(socket: WebSocketLike, req: FastifyRequest): Promise<void> {
    // The same reading of the target as authorization's: a collection is watched with ?watch=true.
    const { query: q, parsed } = requestTarget(req);
    const transport: EventTransport = {
      framed: true,
      send: (text) => socket.send(text),
      buffered: () => socket.bufferedAmount,
      end: () => socket.close(1000),
    };
    try {
      if (!isRequestInfo(parsed) || !parsed.resource) throw resourceNotFound();
      const wsConnect = deps.webSocketHandlers?.get(parsed.subresource);
      if (parsed.subresource && wsConnect) return wsConnect(socket, req, parsed);
      if (parsed.subresource || parsed.verb !== 'watch') throw badRequest('only watch requests and streaming subresources may be upgraded to a WebSocket');
      const store = deps.registry.storeFor(parsed.resource);
      if (!store) throw resourceNotFound();
      const view = negotiateView(req.headers['accept']);
      let stop: (() => void) | undefined;
      socket.on('close', () => stop?.());
      await watch(store, parsed, q, view, transport, (s) => {
        stop = s;
      });
    } catch (err) {
      const status = err instanceof ApiError ? err : new ApiError(500, 'InternalError', 'internal error');
      if (!(err instanceof ApiError)) log.error({ err, url: req.url }, 'websocket request failed');
      transport.send(JSON.stringify({ type: 'ERROR', object: status.toStatus() }));
      transport.end();
    }
  }

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    const { query: q, parsed } = requestTarget(req);
    if (parsed === undefined) throw resourceNotFound();
    if (!isRequestInfo(parsed)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
      if (parsed.kind === 'group') {
        const g = apiGroup(parsed.group);
        if (!g) throw resourceNotFound();
        return send(reply, 200, JSON.stringify(g));
      }
      const doc = apiResourceList(parsed.group, parsed.version, deps.servedSubresources);
      if (!doc) throw resourceNotFound();
      return send(reply, 200, JSON.stringify(doc));
    }
    return handleResource(parsed, req, reply, q);
  }

  return { handle, handleWebSocket };
}

/** The part of a WebSocket the handler uses (ws's WebSocket). */
export interface WebSocketLike {
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
}

/** Exposed for tests: the list continue-token codec. */
export const continueTokens = { encode: encodeContinue, decode: decodeContinue };
