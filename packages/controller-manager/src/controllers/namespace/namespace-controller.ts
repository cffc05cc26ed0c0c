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
    const finalizers = new Map<string, number>();
    for (const r of NAMESPACED) {
      const list = await this.ctx.client.list(r, { namespace: name });
      if (list.items.length === 0) continue;
      try {
        await this.ctx.client.deleteCollection(r, { namespace: name, propagationPolicy: 'Background' });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      // What is left after the deletion (objects with finalizers, pods terminating gracefully), as Kubernetes counts it.
      const after = (await this.ctx.client.list(r, { namespace: name })).items;
      if (after.length === 0) continue;
      remaining += after.length;
      left.push(`${r.plural}.${r.group} has ${after.length} resource instances`);
      for (const o of after) for (const f of o.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
    }
    if (remaining > 0) {
      this.ctx.logger.debug({ namespace: name, remaining }, 'namespace not empty yet');
      await this.setContentConditions(ns, left.sort(), [...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).sort());
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

  /** NamespaceContentRemaining and NamespaceFinalizersRemaining, with Kubernetes' reasons and messages. */
  private async setContentConditions(ns: NamespaceView, left: string[], finalizers: string[]): Promise<void> {
    const now = new Date(this.ctx.clock.now()).toISOString().slice(0, 19) + 'Z';
    const want = [{ type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${left.join(', ')}` }];
    if (finalizers.length > 0) want.push({ type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${finalizers.join(', ')}` });
    const current = ns.status?.conditions ?? [];
    const changed = want.filter((w) => !current.some((c) => c.type === w.type && c.status === w.status && c.reason === w.reason && c.message === w.message));
    if (changed.length === 0) return;
    const conditions = [...current.filter((c) => !changed.some((w) => w.type === c.type)), ...changed.map((w) => ({ ...w, lastTransitionTime: now }))];
    try {
      await this.ctx.client.patch(NAMESPACES, '', ns.metadata.name ?? '', { status: { conditions } }, 'merge', { subresource: 'status' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
