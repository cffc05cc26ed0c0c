/**
 * The node IPAM controller (upstream's range allocator): when `--cluster-cidr` is set, gives every
 * Node without `spec.podCIDR` its own subnet of `--node-cidr-mask-size` from the cluster CIDR
 * (`spec.podCIDR` and `spec.podCIDRs`), never the same one to two nodes, and takes it back when the
 * node is deleted. A full range is reported with a CIDRNotAvailable event on the node and retried.
 *
 * IPv4 and a single cluster CIDR only (no dual-stack). One worker: allocation state is in memory,
 * rebuilt from the informer's nodes before the first allocation.
 */
import { isConflict, isNotFound, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { CidrError, CidrSet } from './cidr-set.js';

const NODES = res('nodes');

/** The Node fields the controller reads. */
interface NodeView extends KubeObject {
  spec?: { podCIDR?: string; podCIDRs?: string[] };
}

/** Assigns pod CIDRs to nodes. */
export class NodeIpamController implements Controller {
  readonly name = 'node-ipam-controller';
  readonly queue: WorkQueue<string>;
  private readonly nodes: SharedInformer<NodeView>;
  private readonly recorder: EventRecorder;
  /** Undefined when no cluster CIDR is configured (the controller then does nothing). */
  private readonly cidrs: CidrSet | undefined;
  /** The CIDR each node holds in `cidrs` (allocated here or observed on the node). */
  private readonly assigned = new Map<string, string>();
  private rebuilt = false;

  /** Throws CidrError when `clusterCidr` is not one IPv4 CIDR or the mask size does not fit in it. */
  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    const clusterCidr = ctx.options.clusterCidr.trim();
    if (clusterCidr.includes(',') || clusterCidr.includes(':')) throw new CidrError(`cluster CIDR ${clusterCidr}: only a single IPv4 range is supported`);
    this.cidrs = clusterCidr ? new CidrSet(clusterCidr, ctx.options.nodeCidrMaskSize || 24) : undefined;
    this.nodes = ctx.informers.informerFor<NodeView>(NODES);
    this.nodes.addEventHandler({
      onAdd: (n) => this.queue.add(n.metadata.name ?? ''),
      onUpdate: (_a, b) => this.queue.add(b.metadata.name ?? ''),
      onDelete: (n) => this.queue.add(deletedObject(n).metadata.name ?? ''),
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!this.cidrs) {
      this.ctx.logger.info({ controller: this.name }, 'no cluster CIDR configured; not allocating pod CIDRs');
      return;
    }
    await this.nodes.waitForSync(signal);
    this.occupyExisting();
    // One worker: allocation decisions build on each other.
    await runWorkers({ name: this.name, queue: this.queue, workers: 1, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Marks the CIDRs nodes already have as used (once, from the synced informer). */
  private occupyExisting(): void {
    if (this.rebuilt || !this.cidrs) return;
    this.rebuilt = true;
    for (const n of this.nodes.lister.list()) {
      const cidr = n.spec?.podCIDR;
      if (cidr) this.observe(n.metadata.name ?? '', cidr);
    }
  }

  /** Records that a node holds `cidr`. */
  private observe(name: string, cidr: string): void {
    let inside = false;
    try {
      inside = this.cidrs!.occupy(cidr);
    } catch (err) {
      this.ctx.logger.warn({ err, node: name, podCIDR: cidr }, 'node has an unparsable pod CIDR');
    }
    if (inside) this.assigned.set(name, cidr);
    else this.ctx.logger.warn({ node: name, podCIDR: cidr, clusterCidr: this.ctx.options.clusterCidr }, 'node pod CIDR outside the cluster CIDR');
  }

  private release(name: string): void {
    const cidr = this.assigned.get(name);
    if (!cidr) return;
    this.cidrs!.release(cidr);
    this.assigned.delete(name);
    this.ctx.logger.info({ node: name, podCIDR: cidr }, 'released pod CIDR');
    // Nodes waiting for a CIDR may get this one.
    for (const n of this.nodes.lister.list()) if (!n.spec?.podCIDR && n.metadata.name !== name) this.queue.add(n.metadata.name ?? '');
  }

  /** Reconciles one node: releases a deleted node's CIDR, records an existing one, or allocates one. */
  async sync(name: string): Promise<void> {
    if (!this.cidrs) return;
    this.occupyExisting();
    const node = this.nodes.lister.get('', name);
    if (!node) {
      this.release(name);
      return;
    }
    const known = this.assigned.get(name);
    const current = node.spec?.podCIDR;
    if (current) {
      if (known !== current) {
        if (known) this.release(name);
        this.observe(name, current);
      }
      return;
    }
    // `known` without podCIDR on the node: our patch is not in the cache yet (or conflicted): reuse it.
    const cidr = known ?? this.cidrs.allocate();
    if (!cidr) {
      this.recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' }, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      this.ctx.logger.warn({ node: name, clusterCidr: this.ctx.options.clusterCidr, used: this.cidrs.usedCount }, 'no pod CIDR available for node');
      throw new CidrError(`no remaining pod CIDRs in ${this.ctx.options.clusterCidr} for node ${name}`);
    }
    this.assigned.set(name, cidr);
    try {
      // The resourceVersion makes the patch conditional on the node still having no podCIDR.
      await this.ctx.client.patch(NODES, '', name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { podCIDR: cidr, podCIDRs: [cidr] } }, 'merge');
    } catch (err) {
      // On Conflict the node changed under us: keep the reservation and decide again from a fresher cache.
      if (!isConflict(err)) this.release(name);
      if (isNotFound(err)) return;
      throw err;
    }
    this.ctx.logger.info({ node: name, podCIDR: cidr }, 'assigned pod CIDR');
  }
}
