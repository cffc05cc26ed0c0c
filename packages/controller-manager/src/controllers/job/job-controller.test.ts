import { res } from '@flotilla/client';
import { formatTime, type KubeObject } from '@flotilla/api';
import type { PodView } from '../../pod-utils.js';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { JobController, TRACKING_FINALIZER } from './job-controller.js';

const JOBS = res('jobs.batch');
const PODS = res('pods');
const UID = 'job-uid';
const LABELS = { 'batch.kubernetes.io/controller-uid': UID, 'batch.kubernetes.io/job-name': 'work' };

interface JobStatus {
  conditions?: { type: string; status: string; reason?: string }[];
  startTime?: string;
  completionTime?: string;
  active?: number;
  succeeded?: number;
  failed?: number;
  terminating?: number;
  uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
}
type Job = KubeObject & { spec: Record<string, unknown>; status?: JobStatus };

function job(spec: Record<string, unknown> = {}, status?: JobStatus): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'work', namespace: 'default', uid: UID, creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { selector: { matchLabels: LABELS }, template: { metadata: { labels: LABELS }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } }, ...spec },
    ...(status ? { status } : {}),
  };
}

describe('JobController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function build(j: Job): Promise<JobController> {
    t = testContext([{ resource: JOBS, objects: [j] }]);
    const c = new JobController(t.ctx);
    await t.start();
    return c;
  }
  const status = () => t.client.peek<Job>(JOBS, 'default', 'work')!.status ?? {};
  const cond = (type: string) => status().conditions?.find((c) => c.type === type);
  const pods = () => t.client.all<PodView>(PODS, 'default');
  /** Sets a pod's phase as the kubelet would (finishing at the fake clock's time). */
  const finish = async (name: string, phase: 'Succeeded' | 'Failed') => {
    const at = formatTime(new Date(t.clock.now()));
    await t.client.patch(PODS, 'default', name, { status: { phase, containerStatuses: [{ name: 'c', state: { terminated: { exitCode: phase === 'Succeeded' ? 0 : 1, finishedAt: at } } }] } }, 'merge');
    await t.settle();
  };
  const sync = async (c: JobController) => {
    await c.sync('default/work');
    await t.settle();
  };

  it('creates parallelism pods with the tracking finalizer', async () => {
    const c = await build(job({ parallelism: 2, completions: 5 }));
    await sync(c);
    const ps = pods();
    expect(ps).toHaveLength(2);
    for (const p of ps) {
      expect(p.metadata.finalizers).toEqual([TRACKING_FINALIZER]);
      expect(p.metadata.labels).toMatchObject(LABELS);
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: 'work', uid: UID, controller: true });
    }
    // Expectations: a replayed sync before the informer caught up does not create more.
    await sync(c);
    expect(pods()).toHaveLength(2);
    expect(status()).toMatchObject({ active: 2, succeeded: 0, failed: 0, startTime: '2024-01-01T00:00:00Z' });
  });

  it('records a finished pod as uncounted before removing its finalizer, counts it on the next sync, then completes', async () => {
    const c = await build(job({ completions: 1, parallelism: 1 }));
    await sync(c);
    const [p] = pods();
    await finish(p!.metadata.name!, 'Succeeded');
    const before = t.client.actions.length;
    await sync(c);
    expect(status()).toMatchObject({ succeeded: 0, uncountedTerminatedPods: { succeeded: [p!.metadata.uid], failed: [] } });
    expect(cond('Complete')).toBeUndefined();
    // The status write comes first, then the finalizer goes.
    const writes = t.client.actions.slice(before).filter((a) => a.verb === 'update' || a.verb === 'patch').map((a) => `${a.verb} ${a.resource}/${a.subresource}`);
    expect(writes).toEqual(['update jobs/status', 'patch pods/']);
    expect(t.client.peek<PodView>(PODS, 'default', p!.metadata.name!)!.metadata.finalizers).toEqual([]);
    await sync(c);
    expect(status()).toMatchObject({ succeeded: 1, failed: 0, active: 0, uncountedTerminatedPods: { succeeded: [], failed: [] } });
    expect(cond('Complete')).toMatchObject({ status: 'True' });
    expect(status().completionTime).toBe('2024-01-01T00:00:00Z');
    // Replays count nothing twice.
    await sync(c);
    await sync(c);
    expect(status()).toMatchObject({ succeeded: 1, failed: 0 });
    expect(pods()).toHaveLength(1);
  });

  it('never double counts when a sync is replayed after the finalizer removal failed', async () => {
    const c = await build(job({ completions: 2, parallelism: 2 }));
    await sync(c);
    const [a, b] = pods();
    await finish(a!.metadata.name!, 'Succeeded');
    await finish(b!.metadata.name!, 'Succeeded');
    // The status is written, then the controller "crashes" removing the finalizers.
    t.client.failures.patch = [new Error('connection reset')];
    await expect(c.sync('default/work')).rejects.toThrow('connection reset');
    await t.settle();
    expect(status()).toMatchObject({ succeeded: 0, uncountedTerminatedPods: { succeeded: expect.arrayContaining([a!.metadata.uid, b!.metadata.uid]) } });
    // Replayed with the same pods (one still holds its finalizer).
    await sync(c);
    await sync(c);
    expect(status()).toMatchObject({ succeeded: 2, uncountedTerminatedPods: { succeeded: [], failed: [] } });
    expect(cond('Complete')).toMatchObject({ status: 'True' });
    await sync(c);
    expect(status()).toMatchObject({ succeeded: 2, failed: 0 });
  });

  it('fails with BackoffLimitExceeded past backoffLimit and deletes the active pods', async () => {
    const c = await build(job({ parallelism: 2, completions: 2, backoffLimit: 0 }));
    await sync(c);
    const [a, b] = pods();
    await finish(a!.metadata.name!, 'Failed');
    await sync(c);
    expect(t.client.writes().filter((w) => w.verb === 'delete').map((w) => w.name)).toEqual([b!.metadata.name]);
    expect(cond('FailureTarget')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(cond('Failed')).toBeUndefined();
    await sync(c);
    expect(cond('Failed')).toMatchObject({ status: 'True', reason: 'BackoffLimitExceeded' });
    expect(status()).toMatchObject({ failed: 1, active: 0 });
    // No replacement pods.
    expect(t.client.writes().filter((w) => w.verb === 'create' && w.resource === 'pods')).toHaveLength(2);
  });

  it('fails with DeadlineExceeded after activeDeadlineSeconds', async () => {
    const c = await build(job({ parallelism: 1, activeDeadlineSeconds: 30 }));
    await sync(c);
    expect(pods()).toHaveLength(1);
    await t.clock.advance(29_000);
    await sync(c);
    expect(cond('FailureTarget')).toBeUndefined();
    await t.clock.advance(1_000);
    await sync(c);
    expect(cond('FailureTarget')).toMatchObject({ reason: 'DeadlineExceeded' });
    expect(t.client.writes().filter((w) => w.verb === 'delete' && w.resource === 'pods')).toHaveLength(1);
    await sync(c);
    expect(cond('Failed')).toMatchObject({ status: 'True', reason: 'DeadlineExceeded' });
  });

  it('waits the back-off delay after a failure before creating a replacement', async () => {
    const c = await build(job({ parallelism: 1, completions: 1, backoffLimit: 6 }));
    await sync(c);
    await t.clock.advance(60_000);
    const [a] = pods();
    await finish(a!.metadata.name!, 'Failed');
    await sync(c);
    await sync(c);
    expect(status()).toMatchObject({ failed: 1 });
    const creates = () => t.client.writes().filter((w) => w.verb === 'create' && w.resource === 'pods').length;
    expect(creates()).toBe(1);
    // Base 10 s for the first failure, from when the pod finished.
    await t.clock.advance(9_000);
    await sync(c);
    expect(creates()).toBe(1);
    await t.clock.advance(1_000);
    await sync(c);
    expect(creates()).toBe(2);
    // Second failure: 20 s.
    const b = pods().find((p) => p.metadata.name !== a!.metadata.name)!;
    await t.clock.advance(5_000);
    await finish(b.metadata.name!, 'Failed');
    await sync(c);
    await sync(c);
    await t.clock.advance(19_000);
    await sync(c);
    expect(creates()).toBe(2);
    await t.clock.advance(1_000);
    await sync(c);
    expect(creates()).toBe(3);
    expect(status()).toMatchObject({ failed: 2, active: 1 });
  });

  it('deletes active pods when suspended and restarts the deadline clock on resume', async () => {
    const c = await build(job({ parallelism: 2, activeDeadlineSeconds: 100 }));
    await sync(c);
    expect(pods()).toHaveLength(2);
    const cur = t.client.peek<Job>(JOBS, 'default', 'work')!;
    await t.client.update(JOBS, { ...cur, spec: { ...cur.spec, suspend: true } });
    await t.settle();
    await sync(c);
    expect(t.client.writes().filter((w) => w.verb === 'delete' && w.resource === 'pods')).toHaveLength(2);
    expect(cond('Suspended')).toMatchObject({ status: 'True', reason: 'JobSuspended' });
    expect(status().active).toBe(0);
    // Suspended longer than the deadline: no DeadlineExceeded while suspended, nor on resume.
    await t.clock.advance(200_000);
    await sync(c);
    expect(cond('FailureTarget')).toBeUndefined();
    const cur2 = t.client.peek<Job>(JOBS, 'default', 'work')!;
    await t.client.update(JOBS, { ...cur2, spec: { ...cur2.spec, suspend: false } });
    await t.settle();
    await sync(c);
    expect(cond('Suspended')).toMatchObject({ status: 'False', reason: 'JobResumed' });
    expect(cond('FailureTarget')).toBeUndefined();
    expect(status().startTime).toBe(formatTime(new Date(t.clock.now())));
  });

  it('deletes a finished job after ttlSecondsAfterFinished', async () => {
    const done = '2024-01-01T00:00:00Z';
    const c = await build(job({ ttlSecondsAfterFinished: 60 }, { succeeded: 1, completionTime: done, conditions: [{ type: 'Complete', status: 'True', reason: 'CompletionsReached' }] }));
    await t.clock.advance(59_000);
    await c.sync('default/work');
    expect(t.client.peek(JOBS, 'default', 'work')).toBeDefined();
    await t.clock.advance(1_000);
    await c.sync('default/work');
    expect(t.client.peek(JOBS, 'default', 'work')).toBeUndefined();
    expect(t.client.writes().find((w) => w.verb === 'delete')).toMatchObject({ resource: 'jobs', name: 'work', object: { propagationPolicy: 'Background' } });
  });

  it('counts a deleted pod that never finished as failed and releases its finalizer', async () => {
    const c = await build(job({ parallelism: 1, completions: 1, backoffLimit: 3 }));
    await sync(c);
    const [a] = pods();
    // Deleted (e.g. evicted) before it ran: it keeps the tracking finalizer.
    await t.client.delete(PODS, 'default', a!.metadata.name!);
    await t.settle();
    await sync(c);
    await sync(c);
    expect(t.client.peek<PodView>(PODS, 'default', a!.metadata.name!)?.metadata.finalizers ?? []).toEqual([]);
    expect(status()).toMatchObject({ failed: 1, uncountedTerminatedPods: { succeeded: [], failed: [] } });
  });
});
