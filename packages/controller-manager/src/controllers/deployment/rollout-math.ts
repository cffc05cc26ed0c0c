/**
 * The arithmetic of Deployment rollouts, as Kubernetes' deployment controller does it: surge and
 * unavailability budgets from ints or percentages, how far the new ReplicaSet may scale up, how
 * many old pods may go, the pod-template hash, revisions and the status/conditions
 * `kubectl rollout status` reads.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Condition, KubeObject, LabelSelectorObject } from '@flotilla/api';

/** `deployment.kubernetes.io/revision`. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** `deployment.kubernetes.io/desired-replicas`. */
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
/** `deployment.kubernetes.io/max-replicas`. */
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
/** `deployment.kubernetes.io/revision-history`. */
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
/** The label that ties pods to their ReplicaSet's template. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** The Deployment fields rollouts read. */
export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector: LabelSelectorObject;
    template: PodTemplate;
    strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
  };
  status?: DeploymentStatus;
}

/** A pod template. */
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

/** Deployment status. */
export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  terminatingReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
}

/** The ReplicaSet fields rollouts read. */
export interface ReplicaSet extends KubeObject {
  spec: { replicas?: number; selector: LabelSelectorObject; template: PodTemplate; minReadySeconds?: number };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; fullyLabeledReplicas?: number; observedGeneration?: number };
}

/**
 * Resolves an int-or-percent against `total` (`GetScaledValueFromIntOrPercent`): percentages round
 * up for surge and down for unavailability. Throws on a malformed value.
 */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    if (/^\d+$/.test(v)) return Number(v);
    throw new Error(`invalid value for IntOrString: invalid value "${v}"`);
  }
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** maxSurge and maxUnavailable as pod counts for `desired` replicas (never both zero). */
export function resolveFenceposts(maxSurge: number | string | undefined, maxUnavailable: number | string | undefined, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

function isRolling(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** Pods that may be unavailable during the rollout (0 for Recreate or zero replicas). */
export function maxUnavailable(d: Deployment): number {
  const replicas = d.spec.replicas ?? 1;
  if (!isRolling(d) || replicas === 0) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  const { unavailable } = resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, replicas);
  return Math.min(unavailable, replicas);
}

/** Pods that may exist above the desired count (0 for Recreate). */
export function maxSurge(d: Deployment): number {
  if (!isRolling(d)) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, d.spec.replicas ?? 1).surge;
}

/** Sum of spec.replicas. */
export function specReplicas(rss: readonly ReplicaSet[]): number {
  return rss.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
}

/** Sum of status.replicas. */
export function actualReplicas(rss: readonly ReplicaSet[]): number {
  return rss.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
}

/** Sum of status.readyReplicas. */
export function readyReplicas(rss: readonly ReplicaSet[]): number {
  return rss.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0);
}

/**
 * A ReplicaSet's available replicas as far as a rollout may rely on them: never more than its
 * spec (a ReplicaSet just scaled down still reports the pods it is about to delete).
 */
export function availableOf(rs: ReplicaSet): number {
  return Math.min(rs.status?.availableReplicas ?? 0, rs.spec.replicas ?? 0);
}

/** Sum of available replicas (availableOf). */
export function availableReplicas(rss: readonly ReplicaSet[]): number {
  return rss.reduce((n, rs) => n + availableOf(rs), 0);
}

/** The new ReplicaSet's target size this step (`NewRSNewReplicas`). */
export function newRsNewReplicas(d: Deployment, allRss: readonly ReplicaSet[], newRs: ReplicaSet): number {
  const replicas = d.spec.replicas ?? 1;
  if (!isRolling(d)) return replicas;
  const current = specReplicas(allRss);
  const maxTotal = replicas + maxSurge(d);
  const newReplicas = newRs.spec.replicas ?? 0;
  if (current >= maxTotal) return newReplicas;
  const up = Math.min(maxTotal - current, Math.max(0, replicas - newReplicas));
  return newReplicas + up;
}

/** Oldest first, then by name (`ReplicaSetsByCreationTimestamp`). */
export function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/**
 * How old ReplicaSets scale down this step (`reconcileOldReplicaSets`): first unhealthy replicas,
 * then available ones while availability stays >= replicas - maxUnavailable. Returns the new sizes
 * by ReplicaSet name (only those that change).
 */
export function scaleDownOld(d: Deployment, oldRss: readonly ReplicaSet[], newRs: ReplicaSet): Map<string, number> {
  const result = new Map<string, number>();
  const oldCount = specReplicas(oldRss);
  if (oldCount === 0) return result;
  const sizes = new Map(oldRss.map((rs) => [rs.metadata.name!, rs.spec.replicas ?? 0]));
  const allCount = oldCount + (newRs.spec.replicas ?? 0);
  const minAvailable = (d.spec.replicas ?? 1) - maxUnavailable(d);
  const newUnavailable = (newRs.spec.replicas ?? 0) - availableOf(newRs);
  const maxScaledDown = allCount - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return result;
  const sorted = [...oldRss].sort(byCreation);
  // Unhealthy replicas first: they do not count towards availability.
  let cleaned = 0;
  for (const rs of sorted) {
    if (cleaned >= maxScaledDown) break;
    const replicas = sizes.get(rs.metadata.name!)!;
    const available = availableOf(rs);
    if (replicas === 0 || replicas <= available) continue;
    const down = Math.min(maxScaledDown - cleaned, replicas - available);
    sizes.set(rs.metadata.name!, replicas - down);
    cleaned += down;
  }
  // Then available ones, as long as minAvailable holds.
  const availableNow = availableReplicas([...oldRss, newRs]);
  if (availableNow > minAvailable) {
    let total = availableNow - minAvailable;
    for (const rs of sorted) {
      if (total <= 0) break;
      const replicas = sizes.get(rs.metadata.name!)!;
      if (replicas === 0) continue;
      const down = Math.min(replicas, total);
      sizes.set(rs.metadata.name!, replicas - down);
      total -= down;
    }
  }
  for (const rs of oldRss) {
    const s = sizes.get(rs.metadata.name!)!;
    if (s !== (rs.spec.replicas ?? 0)) result.set(rs.metadata.name!, s);
  }
  return result;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Kubernetes' `rand.SafeEncodeString`: maps each character onto a vowel-free alphanumeric alphabet. */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** Deterministic JSON with sorted keys. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** The pod-template-hash of a template (FNV-1a of its canonical JSON and the collision count). */
export function computeTemplateHash(template: PodTemplate, collisionCount?: number): string {
  const withoutHash = structuredClone(template);
  if (withoutHash.metadata?.labels) delete withoutHash.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  let text = canonicalJson(withoutHash);
  if (collisionCount !== undefined && collisionCount > 0) text += `#${collisionCount}`;
  return safeEncode(String(fnv32a(text)));
}

/** True when two templates are equal ignoring the pod-template-hash label (`EqualIgnoreHash`). */
export function equalIgnoreHash(a: PodTemplate, b: PodTemplate): boolean {
  const x = structuredClone(a);
  const y = structuredClone(b);
  if (x.metadata?.labels) delete x.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  if (y.metadata?.labels) delete y.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  if (x.metadata?.labels && Object.keys(x.metadata.labels).length === 0) delete x.metadata.labels;
  if (y.metadata?.labels && Object.keys(y.metadata.labels).length === 0) delete y.metadata.labels;
  return isDeepStrictEqual(JSON.parse(canonicalJson(x)), JSON.parse(canonicalJson(y)));
}

/** Deployment annotations never copied to its ReplicaSets (Kubernetes' annotationsToSkip). */
const NOT_COPIED: ReadonlySet<string> = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);
/** Kubernetes' bound on the revision-history annotation. */
const REVISION_HISTORY_MAX_CHARS = 2000;

/**
 * The annotations of the Deployment's new ReplicaSet, from its `current` ones (Kubernetes'
 * SetNewReplicaSetAnnotations): the Deployment's own annotations are copied over (so `kubectl
 * rollout history` shows kubernetes.io/change-cause), none is removed, and the revision is set; a
 * ReplicaSet that gets a newer revision (a rollback to it) keeps its earlier ones in
 * `deployment.kubernetes.io/revision-history`.
 */
export function newRsAnnotations(d: Pick<Deployment, 'metadata'>, current: Readonly<Record<string, string>>, revision: string): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!NOT_COPIED.has(k)) out[k] = v;
  const old = current[REVISION_ANNOTATION];
  if (old !== undefined && old !== revision && Number(old) < Number(revision)) {
    const history = (current[REVISION_HISTORY_ANNOTATION] ?? '').split(',').filter((x) => x !== '');
    history.push(old);
    while (history.join(',').length > REVISION_HISTORY_MAX_CHARS) history.shift();
    out[REVISION_HISTORY_ANNOTATION] = history.join(',');
  }
  out[REVISION_ANNOTATION] = revision;
  return out;
}

/** A ReplicaSet's revision annotation as a number (0 when absent). */
export function revisionOf(obj: KubeObject): number {
  const v = obj.metadata.annotations?.[REVISION_ANNOTATION];
  const n = v === undefined ? 0 : Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** The highest revision among ReplicaSets. */
export function maxRevision(rss: readonly ReplicaSet[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** True when the rollout is complete (`DeploymentComplete`). */
export function isComplete(d: Deployment, status: DeploymentStatus): boolean {
  const replicas = d.spec.replicas ?? 1;
  return (status.updatedReplicas ?? 0) === replicas && (status.replicas ?? 0) === replicas && (status.availableReplicas ?? 0) === replicas && (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** True when the new status shows progress over the old one (`DeploymentProgressing`). */
export function isProgressing(d: Deployment, next: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldStale = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newStale = (next.replicas ?? 0) - (next.updatedReplicas ?? 0);
  return (next.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newStale < oldStale || (next.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (next.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
}

/** Replaces (or adds) a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(conditions: Condition[], c: Condition): Condition[] {
  const existing = conditions.find((x) => x.type === c.type);
  if (existing && existing.status === c.status && existing.reason === c.reason) {
    // Same state: only the message and update time move (lastTransitionTime stays).
    const merged = { ...existing, message: c.message ?? existing.message };
    if (c.lastUpdateTime) merged.lastUpdateTime = c.lastUpdateTime;
    return conditions.map((x) => (x.type === c.type ? merged : x));
  }
  const next = existing && existing.status === c.status ? { ...c, lastTransitionTime: existing.lastTransitionTime ?? c.lastTransitionTime } : c;
  return [...conditions.filter((x) => x.type !== c.type), next];
}

/** Reads a condition. */
export function getCondition(status: DeploymentStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * How much a ReplicaSet's size changes in a proportional scaling step (`GetProportion`): its size
 * scaled by the Deployment's new maximum over the maximum it was last sized for (the max-replicas
 * annotation), within what is left to add (`toAdd - added`, either sign).
 */
export function replicaSetProportion(d: Deployment, rs: ReplicaSet, toAdd: number, added: number): number {
  const size = rs.spec.replicas ?? 0;
  if (size === 0 || toAdd === 0 || toAdd === added) return 0;
  const replicas = d.spec.replicas ?? 1;
  let fraction: number;
  if (replicas === 0) fraction = -size;
  else {
    const annotated = rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION];
    const before = annotated === undefined ? NaN : Number(annotated);
    // Without the annotation there is nothing to scale from: leftovers go to the largest.
    fraction = !Number.isInteger(before) || before <= 0 ? 0 : Math.floor((size * (replicas + maxSurge(d))) / before + 0.5) - size;
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** Largest first; ties newest first when scaling up (`ReplicaSetsBySizeNewer`), oldest first when down (`ReplicaSetsBySizeOlder`). */
export function bySize(newerFirst: boolean): (a: ReplicaSet, b: ReplicaSet) => number {
  return (a, b) => {
    const d = (b.spec.replicas ?? 0) - (a.spec.replicas ?? 0);
    if (d !== 0) return d;
    return newerFirst ? byCreation(b, a) : byCreation(a, b);
  };
}
