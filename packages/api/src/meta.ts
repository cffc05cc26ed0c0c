/**
 * Object metadata and the generic object shapes every kind shares (meta/v1).
 */

/** `metav1.OwnerReference`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** `metav1.ManagedFieldsEntry` (server-side apply bookkeeping). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** `metav1.ObjectMeta`. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

/** `metav1.ListMeta`. */
export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Any Kubernetes object. `spec`/`status` are kind-specific. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A `<Kind>List`. */
export interface KubeList<T extends KubeObject = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: ListMeta;
  items: T[];
}

/** The type of a watch event on the wire. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One event of a watch stream. For ERROR the object is a Status. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

/** `metav1.Condition`-like shape shared by most status conditions. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastProbeTime?: string | null;
  lastHeartbeatTime?: string;
  observedGeneration?: number;
}

/**
 * Sets a condition as apimachinery's SetStatusCondition does: reason, message and
 * observedGeneration are the new ones; lastTransitionTime moves only when the status flips.
 */
export function setStatusCondition(conditions: readonly Condition[] | undefined, c: Condition, now: string): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  if (i < 0) {
    list.push({ ...c, lastTransitionTime: c.lastTransitionTime ?? now });
    return list;
  }
  const existing = list[i]!;
  list[i] = { ...c, lastTransitionTime: existing.status !== c.status || !existing.lastTransitionTime ? (c.lastTransitionTime ?? now) : existing.lastTransitionTime };
  return list;
}

/** The namespace/name key of an object (`ns/name`, or `name` for cluster-scoped), as informers use. */
export function objectKey(obj: { metadata: Pick<ObjectMeta, 'namespace' | 'name'> }): string {
  const ns = obj.metadata.namespace;
  return ns ? `${ns}/${obj.metadata.name ?? ''}` : obj.metadata.name ?? '';
}

/** Splits a key made by {@link objectKey}. */
export function splitObjectKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The owner reference with `controller: true`, if any. */
export function getControllerOf(obj: { metadata: ObjectMeta }): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/**
 * `Date.prototype.toISOString()` of a time in milliseconds since the epoch (`2026-11-30T15:00:00.123Z`),
 * computed with calendar arithmetic for years 0–9999. V8 sets up its time-zone cache for
 * toISOString, which maps ICU's zone data (~1 MiB of resident pages) into a process that only ever
 * writes UTC; the node agent keeps that out. Throws RangeError for an invalid time, as toISOString does.
 */
export function formatIsoTime(ms: number): string {
  if (!(ms >= MIN_FAST_MS && ms < MAX_FAST_MS)) return new Date(ms).toISOString();
  const msOfDay = ((ms % DAY_MS) + DAY_MS) % DAY_MS;
  const days = (ms - msOfDay) / DAY_MS;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const secs = Math.floor(msOfDay / 1000);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(msOfDay % 1000, 3)}Z`;
}

const DAY_MS = 86_400_000;
/** 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: outside, toISOString writes six-digit years. */
const MIN_FAST_MS = -62_167_219_200_000;
const MAX_FAST_MS = 253_402_300_800_000;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** RFC 3339 with seconds precision in UTC, as Kubernetes writes `metav1.Time`. */
export function formatTime(d: Date): string {
  // Every write stamps the current second; it is formatted once per second.
  const second = Math.floor(d.getTime() / 1000);
  if (second !== lastSecond) {
    lastText = `${formatIsoTime(d.getTime()).slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastText;
}

let lastSecond = Number.NaN;
let lastText = '';

/** RFC 3339 with microseconds in UTC, as Kubernetes writes `metav1.MicroTime`. */
export function formatMicroTime(d: Date): string {
  return `${formatIsoTime(d.getTime()).slice(0, 23)}000Z`;
}

/** Finds a condition by type. */
export function findCondition<C extends { type: string }>(conditions: readonly C[] | undefined, type: string): C | undefined {
  return conditions?.find((c) => c.type === type);
}
