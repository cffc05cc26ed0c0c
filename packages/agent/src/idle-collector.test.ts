import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fullGc, IdleCollector } from './idle-collector.js';

/** A collector with 1 s quiet time, 5 s longest delay and 10 s between collections, and its collect spy. */
function collector(): { collect: ReturnType<typeof vi.fn>; c: IdleCollector } {
  const collect = vi.fn();
  return { collect, c: new IdleCollector(collect, 1_000, 5_000, 10_000) };
}

describe('IdleCollector', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('collects once changes pause for the quiet time', () => {
    const { collect, c } = collector();
    c.changed();
    vi.advanceTimersByTime(800);
    c.changed();
    vi.advanceTimersByTime(800);
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('collects at the latest maxDelay after the first change when changes never pause', () => {
    const { collect, c } = collector();
    for (let t = 0; t < 4_900; t += 300) {
      c.changed();
      vi.advanceTimersByTime(300);
    }
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('collects at most once per minimum interval', () => {
    const { collect, c } = collector();
    c.changed();
    vi.advanceTimersByTime(1_000);
    c.changed();
    vi.advanceTimersByTime(5_000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(4_999);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(collect).toHaveBeenCalledTimes(2);
    c.stop();
  });
});

describe('fullGc', () => {
  it('runs a full collection of this isolate', () => {
    const gc = fullGc();
    let garbage: number[][] | undefined = Array.from({ length: 200 }, () => new Array(20_000).fill(1.5));
    garbage = undefined;
    const before = process.memoryUsage().heapUsed;
    gc();
    expect(garbage).toBeUndefined();
    expect(before - process.memoryUsage().heapUsed).toBeGreaterThan(10 * 1024 * 1024);
  });
});
