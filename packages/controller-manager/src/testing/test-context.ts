/**
 * A controller context over the in-memory FakeClient and a FakeClock, for controllers' unit tests:
 * seed objects, build the controller, start informers, call `sync(key)` directly and inspect what the
 * controller wrote.
 */
import type { KubeObject, ResourceInfo } from '@flotilla/api';
import { FakeClock, SharedInformerFactory, type WorkQueue } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import pino from 'pino';
import { recorderFactory, type ControllerContext, type ControllerOptions } from '../controller-context.js';

/** Options every test starts from (small, fast values). */
export const TEST_OPTIONS: ControllerOptions = {
  workers: 1,
  nodeMonitorGracePeriodMs: 40_000,
  terminatedPodGcThreshold: 12_500,
  jobBackoffBaseMs: 10_000,
  clusterCidr: '',
  nodeCidrMaskSize: 24,
};

/** A test's context and the handles to drive it. */
export interface TestContext {
  ctx: ControllerContext;
  client: FakeClient;
  clock: FakeClock;
  /** Starts informers and waits until they have listed. Call after building the controller. */
  start(): Promise<void>;
  /** Waits until informers have seen every write so far (the fake client's watch is synchronous, so one tick). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds a context on a FakeClient seeded with `seed`. */
export function testContext(seed: { resource: ResourceInfo; objects: KubeObject[] }[] = [], options: Partial<ControllerOptions> = {}): TestContext {
  const client = new FakeClient(seed);
  const clock = new FakeClock();
  const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const informers = new SharedInformerFactory(client, logger, { clock });
  const abort = new AbortController();
  const ctx: ControllerContext = {
    client,
    informers,
    logger,
    clock,
    options: { ...TEST_OPTIONS, ...options },
    recorder: recorderFactory(client, logger, clock),
  };
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    ctx,
    client,
    clock,
    start: async () => {
      informers.start(abort.signal);
      await informers.waitForSync(abort.signal);
      await settle();
    },
    settle,
    stop: async () => {
      abort.abort();
      await informers.stopped();
    },
  };
}

/**
 * Syncs a controller's queued keys until its queue is empty, calling `afterEach` after each sync
 * (e.g. a settle, so the informers see the writes and may queue more; without it nothing is awaited
 * between syncs, so those events arrive only after the drain); returns the keys in order.
 */
export async function drainQueue(c: { queue: WorkQueue<string>; sync(key: string): Promise<void> }, afterEach?: () => Promise<void>): Promise<string[]> {
  const keys: string[] = [];
  while (c.queue.len() > 0) {
    const k = (await c.queue.get())!;
    keys.push(k);
    await c.sync(k);
    c.queue.done(k);
    if (afterEach) await afterEach();
  }
  return keys;
}
