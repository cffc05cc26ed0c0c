import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.js';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('de-duplicates waiting keys', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key being processed to a second worker, and re-queues it after done', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const k = await q.get();
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    const p = q.get().then((x) => (second = x));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(k!);
    await p;
    expect(second).toBe('a');
  });

  it('delays addAfter and backs off exponentially per key', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock, baseDelayMs: 10, qps: 1000, burst: 1000 });
    q.addAfter('x', 100);
    expect(q.len()).toBe(0);
    await clock.advance(99);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    await q.get().then((k) => q.done(k!));
    q.addRateLimited('y');
    q.addRateLimited('y');
    expect(q.numRequeues('y')).toBe(2);
    await clock.advance(10);
    expect(q.len()).toBe(1);
    q.forget('y');
    expect(q.numRequeues('y')).toBe(0);
  });

  it('releases waiting workers with undefined on shutdown', async () => {
    const q = new WorkQueue<string>();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('late');
    expect(q.len()).toBe(0);
  });
});
