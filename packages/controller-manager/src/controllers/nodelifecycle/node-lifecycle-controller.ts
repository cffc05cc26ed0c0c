/**
 * The node lifecycle controller: a node whose agent stops renewing its Lease (and stops reporting
 * status) for the grace period gets Ready=Unknown and the `node.kubernetes.io/unreachable` taints; a
 * node reporting NotReady gets `node.kubernetes.io/not-ready`. Pods on nodes with NoExecute taints
 * they do not tolerate are evicted — at once, or after their tolerationSeconds — so their
 * controllers replace them elsewhere.
 */
import { formatTime, isConflict, isNotFound, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type EventRecorder, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { isPodActive, type PodView } from '../../pod-utils.js';

const NODES = res('nodes');
const LEASES = res('leases.coordination.k8s.io');
const PODS = res('pods');

/** Taint keys of node health. */
export const UNREACHABLE = 'node.kubernetes.io/unreachable';
export const NOT_READY = 'node.kubernetes.io/not-ready';

interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

interface NodeView extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string; lastTransitionTime?: string; reason?: string; message?: string }[] };
}

interface LeaseView extends KubeObject {
  spec?: { renewTime?: string };
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/**
 * When a pod must leave a node with these NoExecute taints (ms since epoch), or undefined when it
 * tolerates them forever.
 */
export function evictionTime(pod: PodView, taints: readonly Taint[], now: number): number | undefined {
  let at: number | undefined;
  const tolerations = ((pod.spec as { tolerations?: Toleration[] } | undefined)?.tolerations ?? []);
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const matching = tolerations.filter((t) => tolerates(t, taint));
    if (matching.length === 0) return now;
    const finite = matching.filter((t) => t.tolerationSeconds !== undefined);
    if (finite.length < matching.length) continue; // tolerated forever
    const seconds = Math.min(...finite.map((t) => Math.max(0, t.tolerationSeconds!)));
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : now;
    const t = added + seconds * 1000;
    at = at === undefined ? t : Math.min(at, t);
  }
  return at;
}

/** Watches node health, taints unhealthy nodes and evicts their pods. */
export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle-controller';
  readonly queue: WorkQueue<string>;
  private readonly nodes: SharedInformer<NodeView>;
  private readonly leases: SharedInformer<LeaseView>;
  private readonly pods: SharedInformer<PodView>;
  private readonly recorder: EventRecorder;
  /** Local time when each node last showed a sign of life. */
  private readonly lastSeen = new Map<string, { at: number; lease?: string; heartbeat?: string }>();

  constructor(private readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.recorder = ctx.recorder(this.name);
    this.nodes = ctx.informers.informerFor<NodeView>(NODES);
    this.leases = ctx.informers.informerFor<LeaseView>(LEASES, { namespace: 'kube-node-lease' });
    this.pods = ctx.informers.informerFor<PodView>(PODS);
    this.pods.addIndexer('node', (p) => [((p.spec as { nodeName?: string } | undefined)?.nodeName) ?? '']);
    this.nodes.addEventHandler({
      onAdd: (n) => this.observe(n.metadata.name ?? ''),
      onUpdate: (_a, b) => this.observe(b.metadata.name ?? ''),
      onDelete: (n) => this.lastSeen.delete(deletedObject(n).metadata.name ?? ''),
    });
    this.leases.addEventHandler({ onAdd: (l) => this.observe(l.metadata.name ?? ''), onUpdate: (_a, b) => this.observe(b.metadata.name ?? '') });
    this.pods.addEventHandler({
      onAdd: (p) => {
        const node = (p.spec as { nodeName?: string } | undefined)?.nodeName;
        if (node) this.queue.add(node);
      },
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  /** Records a sign of life when the lease renewal or the Ready heartbeat moved. */
  private observe(name: string): void {
    if (!name) return;
    const lease = this.leases.lister.get('kube-node-lease', name)?.spec?.renewTime;
    const heartbeat = this.nodes.lister.get('', name)?.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime;
    const prev = this.lastSeen.get(name);
    if (!prev || prev.lease !== lease || prev.heartbeat !== heartbeat) this.lastSeen.set(name, { at: this.ctx.clock.now(), ...(lease ? { lease } : {}), ...(heartbeat ? { heartbeat } : {}) });
    this.queue.add(name);
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.nodes.waitForSync(signal), this.leases.waitForSync(signal), this.pods.waitForSync(signal)]);
    // Monitor: look at every node periodically (health can change by silence alone).
    const period = Math.max(500, Math.min(5000, this.ctx.options.nodeMonitorGracePeriodMs / 4));
    const tick = () => {
      if (signal.aborted) return;
      for (const n of this.nodes.lister.list()) this.queue.add(n.metadata.name ?? '');
      this.ctx.clock.setTimer(tick, period);
    };
    tick();
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Updates one node's health view and taints, then evicts what must go. */
  async sync(name: string): Promise<void> {
    const node = this.nodes.lister.get('', name);
    if (!node) return;
    const now = this.ctx.clock.now();
    const seen = this.lastSeen.get(name) ?? { at: now };
    if (!this.lastSeen.has(name)) this.lastSeen.set(name, seen);
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    const silent = now - seen.at > this.ctx.options.nodeMonitorGracePeriodMs;
    if (silent && ready?.status !== 'Unknown') {
      await this.markUnknown(node, now);
      return;
    }
    const status = silent ? 'Unknown' : ready?.status ?? 'Unknown';
    await this.reconcileTaints(node, status, now);
    if (status === 'Unknown') await this.markPodsNotReady(node, now);
    await this.evictPods(node, now);
  }

  /**
   * Kubernetes' MarkPodsNotReady: the pods of a node that stopped reporting are no longer ready (their
   * kubelet cannot say so), which takes them out of Service endpoints at once.
   */
  private async markPodsNotReady(node: NodeView, now: number): Promise<void> {
    const name = node.metadata.name ?? '';
    for (const pod of this.pods.lister.byIndex('node', name) as PodView[]) {
      const conditions = pod.status?.conditions ?? [];
      if (!conditions.some((c) => c.type === 'Ready' && c.status !== 'False')) continue;
      const next = conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: formatTime(new Date(now)) } : c));
      try {
        await this.ctx.client.updateStatus(PODS, { ...pod, status: { ...pod.status, conditions: next } });
        this.recorder.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
        if (isConflict(err)) this.queue.addAfter(name, 200);
      }
    }
  }

  private async markUnknown(node: NodeView, now: number): Promise<void> {
    const t = formatTime(new Date(now));
    const conditions = (node.status?.conditions ?? []).map((c) =>
      c.status === 'Unknown' ? c : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: t },
    );
    if (!conditions.some((c) => c.type === 'Ready')) conditions.push({ type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastTransitionTime: t });
    try {
      await this.ctx.client.patch(NODES, '', node.metadata.name ?? '', { status: { conditions } }, 'strategic', { subresource: 'status' });
      this.recorder.event(node, 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`);
      this.ctx.logger.info({ node: node.metadata.name }, 'node stopped reporting; marked Ready=Unknown');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private async reconcileTaints(node: NodeView, readyStatus: string, now: number): Promise<void> {
    const current = node.spec?.taints ?? [];
    const health = current.filter((t) => t.key === UNREACHABLE || t.key === NOT_READY);
    const wantKey = readyStatus === 'Unknown' ? UNREACHABLE : readyStatus === 'False' ? NOT_READY : undefined;
    const want: Taint[] = wantKey ? ['NoSchedule', 'NoExecute'].map((effect) => health.find((t) => t.key === wantKey && t.effect === effect) ?? { key: wantKey, effect, ...(effect === 'NoExecute' ? { timeAdded: formatTime(new Date(now)) } : {}) }) : [];
    const same = want.length === health.length && want.every((w) => health.some((h) => h.key === w.key && h.effect === w.effect));
    if (same) return;
    const taints = [...current.filter((t) => t.key !== UNREACHABLE && t.key !== NOT_READY), ...want];
    try {
      await this.ctx.client.update(NODES, { ...node, spec: { ...(node.spec ?? {}), taints } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
      this.queue.addAfter(node.metadata.name ?? '', 200);
    }
  }

  private async evictPods(node: NodeView, now: number): Promise<void> {
    const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
    if (taints.length === 0) return;
    let next: number | undefined;
    for (const pod of this.pods.lister.byIndex('node', node.metadata.name ?? '') as PodView[]) {
      if (!isPodActive(pod)) continue;
      const at = evictionTime(pod, taints, now);
      if (at === undefined) continue;
      if (at > now) {
        next = next === undefined ? at : Math.min(next, at);
        continue;
      }
      try {
        await this.ctx.client.delete(PODS, pod.metadata.namespace ?? '', pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
        this.recorder.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    if (next !== undefined) this.queue.addAfter(node.metadata.name ?? '', next - now + 10);
  }
}
