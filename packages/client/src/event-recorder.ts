/**
 * Records core/v1 Events about objects, as `kubectl describe` shows them. Repeats of the same event
 * (object, type, reason, message) within ten minutes update the existing Event's count and
 * lastTimestamp instead of creating another. Never throws into the caller; bounded memory.
 */
import { formatTime, isNotFound, type KubeObject } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { realClock, type Clock } from './clock.js';
import { res, type KubeClient } from './rest-client.js';
import { TokenBucket } from './token-bucket.js';

const EVENTS = res('events');
const AGGREGATION_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 4096;

interface Remembered {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

/** Options of an EventRecorder. */
export interface EventRecorderOptions {
  client: KubeClient;
  /** `source.component` / `reportingComponent` (e.g. `deployment-controller`). */
  component: string;
  host?: string;
  logger: Logger;
  clock?: Clock;
  /** Events per second allowed (default 25, burst 100); excess events are dropped. */
  qps?: number;
}

/** Writes Events. */
export class EventRecorder {
  private readonly seen = new Map<string, Remembered>();
  private readonly clock: Clock;
  private readonly bucket: TokenBucket;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: EventRecorderOptions) {
    this.clock = o.clock ?? realClock;
    this.bucket = new TokenBucket(o.qps ?? 25, 100, () => this.clock.now());
  }

  /** Records an event about `obj` (fire and forget; writes are serialized). */
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (!this.bucket.tryTake()) {
      this.o.logger.debug({ reason }, 'event dropped by rate limit');
      return;
    }
    this.chain = this.chain.then(() => this.write(obj, type, reason, message)).catch((err: unknown) => this.o.logger.warn({ err, reason }, 'recording event failed'));
  }

  /** Resolves when every recorded event has been written (tests, shutdown). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(obj: KubeObject, type: string, reason: string, message: string): Promise<void> {
    const now = this.clock.now();
    const ns = obj.metadata.namespace || 'default';
    const key = [obj.metadata.uid ?? '', obj.kind ?? '', obj.metadata.namespace ?? '', obj.metadata.name ?? '', type, reason, message].join('\u0000');
    const prev = this.seen.get(key);
    if (prev && now - prev.at < AGGREGATION_WINDOW_MS) {
      prev.count++;
      prev.at = now;
      try {
        await this.o.client.patch(EVENTS, prev.namespace, prev.name, { count: prev.count, lastTimestamp: formatTime(new Date(now)) }, 'merge');
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.seen.delete(key);
      }
    }
    const name = `${obj.metadata.name ?? 'object'}.${(now * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`;
    const ts = formatTime(new Date(now));
    const ev: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid, apiVersion: obj.apiVersion, resourceVersion: obj.metadata.resourceVersion },
      reason,
      message,
      type,
      source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      eventTime: null,
      reportingComponent: this.o.component,
      reportingInstance: this.o.host ?? '',
    };
    await this.o.client.create(EVENTS, ns, ev);
    this.seen.set(key, { name, namespace: ns, count: 1, at: now });
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value as string);
  }
}
