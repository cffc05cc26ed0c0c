/**
 * The HorizontalPodAutoscaler controller (autoscaling/v2): every sync period it reads each HPA's
 * target through the `scale` subresource (Deployments, ReplicaSets, StatefulSets — any kind whose
 * resource has `scale`), computes a replica count from the pods' resource metrics (Kubernetes'
 * algorithm, see replica-calculator.ts), stabilizes and rate-limits it by `spec.behavior`
 * (scaling-behavior.ts), writes the new count to the scale subresource and reports status and
 * conditions (AbleToScale, ScalingActive, ScalingLimited).
 *
 * Supported metrics: `Resource` (cpu, memory…) with Utilization or AverageValue targets. Pods,
 * Object, External and ContainerResource metrics are reported as InvalidMetricSourceType. When the
 * metrics API is unavailable the HPA only keeps the replica count inside [minReplicas, maxReplicas].
 */
import { isDeepStrictEqual } from 'node:util';
import { findResourceByKind, formatMilli, formatTime, isNotFound, objectKey, parseLabelSelector, parseQuantity, splitObjectKey, type KubeObject, type LabelSelector, type ResourceInfo } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import type { PodView } from '../../pod-utils.js';
import { MetricsApiPodMetricsSource, type PodMetrics, type PodMetricsSource } from './pod-metrics-source.js';
import { calculateResourceReplicas, MetricComputationError, samplesFromPodMetrics, type ResourceTarget, type Tolerances } from './replica-calculator.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, effectiveRules, limitScaling, newScalingHistory, recordScaleEvent, stabilizeRecommendation, type ScalingBehavior, type ScalingHistory } from './scaling-behavior.js';

const HPAS = res('horizontalpodautoscalers.autoscaling');
const PODS = res('pods');
const DEFAULT_TOLERANCE = 0.1;

/** An autoscaling/v2 metric spec (the parts read here). */
interface MetricSpecView {
  type: string;
  resource?: { name: string; target: { type: string; averageUtilization?: number; averageValue?: string; value?: string } };
}

/** An autoscaling/v2 MetricStatus. */
interface MetricStatusView {
  type: string;
  resource?: { name: string; current: { averageUtilization?: number; averageValue?: string } };
}

interface HpaCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

interface HpaStatus {
  observedGeneration?: number;
  lastScaleTime?: string;
  currentReplicas?: number;
  desiredReplicas?: number;
  currentMetrics?: MetricStatusView[];
  conditions?: HpaCondition[];
}

/** The HPA fields the controller reads. */
interface HpaView extends KubeObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: MetricSpecView[];
    behavior?: ScalingBehavior;
  };
  status?: HpaStatus;
}

/** An autoscaling/v1 Scale. */
interface ScaleView extends KubeObject {
  spec?: { replicas?: number };
  status?: { replicas?: number; selector?: string };
}

/** Options of the controller (flags of the controller manager, and test seams). */
export interface HorizontalPodAutoscalerOptions {
  /** `--horizontal-pod-autoscaler-sync-period` in ms (default 15 000). */
  syncPeriodMs?: number;
  /** Where pod metrics come from (default: the metrics.k8s.io API through the context's client). */
  metrics?: PodMetricsSource;
}

/** Kubernetes' default when `spec.metrics` is empty: 80 % average CPU utilization. */
const DEFAULT_METRICS: MetricSpecView[] = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];

/** A metric that could not be evaluated: the ScalingActive reason and the message. */
interface MetricFailure {
  reason: string;
  message: string;
}

/** The outcome of evaluating every metric of an HPA. */
interface MetricsOutcome {
  /** The largest proposal of the valid metrics (undefined when they cannot be used). */
  replicas?: number;
  /** What the winning metric is, for messages (`cpu resource utilization (percentage of request)`). */
  metricName?: string;
  statuses: MetricStatusView[];
  failure?: MetricFailure;
}

/** Sets a condition, moving lastTransitionTime only when the status changes. */
function setCondition(conditions: HpaCondition[], now: number, type: string, status: 'True' | 'False', reason: string, message: string): void {
  const c = conditions.find((x) => x.type === type);
  if (!c) {
    conditions.push({ type, status, lastTransitionTime: formatTime(new Date(now)), reason, message });
    return;
  }
  if (c.status !== status) c.lastTransitionTime = formatTime(new Date(now));
  c.status = status;
  c.reason = reason;
  c.message = message;
}

function toleranceOf(q: string | undefined): number {
  if (q === undefined) return DEFAULT_TOLERANCE;
  try {
    return parseQuantity(q).toNumber();
  } catch {
    return DEFAULT_TOLERANCE;
  }
}

/** Scales workloads by their pods' resource usage. */
export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontal-pod-autoscaler';
  readonly queue: WorkQueue<string>;
  private readonly hpas: SharedInformer<HpaView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly recorder: EventRecorder;
  private readonly metrics: PodMetricsSource;
  private readonly syncPeriodMs: number;
  /** Recommendations and scale events per HPA key (for stabilization and rate limits). */
  private readonly histories = new Map<string, ScalingHistory>();

  constructor(
    private readonly ctx: ControllerContext,
    options: HorizontalPodAutoscalerOptions = {},
  ) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.metrics = options.metrics ?? new MetricsApiPodMetricsSource(ctx.client);
    this.syncPeriodMs = options.syncPeriodMs ?? 15_000;
    this.hpas = ctx.informers.informerFor<HpaView>(HPAS);
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.hpas.addEventHandler({
      onAdd: (h) => this.queue.add(objectKey(h)),
      // Our own status writes must not trigger syncs (metrics would be read in a loop): only spec changes do.
      onUpdate: (a, b) => {
        if (a.metadata.generation !== b.metadata.generation) this.queue.add(objectKey(b));
      },
      onDelete: (h) => this.queue.add(objectKey(deletedObject(h))),
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.hpas.waitForSync(signal), this.pods.waitForSync(signal)]);
    const tick = () => {
      if (signal.aborted) return;
      for (const h of this.hpas.lister.list()) this.queue.add(objectKey(h));
      this.ctx.clock.setTimer(tick, this.syncPeriodMs);
    };
    tick();
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Reconciles one HPA: reads the scale and the metrics, rescales if needed, writes status. */
  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const cached = this.hpas.lister.get(namespace, name);
    if (!cached) {
      this.histories.delete(key);
      return;
    }
    const hpa = structuredClone(cached) as HpaView;
    hpa.apiVersion ??= 'autoscaling/v2';
    hpa.kind ??= 'HorizontalPodAutoscaler';
    const now = this.ctx.clock.now();
    const prev = hpa.status ?? {};
    const conditions = structuredClone(prev.conditions ?? []);
    const status: HpaStatus = { observedGeneration: hpa.metadata.generation ?? 0, ...(prev.lastScaleTime ? { lastScaleTime: prev.lastScaleTime } : {}), currentReplicas: prev.currentReplicas ?? 0, desiredReplicas: prev.desiredReplicas ?? 0, conditions };
    const ref = hpa.spec.scaleTargetRef;

    const failGetScale = async (message: string): Promise<void> => {
      setCondition(conditions, now, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${message}`);
      this.recorder.event(hpa, 'Warning', 'FailedGetScale', message);
      await this.writeStatus(hpa, status);
    };
    const target = this.targetResource(ref);
    if (!target) {
      // A configuration problem: reported, and re-checked at the next resync.
      await failGetScale(`no scale subresource for kind ${ref.kind} in ${ref.apiVersion ?? 'apps/v1'}`);
      return;
    }
    let scale: ScaleView;
    try {
      scale = await this.ctx.client.get<ScaleView>(target, namespace, ref.name, { subresource: 'scale' });
    } catch (err) {
      await failGetScale((err as Error).message);
      if (isNotFound(err)) return;
      throw err;
    }
    setCondition(conditions, now, 'AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");

    const current = scale.spec?.replicas ?? 0;
    const min = hpa.spec.minReplicas ?? 1;
    const max = hpa.spec.maxReplicas;
    let desired = current;
    let rescaleReason = '';
    if (current === 0 && min !== 0) {
      setCondition(conditions, now, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
      delete status.currentMetrics;
    } else {
      const outcome = await this.evaluateMetrics(hpa, scale, current);
      if (outcome.statuses.length > 0) status.currentMetrics = outcome.statuses;
      else delete status.currentMetrics;
      if (outcome.failure) setCondition(conditions, now, 'ScalingActive', 'False', outcome.failure.reason, outcome.failure.message);
      else setCondition(conditions, now, 'ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${outcome.metricName ?? 'metrics'}`);

      if (current > max) {
        desired = max;
        rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
        setCondition(conditions, now, 'ScalingLimited', 'True', 'TooManyReplicas', 'the desired replica count is more than the maximum replica count');
      } else if (current < min) {
        desired = min;
        rescaleReason = 'Current number of replicas below Spec.MinReplicas';
        setCondition(conditions, now, 'ScalingLimited', 'True', 'TooFewReplicas', 'the desired replica count is less than the minimum replica count');
      } else if (outcome.replicas !== undefined) {
        const history = this.historyOf(key);
        const up = effectiveRules(hpa.spec.behavior?.scaleUp, DEFAULT_SCALE_UP);
        const down = effectiveRules(hpa.spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN);
        const stabilized = stabilizeRecommendation(history, now, current, outcome.replicas, up, down);
        setCondition(conditions, now, 'AbleToScale', 'True', stabilized.reason, stabilized.message);
        const limited = limitScaling(history, now, current, stabilized.replicas, min, max, up, down);
        setCondition(conditions, now, 'ScalingLimited', limited.replicas === stabilized.replicas ? 'False' : 'True', limited.reason, limited.message);
        desired = limited.replicas;
        rescaleReason = desired > current ? `${outcome.metricName ?? 'metric'} above target` : 'All metrics below target';
      }
    }

    if (desired !== current) {
      try {
        const body: ScaleView = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: ref.name, namespace, ...(scale.metadata.resourceVersion ? { resourceVersion: scale.metadata.resourceVersion } : {}) }, spec: { replicas: desired } };
        await this.ctx.client.update(target, body, { subresource: 'scale' });
      } catch (err) {
        setCondition(conditions, now, 'AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${(err as Error).message}`);
        this.recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${rescaleReason}; error: ${(err as Error).message}`);
        await this.writeStatus(hpa, status);
        throw err;
      }
      setCondition(conditions, now, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      this.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${rescaleReason}`);
      const up = effectiveRules(hpa.spec.behavior?.scaleUp, DEFAULT_SCALE_UP);
      const down = effectiveRules(hpa.spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN);
      recordScaleEvent(this.historyOf(key), now, current, desired, up, down);
      status.lastScaleTime = formatTime(new Date(now));
      this.ctx.logger.info({ hpa: key, from: current, to: desired, reason: rescaleReason }, 'rescaled target');
    }
    status.currentReplicas = current;
    status.desiredReplicas = desired;
    await this.writeStatus(hpa, status);
  }

  private historyOf(key: string): ScalingHistory {
    let h = this.histories.get(key);
    if (!h) this.histories.set(key, (h = newScalingHistory()));
    return h;
  }

  /** The resource behind a scaleTargetRef, if it has a scale subresource. */
  private targetResource(ref: HpaView['spec']['scaleTargetRef']): ResourceInfo | undefined {
    const apiVersion = ref.apiVersion ?? (ref.kind === 'ReplicationController' ? 'v1' : 'apps/v1');
    const r = findResourceByKind(apiVersion, ref.kind);
    return r && r.subresources.includes('scale') ? r : undefined;
  }

  /**
   * Evaluates every metric (upstream computeReplicasForMetrics): the proposal is the largest of the
   * valid metrics; when every metric failed, or some failed and the others would scale down, there is
   * no proposal and the first failure is reported.
   */
  private async evaluateMetrics(hpa: HpaView, scale: ScaleView, current: number): Promise<MetricsOutcome> {
    const specs = hpa.spec.metrics && hpa.spec.metrics.length > 0 ? hpa.spec.metrics : DEFAULT_METRICS;
    const namespace = hpa.metadata.namespace ?? '';
    const selectorText = scale.status?.selector ?? '';
    const tolerances: Tolerances = { up: toleranceOf(hpa.spec.behavior?.scaleUp?.tolerance), down: toleranceOf(hpa.spec.behavior?.scaleDown?.tolerance) };
    const outcome: MetricsOutcome = { statuses: [] };
    let failures = 0;
    let fetched: { metrics?: PodMetrics[]; error?: unknown } | undefined;
    let pods: PodView[] | undefined;
    for (const spec of specs) {
      const fail = (reason: string, message: string, eventMessage = message): void => {
        failures++;
        outcome.failure ??= { reason, message: `the HPA was unable to compute the replica count: ${message}` };
        this.recorder.event(hpa, 'Warning', reason, eventMessage);
      };
      if (spec.type !== 'Resource' || !spec.resource) {
        fail('InvalidMetricSourceType', `metric source type "${spec.type}" is not supported`);
        continue;
      }
      const { name: resource, target } = spec.resource;
      const what = target.type === 'Utilization' ? `${resource} utilization` : `${resource} usage`;
      let resourceTarget: ResourceTarget;
      if (target.type === 'Utilization' && target.averageUtilization !== undefined && target.averageUtilization > 0) {
        resourceTarget = { type: 'Utilization', averageUtilization: target.averageUtilization };
      } else if (target.type === 'AverageValue' && target.averageValue !== undefined) {
        try {
          resourceTarget = { type: 'AverageValue', averageMilli: Number(parseQuantity(target.averageValue).toMilli()) };
        } catch {
          fail('FailedGetResourceMetric', `failed to get ${what}: invalid averageValue ${target.averageValue}`);
          continue;
        }
      } else {
        fail('FailedGetResourceMetric', `failed to get ${what}: invalid resource metric source: neither a utilization target nor an average value target was set`);
        continue;
      }
      // The selector tells which pods are the target's.
      let selector: LabelSelector;
      try {
        if (!selectorText) throw new Error('the target\'s scale is missing a selector');
        selector = parseLabelSelector(selectorText);
      } catch (err) {
        fail('InvalidSelector', `couldn't convert selector into a corresponding internal selector object: ${(err as Error).message}`);
        continue;
      }
      fetched ??= await this.metrics.podMetrics(namespace, selectorText).then(
        (metrics) => (metrics ? { metrics } : {}),
        (error: unknown) => ({ error }),
      );
      if (!fetched.metrics) {
        const why = fetched.error ? (fetched.error as Error).message : 'the resource metrics API (metrics.k8s.io/v1beta1) is unavailable';
        fail('FailedGetResourceMetric', `failed to get ${what}: unable to get metrics for resource ${resource}: ${why}`);
        continue;
      }
      if (fetched.metrics.length === 0) {
        fail('FailedGetResourceMetric', `failed to get ${what}: unable to get metrics for resource ${resource}: no metrics returned from resource metrics API`);
        continue;
      }
      pods ??= (this.pods.lister.list(namespace) as PodView[]).filter((p) => selector.matches(p.metadata.labels));
      try {
        const r = calculateResourceReplicas({ currentReplicas: current, resource, target: resourceTarget, pods, samples: samplesFromPodMetrics(fetched.metrics, resource), tolerances, now: this.ctx.clock.now() });
        outcome.statuses.push({ type: 'Resource', resource: { name: resource, current: { ...(r.utilization !== undefined ? { averageUtilization: r.utilization } : {}), averageValue: formatMilli(r.averageMilli) } } });
        if (outcome.replicas === undefined || r.replicas > outcome.replicas) {
          outcome.replicas = r.replicas;
          outcome.metricName = target.type === 'Utilization' ? `${resource} resource utilization (percentage of request)` : `${resource} resource`;
        }
      } catch (err) {
        if (!(err instanceof MetricComputationError)) this.ctx.logger.warn({ err, hpa: objectKey(hpa) }, 'computing replicas failed');
        fail('FailedGetResourceMetric', `failed to get ${what}: ${(err as Error).message}`);
      }
    }
    if (failures > 0 && (outcome.replicas === undefined || outcome.replicas < current)) {
      delete outcome.replicas;
      delete outcome.metricName;
    } else delete outcome.failure;
    return outcome;
  }

  /** Writes status when it changed; a deleted HPA is fine. */
  private async writeStatus(hpa: HpaView, status: HpaStatus): Promise<void> {
    if (isDeepStrictEqual(status, hpa.status)) return;
    try {
      await this.ctx.client.updateStatus(HPAS, { ...hpa, status });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
