/**
 * The garbage collector: keeps a graph of owner references across the kinds that carry them and
 *  - deletes dependents whose owners are all gone (background deletion),
 *  - for an owner deleted with propagationPolicy Orphan (finalizer `orphan`), removes its owner
 *    references from the dependents, then the finalizer,
 *  - for an owner deleted with Foreground (finalizer `foregroundDeletion`), deletes its dependents
 *    (foreground too) and removes the finalizer once no dependent blocks its deletion.
 */
import { findResourceByKind, isNotFound, isStoredResource, RESOURCES, type KubeObject, type OwnerReference, type ResourceInfo } from '@flotilla/api';
import { deletedObject, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';

/** A node of the ownership graph. */
interface GraphNode {
  uid: string;
  resource: ResourceInfo;
  namespace: string;
  name: string;
  owners: OwnerReference[];
  dependents: Set<string>;
  deleting: boolean;
  finalizers: string[];
}

/** Kinds watched for owner references: everything stored except noisy, owner-less kinds. */
const WATCHED = RESOURCES.filter((r) => isStoredResource(r) && r.verbs.includes('watch') && r.plural !== 'events');

type Work = { kind: 'delete' | 'orphan' | 'foreground'; uid: string };

/** Collects objects whose owners are gone. */
export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector-controller';
  readonly queue: WorkQueue<string>;
  private readonly nodes = new Map<string, GraphNode>();
  /** Dependents waiting for an owner uid that is not (yet) in the graph. */
  private readonly waitingOn = new Map<string, Set<string>>();
  private readonly informers: SharedInformer<KubeObject>[] = [];

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    for (const r of WATCHED) {
      const inf = ctx.informers.informerFor<KubeObject>(r);
      inf.addEventHandler({
        onAdd: (o) => this.upsert(r, o),
        onUpdate: (_a, b) => this.upsert(r, b),
        onDelete: (o) => this.remove(deletedObject(o)),
      });
      this.informers.push(inf);
    }
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  private enqueue(w: Work): void {
    this.queue.add(`${w.kind}|${w.uid}`);
  }

  private upsert(resource: ResourceInfo, o: KubeObject): void {
    const uid = o.metadata.uid;
    if (!uid) return;
    const prev = this.nodes.get(uid);
    const owners = o.metadata.ownerReferences ?? [];
    const node: GraphNode = { uid, resource, namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '', owners, dependents: prev?.dependents ?? new Set(), deleting: !!o.metadata.deletionTimestamp, finalizers: o.metadata.finalizers ?? [] };
    if (prev) for (const ref of prev.owners) if (!owners.some((x) => x.uid === ref.uid)) this.unlink(ref.uid, uid);
    this.nodes.set(uid, node);
    for (const ref of owners) this.link(ref.uid, uid);
    // Dependents that were waiting for this object learn it exists.
    const waiting = this.waitingOn.get(uid);
    if (waiting) {
      this.waitingOn.delete(uid);
      for (const d of waiting) node.dependents.add(d);
    }
    if (owners.length > 0 && owners.some((ref) => !this.nodes.has(ref.uid))) this.enqueue({ kind: 'delete', uid });
    if (node.deleting && node.finalizers.includes('orphan')) this.enqueue({ kind: 'orphan', uid });
    if (node.deleting && node.finalizers.includes('foregroundDeletion')) this.enqueue({ kind: 'foreground', uid });
    // A dependent in foreground deletion unblocks its owner when it goes; the owner checks on updates too.
    for (const ref of owners) {
      const owner = this.nodes.get(ref.uid);
      if (owner?.deleting && owner.finalizers.includes('foregroundDeletion')) this.enqueue({ kind: 'foreground', uid: ref.uid });
    }
  }

  private link(ownerUid: string, dependent: string): void {
    const owner = this.nodes.get(ownerUid);
    if (owner) owner.dependents.add(dependent);
    else {
      let set = this.waitingOn.get(ownerUid);
      if (!set) this.waitingOn.set(ownerUid, (set = new Set()));
      set.add(dependent);
    }
  }

  private unlink(ownerUid: string, dependent: string): void {
    this.nodes.get(ownerUid)?.dependents.delete(dependent);
    this.waitingOn.get(ownerUid)?.delete(dependent);
  }

  private remove(o: KubeObject): void {
    const uid = o.metadata.uid;
    if (!uid) return;
    const node = this.nodes.get(uid);
    if (!node) return;
    this.nodes.delete(uid);
    for (const ref of node.owners) {
      this.unlink(ref.uid, uid);
      const owner = this.nodes.get(ref.uid);
      if (owner?.deleting && owner.finalizers.includes('foregroundDeletion')) this.enqueue({ kind: 'foreground', uid: ref.uid });
    }
    // Dependents may now be orphans to collect.
    for (const d of node.dependents) this.enqueue({ kind: 'delete', uid: d });
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(signal)));
    // After the initial sync, look at every object with owners once.
    for (const n of this.nodes.values()) if (n.owners.length > 0) this.enqueue({ kind: 'delete', uid: n.uid });
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** True when the owner no longer exists (checked with the API when not in the graph). */
  private async ownerGone(dep: GraphNode, ref: OwnerReference): Promise<boolean> {
    const known = this.nodes.get(ref.uid);
    if (known) return false;
    const r = findResourceByKind(ref.apiVersion, ref.kind);
    if (!r) return false; // An owner of a kind we do not serve: leave the dependent alone.
    try {
      const live = await this.ctx.client.get(r, r.namespaced ? dep.namespace : '', ref.name);
      return live.metadata.uid !== ref.uid;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  }

  async sync(key: string): Promise<void> {
    const [kind, uid] = key.split('|') as [Work['kind'], string];
    const node = this.nodes.get(uid);
    if (!node) return;
    if (kind === 'delete') await this.attemptToDelete(node);
    else if (kind === 'orphan') await this.orphanDependents(node);
    else await this.foreground(node);
  }

  private async attemptToDelete(node: GraphNode): Promise<void> {
    if (node.owners.length === 0 || node.deleting) return;
    const gone: OwnerReference[] = [];
    const alive: OwnerReference[] = [];
    for (const ref of node.owners) (await this.ownerGone(node, ref)) ? gone.push(ref) : alive.push(ref);
    if (gone.length === 0) return;
    if (alive.length > 0) {
      // Some owners remain: drop references to the ones that are gone.
      await this.patchOwners(node, alive);
      return;
    }
    // All owners gone. An owner in foreground deletion would wait for us; others: delete in the background.
    this.ctx.logger.debug({ dependent: `${node.resource.plural}/${node.namespace}/${node.name}` }, 'collecting orphaned dependent');
    try {
      await this.ctx.client.delete(node.resource, node.namespace, node.name, { propagationPolicy: 'Background', preconditions: { uid: node.uid } });
    } catch (err) {
      if (!isNotFound(err) && (err as { code?: number }).code !== 409) throw err;
    }
  }

  private async patchOwners(node: GraphNode, owners: OwnerReference[]): Promise<void> {
    try {
      await this.ctx.client.patch(node.resource, node.namespace, node.name, { metadata: { ownerReferences: owners, uid: node.uid } }, 'merge');
    } catch (err) {
      if (!isNotFound(err) && (err as { code?: number }).code !== 409) throw err;
    }
  }

  private async removeFinalizer(node: GraphNode, finalizer: string): Promise<void> {
    try {
      const live = await this.ctx.client.get(node.resource, node.namespace, node.name);
      if (live.metadata.uid !== node.uid) return;
      await this.ctx.client.update(node.resource, { ...live, metadata: { ...live.metadata, finalizers: (live.metadata.finalizers ?? []).filter((f) => f !== finalizer) } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async orphanDependents(owner: GraphNode): Promise<void> {
    for (const d of [...owner.dependents]) {
      const dep = this.nodes.get(d);
      if (!dep) continue;
      await this.patchOwners(dep, dep.owners.filter((r) => r.uid !== owner.uid));
    }
    await this.removeFinalizer(owner, 'orphan');
  }

  private async foreground(owner: GraphNode): Promise<void> {
    let blocking = 0;
    for (const d of [...owner.dependents]) {
      const dep = this.nodes.get(d);
      if (!dep) continue;
      const ref = dep.owners.find((r) => r.uid === owner.uid);
      if (!dep.deleting) {
        // Kubernetes' attemptToDeleteItem: a dependent with another solid owner (live, not itself
        // deleting its dependents) is kept; only its references to this owner (and to gone owners) go.
        const others = dep.owners.filter((r) => r.uid !== owner.uid);
        const solid: OwnerReference[] = [];
        for (const r of others) {
          const o = this.nodes.get(r.uid);
          if (o ? !(o.deleting && o.finalizers.includes('foregroundDeletion')) : !(await this.ownerGone(dep, r))) solid.push(r);
        }
        if (solid.length > 0) {
          await this.patchOwners(dep, others.filter((r) => solid.includes(r) || this.nodes.has(r.uid)));
          continue;
        }
        // Dependents with dependents of their own go in the foreground too; others in the background.
        const propagationPolicy = dep.dependents.size > 0 ? 'Foreground' : 'Background';
        try {
          await this.ctx.client.delete(dep.resource, dep.namespace, dep.name, { propagationPolicy, preconditions: { uid: dep.uid } });
        } catch (err) {
          if (!isNotFound(err) && (err as { code?: number }).code !== 409) throw err;
        }
      }
      if (ref?.blockOwnerDeletion) blocking++;
    }
    if (blocking === 0) await this.removeFinalizer(owner, 'foregroundDeletion');
    else this.queue.addAfter(`foreground|${owner.uid}`, 1000);
  }
}
