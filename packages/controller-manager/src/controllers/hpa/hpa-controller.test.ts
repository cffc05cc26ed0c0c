import { ApiError, notFound } from '@flotilla/api';
import { ConnectionError, res } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { HorizontalPodAutoscalerController } from './hpa-controller.js';
import { MetricsApiPodMetricsSource, POD_METRICS, type PodMetrics, type PodMetricsSource } from './pod-metrics-source.js';

const DEPLOYMENTS = res('deployments.apps');
const HPAS = res('horizontalpodautoscalers.autoscaling');
const PODS = res('pods');
const EVENTS = res('events');
const KEY = 'default/web';
const LONG_AGO = '2023-12-31T00:00:00Z';

interface HpaStatusView {
  currentReplicas?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
  observedGeneration?: number;
  currentMetrics?: { type: string; resource?: { name: string; current: { averageUtilization?: number; averageValue?: string } } }[];
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** Metrics served from a map of pod name to CPU usage; `undefined` = the API is unavailable. */
class FakePodMetricsSource implements PodMetricsSource {
  calls = 0;
  constructor(public usage: Record<string, string> | undefined) {}
  async podMetrics(namespace: string): Promise<PodMetrics[] | undefined> {
    this.calls++;
    if (!this.usage) return undefined;
    return Object.entries(this.usage).map(([name, cpu]) => ({ metadata: { name, namespace }, timestamp: '2024-01-01T00:00:00Z', window: '30s', containers: [{ name: 'c', usage: { cpu } }] }));
  }
}

function deployment(replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'a' }] } } },
  };
}

function hpa(spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default', uid: 'hpa-uid', generation: 1 },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...spec,
    },
  };
}

function pod(name: string, options: { ready?: boolean; request?: string | null; phase?: string } = {}): Record<string, unknown> {
  const request = options.request === undefined ? '100m' : options.request;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'a', ...(request ? { resources: { requests: { cpu: request } } } : {}) }] },
    status: { phase: options.phase ?? 'Running', startTime: LONG_AGO, conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True', lastTransitionTime: LONG_AGO }] },
  };
}

function seed(replicas: number, pods: Record<string, unknown>[], hpaSpec: Record<string, unknown> = {}) {
  return [
    { resource: DEPLOYMENTS, objects: [deployment(replicas) as never] },
    { resource: HPAS, objects: [hpa(hpaSpec) as never] },
    { resource: PODS, objects: pods as never[] },
  ];
}

describe('HorizontalPodAutoscalerController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  const status = () => (t.client.peek(HPAS, 'default', 'web') as { status?: HpaStatusView }).status ?? {};
  const condition = (type: string) => status().conditions?.find((c) => c.type === type);
  const replicas = () => (t.client.peek(DEPLOYMENTS, 'default', 'web') as unknown as { spec: { replicas: number } }).spec.replicas;
  const scaleWrites = () => t.client.writes().filter((w) => w.subresource === 'scale');
  const events = async () => {
    await t.ctx.recorder('horizontal-pod-autoscaler').flush();
    return t.client.all<{ reason: string; type: string; message: string } & never>(EVENTS, 'default') as { reason: string; type: string; message: string }[];
  };

  async function setUp(replicaCount: number, pods: Record<string, unknown>[], metrics: FakePodMetricsSource, hpaSpec: Record<string, unknown> = {}): Promise<HorizontalPodAutoscalerController> {
    t = testContext(seed(replicaCount, pods, hpaSpec));
    const c = new HorizontalPodAutoscalerController(t.ctx, { metrics });
    await t.start();
    return c;
  }

  it('reports unavailable metrics and leaves replicas alone', async () => {
    const c = await setUp(2, [pod('a'), pod('b')], new FakePodMetricsSource(undefined));
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(replicas()).toBe(2);
    expect(condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededGetScale' });
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
    expect(condition('ScalingActive')?.message).toMatch(/metrics API .* is unavailable/);
    expect(status()).toMatchObject({ currentReplicas: 2, desiredReplicas: 2, observedGeneration: 1 });
    expect(status().currentMetrics).toBeUndefined();
    expect(await events()).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'FailedGetResourceMetric' }));
  });

  it('clamps into [minReplicas, maxReplicas] without metrics', async () => {
    const c = await setUp(12, [], new FakePodMetricsSource(undefined));
    await c.sync(KEY);
    expect(replicas()).toBe(10);
    expect(scaleWrites()).toHaveLength(1);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
    expect(condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededRescale' });
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
    expect(status()).toMatchObject({ currentReplicas: 12, desiredReplicas: 10, lastScaleTime: '2024-01-01T00:00:00Z' });
    expect(await events()).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 10; reason: Current number of replicas above Spec.MaxReplicas' }));
  });

  it('raises to minReplicas without metrics', async () => {
    const c = await setUp(1, [], new FakePodMetricsSource(undefined), { minReplicas: 3 });
    await c.sync(KEY);
    expect(replicas()).toBe(3);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooFewReplicas' });
  });

  it('scales up by utilization, limited to double or +4 per period', async () => {
    const metrics = new FakePodMetricsSource({ a: '200m', b: '200m' });
    const c = await setUp(2, [pod('a'), pod('b')], metrics);
    await c.sync(KEY);
    // 200 % of request against a 50 % target: 8 wanted, max(2 + 4, 2 * 2) = 6 allowed.
    expect(replicas()).toBe(6);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
    expect(condition('ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
    expect(status()).toMatchObject({ currentReplicas: 2, desiredReplicas: 6, lastScaleTime: '2024-01-01T00:00:00Z' });
    expect(status().currentMetrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 200, averageValue: '200m' } } }]);
    expect(await events()).toContainEqual(expect.objectContaining({ reason: 'SuccessfulRescale', message: 'New size: 6; reason: cpu resource utilization (percentage of request) above target' }));
    // Within the same 15 s period, the new pods (not yet reporting) count as idle and the limit is spent.
    await t.settle();
    await t.clock.advance(5_000);
    await c.sync(KEY);
    expect(replicas()).toBe(6);
  });

  it('does nothing within the 10 % tolerance', async () => {
    const c = await setUp(2, [pod('a'), pod('b')], new FakePodMetricsSource({ a: '54m', b: '54m' }));
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'ReadyForNewScale' });
    expect(condition('ScalingLimited')).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });
    expect(status()).toMatchObject({ currentReplicas: 2, desiredReplicas: 2 });
  });

  it('scales down only after the stabilization window', async () => {
    const metrics = new FakePodMetricsSource({ a: '50m', b: '50m', c: '50m', d: '50m' });
    const c = await setUp(4, [pod('a'), pod('b'), pod('c'), pod('d')], metrics);
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    metrics.usage = { a: '20m', b: '20m', c: '20m', d: '20m' };
    await t.clock.advance(60_000);
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'ScaleDownStabilized' });
    expect(status().desiredReplicas).toBe(4);
    await t.clock.advance(241_000);
    await c.sync(KEY);
    // 20 % against 50 %: ceil(0.4 * 4) = 2.
    expect(replicas()).toBe(2);
    expect(await events()).toContainEqual(expect.objectContaining({ reason: 'SuccessfulRescale', message: 'New size: 2; reason: All metrics below target' }));
  });

  it('honours a shorter scale-down window from spec.behavior', async () => {
    const metrics = new FakePodMetricsSource({ a: '50m', b: '50m' });
    const c = await setUp(2, [pod('a'), pod('b')], metrics, { behavior: { scaleDown: { stabilizationWindowSeconds: 30 } } });
    await c.sync(KEY);
    metrics.usage = { a: '5m', b: '5m' };
    await t.clock.advance(31_000);
    await c.sync(KEY);
    expect(replicas()).toBe(1);
  });

  it('treats unready pods as idle when scaling up', async () => {
    // 80 % on the ready pods would ask for 4; with the unready pod at 0 it is 53 %, within tolerance.
    const c = await setUp(3, [pod('a'), pod('b'), pod('c', { ready: false })], new FakePodMetricsSource({ a: '80m', b: '80m', c: '500m' }));
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(status().currentMetrics?.[0]?.resource?.current.averageUtilization).toBe(80);
  });

  it('assumes pods without metrics at their request when scaling down', async () => {
    // The two measured pods alone would ask for 1; with the third at 100 % of request, the ratio is 0.8 -> 3.
    const c = await setUp(3, [pod('a'), pod('b'), pod('c')], new FakePodMetricsSource({ a: '10m', b: '10m' }));
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
  });

  it('scales by AverageValue targets', async () => {
    const c = await setUp(2, [pod('a', { request: null }), pod('b', { request: null })], new FakePodMetricsSource({ a: '300m', b: '300m' }), {
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '200m' } } }],
    });
    await c.sync(KEY);
    expect(replicas()).toBe(3);
    expect(status().currentMetrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', current: { averageValue: '300m' } } }]);
  });

  it('fails the metric when a container has no CPU request', async () => {
    const c = await setUp(2, [pod('a', { request: null }), pod('b')], new FakePodMetricsSource({ a: '300m', b: '300m' }));
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
    expect(condition('ScalingActive')?.message).toContain('missing request for cpu in container c of Pod a');
  });

  it('does not scale a target scaled to zero', async () => {
    const metrics = new FakePodMetricsSource({});
    const c = await setUp(0, [], metrics);
    await c.sync(KEY);
    expect(scaleWrites()).toEqual([]);
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'ScalingDisabled' });
    expect(metrics.calls).toBe(0);
  });

  it('reports a missing target', async () => {
    t = testContext([{ resource: HPAS, objects: [hpa() as never] }]);
    const c = new HorizontalPodAutoscalerController(t.ctx, { metrics: new FakePodMetricsSource(undefined) });
    await t.start();
    await c.sync(KEY);
    expect(condition('AbleToScale')).toMatchObject({ status: 'False', reason: 'FailedGetScale' });
    expect(await events()).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'FailedGetScale' }));
  });

  it('reads the metrics API through the client by default and treats 404 as unavailable', async () => {
    t = testContext(seed(2, [pod('a'), pod('b')]));
    const c = new HorizontalPodAutoscalerController(t.ctx);
    await t.start();
    t.client.failures.list = [notFound({ qualifiedResource: 'pods.metrics.k8s.io' })];
    await c.sync(KEY);
    const list = t.client.actions.filter((a) => a.verb === 'list').at(-1);
    expect(list).toMatchObject({ resource: 'pods', namespace: 'default' });
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
  });

  it('resyncs every sync period', async () => {
    const metrics = new FakePodMetricsSource({ a: '50m' });
    t = testContext(seed(1, [pod('a')]));
    const c = new HorizontalPodAutoscalerController(t.ctx, { metrics, syncPeriodMs: 30_000 });
    await t.start();
    const abort = new AbortController();
    const running = c.run(abort.signal);
    await t.settle();
    expect(metrics.calls).toBe(1);
    await t.clock.advance(29_000);
    await t.settle();
    expect(metrics.calls).toBe(1);
    await t.clock.advance(1_000);
    await t.settle();
    expect(metrics.calls).toBe(2);
    abort.abort();
    await running;
  });
});

describe('MetricsApiPodMetricsSource', () => {
  it('lists PodMetrics by namespace and selector', async () => {
    const m = (name: string, app: string) => ({ metadata: { name, namespace: 'default', labels: { app } }, containers: [{ name: 'c', usage: { cpu: '10m' } }] });
    const client = new FakeClient([{ resource: POD_METRICS, objects: [m('a', 'web'), m('b', 'db')] as never[] }]);
    const got = await new MetricsApiPodMetricsSource(client).podMetrics('default', 'app=web');
    expect(got?.map((p) => p.metadata.name)).toEqual(['a']);
  });

  it('returns undefined when the API is not served, unavailable or unreachable, and throws otherwise', async () => {
    const client = new FakeClient();
    const source = new MetricsApiPodMetricsSource(client);
    client.failures.list = [notFound({ qualifiedResource: 'pods.metrics.k8s.io' }), new ApiError(503, 'ServiceUnavailable', 'service unavailable'), new ConnectionError('refused'), new ApiError(403, 'Forbidden', 'forbidden')];
    expect(await source.podMetrics('default', '')).toBeUndefined();
    expect(await source.podMetrics('default', '')).toBeUndefined();
    expect(await source.podMetrics('default', '')).toBeUndefined();
    await expect(source.podMetrics('default', '')).rejects.toThrow('forbidden');
  });
});
