/**
 * The reflector: list, then watch from the list's resourceVersion; re-watch from the last seen
 * resourceVersion when a watch ends; re-list on 410 Expired; back off on errors.
 */
import { isResourceExpired, type KubeObject, type ResourceInfo } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { realClock, type Clock } from '../clock.js';
import type { KubeClient } from '../rest-client.js';

/** Where a reflector delivers what it learns. */
export interface ReflectorSink<T extends KubeObject> {
  /** A full list (initial or after 410): the sink replaces its contents. */
  replace(items: T[], resourceVersion: string): void;
  added(obj: T): void;
  modified(obj: T): void;
  deleted(obj: T): void;
}

/** What to list and watch. */
export interface ReflectorOptions {
  resource: ResourceInfo;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  clock?: Clock;
  /** Page size of lists (default 500). */
  pageSize?: number;
}

function rvOf(o: { metadata?: { resourceVersion?: string } }): string | undefined {
  return o.metadata?.resourceVersion;
}

/** Keeps a sink in step with the API server. */
export class Reflector<T extends KubeObject> {
  private lastRv = '';
  private readonly clock: Clock;

  constructor(
    private readonly client: KubeClient,
    private readonly sink: ReflectorSink<T>,
    private readonly options: ReflectorOptions,
  ) {
    this.clock = options.clock ?? realClock;
  }

  /** The resourceVersion of the last list or event seen. */
  get lastSyncResourceVersion(): string {
    return this.lastRv;
  }

  private async listAll(signal: AbortSignal): Promise<void> {
    const o = this.options;
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(o.resource, {
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
        ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
        limit: o.pageSize ?? 500,
        ...(cont ? { continue: cont } : {}),
        signal,
      });
      if (!cont) rv = page.metadata.resourceVersion ?? '';
      for (const item of page.items) {
        // List items omit kind/apiVersion on some servers; informers hand out complete objects.
        item.kind ??= o.resource.kind;
        item.apiVersion ??= o.resource.group ? `${o.resource.group}/${o.resource.version}` : o.resource.version;
        items.push(item);
      }
      cont = page.metadata.continue || undefined;
    } while (cont);
    this.lastRv = rv;
    this.sink.replace(items, rv);
  }

  /** Runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.options;
    let backoff = 800;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.listAll(signal);
          needList = false;
        }
        const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
        for await (const ev of this.client.watch<T>(o.resource, {
          ...(o.namespace ? { namespace: o.namespace } : {}),
          ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
          ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
          resourceVersion: this.lastRv,
          allowWatchBookmarks: true,
          timeoutSeconds,
          signal,
        })) {
          backoff = 800;
          const rv = rvOf(ev.object);
          switch (ev.type) {
            case 'ADDED':
              this.sink.added(ev.object);
              break;
            case 'MODIFIED':
              this.sink.modified(ev.object);
              break;
            case 'DELETED':
              this.sink.deleted(ev.object);
              break;
            case 'BOOKMARK':
              break;
            default:
              break;
          }
          if (rv) this.lastRv = rv;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isResourceExpired(err)) {
          o.logger.info({ resource: o.resource.plural, resourceVersion: this.lastRv }, 'watch expired; relisting');
          needList = true;
          continue;
        }
        o.logger.warn({ err, resource: o.resource.plural }, 'list/watch failed; retrying');
        const jitter = backoff * (0.5 + Math.random());
        backoff = Math.min(30_000, backoff * 2);
        try {
          await this.clock.sleep(jitter, signal);
        } catch {
          return;
        }
        // After repeated failures start over with a fresh list, as client-go does.
        if (backoff >= 30_000) needList = true;
      }
    }
  }
}
