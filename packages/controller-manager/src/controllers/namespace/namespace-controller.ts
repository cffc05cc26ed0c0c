/**
 * The namespace controller: when a namespace is being deleted it deletes everything in it, waits
 * until it is all gone, then removes the `kubernetes` finalizer so the API server deletes the
 * namespace itself.
 */
import { isNotFound, isStoredResource, RESOURCES, type KubeObject } from '@flotilla/api';
import { res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';

const NAMESPACES = res('namespaces');

interface NamespaceView extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[] };
}

/** Namespaced kinds deleted with their namespace; events last so deletions can still be reported. */
const NAMESPACED = RESOURCES.filter((r) => r.namespaced && isStoredResource(r) && r.verbs.includes('deletecollection')).sort((a, b) => Number(a.plural === 'events') - Number(b.plural === 'events'));

/** Empties and finalizes deleted namespaces. */
export class NamespaceController implements Controller {
  readonly name = 'namespace-controller';
  readonly queue: WorkQueue<string>;
  private readonly namespaces: SharedInformer<NamespaceView>;

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.namespaces = ctx.informers.informerFor<NamespaceView>(NAMESPACES);
    const consider = (ns: NamespaceView) => {
      if (ns.metadata.deletionTimestamp) this.queue.add(ns.metadata.name ?? '');
    };
    this.namespaces.addEventHandler({ onAdd: consider, onUpdate: (_a, b) => consider(b) });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.namespaces.waitForSync(signal);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Deletes a terminating namespace's content; finalizes it once empty. */
  async sync(name: string): Promise<void> {
    const ns = this.namespaces.lister.get('', name);
    if (!ns || !ns.metadata.deletionTimestamp) return;
    if (!(ns.spec?.finalizers ?? []).includes('kubernetes')) return;
    let remaining = 0;
    const left: string[] = [];
    for (const r of NAMESPACED) {
      const list = await this.ctx.client.list(r, { namespace: name });
      if (list.items.length === 0) continue;
      remaining += list.items.length;
      left.push(`${r.plural} has ${list.items.length} resource instances`);
      try {
        await this.ctx.client.deleteCollection(r, { namespace: name, propagationPolicy: 'Background' });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (remaining > 0) {
      this.ctx.logger.debug({ namespace: name, remaining }, 'namespace not empty yet');
      await this.setContentCondition(ns, left);
      // Pods and objects with finalizers take time: look again shortly.
      this.queue.addAfter(name, 1000);
      return;
    }
    try {
      await this.ctx.client.update(NAMESPACES, { ...ns, spec: { ...(ns.spec ?? {}), finalizers: (ns.spec?.finalizers ?? []).filter((f) => f !== 'kubernetes') } }, { subresource: 'finalize' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async setContentCondition(ns: NamespaceView, left: string[]): Promise<void> {
    const message = `Some resources are remaining: ${left.join(', ')}`;
    const conditions = (ns.status?.conditions ?? []).filter((c) => c.type !== 'NamespaceContentRemaining');
    const prev = (ns.status?.conditions ?? []).find((c) => c.type === 'NamespaceContentRemaining');
    if (prev?.message === message) return;
    conditions.push({ type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message, lastTransitionTime: new Date(this.ctx.clock.now()).toISOString().slice(0, 19) + 'Z' });
    try {
      await this.ctx.client.patch(NAMESPACES, '', ns.metadata.name ?? '', { status: { conditions } }, 'merge', { subresource: 'status' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
