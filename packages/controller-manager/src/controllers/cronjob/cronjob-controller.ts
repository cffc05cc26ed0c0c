/**
 * The CronJob controller: creates a Job at each scheduled time (standard cron syntax, optional time
 * zone), honouring concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds for missed
 * runs (only the most recent missed run starts; more than 100 missed runs are reported), suspend,
 * and the successful/failed history limits. Time comes from the injected clock.
 */
import { isDeepStrictEqual } from 'node:util';
import { CronExpressionParser } from 'cron-parser';
import { formatTime, getControllerOf, isAlreadyExists, isNotFound, objectKey, splitObjectKey, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { controllerRef } from '../../pod-utils.js';

const CRONJOBS = res('cronjobs.batch');
const JOBS = res('jobs.batch');

interface CronJobView extends KubeObject {
  spec: {
    schedule: string;
    timeZone?: string;
    startingDeadlineSeconds?: number;
    concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
    suspend?: boolean;
    jobTemplate: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
    successfulJobsHistoryLimit?: number;
    failedJobsHistoryLimit?: number;
  };
  status?: { active?: { kind?: string; namespace?: string; name?: string; uid?: string; apiVersion?: string; resourceVersion?: string }[]; lastScheduleTime?: string; lastSuccessfulTime?: string };
}

interface JobView extends KubeObject {
  status?: { conditions?: { type: string; status: string }[]; completionTime?: string; startTime?: string };
}

function finished(j: JobView): 'Complete' | 'Failed' | undefined {
  const c = j.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c?.type as 'Complete' | 'Failed' | undefined;
}

/** Parses a schedule (a `CRON_TZ=`/`TZ=` prefix overrides `timeZone`) iterating from `from`. */
function parseSchedule(schedule: string, timeZone: string | undefined, from: number) {
  let expr = schedule.trim();
  let tz = timeZone;
  const m = /^(?:CRON_)?TZ=(\S+)\s+(.*)$/.exec(expr);
  if (m) {
    tz = m[1];
    expr = m[2]!;
  }
  return CronExpressionParser.parse(expr, { currentDate: new Date(from), ...(tz ? { tz } : {}) });
}

/** The scheduled times in (from, to], at most `limit` (plus whether there were more). */
export function scheduledTimes(schedule: string, timeZone: string | undefined, from: number, to: number, limit = 100): { times: number[]; more: boolean } {
  const it = parseSchedule(schedule, timeZone, from);
  const times: number[] = [];
  for (;;) {
    const next = it.next().getTime();
    if (next > to) return { times, more: false };
    if (times.length >= limit) return { times, more: true };
    times.push(next);
  }
}

/** The next scheduled time after `from`. */
export function nextScheduledTime(schedule: string, timeZone: string | undefined, from: number): number {
  return parseSchedule(schedule, timeZone, from).next().getTime();
}

/**
 * The most recent scheduled time in (earliest, now] (Kubernetes' `mostRecentScheduleTime`), and
 * whether more than `limit` runs were missed: then the most recent one is still the one to run.
 */
export function mostRecentScheduleTime(schedule: string, timeZone: string | undefined, earliest: number, now: number, limit = 100): { time: number | undefined; tooMany: boolean } {
  const { times, more } = scheduledTimes(schedule, timeZone, earliest, now, limit);
  if (!more) return { time: times[times.length - 1], tooMany: false };
  return { time: parseSchedule(schedule, timeZone, now + 1).prev().getTime(), tooMany: true };
}

/** A time as RFC 3339 in a time zone, seconds precision (Go's `t.In(loc).Format(time.RFC3339)`). */
export function formatRfc3339In(ms: number, timeZone: string | undefined): string {
  const secs = Math.floor(ms / 1000) * 1000;
  const pad = (n: number) => String(n).padStart(2, '0');
  let local = secs;
  if (timeZone) {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(secs));
    const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
    local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  }
  const offset = Math.round((local - secs) / 60_000);
  const d = new Date(local);
  const stamp = `${String(d.getUTCFullYear()).padStart(4, '0')}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (offset === 0) return `${stamp}Z`;
  const abs = Math.abs(offset);
  return `${stamp}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Runs Jobs on schedules. */
export class CronJobController implements Controller {
  readonly name = 'cronjob-controller';
  readonly queue: WorkQueue<string>;
  private readonly cronJobs: SharedInformer<CronJobView>;
  private readonly jobs: SharedInformer<JobView>;
  private readonly recorder: EventRecorder;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.cronJobs = ctx.informers.informerFor<CronJobView>(CRONJOBS);
    this.jobs = ctx.informers.informerFor<JobView>(JOBS);
    this.cronJobs.addEventHandler({ onAdd: (c) => this.queue.add(objectKey(c)), onUpdate: (_a, b) => this.queue.add(objectKey(b)) });
    const owner = (j: JobView) => {
      const ref = getControllerOf(j);
      if (ref?.kind === 'CronJob') this.queue.add(`${j.metadata.namespace}/${ref.name}`);
    };
    this.jobs.addEventHandler({ onAdd: owner, onUpdate: (_a, b) => owner(b), onDelete: (j) => owner(deletedObject(j)) });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.cronJobs.waitForSync(signal), this.jobs.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Job name for a scheduled time: `<cronjob>-<minutes since epoch>`, as Kubernetes names them. */
  static jobName(cronJob: string, scheduled: number): string {
    return `${cronJob}-${Math.floor(scheduled / 60_000)}`;
  }

  /** Reconciles one CronJob. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.cronJobs.lister.get(namespace, name);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const cj = structuredClone(cached) as CronJobView;
    const now = this.ctx.clock.now();
    const owned = this.jobs.lister.list(namespace).filter((j) => getControllerOf(j)?.uid === cj.metadata.uid) as JobView[];
    const status = structuredClone(cj.status ?? {});
    // Active jobs are the owned ones not finished; finished ones update lastSuccessfulTime.
    const active = owned.filter((j) => !finished(j) && !j.metadata.deletionTimestamp);
    status.active = active.map((j) => ({ kind: 'Job', namespace, name: j.metadata.name, uid: j.metadata.uid, apiVersion: 'batch/v1', resourceVersion: j.metadata.resourceVersion }));
    if (status.active.length === 0) delete status.active;
    for (const j of owned) {
      if (finished(j) === 'Complete' && j.status?.completionTime && (!status.lastSuccessfulTime || j.status.completionTime > status.lastSuccessfulTime)) status.lastSuccessfulTime = j.status.completionTime;
    }
    await this.cleanupHistory(cj, owned);
    let nextRun: number | undefined;
    if (!cj.spec.suspend) {
      let since = Date.parse(status.lastScheduleTime ?? cj.metadata.creationTimestamp ?? formatTime(new Date(now)));
      // Nothing is scheduled before the starting deadline (Kubernetes looks no further back).
      if (cj.spec.startingDeadlineSeconds !== undefined) since = Math.max(since, now - cj.spec.startingDeadlineSeconds * 1000);
      let scheduled: number | undefined;
      try {
        // More than 100 missed runs: only the most recent runs, with a warning (as Kubernetes does).
        const { time, tooMany } = mostRecentScheduleTime(cj.spec.schedule, cj.spec.timeZone, since, now);
        if (tooMany) this.recorder.event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times (> 100). Set or decrease .spec.startingDeadlineSeconds or check clock skew');
        scheduled = time;
        nextRun = nextScheduledTime(cj.spec.schedule, cj.spec.timeZone, now);
      } catch (err) {
        this.recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${cj.spec.schedule}: ${(err as Error).message}`);
        return;
      }
      const deadline = cj.spec.startingDeadlineSeconds;
      if (scheduled !== undefined && deadline !== undefined && now - scheduled > deadline * 1000) {
        this.recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${formatTime(new Date(scheduled))}`);
        scheduled = undefined;
      }
      if (scheduled !== undefined) {
        const policy = cj.spec.concurrencyPolicy ?? 'Allow';
        if (policy === 'Forbid' && active.length > 0) {
          this.ctx.logger.debug({ cronjob: key }, 'not starting job: concurrencyPolicy Forbid and one is running');
          scheduled = undefined;
        } else if (policy === 'Replace') {
          for (const j of active) {
            await this.ctx.client.delete(JOBS, namespace, j.metadata.name ?? '', { propagationPolicy: 'Background' }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
            this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
          }
          status.active = [];
        }
      }
      if (scheduled !== undefined) {
        const jobName = CronJobController.jobName(name, scheduled);
        const job: KubeObject = {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: {
            name: jobName,
            namespace,
            labels: { ...(cj.spec.jobTemplate.metadata?.labels ?? {}) },
            annotations: { ...(cj.spec.jobTemplate.metadata?.annotations ?? {}), 'batch.kubernetes.io/cronjob-scheduled-timestamp': formatRfc3339In(scheduled, cj.spec.timeZone) },
            ownerReferences: [controllerRef(cj, 'batch/v1', 'CronJob')],
          },
          spec: structuredClone(cj.spec.jobTemplate.spec ?? {}),
        };
        try {
          const created = await this.ctx.client.create(JOBS, namespace, job);
          this.recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${jobName}`);
          status.active = [...(status.active ?? []), { kind: 'Job', namespace, name: jobName, uid: created.metadata.uid, apiVersion: 'batch/v1', resourceVersion: created.metadata.resourceVersion }];
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
        status.lastScheduleTime = formatTime(new Date(scheduled));
      }
    }
    if (!isDeepStrictEqual(status, cj.status ?? {})) {
      try {
        await this.ctx.client.updateStatus(CRONJOBS, { ...cj, status });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (nextRun !== undefined) this.queue.addAfter(key, Math.max(10, nextRun - this.ctx.clock.now() + 10));
  }

  /** Keeps at most the history limits of finished jobs, deleting the oldest. */
  private async cleanupHistory(cj: CronJobView, owned: JobView[]): Promise<void> {
    const prune = async (kind: 'Complete' | 'Failed', limit: number) => {
      const done = owned.filter((j) => finished(j) === kind).sort((a, b) => (a.status?.startTime ?? a.metadata.creationTimestamp ?? '').localeCompare(b.status?.startTime ?? b.metadata.creationTimestamp ?? ''));
      for (const j of done.slice(0, Math.max(0, done.length - limit))) {
        await this.ctx.client.delete(JOBS, j.metadata.namespace ?? '', j.metadata.name ?? '', { propagationPolicy: 'Background' }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
        this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`);
      }
    };
    await prune('Complete', cj.spec.successfulJobsHistoryLimit ?? 3);
    await prune('Failed', cj.spec.failedJobsHistoryLimit ?? 1);
  }
}
