/**
 * Watch streams: newline-delimited JSON over a chunked HTTP response, or one JSON message per event
 * over a WebSocket. Events come from the ResourceCache (or storage history for old resourceVersions);
 * each event's JSON line is built once and shared by every plain-JSON watcher.
 */
import type { ServerResponse } from 'node:http';
import { ApiError, expired, groupVersionOf, type KubeObject, type ResourceInfo } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import { StorageError } from '../storage/storage.js';
import type { ObjectCache } from '../registry/object-cache.js';
import type { CacheEvent, Delivery, ResourceCache, SelectionOptions, WatchSink, Watcher } from '../registry/resource-cache.js';
import type { Strategy } from '../registry/strategy.js';
import { partialObject, renderTable, type IncludeObject } from './table.js';
import type { OutputView } from './negotiation.js';

/** Largest amount of unsent data a watcher may accumulate before it is dropped as unresponsive. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/** Where a watch's serialized events go. */
export interface EventTransport {
  /** Sends text (one or more newline-terminated events for HTTP; one event per call for WebSocket). */
  send(text: string): void;
  /** Bytes queued but not yet written. */
  buffered(): number;
  /** Ends the stream. */
  end(): void;
  /** True when each send must hold exactly one event (WebSocket frames). */
  readonly framed: boolean;
  /**
   * Writes events already framed as HTTP/1.1 chunks (`CacheEvent.chunk`); present only while the
   * stream is a chunked response whose socket takes writes directly. Returns false (nothing sent)
   * when the caller must fall back to `send`.
   */
  sendChunks?(chunks: readonly Buffer[]): boolean;
}

/** Options of a watch request. */
export interface WatchRequest {
  strategy: Strategy;
  selection: SelectionOptions;
  /** undefined = send the current state first. */
  fromRevision: number | undefined;
  allowBookmarks: boolean;
  sendInitialEventsEndBookmark: boolean;
  timeoutSeconds: number;
  view: OutputView;
  includeObject: IncludeObject;
  /** Another served version of the resource: each object converted from the stored one. */
  served?: { resource: ResourceInfo; fromStored(obj: KubeObject): KubeObject };
}

/** A chunked HTTP response as an EventTransport. */
export function httpTransport(res: ServerResponse): EventTransport {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
  res.flushHeaders();
  return {
    framed: false,
    send: (text) => {
      res.write(text);
    },
    // Node writes a chunked response's data straight to its socket once the response owns it (not
    // queued behind a pipelined predecessor); pre-framed chunks can then skip the per-watcher framing
    // and string encoding. `chunkedEncoding` is false for HTTP/1.0 clients, which get plain writes.
    sendChunks: (chunks) => {
      const socket = res.socket;
      const chunked = (res as unknown as { chunkedEncoding?: boolean }).chunkedEncoding === true;
      if (!chunked || !socket || res.writableEnded || socket.destroyed) return false;
      if (chunks.length === 1) socket.write(chunks[0]!);
      else {
        socket.cork();
        for (const c of chunks) socket.write(c);
        socket.uncork();
      }
      return true;
    },
    buffered: () => res.writableLength,
    end: () => {
      if (!res.writableEnded) res.end();
    },
  };
}

/** Serializes deliveries for one watcher's view and writes them to its transport. */
class StreamSink implements WatchSink {
  private firstTable = true;
  private closed = false;
  onClosed: (() => void) | undefined;

  constructor(
    private readonly transport: EventTransport,
    private readonly req: WatchRequest,
    private readonly log: Logger,
  ) {}

  /** The event's stored text is sent as is (the common case: no table, no conversion). */
  private get verbatim(): boolean {
    return this.req.view === 'object' && !this.req.served;
  }

  private objectText(d: Delivery): string {
    const json = d.event.jsonFor(d.type);
    if (this.verbatim) return json;
    const obj = JSON.parse(json) as KubeObject;
    if (this.req.view === 'object') return JSON.stringify(this.req.served!.fromStored(obj));
    if (this.req.view === 'partial') return JSON.stringify(partialObject(obj));
    const table = renderTable(this.req.strategy, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' }, this.req.includeObject, new Date(), this.firstTable);
    this.firstTable = false;
    return JSON.stringify(table);
  }

  deliver(deliveries: readonly Delivery[]): void {
    if (this.closed) return;
    if (this.transport.framed) {
      for (const d of deliveries) {
        const line = this.verbatim ? d.event.line(d.type) : `{"type":"${d.type}","object":${this.objectText(d)}}\n`;
        this.transport.send(line.slice(0, -1));
      }
    } else if (this.verbatim) {
      if (!this.transport.sendChunks?.(deliveries.map((d) => d.event.chunk(d.type)))) {
        let chunk = '';
        for (const d of deliveries) chunk += d.event.line(d.type);
        this.transport.send(chunk);
      }
    } else {
      let chunk = '';
      for (const d of deliveries) chunk += `{"type":"${d.type}","object":${this.objectText(d)}}\n`;
      this.transport.send(chunk);
    }
    if (this.transport.buffered() > MAX_BUFFERED_BYTES) {
      this.log.warn({ buffered: this.transport.buffered() }, 'dropping unresponsive watcher');
      this.close();
    }
  }

  bookmark(revision: number, initialEventsEnd = false): void {
    if (this.closed) return;
    const r = this.req.served?.resource ?? this.req.strategy.resource;
    const metadata: Record<string, unknown> = { resourceVersion: String(revision) };
    if (initialEventsEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    const text = JSON.stringify({ type: 'BOOKMARK', object: { kind: r.kind, apiVersion: groupVersionOf(r), metadata } });
    this.transport.send(this.transport.framed ? text : `${text}\n`);
  }

  close(error?: Error): void {
    if (this.closed) return;
    if (error) {
      const status = error instanceof ApiError ? error.toStatus() : new ApiError(500, 'InternalError', 'internal error').toStatus();
      const text = JSON.stringify({ type: 'ERROR', object: status });
      this.transport.send(this.transport.framed ? text : `${text}\n`);
    }
    this.closed = true;
    this.transport.end();
    this.onClosed?.();
  }
}

/** A running watch; `stop()` ends it from the server side. */
export interface WatchHandle {
  stop(): void;
}

/**
 * Starts a watch on `cache` and streams it to `transport` until the client goes away, the timeout
 * passes, or the server stops. `onClientGone` must be wired by the caller to `stop`.
 */
export async function startWatch(deps: { objects: ObjectCache; cache: ResourceCache; storage: Storage; logger: Logger }, transport: EventTransport, req: WatchRequest): Promise<WatchHandle> {
  const sink = new StreamSink(transport, req, deps.logger);
  let watcher: Watcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    if (watcher) deps.cache.unregister(watcher);
    sink.close();
  };
  sink.onClosed = () => {
    if (timer) clearTimeout(timer);
    if (watcher) deps.cache.unregister(watcher);
  };
  timer = setTimeout(stop, req.timeoutSeconds * 1000);
  timer.unref();

  const from = req.fromRevision;
  if (from !== undefined && from > deps.objects.revision) {
    const ok = await deps.objects.waitForRevision(from, 3000);
    if (!ok) {
      const withCause = new ApiError(504, 'Timeout', `Too large resource version: ${from}, current: ${deps.objects.revision}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
      sink.close(withCause);
      return { stop };
    }
  }
  if (from !== undefined && from < deps.storage.compactedRevision()) {
    sink.close(expired(`too old resource version: ${from} (${deps.storage.compactedRevision()})`));
    return { stop };
  }
  if (from === undefined || from >= deps.cache.replayFloor) {
    watcher = deps.cache.watch(req.selection, sink, { fromRevision: from, currentRevision: deps.objects.revision, allowBookmarks: req.allowBookmarks });
    if (from === undefined && req.sendInitialEventsEndBookmark) sink.bookmark(deps.objects.revision, true);
    return { stop };
  }
  // Older than the in-memory window: replay from storage history, then join live.
  watcher = deps.cache.addCatchingUp(req.selection, sink, req.allowBookmarks, from);
  try {
    const historyRevision = deps.storage.currentRevision();
    const records = await deps.storage.history(from, { prefix: deps.cache.prefix });
    const events: CacheEvent[] = records
      .filter((e) => e.revision <= historyRevision)
      .map((e) => deps.cache.eventFromHistory(e.type, e.value, e.revision, e.prevValue, e.prevRevision));
    if (!deps.cache.finishCatchUp(watcher, events, historyRevision)) {
      deps.cache.unregister(watcher);
      sink.close(expired(`too old resource version: ${from}`));
    }
  } catch (err) {
    deps.cache.unregister(watcher);
    if (err instanceof StorageError && err.code === 'Compacted') sink.close(expired(`too old resource version: ${from} (${deps.storage.compactedRevision()})`));
    else {
      deps.logger.error({ err, from }, 'watch history replay failed');
      sink.close(new ApiError(500, 'InternalError', 'failed to replay watch history'));
    }
  }
  return { stop };
}
