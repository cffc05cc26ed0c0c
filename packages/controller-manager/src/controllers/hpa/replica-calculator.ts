/**
 * Kubernetes' replica calculation for resource metrics (pkg/controller/podautoscaler/replica_calculator.go):
 * from the pods behind a scale target, their usage samples and their requests, the replica count
 * that brings the average to the target. Pure: the caller supplies pods, samples and the time.
 *
 * Like upstream: deleted and finished pods are ignored; Pending pods, and for CPU pods that are not
 * Ready or whose sample predates readiness during their first five minutes, count as unready; pods
 * without a sample are "missing". Unready and missing pods only ever dampen a change: when scaling
 * down, missing pods are assumed at the target (100 % of request at least); when scaling up,
 * missing and unready pods are assumed idle; a change that would flip direction becomes no change.
 */
import { parseQuantity } from '@flotilla/api';
import type { PodView } from '../../pod-utils.js';
import type { PodMetrics } from './pod-metrics-source.js';

/** A pod's usage of one resource over a window ending at `timestamp` (all in ms / milli-units). */
export interface PodSample {
  /** Milli-units (millicores; milli-bytes for memory, as upstream's MilliValue). */
  value: number;
  timestamp: number;
  windowMs: number;
}

/** The target of a resource metric. */
export type ResourceTarget = { type: 'Utilization'; averageUtilization: number } | { type: 'AverageValue'; averageMilli: number };

/** Relative change below which nothing scales, per direction (upstream default 0.1 each). */
export interface Tolerances {
  up: number;
  down: number;
}

/** Inputs of {@link calculateResourceReplicas}. */
export interface ResourceReplicaInput {
  currentReplicas: number;
  resource: string;
  target: ResourceTarget;
  /** The pods the scale selector matches. */
  pods: readonly PodView[];
  /** Samples by pod name. */
  samples: ReadonlyMap<string, PodSample>;
  tolerances: Tolerances;
  now: number;
}

/** The proposal of one metric. */
export interface ResourceReplicaResult {
  replicas: number;
  /** Average usage in percent of requests (Utilization targets). */
  utilization?: number;
  /** Average usage per pod, milli-units. */
  averageMilli: number;
}

/** A metric could not be turned into a replica count (the message is shown in the HPA's condition). */
export class MetricComputationError extends Error {
  override readonly name = 'MetricComputationError';
}

/** Upstream's --horizontal-pod-autoscaler-cpu-initialization-period. */
const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** Upstream's --horizontal-pod-autoscaler-initial-readiness-delay. */
const INITIAL_READINESS_DELAY_MS = 30_000;

/** Parses a Go duration (`30s`, `1m30s`, `10.5s`, `250ms`) to ms; undefined when malformed. */
export function parseGoDuration(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]!]!;
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? total : s === '0' ? 0 : undefined;
}

/**
 * Samples of `resource` by pod name from PodMetrics; a pod missing the resource in one of its
 * containers gets no sample (as upstream).
 */
export function samplesFromPodMetrics(metrics: readonly PodMetrics[], resource: string): Map<string, PodSample> {
  const out = new Map<string, PodSample>();
  for (const m of metrics) {
    let sum = 0;
    let complete = (m.containers ?? []).length > 0;
    for (const c of m.containers ?? []) {
      const v = c.usage?.[resource];
      if (v === undefined) {
        complete = false;
        break;
      }
      try {
        sum += Number(parseQuantity(v).toMilli());
      } catch {
        complete = false;
        break;
      }
    }
    if (!complete) continue;
    out.set(m.metadata.name ?? '', { value: sum, timestamp: m.timestamp ? Date.parse(m.timestamp) : 0, windowMs: parseGoDuration(m.window) ?? 0 });
  }
  return out;
}

interface ContainerView {
  name?: string;
  resources?: { requests?: Record<string, string> };
}

/** Each pod's request of `resource` (milli), summed over its containers; throws when a container has none. */
function podRequests(pods: readonly PodView[], resource: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of pods) {
    let sum = 0;
    for (const c of ((p.spec?.['containers'] ?? []) as ContainerView[])) {
      const q = c.resources?.requests?.[resource];
      if (q === undefined) throw new MetricComputationError(`missing request for ${resource} in container ${c.name ?? ''} of Pod ${p.metadata.name ?? ''}`);
      sum += Number(parseQuantity(q).toMilli());
    }
    out.set(p.metadata.name ?? '', sum);
  }
  return out;
}

function readyCondition(p: PodView): { status: string; lastTransitionTime?: string } | undefined {
  return (p.status?.conditions ?? []).find((c) => c.type === 'Ready');
}

interface PodGroups {
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

function groupPods(pods: readonly PodView[], samples: ReadonlyMap<string, PodSample>, resource: string, now: number): PodGroups {
  const g: PodGroups = { unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const p of pods) {
    const name = p.metadata.name ?? '';
    const phase = p.status?.phase;
    if (p.metadata.deletionTimestamp || phase === 'Failed' || phase === 'Succeeded') {
      g.ignored.add(name);
      continue;
    }
    if (phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const sample = samples.get(name);
    if (!sample) {
      g.missing.add(name);
      continue;
    }
    if (resource !== 'cpu') continue;
    // CPU is spiky while a pod starts: ignore samples of pods that are not (or not yet stably) ready.
    const cond = readyCondition(p);
    const started = p.status?.startTime ? Date.parse(p.status.startTime) : undefined;
    let unready: boolean;
    if (!cond || started === undefined) unready = true;
    else {
      const transition = cond.lastTransitionTime ? Date.parse(cond.lastTransitionTime) : 0;
      if (started + CPU_INITIALIZATION_PERIOD_MS > now) unready = cond.status !== 'True' || sample.timestamp < transition + sample.windowMs;
      else unready = cond.status !== 'True' && started + INITIAL_READINESS_DELAY_MS > transition;
    }
    if (unready) g.unready.add(name);
  }
  return g;
}

/** Usage ratio to the target, and the figures reported in status, over the pods that have a request. */
function usageRatio(samples: ReadonlyMap<string, number>, requests: ReadonlyMap<string, number>, target: ResourceTarget): { ratio: number; utilization?: number; averageMilli: number } {
  let total = 0;
  let requested = 0;
  let n = 0;
  for (const [name, v] of samples) {
    const r = requests.get(name);
    if (r === undefined) continue;
    total += v;
    requested += r;
    n++;
  }
  if (n === 0) throw new MetricComputationError('no metrics returned matched known pods');
  const averageMilli = Math.trunc(total / n);
  if (target.type === 'Utilization') {
    if (requested === 0) throw new MetricComputationError('no metrics returned matched known pods');
    const utilization = Math.trunc((total * 100) / requested);
    return { ratio: utilization / target.averageUtilization, utilization, averageMilli };
  }
  return { ratio: total / n / target.averageMilli, averageMilli };
}

function isWithin(ratio: number, t: Tolerances): boolean {
  return ratio >= 1 - t.down && ratio <= 1 + t.up;
}

/**
 * The replica count one resource metric proposes. Throws MetricComputationError when there are no
 * pods, no usable samples, or a container without a request (Utilization targets).
 */
export function calculateResourceReplicas(input: ResourceReplicaInput): ResourceReplicaResult {
  const { currentReplicas, resource, target, pods, tolerances, now } = input;
  if (pods.length === 0) throw new MetricComputationError('no pods returned by selector while calculating replica count');
  const groups = groupPods(pods, input.samples, resource, now);
  const names = new Set(pods.map((p) => p.metadata.name ?? ''));
  const samples = new Map<string, number>();
  for (const [name, s] of input.samples) if (names.has(name) && !groups.ignored.has(name) && !groups.unready.has(name)) samples.set(name, s.value);
  if (samples.size === 0) throw new MetricComputationError('did not receive metrics for targeted pods (pods might be unready)');
  // AverageValue targets need no requests: every pod "requests" 1 so that every sample counts.
  const requests = target.type === 'Utilization' ? podRequests(pods, resource) : new Map(pods.map((p) => [p.metadata.name ?? '', 1]));
  const first = usageRatio(samples, requests, target);
  const result = (replicas: number): ResourceReplicaResult => ({ replicas, averageMilli: first.averageMilli, ...(first.utilization !== undefined ? { utilization: first.utilization } : {}) });
  const scaleUpWithUnready = groups.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && groups.missing.size === 0) {
    if (isWithin(first.ratio, tolerances)) return result(currentReplicas);
    return result(Math.ceil(first.ratio * samples.size));
  }
  // Assume the least helpful usage for pods we know nothing about.
  if (groups.missing.size > 0) {
    for (const name of groups.missing) {
      if (first.ratio < 1) {
        samples.set(name, target.type === 'Utilization' ? Math.trunc(((requests.get(name) ?? 0) * Math.max(100, target.averageUtilization)) / 100) : target.averageMilli);
      } else if (first.ratio > 1) samples.set(name, 0);
    }
  }
  if (scaleUpWithUnready) for (const name of groups.unready) samples.set(name, 0);
  const next = usageRatio(samples, requests, target);
  if (isWithin(next.ratio, tolerances) || (first.ratio < 1 && next.ratio > 1) || (first.ratio > 1 && next.ratio < 1)) return result(currentReplicas);
  const replicas = Math.ceil(next.ratio * samples.size);
  if ((next.ratio < 1 && replicas > currentReplicas) || (next.ratio > 1 && replicas < currentReplicas)) return result(currentReplicas);
  return result(replicas);
}
