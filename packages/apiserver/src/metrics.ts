/**
 * Prometheus metrics of the API server (prom-client), on a registry per server instance so several
 * servers can live in one process (tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Storage } from './storage/storage.js';

/** The API server's metrics. */
export class ApiServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'verb' | 'resource' | 'subresource' | 'code'>;
  readonly latency: Histogram<'verb' | 'resource'>;
  readonly watchers: Gauge;
  readonly storageBatches: Gauge;
  readonly storageWrites: Gauge;
  readonly objects: Gauge<'resource'>;

  constructor(deps: { storage: Storage; watcherCount: () => number; objectCounts: () => Map<string, number>; defaultMetrics?: boolean }) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'apiserver_request_total', help: 'Requests by verb, resource, subresource and HTTP code.', labelNames: ['verb', 'resource', 'subresource', 'code'], registers });
    this.latency = new Histogram({
      name: 'apiserver_request_duration_seconds',
      help: 'Response latency of non-streaming requests by verb and resource.',
      labelNames: ['verb', 'resource'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.watchers = new Gauge({ name: 'apiserver_registered_watchers', help: 'Open watches.', registers, collect: () => this.watchers.set(deps.watcherCount()) });
    this.storageBatches = new Gauge({ name: 'apiserver_storage_batches_total', help: 'Synced storage batches written (group commit).', registers, collect: () => this.storageBatches.set(deps.storage.stats().batches) });
    this.storageWrites = new Gauge({ name: 'apiserver_storage_writes_total', help: 'Writes carried by storage batches; writes/batches is the mean batch size.', registers, collect: () => this.storageWrites.set(deps.storage.stats().writes) });
    this.objects = new Gauge({
      name: 'apiserver_storage_objects',
      help: 'Stored objects by resource.',
      labelNames: ['resource'],
      registers,
      collect: () => {
        for (const [r, n] of deps.objectCounts()) this.objects.set({ resource: r }, n);
      },
    });
    if (deps.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
