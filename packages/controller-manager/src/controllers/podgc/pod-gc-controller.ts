/**
 * The pod garbage collector: deletes terminated pods beyond a threshold (oldest first), pods bound
 * to nodes that no longer exist, and terminating pods that were never scheduled.
 */
import { isNotFound, type KubeObject } from '@flotilla/api';
import { res, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import type { PodView } from '../../pod-utils.js';

const PODS = res('pods');
const NODES = res('nodes');
/** How long a node must be missing before its pods are collected (informers may lag); Kubernetes' quarantineTime. */
export const ORPHAN_QUARANTINE_MS = 40_000;

/** Kubernetes' byEvictionAndCreationTimestamp: evicted pods first, then oldest, then by name. */
function collectOrder(a: PodView, b: PodView): number {
  const evicted = (p: PodView) => p.status?.phase === 'Failed' && (p.status as { reason?: string }).reason === 'Evicted';
  if (evicted(a) !== evicted(b)) return evicted(a) ? -1 : 1;
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  return ta - tb || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

/** Periodically collects pods nobody will finish. */
export class PodGcController implements Controller {
  readonly name = 'pod-garbage-collector';
  private readonly pods: SharedInformer<PodView>;
  private readonly nodes: SharedInformer<KubeObject>;
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.nodes = ctx.informers.informerFor<KubeObject>(NODES);
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.pods.waitForSync(signal), this.nodes.waitForSync(signal)]);
    while (!signal.aborted) {
      const started = performance.now();
      let failed = false;
      try {
        await this.gc();
      } catch (err) {
        failed = true;
        this.ctx.logger.warn({ err }, 'pod gc failed');
      }
      this.ctx.observer?.synced(this.name, (performance.now() - started) / 1000, failed);
      try {
        await this.ctx.clock.sleep(5_000, signal);
      } catch {
        return;
      }
    }
  }

  private async deletePod(p: PodView, force: boolean): Promise<void> {
    try {
      await this.ctx.client.delete(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '', { ...(force ? { gracePeriodSeconds: 0 } : {}), preconditions: { uid: p.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err) && (err as { code?: number }).code !== 409) throw err;
    }
  }

  /** One collection pass. */
  async gc(): Promise<void> {
    const pods = this.pods.lister.list() as PodView[];
    // Terminated pods beyond the threshold (a threshold <= 0 disables this), evicted and oldest first, force-deleted as in Kubernetes.
    const threshold = this.ctx.options.terminatedPodGcThreshold;
    const terminated = pods.filter((p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed');
    const extra = terminated.length - threshold;
    if (threshold > 0 && extra > 0) {
      terminated.sort(collectOrder);
      for (const p of terminated.slice(0, extra)) await this.deletePod(p, true);
    }
    // Pods on nodes that are gone.
    const now = this.ctx.clock.now();
    const nodeNames = new Set(this.nodes.lister.list().map((n) => n.metadata.name));
    for (const p of pods) {
      const node = p.spec?.nodeName;
      if (!node) {
        if (p.metadata.deletionTimestamp) await this.deletePod(p, true);
        continue;
      }
      if (nodeNames.has(node)) {
        this.missingSince.delete(node);
        continue;
      }
      const since = this.missingSince.get(node) ?? now;
      this.missingSince.set(node, since);
      if (now - since >= ORPHAN_QUARANTINE_MS) await this.deletePod(p, true);
    }
  }
}
