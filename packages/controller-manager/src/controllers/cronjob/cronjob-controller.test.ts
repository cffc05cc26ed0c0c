import { res } from '@flotilla/client';
import type { KubeObject } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { CronJobController, formatRfc3339In, mostRecentScheduleTime, nextScheduledTime, scheduledTimes } from './cronjob-controller.js';

const CRONJOBS = res('cronjobs.batch');
const JOBS = res('jobs.batch');
const T0 = Date.UTC(2024, 0, 1); // The fake clock's start.
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const SCHEDULED = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

type CronJob = KubeObject & { spec: Record<string, unknown>; status?: { active?: { name?: string }[]; lastScheduleTime?: string; lastSuccessfulTime?: string } };

function cronJob(spec: Record<string, unknown> = {}): CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'tick', namespace: 'default', uid: 'cj-uid', creationTimestamp: iso(T0) },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { metadata: { labels: { team: 'a' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
      ...spec,
    },
  };
}

function ownedJob(name: string, o: { finished?: 'Complete' | 'Failed'; startTime?: string } = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: o.startTime ?? iso(T0), ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: 'cj-uid', controller: true }] },
    spec: {},
    status: {
      ...(o.startTime ? { startTime: o.startTime } : {}),
      ...(o.finished ? { conditions: [{ type: o.finished, status: 'True' }], ...(o.finished === 'Complete' ? { completionTime: o.startTime } : {}) } : {}),
    },
  } as KubeObject;
}

describe('schedules', () => {
  it('lists the times of standard cron expressions in (from, to]', () => {
    expect(scheduledTimes('*/15 * * * *', undefined, T0, T0 + 45 * MIN).times.map(iso)).toEqual(['2024-01-01T00:15:00.000Z', '2024-01-01T00:30:00.000Z', '2024-01-01T00:45:00.000Z']);
    expect(scheduledTimes('@hourly', undefined, T0 + 1, T0 + 3 * 60 * MIN).times.map(iso)).toEqual(['2024-01-01T01:00:00.000Z', '2024-01-01T02:00:00.000Z', '2024-01-01T03:00:00.000Z']);
    expect(scheduledTimes('* * * * *', undefined, T0, T0 + 150 * MIN)).toMatchObject({ more: true });
    expect(scheduledTimes('* * * * *', undefined, T0, T0 + 150 * MIN).times).toHaveLength(100);
    expect(iso(nextScheduledTime('0 0 * * 1', undefined, T0))).toBe('2024-01-08T00:00:00.000Z'); // 2024-01-01 is a Monday.
    // Day of month and day of week both restricted: either matches (cron semantics). 2024-01-05 is a Friday.
    expect(iso(nextScheduledTime('0 0 13 * 5', undefined, T0))).toBe('2024-01-05T00:00:00.000Z');
    expect(iso(nextScheduledTime('30 2 1 */3 *', undefined, T0))).toBe('2024-01-01T02:30:00.000Z');
  });

  it('honours time zones from spec.timeZone and a CRON_TZ prefix', () => {
    expect(iso(nextScheduledTime('0 9 * * *', 'Europe/Berlin', T0))).toBe('2024-01-01T08:00:00.000Z');
    expect(iso(nextScheduledTime('CRON_TZ=America/New_York 0 9 * * *', undefined, T0))).toBe('2024-01-01T14:00:00.000Z');
    expect(iso(nextScheduledTime('TZ=Asia/Tokyo 0 9 * * *', 'Europe/Berlin', T0))).toBe('2024-01-02T00:00:00.000Z');
    // Summer time in New York: 09:00 EDT is 13:00 UTC.
    expect(iso(nextScheduledTime('0 9 * * *', 'America/New_York', Date.UTC(2024, 6, 1)))).toBe('2024-07-01T13:00:00.000Z');
  });

  it('finds the most recent time, even past 100 missed ones', () => {
    expect(mostRecentScheduleTime('* * * * *', undefined, T0, T0 + 30 * MIN + 5_000)).toEqual({ time: T0 + 30 * MIN, tooMany: false });
    expect(mostRecentScheduleTime('* * * * *', undefined, T0, T0 + 500 * MIN)).toEqual({ time: T0 + 500 * MIN, tooMany: true });
    expect(mostRecentScheduleTime('0 * * * *', undefined, T0, T0 + 30 * MIN)).toEqual({ time: undefined, tooMany: false });
  });

  it('formats the scheduled time as RFC 3339 in the time zone', () => {
    expect(formatRfc3339In(T0 + 5 * MIN, undefined)).toBe('2024-01-01T00:05:00Z');
    expect(formatRfc3339In(T0 + 30 * MIN, 'Europe/Berlin')).toBe('2024-01-01T01:30:00+01:00');
    expect(formatRfc3339In(T0, 'America/New_York')).toBe('2023-12-31T19:00:00-05:00');
    expect(formatRfc3339In(T0, 'Asia/Kolkata')).toBe('2024-01-01T05:30:00+05:30');
  });
});

describe('CronJobController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function build(cj: CronJob, jobs: KubeObject[] = []): Promise<CronJobController> {
    t = testContext([{ resource: CRONJOBS, objects: [cj] }, { resource: JOBS, objects: jobs }]);
    const c = new CronJobController(t.ctx);
    await t.start();
    return c;
  }
  const sync = async (c: CronJobController) => {
    await c.sync('default/tick');
    await t.settle();
  };
  const jobNames = () => t.client.all(JOBS, 'default').map((j) => j.metadata.name).sort();
  const status = () => t.client.peek<CronJob>(CRONJOBS, 'default', 'tick')!.status ?? {};
  const events = async () => {
    await t.ctx.recorder.flush?.();
    return t.client.actions.filter((a) => a.verb === 'create' && a.resource === 'events').map((a) => (a.object as { reason?: string }).reason);
  };

  it('creates the Job named by the scheduled minute, at the scheduled time', async () => {
    const c = await build(cronJob());
    await sync(c);
    expect(jobNames()).toEqual([]);
    await t.clock.advance(4 * MIN);
    await sync(c);
    expect(jobNames()).toEqual([]);
    await t.clock.advance(MIN + 3_000);
    await sync(c);
    const name = `tick-${(T0 + 5 * MIN) / MIN}`;
    expect(jobNames()).toEqual([name]);
    const job = t.client.peek(JOBS, 'default', name)!;
    expect(job.metadata.annotations?.[SCHEDULED]).toBe('2024-01-01T00:05:00Z');
    expect(job.metadata.labels).toEqual({ team: 'a' });
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: 'tick', uid: 'cj-uid', controller: true });
    expect((job as { spec?: unknown }).spec).toEqual({ template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } });
    expect(status()).toMatchObject({ lastScheduleTime: '2024-01-01T00:05:00Z', active: [{ name }] });
    // Replayed: no second job for the same time.
    await sync(c);
    expect(jobNames()).toEqual([name]);
  });

  it('writes the scheduled timestamp in spec.timeZone', async () => {
    const c = await build(cronJob({ schedule: '30 1 * * *', timeZone: 'Europe/Berlin' }));
    await t.clock.advance(30 * MIN);
    await sync(c);
    const name = `tick-${(T0 + 30 * MIN) / MIN}`;
    expect(jobNames()).toEqual([name]);
    expect(t.client.peek(JOBS, 'default', name)!.metadata.annotations?.[SCHEDULED]).toBe('2024-01-01T01:30:00+01:00');
  });

  it('Allow runs jobs concurrently', async () => {
    const c = await build(cronJob());
    await t.clock.advance(5 * MIN);
    await sync(c);
    await t.clock.advance(5 * MIN);
    await sync(c);
    expect(jobNames()).toEqual([`tick-${(T0 + 5 * MIN) / MIN}`, `tick-${(T0 + 10 * MIN) / MIN}`]);
    expect(status().active).toHaveLength(2);
  });

  it('Forbid skips a run while a job is active, and runs once it finished', async () => {
    const first = `tick-${(T0 + 5 * MIN) / MIN}`;
    const c = await build(cronJob({ concurrencyPolicy: 'Forbid' }));
    await t.clock.advance(5 * MIN);
    await sync(c);
    await t.clock.advance(5 * MIN);
    await sync(c);
    expect(jobNames()).toEqual([first]);
    expect(status().lastScheduleTime).toBe('2024-01-01T00:05:00Z');
    const j = t.client.peek(JOBS, 'default', first)!;
    await t.client.updateStatus(JOBS, { ...j, status: { conditions: [{ type: 'Complete', status: 'True' }], completionTime: '2024-01-01T00:10:30Z' } });
    await t.settle();
    await t.clock.advance(MIN);
    await sync(c);
    expect(jobNames()).toEqual([first, `tick-${(T0 + 10 * MIN) / MIN}`]);
    expect(status().lastSuccessfulTime).toBe('2024-01-01T00:10:30Z');
  });

  it('Replace deletes the active job and starts the new one', async () => {
    const c = await build(cronJob({ concurrencyPolicy: 'Replace' }));
    await t.clock.advance(5 * MIN);
    await sync(c);
    await t.clock.advance(5 * MIN);
    await sync(c);
    const second = `tick-${(T0 + 10 * MIN) / MIN}`;
    expect(jobNames()).toEqual([second]);
    expect(t.client.writes().find((w) => w.verb === 'delete')).toMatchObject({ name: `tick-${(T0 + 5 * MIN) / MIN}`, object: { propagationPolicy: 'Background' } });
    expect(status().active?.map((a) => a.name)).toEqual([second]);
  });

  it('skips a run missed by more than startingDeadlineSeconds', async () => {
    const c = await build(cronJob({ startingDeadlineSeconds: 60 }));
    await t.clock.advance(7 * MIN);
    await sync(c);
    expect(jobNames()).toEqual([]);
    expect(status().lastScheduleTime).toBeUndefined();
    // The next one, 30 s late, is within the deadline.
    await t.clock.advance(3 * MIN + 30_000);
    await sync(c);
    expect(jobNames()).toEqual([`tick-${(T0 + 10 * MIN) / MIN}`]);
  });

  it('runs only the most recent of more than 100 missed runs, with a warning', async () => {
    const c = await build(cronJob({ schedule: '* * * * *' }));
    await t.clock.advance(250 * MIN + 10_000);
    await sync(c);
    expect(jobNames()).toEqual([`tick-${(T0 + 250 * MIN) / MIN}`]);
    expect(status().lastScheduleTime).toBe('2024-01-01T04:10:00Z');
    expect(await events()).toContain('TooManyMissedTimes');
    await sync(c);
    expect(jobNames()).toHaveLength(1);
  });

  it('deletes the oldest finished jobs beyond the history limits', async () => {
    const at = (m: number) => iso(T0 - m * MIN);
    const jobs = [
      ownedJob('ok-1', { finished: 'Complete', startTime: at(40) }),
      ownedJob('ok-2', { finished: 'Complete', startTime: at(30) }),
      ownedJob('ok-3', { finished: 'Complete', startTime: at(20) }),
      ownedJob('bad-1', { finished: 'Failed', startTime: at(35) }),
      ownedJob('bad-2', { finished: 'Failed', startTime: at(25) }),
      ownedJob('running', { startTime: at(1) }),
    ];
    const c = await build(cronJob({ successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 }), jobs);
    await sync(c);
    expect(jobNames()).toEqual(['bad-2', 'ok-3', 'running']);
  });

  it('creates nothing while suspended', async () => {
    const c = await build(cronJob({ suspend: true }));
    await t.clock.advance(30 * MIN);
    await sync(c);
    expect(jobNames()).toEqual([]);
    expect(t.client.writes().filter((w) => w.resource === 'jobs')).toEqual([]);
  });
});
