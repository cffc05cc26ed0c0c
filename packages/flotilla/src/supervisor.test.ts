import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Backoff, ComponentExitedError, Supervised } from './supervisor.js';

describe('Backoff', () => {
  it('doubles from 1 s to 30 s and starts over after 60 s of uptime', () => {
    const b = new Backoff();
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.next(100))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(b.next(60_000)).toBe(1_000);
    expect(b.next(59_999)).toBe(2_000);
  });
});

describe('Supervised', () => {
  const logger = pino({ level: 'silent' });

  it('passes output through with a prefix and reports the ready line', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const s = new Supervised({ name: 'demo', script: '-e', args: () => ['console.error("a log line"); console.log("demo up on 42"); setInterval(() => {}, 1000)'], ready: /up on (\d+)/ }, { logger, output: out });
    s.start();
    expect((await s.waitReady(10_000))[1]).toBe('42');
    await s.stop();
    expect(s.pid).toBeUndefined();
    expect(text).toContain('[demo] demo up on 42\n');
    expect(text).toContain('[demo] a log line\n');
  });

  it('restarts a supervised child after it exits, with back-off', async () => {
    const s = new Supervised({ name: 'flaky', script: '-e', args: () => ['console.log("up"); setTimeout(() => process.exit(3), 50)'], ready: /up/ }, { logger, output: new PassThrough(), backoff: new Backoff(10, 40, 60_000) });
    s.supervise = true;
    s.start();
    await s.waitReady(10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(s.restarts).toBeGreaterThanOrEqual(2);
    await s.stop();
  });

  it('rejects waitReady when the child exits first, with its last output', async () => {
    const s = new Supervised({ name: 'broken', script: '-e', args: () => ['console.error("cannot bind"); process.exit(1)'], ready: /up/ }, { logger, output: new PassThrough() });
    s.start();
    const err = await s.waitReady(10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComponentExitedError);
    expect((err as Error).message).toMatch(/broken exited with code 1 before it was ready; its last output:\ncannot bind/);
    expect(s.restarts).toBe(0);
  });

  it('kills a child that ignores SIGTERM after the grace period', async () => {
    const s = new Supervised({ name: 'stubborn', script: '-e', args: () => ['process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'], ready: /up/ }, { logger, output: new PassThrough(), stopGraceMs: 300 });
    s.start();
    await s.waitReady(10_000);
    const started = Date.now();
    await s.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(s.pid).toBeUndefined();
  });
});
