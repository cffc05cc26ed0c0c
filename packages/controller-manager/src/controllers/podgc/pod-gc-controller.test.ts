import type { KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerOptions } from '../../controller-context.js';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { PodGcController } from './pod-gc-controller.js';

const PODS = res('pods');
const NODES = res('nodes');

interface PodOpts {
  node?: string | null;
  phase?: string;
  created?: string;
  terminating?: boolean;
  reason?: string;
}

function pod(name: string, o: PodOpts = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: o.created ?? '2024-01-01T00:00:00Z', ...(o.terminating ? { deletionTimestamp: '2024-01-01T00:10:00Z' } : {}) },
    spec: { ...(o.node === null ? {} : { nodeName: o.node ?? 'n1' }), containers: [{ name: 'c', image: 'a' }] },
    status: { phase: o.phase ?? 'Running', ...(o.reason ? { reason: o.reason } : {}) },
  };
}

const node = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

describe('PodGcController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(pods: KubeObject[], nodes: KubeObject[] = [node('n1')], options: Partial<ControllerOptions> = {}): Promise<PodGcController> {
    t = testContext([{ resource: PODS, objects: pods }, { resource: NODES, objects: nodes }], options);
    const c = new PodGcController(t.ctx);
    await t.start();
    return c;
  }

  const deletes = () => t.client.writes().filter((w) => w.verb === 'delete');
  const remaining = () => t.client.all(PODS).map((p) => p.metadata.name).sort();

  it('deletes terminated pods beyond the threshold, oldest first, forcefully', async () => {
    const c = await setup(
      [
        pod('s3', { phase: 'Succeeded', created: '2024-01-01T00:03:00Z' }),
        pod('f1', { phase: 'Failed', created: '2024-01-01T00:01:00Z' }),
        pod('s2', { phase: 'Succeeded', created: '2024-01-01T00:02:00Z' }),
        pod('s4', { phase: 'Succeeded', created: '2024-01-01T00:04:00Z' }),
        pod('old-running', { phase: 'Running', created: '2023-01-01T00:00:00Z' }),
        pod('old-pending', { phase: 'Pending', created: '2023-01-01T00:00:00Z' }),
      ],
      [node('n1')],
      { terminatedPodGcThreshold: 2 },
    );
    await c.gc();
    expect(deletes().map((w) => w.name)).toEqual(['f1', 's2']);
    expect(deletes().every((w) => (w.object as { gracePeriodSeconds?: number }).gracePeriodSeconds === 0)).toBe(true);
    expect(remaining()).toEqual(['old-pending', 'old-running', 's3', 's4']);
  });

  it('collects evicted pods first, and breaks creation-time ties by name', async () => {
    const c = await setup(
      [
        pod('b', { phase: 'Succeeded' }),
        pod('a', { phase: 'Succeeded' }),
        pod('evicted', { phase: 'Failed', reason: 'Evicted', created: '2024-06-01T00:00:00Z' }),
        pod('c', { phase: 'Failed' }),
      ],
      [node('n1')],
      { terminatedPodGcThreshold: 2 },
    );
    await c.gc();
    expect(deletes().map((w) => w.name)).toEqual(['evicted', 'a']);
  });

  it('keeps terminated pods up to the threshold, and a threshold of 0 disables collection', async () => {
    const pods = [pod('s1', { phase: 'Succeeded' }), pod('s2', { phase: 'Failed' })];
    let c = await setup(pods, [node('n1')], { terminatedPodGcThreshold: 2 });
    await c.gc();
    expect(deletes()).toEqual([]);
    await t.stop();
    c = await setup(pods, [node('n1')], { terminatedPodGcThreshold: 0 });
    await c.gc();
    expect(deletes()).toEqual([]);
    expect(remaining()).toEqual(['s1', 's2']);
  });

  it('force-deletes pods bound to a missing node after the 40 s quarantine', async () => {
    const c = await setup([pod('here', { node: 'n1' }), pod('lost1', { node: 'gone' }), pod('lost2', { node: 'gone', phase: 'Succeeded' })]);
    await c.gc();
    expect(deletes()).toEqual([]);
    await t.clock.advance(39_000);
    await c.gc();
    expect(deletes()).toEqual([]);
    await t.clock.advance(1_000);
    await c.gc();
    expect(deletes().map((w) => w.name).sort()).toEqual(['lost1', 'lost2']);
    expect(deletes().map((w) => w.object)).toEqual([
      { gracePeriodSeconds: 0, preconditions: { uid: expect.stringMatching(/^uid-lost/) } },
      { gracePeriodSeconds: 0, preconditions: { uid: expect.stringMatching(/^uid-lost/) } },
    ]);
    expect(remaining()).toEqual(['here']);
  });

  it('spares the pods of a node that comes back within the quarantine', async () => {
    const c = await setup([pod('p', { node: 'late' })], []);
    await c.gc();
    await t.clock.advance(20_000);
    await t.client.create(NODES, '', node('late'));
    await t.settle();
    await c.gc();
    await t.clock.advance(60_000);
    await c.gc();
    expect(deletes()).toEqual([]);
  });

  it('force-deletes unscheduled terminating pods at once, leaves unscheduled live ones', async () => {
    const c = await setup([pod('stuck', { node: null, terminating: true, phase: 'Pending' }), pod('waiting', { node: null, phase: 'Pending' })]);
    await c.gc();
    expect(deletes()).toEqual([{ verb: 'delete', resource: 'pods', namespace: 'default', name: 'stuck', subresource: '', object: { gracePeriodSeconds: 0, preconditions: { uid: 'uid-stuck' } } }]);
    expect(remaining()).toEqual(['waiting']);
  });

  it('runs periodically once started', async () => {
    const c = await setup([pod('stuck', { node: null, terminating: true })]);
    const abort = new AbortController();
    const done = c.run(abort.signal);
    await t.settle();
    expect(remaining()).toEqual([]);
    abort.abort();
    await done;
  });
});
