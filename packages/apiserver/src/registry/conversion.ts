/**
 * Versions a stored resource is also served at (ALTERNATE_VERSIONS): how an object converts
 * between the stored version and the served one, as Kubernetes converts them:
 * - autoscaling/v1 HorizontalPodAutoscaler over the stored autoscaling/v2: the CPU utilization
 *   target and current value map to v1 fields, and what v1 cannot express (other metrics, behavior,
 *   conditions, other current metrics) rides in `autoscaling.alpha.kubernetes.io/*` annotations, so a
 *   v1 read-modify-write loses nothing;
 * - events.k8s.io/v1 Event over the stored core/v1 Event: the same data under other field names.
 */
import { groupVersionOf, type KubeObject, type ResourceInfo } from '@flotilla/api';
import type { CodecFactory, FieldValidation } from './codec.js';
import { decodeObject } from './generic-store.js';

/** One served version of a stored resource. */
export interface VersionConversion {
  /** The served resource (group, version, kinds). */
  readonly served: ResourceInfo;
  /** The stored resource's group and plural (another group for events.k8s.io Events). */
  readonly stored: { group: string; plural: string };
  /** Field selector labels of the served version that the stored one names differently. */
  readonly fieldLabels?: Readonly<Record<string, string>>;
  /** Schema definition of the served kind (decoding, patch strategies). */
  readonly definitionName: string;
  /** Served version to stored version (the object is not modified). */
  toStored(obj: KubeObject): KubeObject;
  /** Stored version to served version (the object is not modified). */
  fromStored(obj: KubeObject): KubeObject;
}

const METRICS = 'autoscaling.alpha.kubernetes.io/metrics';
const CURRENT_METRICS = 'autoscaling.alpha.kubernetes.io/current-metrics';
const CONDITIONS = 'autoscaling.alpha.kubernetes.io/conditions';
const BEHAVIOR = 'autoscaling.alpha.kubernetes.io/behavior';
const HPA_ANNOTATIONS = [METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR];
/** v1's default when no metric is given (the HPA controller scales on 80% CPU). */
const DEFAULT_CPU_UTILIZATION = 80;

type Json = Record<string, unknown>;

interface Target {
  type?: string;
  value?: string;
  averageValue?: string;
  averageUtilization?: number;
}
interface Current {
  value?: string;
  averageValue?: string;
  averageUtilization?: number;
}
interface MetricIdentifier {
  name?: string;
  selector?: Json;
}

const isCpuUtilization = (m: Json): boolean => {
  const r = m['resource'] as { name?: string; target?: Target } | undefined;
  return m['type'] === 'Resource' && r?.name === 'cpu' && r.target?.type === 'Utilization' && r.target.averageUtilization !== undefined;
};
const isCpuCurrent = (m: Json): boolean => {
  const r = m['resource'] as { name?: string; current?: Current } | undefined;
  return m['type'] === 'Resource' && r?.name === 'cpu' && r.current?.averageUtilization !== undefined;
};

/** A v2 metric identifier from v1's metricName/selector pair. */
function identifier(name: unknown, selector: unknown): MetricIdentifier {
  return { name: name as string, ...(selector ? { selector: selector as Json } : {}) };
}

/** autoscaling/v2 MetricSpec → autoscaling/v1 MetricSpec (the annotation form). */
function metricToV1(m: Json): Json {
  const type = m['type'] as string;
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = m[key] as { name: string; container?: string; target: Target };
      return { type, [key]: { name: r.name, ...(r.container !== undefined ? { container: r.container } : {}), ...(r.target.averageUtilization !== undefined ? { targetAverageUtilization: r.target.averageUtilization } : {}), ...(r.target.averageValue !== undefined ? { targetAverageValue: r.target.averageValue } : {}) } };
    }
    case 'Pods': {
      const p = m['pods'] as { metric: MetricIdentifier; target: Target };
      return { type, pods: { metricName: p.metric.name, targetAverageValue: p.target.averageValue ?? '0', ...(p.metric.selector ? { selector: p.metric.selector } : {}) } };
    }
    case 'Object': {
      const o = m['object'] as { describedObject: Json; metric: MetricIdentifier; target: Target };
      return { type, object: { target: o.describedObject, metricName: o.metric.name, targetValue: o.target.value ?? '0', ...(o.metric.selector ? { selector: o.metric.selector } : {}), ...(o.target.averageValue !== undefined ? { averageValue: o.target.averageValue } : {}) } };
    }
    case 'External': {
      const e = m['external'] as { metric: MetricIdentifier; target: Target };
      return { type, external: { metricName: e.metric.name, ...(e.metric.selector ? { metricSelector: e.metric.selector } : {}), ...(e.target.value !== undefined ? { targetValue: e.target.value } : {}), ...(e.target.averageValue !== undefined ? { targetAverageValue: e.target.averageValue } : {}) } };
    }
    default:
      return m;
  }
}

/** autoscaling/v1 MetricSpec (annotation form) → autoscaling/v2 MetricSpec. */
function metricToV2(m: Json): Json {
  const type = m['type'] as string;
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = m[key] as { name: string; container?: string; targetAverageUtilization?: number; targetAverageValue?: string };
      const target: Target = r.targetAverageUtilization !== undefined ? { type: 'Utilization', averageUtilization: r.targetAverageUtilization } : { type: 'AverageValue', ...(r.targetAverageValue !== undefined ? { averageValue: r.targetAverageValue } : {}) };
      return { type, [key]: { name: r.name, ...(r.container !== undefined ? { container: r.container } : {}), target } };
    }
    case 'Pods': {
      const p = m['pods'] as { metricName: string; targetAverageValue: string; selector?: Json };
      return { type, pods: { metric: identifier(p.metricName, p.selector), target: { type: 'AverageValue', averageValue: p.targetAverageValue } } };
    }
    case 'Object': {
      const o = m['object'] as { target: Json; metricName: string; targetValue?: string; selector?: Json; averageValue?: string };
      const target: Target = o.averageValue === undefined ? { type: 'Value', ...(o.targetValue !== undefined ? { value: o.targetValue } : {}) } : { type: 'AverageValue', averageValue: o.averageValue, ...(o.targetValue !== undefined ? { value: o.targetValue } : {}) };
      return { type, object: { describedObject: o.target, metric: identifier(o.metricName, o.selector), target } };
    }
    case 'External': {
      const e = m['external'] as { metricName: string; metricSelector?: Json; targetValue?: string; targetAverageValue?: string };
      const target: Target = e.targetValue !== undefined ? { type: 'Value', value: e.targetValue } : { type: 'AverageValue', ...(e.targetAverageValue !== undefined ? { averageValue: e.targetAverageValue } : {}) };
      return { type, external: { metric: identifier(e.metricName, e.metricSelector), target } };
    }
    default:
      return m;
  }
}

/** autoscaling/v2 MetricStatus → autoscaling/v1 MetricStatus (annotation form). */
function currentToV1(m: Json): Json {
  const type = m['type'] as string;
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = m[key] as { name: string; container?: string; current?: Current };
      return { type, [key]: { name: r.name, ...(r.container !== undefined ? { container: r.container } : {}), ...(r.current?.averageUtilization !== undefined ? { currentAverageUtilization: r.current.averageUtilization } : {}), currentAverageValue: r.current?.averageValue ?? '0' } };
    }
    case 'Pods': {
      const p = m['pods'] as { metric: MetricIdentifier; current?: Current };
      return { type, pods: { metricName: p.metric.name, currentAverageValue: p.current?.averageValue ?? '0', ...(p.metric.selector ? { selector: p.metric.selector } : {}) } };
    }
    case 'Object': {
      const o = m['object'] as { describedObject: Json; metric: MetricIdentifier; current?: Current };
      return { type, object: { target: o.describedObject, metricName: o.metric.name, currentValue: o.current?.value ?? '0', ...(o.metric.selector ? { selector: o.metric.selector } : {}), ...(o.current?.averageValue !== undefined ? { averageValue: o.current.averageValue } : {}) } };
    }
    case 'External': {
      const e = m['external'] as { metric: MetricIdentifier; current?: Current };
      return { type, external: { metricName: e.metric.name, ...(e.metric.selector ? { metricSelector: e.metric.selector } : {}), currentValue: e.current?.value ?? '0', ...(e.current?.averageValue !== undefined ? { currentAverageValue: e.current.averageValue } : {}) } };
    }
    default:
      return m;
  }
}

/** autoscaling/v1 MetricStatus (annotation form) → autoscaling/v2 MetricStatus. */
function currentToV2(m: Json): Json {
  const type = m['type'] as string;
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const key = type === 'Resource' ? 'resource' : 'containerResource';
      const r = m[key] as { name: string; container?: string; currentAverageUtilization?: number; currentAverageValue?: string };
      return { type, [key]: { name: r.name, ...(r.container !== undefined ? { container: r.container } : {}), current: { ...(r.currentAverageUtilization !== undefined ? { averageUtilization: r.currentAverageUtilization } : {}), ...(r.currentAverageValue !== undefined ? { averageValue: r.currentAverageValue } : {}) } } };
    }
    case 'Pods': {
      const p = m['pods'] as { metricName: string; currentAverageValue?: string; selector?: Json };
      return { type, pods: { metric: identifier(p.metricName, p.selector), current: { ...(p.currentAverageValue !== undefined ? { averageValue: p.currentAverageValue } : {}) } } };
    }
    case 'Object': {
      const o = m['object'] as { target: Json; metricName: string; currentValue?: string; selector?: Json; averageValue?: string };
      return { type, object: { describedObject: o.target, metric: identifier(o.metricName, o.selector), current: { ...(o.currentValue !== undefined ? { value: o.currentValue } : {}), ...(o.averageValue !== undefined ? { averageValue: o.averageValue } : {}) } } };
    }
    case 'External': {
      const e = m['external'] as { metricName: string; metricSelector?: Json; currentValue?: string; currentAverageValue?: string };
      return { type, external: { metric: identifier(e.metricName, e.metricSelector), current: { ...(e.currentValue !== undefined ? { value: e.currentValue } : {}), ...(e.currentAverageValue !== undefined ? { averageValue: e.currentAverageValue } : {}) } } };
    }
    default:
      return m;
  }
}

/** Reads a JSON annotation; a malformed one is ignored (as Kubernetes does). */
function annotationJson(annotations: Record<string, string>, key: string): unknown {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function withAnnotations(meta: KubeObject['metadata'], annotations: Record<string, string>): KubeObject['metadata'] {
  const out = { ...meta };
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  else delete out.annotations;
  return out;
}

/** autoscaling/v2 → autoscaling/v1. */
export function hpaV2ToV1(obj: KubeObject): KubeObject {
  const spec = (obj['spec'] ?? {}) as Json;
  const status = obj['status'] as Json | undefined;
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  for (const k of HPA_ANNOTATIONS) delete annotations[k];
  const metrics = (spec['metrics'] ?? []) as Json[];
  const cpu = metrics.find(isCpuUtilization);
  const others = metrics.filter((m) => m !== cpu);
  if (others.length > 0) annotations[METRICS] = JSON.stringify(others.map(metricToV1));
  if (spec['behavior'] !== undefined) annotations[BEHAVIOR] = JSON.stringify(spec['behavior']);
  const v1Spec: Json = { scaleTargetRef: spec['scaleTargetRef'], ...(spec['minReplicas'] !== undefined ? { minReplicas: spec['minReplicas'] } : {}), maxReplicas: spec['maxReplicas'] };
  if (cpu) v1Spec['targetCPUUtilizationPercentage'] = (cpu['resource'] as { target: Target }).target.averageUtilization;
  const out: KubeObject = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: obj.metadata, spec: v1Spec };
  if (status) {
    const current = (status['currentMetrics'] ?? []) as Json[];
    const cpuNow = current.find(isCpuCurrent);
    const otherNow = current.filter((m) => m !== cpuNow);
    if (otherNow.length > 0) annotations[CURRENT_METRICS] = JSON.stringify(otherNow.map(currentToV1));
    const conditions = status['conditions'] as unknown[] | undefined;
    if (conditions && conditions.length > 0) annotations[CONDITIONS] = JSON.stringify(conditions);
    const v1Status: Json = {};
    for (const k of ['observedGeneration', 'lastScaleTime']) if (status[k] !== undefined) v1Status[k] = status[k];
    v1Status['currentReplicas'] = status['currentReplicas'] ?? 0;
    v1Status['desiredReplicas'] = status['desiredReplicas'] ?? 0;
    if (cpuNow) v1Status['currentCPUUtilizationPercentage'] = (cpuNow['resource'] as { current: Current }).current.averageUtilization;
    out['status'] = v1Status;
  }
  out.metadata = withAnnotations(obj.metadata, annotations);
  return out;
}

/** autoscaling/v1 → autoscaling/v2. */
export function hpaV1ToV2(obj: KubeObject): KubeObject {
  const spec = (obj['spec'] ?? {}) as Json;
  const status = obj['status'] as Json | undefined;
  const source = obj.metadata.annotations ?? {};
  const annotations = { ...source };
  for (const k of HPA_ANNOTATIONS) delete annotations[k];
  const metrics: Json[] = [];
  const cpu = spec['targetCPUUtilizationPercentage'] as number | undefined;
  const others = annotationJson(source, METRICS);
  if (cpu !== undefined) metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } });
  if (Array.isArray(others)) metrics.push(...(others as Json[]).map(metricToV2));
  // v1 without any metric means 80% CPU; v2 makes that explicit (as Kubernetes' conversion does).
  if (metrics.length === 0) metrics.push({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } });
  const v2Spec: Json = { scaleTargetRef: spec['scaleTargetRef'], ...(spec['minReplicas'] !== undefined ? { minReplicas: spec['minReplicas'] } : {}), maxReplicas: spec['maxReplicas'], metrics };
  const behavior = annotationJson(source, BEHAVIOR);
  if (behavior && typeof behavior === 'object') v2Spec['behavior'] = behavior;
  const out: KubeObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: withAnnotations(obj.metadata, annotations), spec: v2Spec };
  if (status) {
    const v2Status: Json = {};
    for (const k of ['observedGeneration', 'lastScaleTime', 'currentReplicas', 'desiredReplicas']) if (status[k] !== undefined) v2Status[k] = status[k];
    const current: Json[] = [];
    const cpuNow = status['currentCPUUtilizationPercentage'] as number | undefined;
    if (cpuNow !== undefined) current.push({ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: cpuNow } } });
    const otherNow = annotationJson(source, CURRENT_METRICS);
    if (Array.isArray(otherNow)) current.push(...(otherNow as Json[]).map(currentToV2));
    if (current.length > 0) v2Status['currentMetrics'] = current;
    const conditions = annotationJson(source, CONDITIONS);
    if (Array.isArray(conditions) && conditions.length > 0) v2Status['conditions'] = conditions;
    out['status'] = v2Status;
  }
  return out;
}

/** A served version with a decoder of its kind. */
export interface ServedVersion extends VersionConversion {
  /** Decodes a request body of the served kind (type meta, schema, fieldValidation). */
  decode(body: unknown, fieldValidation: FieldValidation, warnings: string[]): KubeObject;
}

/** core/v1 Event fields and their events.k8s.io/v1 names (the rest are the same). */
const EVENT_RENAMES: readonly (readonly [string, string])[] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];
const EVENT_FIELDS = ['eventTime', 'series', 'reportingInstance', 'action', 'reason', 'related', 'type'];

function renameEvent(obj: KubeObject, apiVersion: string, renames: readonly (readonly [string, string])[]): KubeObject {
  const out: KubeObject = { apiVersion, kind: 'Event', metadata: obj.metadata };
  for (const [from, to] of renames) if (obj[from] !== undefined && obj[from] !== null) out[to] = obj[from];
  for (const f of EVENT_FIELDS) if (obj[f] !== undefined && obj[f] !== null) out[f] = obj[f];
  return out;
}

/** core/v1 Event → events.k8s.io/v1 Event. */
export function eventCoreToV1(obj: KubeObject): KubeObject {
  return renameEvent(obj, 'events.k8s.io/v1', EVENT_RENAMES);
}

/** events.k8s.io/v1 Event → core/v1 Event. */
export function eventV1ToCore(obj: KubeObject): KubeObject {
  return renameEvent(obj, 'v1', EVENT_RENAMES.map(([a, b]) => [b, a] as const));
}

/** The conversion of a served version (throws for a version nobody taught us). */
export function conversionOf(r: ResourceInfo): VersionConversion {
  if (r.group === 'autoscaling' && r.version === 'v1' && r.plural === 'horizontalpodautoscalers') {
    return { served: r, stored: { group: 'autoscaling', plural: r.plural }, definitionName: 'io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler', toStored: hpaV1ToV2, fromStored: hpaV2ToV1 };
  }
  if (r.group === 'events.k8s.io' && r.version === 'v1' && r.plural === 'events') {
    const fieldLabels = { 'regarding.kind': 'involvedObject.kind', 'regarding.namespace': 'involvedObject.namespace', 'regarding.name': 'involvedObject.name', 'regarding.uid': 'involvedObject.uid', 'regarding.apiVersion': 'involvedObject.apiVersion', 'regarding.resourceVersion': 'involvedObject.resourceVersion', 'regarding.fieldPath': 'involvedObject.fieldPath', reportingController: 'reportingComponent', 'deprecatedSource.component': 'source' };
    return { served: r, stored: { group: '', plural: 'events' }, fieldLabels, definitionName: 'io.k8s.api.events.v1.Event', toStored: eventV1ToCore, fromStored: eventCoreToV1 };
  }
  throw new Error(`no conversion for ${groupVersionOf(r)} ${r.plural}`);
}

/** Served versions by `group/version/plural`, decoding with `codecs`. */
export function servedVersions(served: readonly ResourceInfo[], codecs: CodecFactory): Map<string, ServedVersion> {
  const out = new Map<string, ServedVersion>();
  for (const r of served) {
    const c = conversionOf(r);
    const codec = codecs(c.definitionName);
    out.set(`${r.group}/${r.version}/${r.plural}`, { ...c, decode: (body, fv, warnings) => decodeObject(codec, r, body, fv, warnings) });
  }
  return out;
}
