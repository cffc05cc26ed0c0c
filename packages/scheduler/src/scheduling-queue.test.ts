import { describe, expect, it } from 'vitest';
import { SchedulingQueue } from './scheduling-queue.js';
import type { Pod } from './types.js';

function pod(name: string, priority = 0): Pod {
  return { metadata: { name, namespace: 'ns', uid: name }, spec: { priority } };
}

function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('SchedulingQueue', () => {
  it('pops higher priority first, then first-come first-served', async () => {
    const clock = fakeClock();
    const q = new SchedulingQueue({ clock });
    q.add('a', pod('a', 0));
    clock.advance(1);
    q.add('b', pod('b', 10));
    clock.advance(1);
    q.add('c', pod('c', 0));
    clock.advance(1);
    q.add('d', pod('d', 10));
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await q.pop())!.key);
    expect(order).toEqual(['b', 'd', 'a', 'c']);
  });

  it('keeps unschedulable pods until a cluster event, then retries them', async () => {
    const clock = fakeClock();
    const q = new SchedulingQueue({ clock, initialBackoffMs: 1000 });
    q.add('a', pod('a'));
    const first = await q.pop();
    q.requeueUnschedulable(first!.key);
    expect(q.lengths()).toEqual({ active: 0, backoff: 0, unschedulable: 1 });
    q.moveAllToActiveOrBackoff();
    // Still inside its back-off window: waits in the back-off heap.
    expect(q.lengths().unschedulable).toBe(0);
    clock.advance(1000);
    q.flushBackoff();
    expect(q.lengths().active).toBe(1);
    expect((await q.pop())!.attempts).toBe(2);
  });

  it('sends a pod to back-off when an event happened while it was being scheduled', async () => {
    const clock = fakeClock();
    const q = new SchedulingQueue({ clock });
    q.add('a', pod('a'));
    const p = await q.pop();
    q.moveAllToActiveOrBackoff();
    q.requeueUnschedulable(p!.key);
    expect(q.lengths()).toEqual({ active: 0, backoff: 1, unschedulable: 0 });
  });

  it('doubles back-off up to the maximum', async () => {
    const clock = fakeClock();
    const q = new SchedulingQueue({ clock, initialBackoffMs: 1000, maxBackoffMs: 4000 });
    q.add('a', pod('a'));
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await q.pop();
      q.requeueError(p!.key);
      const start = clock.now();
      let waited = 0;
      while (q.lengths().active === 0) {
        clock.advance(500);
        waited += 500;
        q.flushBackoff();
      }
      waits.push(clock.now() - start);
      expect(waited).toBeGreaterThan(0);
    }
    expect(waits).toEqual([1000, 2000, 4000, 4000]);
  });

  it('retries unschedulable pods after the maximum wait even without events', async () => {
    const clock = fakeClock();
    const q = new SchedulingQueue({ clock, maxUnschedulableMs: 60_000 });
    q.add('a', pod('a'));
    q.requeueUnschedulable((await q.pop())!.key);
    clock.advance(59_000);
    q.flushBackoff();
    expect(q.lengths().active).toBe(0);
    clock.advance(1_000);
    q.flushBackoff();
    expect(q.lengths().active).toBe(1);
  });

  it('wakes a waiting pop on add, forgets deleted pods and ends waiters on close', async () => {
    const q = new SchedulingQueue();
    const waiting = q.pop();
    q.add('x', pod('x'));
    expect((await waiting)!.key).toBe('x');
    q.add('y', pod('y'));
    q.delete('y');
    expect(q.lengths().active).toBe(0);
    const ended = q.pop();
    q.close();
    expect(await ended).toBeUndefined();
  });
});

describe('SchedulingQueue updates', () => {
  it('retries an unschedulable pod on a spec change but not on a status change', async () => {
    const q = new SchedulingQueue({ initialBackoffMs: 0 });
    const p = pod('a');
    q.add('a', p);
    q.requeueUnschedulable((await q.pop())!.key);
    q.update('a', { ...p, status: { conditions: [{ type: 'PodScheduled', status: 'False' }] } });
    expect(q.lengths().unschedulable).toBe(1);
    q.update('a', { ...p, spec: { ...p.spec, nodeSelector: { x: 'y' } } });
    expect(q.lengths().unschedulable).toBe(0);
  });
});
