/**
 * The REST client every Flotilla component uses to talk to the API server (undici over HTTPS with a
 * bearer token or a client certificate). Typed by the resource table: `client.list(res('pods'), …)`.
 * Non-2xx answers become ApiError (from the server's Status); watches are async iterables.
 */
import type { Agent, Dispatcher } from 'undici';
import {
  ApiError,
  groupVersionOf,
  resolveResourceName,
  type KubeList,
  type KubeObject,
  type ResourceInfo,
  type WatchEvent,
} from '@flotilla/api/core';
import type { ClientConfig } from './kubeconfig.js';
import { TokenBucket } from './token-bucket.js';
import { UndiciAgent, UndiciPool } from './undici-dispatchers.js';
import { parseWatchStream } from './watch-stream.js';

/** Looks a resource up by the names people type (`pods`, `po`, `deployments.apps`); throws if unknown. */
export function res(name: string): ResourceInfo {
  const r = resolveResourceName(name);
  if (!r) throw new Error(`unknown resource ${name}`);
  return r;
}

/** Options of list calls. */
export interface ListOptions {
  /** "" or undefined = all namespaces (for namespaced resources). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  signal?: AbortSignal;
}

/** Options of watch calls. */
export interface WatchOptions {
  namespace?: string;
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

/** Options of writes. */
export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  signal?: AbortSignal;
}

/** The patch flavours. */
export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

/** Options of patches. */
export interface PatchOptions extends WriteOptions {
  subresource?: string;
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean;
}

/** DeleteOptions. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** A raw answer. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The typed operations controllers and tools depend on (RestClient, and FakeClient in tests). */
export interface KubeClient {
  get<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, options?: { subresource?: string; signal?: AbortSignal }): Promise<T>;
  list<T extends KubeObject = KubeObject>(r: ResourceInfo, options?: ListOptions): Promise<KubeList<T>>;
  create<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, obj: T, options?: WriteOptions): Promise<T>;
  update<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options?: WriteOptions & { subresource?: string }): Promise<T>;
  updateStatus<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options?: WriteOptions): Promise<T>;
  patch<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, patch: unknown, type: PatchType, options?: PatchOptions): Promise<T>;
  delete(r: ResourceInfo, namespace: string, name: string, options?: DeleteOptions): Promise<unknown>;
  deleteCollection(r: ResourceInfo, options: ListOptions & DeleteOptions): Promise<void>;
  /** POST to a subresource (`binding`, `eviction`). */
  createSubresource<T = unknown>(r: ResourceInfo, namespace: string, name: string, subresource: string, body: unknown, options?: WriteOptions): Promise<T>;
  watch<T extends KubeObject = KubeObject>(r: ResourceInfo, options?: WatchOptions): AsyncIterableIterator<WatchEvent<T>>;
}

/** Options of a RestClient. */
export interface RestClientOptions {
  userAgent?: string;
  /** Requests per second allowed (token bucket); undefined = unlimited. */
  qps?: number;
  burst?: number;
  /** Per-request timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** Connections for ordinary requests (default 32). */
  connections?: number;
}

/** The URL path of a resource collection or object. */
export function resourcePath(r: ResourceInfo, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name !== undefined && name !== '') p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** The API server could not be reached (or the connection broke). */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}

/** HTTP client for one API server. */
export class RestClient implements KubeClient {
  private readonly pool: Dispatcher;
  private readonly watchAgent: Agent;
  private readonly headers: Record<string, string>;
  private readonly bucket: TokenBucket | undefined;
  private readonly timeoutMs: number;
  readonly server: string;

  constructor(
    readonly config: ClientConfig,
    options: RestClientOptions = {},
  ) {
    this.server = config.server.replace(/\/+$/, '');
    const connect = {
      ...(config.ca ? { ca: config.ca } : {}),
      ...(config.cert && config.key ? { cert: config.cert, key: config.key } : {}),
      ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
      rejectUnauthorized: config.insecureSkipTLSVerify !== true,
    };
    this.pool = new UndiciPool(new URL(this.server).origin, { connect, connections: options.connections ?? 32, pipelining: 1, keepAliveTimeout: 30_000 });
    this.watchAgent = new UndiciAgent({ connect, bodyTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 10_000 });
    this.headers = { 'user-agent': options.userAgent ?? 'flotilla' };
    if (config.token) this.headers['authorization'] = `Bearer ${config.token}`;
    this.bucket = options.qps ? new TokenBucket(options.qps, options.burst ?? Math.max(1, options.qps * 2)) : undefined;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** The namespace of the kubeconfig context. */
  get defaultNamespace(): string {
    return this.config.namespace;
  }

  /** Sends a request and reads the whole answer; throws ApiError for non-2xx unless `raw`. */
  async request(method: string, path: string, options: { body?: string | Buffer; contentType?: string; accept?: string; signal?: AbortSignal; raw?: boolean } = {}): Promise<RawResponse> {
    if (this.bucket) await this.bucket.take(options.signal);
    const headers: Record<string, string> = { ...this.headers, accept: options.accept ?? 'application/json' };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({ method: method as Dispatcher.HttpMethod, path, headers, body: options.body, signal: options.signal, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ConnectionError(`${method} ${this.server}${path}: ${(err as Error).message}`, { cause: err });
    }
    const body = await res.body.text();
    if (!options.raw && (res.statusCode < 200 || res.statusCode >= 300)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = { message: body.slice(0, 500) || `the server responded with status ${res.statusCode}` };
      }
      throw ApiError.fromStatus(parsed, res.statusCode);
    }
    return { status: res.statusCode, headers: res.headers, body };
  }

  private async json<T>(method: string, path: string, body?: unknown, contentType?: string, signal?: AbortSignal): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const r = await this.request(method, path, { ...(payload !== undefined ? { body: payload } : {}), ...(contentType ? { contentType } : {}), ...(signal ? { signal } : {}) });
    return (r.body === '' ? undefined : JSON.parse(r.body)) as T;
  }

  private withKind<T extends KubeObject>(r: ResourceInfo, obj: T): T {
    return { apiVersion: groupVersionOf(r), kind: r.kind, ...obj };
  }

  get<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, options: { subresource?: string; signal?: AbortSignal } = {}): Promise<T> {
    return this.json<T>('GET', resourcePath(r, namespace, name, options.subresource), undefined, undefined, options.signal);
  }

  list<T extends KubeObject = KubeObject>(r: ResourceInfo, options: ListOptions = {}): Promise<KubeList<T>> {
    const q = query({ labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, limit: options.limit, continue: options.continue, resourceVersion: options.resourceVersion, resourceVersionMatch: options.resourceVersionMatch });
    return this.json<KubeList<T>>('GET', resourcePath(r, options.namespace) + q, undefined, undefined, options.signal);
  }

  /** Lists every page (following `continue`); the result's resourceVersion is the first page's. */
  async listAll<T extends KubeObject = KubeObject>(r: ResourceInfo, options: ListOptions = {}): Promise<KubeList<T>> {
    const first = await this.list<T>(r, { limit: 500, ...options });
    let cont = first.metadata.continue;
    while (cont) {
      const page = await this.list<T>(r, { ...options, limit: options.limit ?? 500, continue: cont, resourceVersion: undefined });
      first.items.push(...page.items);
      cont = page.metadata.continue;
    }
    delete first.metadata.continue;
    return first;
  }

  create<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, obj: T, options: WriteOptions = {}): Promise<T> {
    return this.json<T>('POST', resourcePath(r, namespace) + query({ dryRun: options.dryRun ? 'All' : undefined, fieldManager: options.fieldManager, fieldValidation: options.fieldValidation }), this.withKind(r, obj), undefined, options.signal);
  }

  update<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const path = resourcePath(r, obj.metadata.namespace, obj.metadata.name, options.subresource);
    return this.json<T>('PUT', path + query({ dryRun: options.dryRun ? 'All' : undefined, fieldManager: options.fieldManager, fieldValidation: options.fieldValidation }), this.withKind(r, obj), undefined, options.signal);
  }

  updateStatus<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options: WriteOptions = {}): Promise<T> {
    return this.update(r, obj, { ...options, subresource: 'status' });
  }

  patch<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, patch: unknown, type: PatchType, options: PatchOptions = {}): Promise<T> {
    const q = query({ dryRun: options.dryRun ? 'All' : undefined, fieldManager: options.fieldManager, fieldValidation: options.fieldValidation, force: options.force });
    return this.json<T>('PATCH', resourcePath(r, namespace, name, options.subresource) + q, patch, PATCH_CONTENT_TYPES[type], options.signal);
  }

  delete(r: ResourceInfo, namespace: string, name: string, options: DeleteOptions = {}): Promise<unknown> {
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (options.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = options.gracePeriodSeconds;
    if (options.propagationPolicy) body['propagationPolicy'] = options.propagationPolicy;
    if (options.preconditions) body['preconditions'] = options.preconditions;
    if (options.dryRun) body['dryRun'] = ['All'];
    return this.json('DELETE', resourcePath(r, namespace, name), body, undefined, options.signal);
  }

  async deleteCollection(r: ResourceInfo, options: ListOptions & DeleteOptions): Promise<void> {
    const q = query({ labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (options.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = options.gracePeriodSeconds;
    if (options.propagationPolicy) body['propagationPolicy'] = options.propagationPolicy;
    await this.json('DELETE', resourcePath(r, options.namespace) + q, body, undefined, options.signal);
  }

  createSubresource<T = unknown>(r: ResourceInfo, namespace: string, name: string, subresource: string, body: unknown, options: WriteOptions = {}): Promise<T> {
    return this.json<T>('POST', resourcePath(r, namespace, name, subresource) + query({ dryRun: options.dryRun ? 'All' : undefined }), body, undefined, options.signal);
  }

  /**
   * Watches a resource. Ends when the server closes the stream (timeout) or the signal aborts;
   * an ERROR event (e.g. 410 Expired) is thrown as an ApiError.
   */
  async *watch<T extends KubeObject = KubeObject>(r: ResourceInfo, options: WatchOptions = {}): AsyncIterableIterator<WatchEvent<T>> {
    let fieldSelector = options.fieldSelector;
    if (options.name) fieldSelector = [`metadata.name=${options.name}`, fieldSelector].filter((x) => x).join(',');
    const q = query({ watch: 'true', resourceVersion: options.resourceVersion, allowWatchBookmarks: options.allowWatchBookmarks, timeoutSeconds: options.timeoutSeconds, labelSelector: options.labelSelector, fieldSelector });
    const path = resourcePath(r, options.namespace) + q;
    if (this.bucket) await this.bucket.take(options.signal);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.watchAgent.request({ origin: new URL(this.server).origin, method: 'GET', path, headers: { ...this.headers, accept: 'application/json' }, signal: options.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      throw new ConnectionError(`watch ${this.server}${path}: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text.slice(0, 500) };
      }
      throw ApiError.fromStatus(parsed, res.statusCode);
    }
    try {
      for await (const ev of parseWatchStream<T>(res.body)) {
        if (ev.type === 'ERROR') throw ApiError.fromStatus(ev.object, 500);
        yield ev;
      }
    } catch (err) {
      if ((err as Error).name === 'AbortError' || options.signal?.aborted) return;
      if (err instanceof ApiError) throw err;
      throw new ConnectionError(`watch ${this.server}${path} broke: ${(err as Error).message}`, { cause: err });
    } finally {
      res.body.destroy();
    }
  }

  /** Closes connections. */
  async close(): Promise<void> {
    await Promise.allSettled([this.pool.close(), this.watchAgent.close()]);
  }
}
