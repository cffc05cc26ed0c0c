/**
 * Helpers shared by the workload controllers: pod readiness and availability, pods from templates,
 * controller references (adopting and releasing), and which pods to delete first.
 */
import { getControllerOf, labelSelectorFromObject, type KubeObject, type LabelSelectorObject, type OwnerReference } from '@flotilla/api';
import type { KubeClient } from '@flotilla/client';
import type { ResourceInfo } from '@flotilla/api';

/** The pod fields controllers read. */
export interface PodView extends KubeObject {
  spec?: { nodeName?: string; restartPolicy?: string; [k: string]: unknown };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    containerStatuses?: { restartCount?: number; ready?: boolean }[];
    startTime?: string;
    podIP?: string;
  };
}

/** A pod template. */
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec?: Record<string, unknown>;
}

/** True for pods that are not finished and not being deleted. */
export function isPodActive(p: PodView): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;
}

/** True when the pod's Ready condition is True. */
export function isPodReady(p: PodView): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** When the pod became ready (ms), if it is. */
export function readySince(p: PodView): number | undefined {
  const c = (p.status?.conditions ?? []).find((x) => x.type === 'Ready' && x.status === 'True');
  return c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : c ? 0 : undefined;
}

/** True when the pod has been ready for at least minReadySeconds. */
export function isPodAvailable(p: PodView, minReadySeconds: number, now: number): boolean {
  const since = readySince(p);
  if (since === undefined) return false;
  return minReadySeconds <= 0 || since + minReadySeconds * 1000 <= now;
}

/** The controller reference to set on children of `owner`. */
export function controllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** A pod (to create) from a template, owned by `ref`. */
export function podFromTemplate(template: PodTemplate, namespace: string, ref: OwnerReference, options: { name?: string; generateName?: string; extraLabels?: Record<string, string> } = {}): KubeObject {
  const meta: KubeObject['metadata'] = {
    namespace,
    labels: { ...(template.metadata?.labels ?? {}), ...(options.extraLabels ?? {}) },
    ownerReferences: [ref],
  };
  if (options.name) meta.name = options.name;
  else meta.generateName = options.generateName ?? `${ref.name}-`;
  if (template.metadata?.annotations) meta.annotations = { ...template.metadata.annotations };
  if (template.metadata?.finalizers) meta.finalizers = [...template.metadata.finalizers];
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: structuredClone(template.spec ?? {}) };
}

/**
 * Claims objects for an owner, like client-go's ControllerRefManager: keeps those it controls that
 * still match the selector, adopts matching orphans, releases controlled ones that no longer match.
 * Returns the objects it controls afterwards.
 */
export async function claimObjects<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceInfo,
  owner: KubeObject,
  ref: OwnerReference,
  selector: LabelSelectorObject | undefined,
  candidates: readonly T[],
): Promise<T[]> {
  const sel = labelSelectorFromObject(selector ?? null);
  const out: T[] = [];
  for (const obj of candidates) {
    const ctl = getControllerOf(obj);
    const matches = sel.matches(obj.metadata.labels);
    if (ctl) {
      if (ctl.uid !== owner.metadata.uid) continue;
      if (matches || owner.metadata.deletionTimestamp) {
        out.push(obj);
        continue;
      }
      // Release: it no longer matches our selector.
      const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      try {
        await client.patch(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '', { metadata: { ownerReferences: refs, uid: obj.metadata.uid } }, 'merge');
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      continue;
    }
    if (!matches || owner.metadata.deletionTimestamp || obj.metadata.deletionTimestamp) continue;
    // Adopt an orphan (only if it is not being deleted).
    try {
      const adopted = await client.patch<T>(resource, obj.metadata.namespace ?? '', obj.metadata.name ?? '', { metadata: { ownerReferences: [...(obj.metadata.ownerReferences ?? []), ref], uid: obj.metadata.uid } }, 'merge');
      out.push(adopted);
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409 && code !== 422) throw err;
    }
  }
  return out;
}

function phaseRank(p: PodView): number {
  switch (p.status?.phase) {
    case 'Pending':
      return 0;
    case 'Running':
      return 2;
    default:
      return 1;
  }
}

function restarts(p: PodView): number {
  return (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
}

/**
 * Orders pods from the first to delete to the last, like Kubernetes' ActivePods: unscheduled before
 * scheduled, pending before unknown before running, not ready before ready, recently ready before
 * long ready, more restarts first, newer before older.
 */
export function deletionOrder(a: PodView, b: PodView): number {
  const sa = a.spec?.nodeName ? 1 : 0;
  const sb = b.spec?.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = phaseRank(a);
  const pb = phaseRank(b);
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a) ? 1 : 0;
  const rb = isPodReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  if (ra === 1) {
    const ta = readySince(a) ?? 0;
    const tb = readySince(b) ?? 0;
    if (ta !== tb) return tb - ta;
  }
  const xa = restarts(a);
  const xb = restarts(b);
  if (xa !== xb) return xb - xa;
  const ca = a.metadata.creationTimestamp ?? '';
  const cb = b.metadata.creationTimestamp ?? '';
  if (ca !== cb) return ca < cb ? 1 : -1;
  return 0;
}

/** Runs `fn` over items in slow-start batches (1, 2, 4, ...), stopping at the first failing batch. */
export async function slowStartBatch<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<{ done: number; error?: unknown }> {
  let done = 0;
  let size = 1;
  while (done < items.length) {
    const batch = items.slice(done, done + size);
    const results = await Promise.allSettled(batch.map(fn));
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    done += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { done, error: failed.reason };
    size *= 2;
  }
  return { done };
}
