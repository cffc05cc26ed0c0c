import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { monotonicMs, recordCommitTimes } from './commit-times.js';
import { LevelStorage } from './level-storage.js';

describe('recordCommitTimes', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('writes one line per committed batch: its last revision and when it became durable', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-commit-times-'));
    const storage = new LevelStorage({ path: join(dir, 'db') });
    await storage.open();
    const file = join(dir, 'commits.log');
    const recorder = recordCommitTimes(storage, file, pino({ level: 'silent' }));
    const before = monotonicMs();
    // Ten writes in one event-loop turn share batches; a later one gets a batch of its own.
    const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => storage.create(`/k/${i}`, `{"i":${i}}`).then((kv) => ({ rev: kv.modRevision, at: monotonicMs() }))));
    const last = await storage.create('/k/last', '{}');
    const lastAck = monotonicMs();
    await recorder.close();
    await storage.close();

    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
    const revs = lines.map(([r]) => r);
    const times = lines.map(([, t]) => t);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    expect(revs.at(-1)).toBe(last.modRevision);
    expect(lines.length).toBeLessThan(11);
    // Every write's batch was stamped after the test began and no later than the write was acknowledged.
    for (const { rev, at } of [...acks, { rev: last.modRevision, at: lastAck }]) {
      const i = revs.findIndex((r) => r >= rev);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(times[i]).toBeGreaterThanOrEqual(before);
      expect(times[i]).toBeLessThanOrEqual(at);
    }
  });
});
