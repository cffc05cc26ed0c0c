/**
 * The scheduler's view of the cluster: every node with the pods bound (or being bound) to it.
 * Pods the scheduler has decided on are "assumed" at once, so a burst of decisions never
 * overcommits a node before the API server confirms the bindings; an assumed pod whose binding is
 * never seen expires.
 */
import { NodeInfo, podInfoOf, type PodInfo } from './node-info.js';
import type { Node, Pod } from './types.js';

interface PodState {
  info: PodInfo;
  nodeName: string;
  assumed: boolean;
  /** When an assumed pod is forgotten if its binding is not confirmed (ms since epoch). */
  deadline?: number;
}

/** Clock for expiry (tests inject one). */
export type Now = () => number;

/** Nodes, their pods, and assumed pods. */
export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, PodState>();
  /** Nodes in insertion order, for round-robin evaluation. */
  private nodeList: NodeInfo[] = [];
  private listDirty = false;

  constructor(
    private readonly now: Now = Date.now,
    private readonly assumeTtlMs = 30_000,
  ) {}

  private nodeInfo(name: string): NodeInfo {
    let n = this.nodes.get(name);
    if (!n) {
      n = new NodeInfo(name);
      this.nodes.set(name, n);
      this.listDirty = true;
    }
    return n;
  }

  /** Adds or replaces a node. */
  upsertNode(node: Node): NodeInfo {
    const n = this.nodeInfo(node.metadata.name ?? '');
    n.setNode(node);
    return n;
  }

  /** Removes a node; its pods stay accounted under a placeholder until they go. */
  removeNode(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    if (n.pods.size === 0) {
      this.nodes.delete(name);
      this.listDirty = true;
    } else {
      n.node = undefined;
    }
  }

  /** Nodes that exist (have a Node object), in a stable order. */
  nodeInfos(): readonly NodeInfo[] {
    if (this.listDirty) {
      this.nodeList = [...this.nodes.values()];
      this.listDirty = false;
    }
    return this.nodeList;
  }

  /** A node's info. */
  getNode(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  /** Number of nodes with a Node object. */
  get nodeCount(): number {
    let n = 0;
    for (const ni of this.nodes.values()) if (ni.node) n++;
    return n;
  }

  /** Records a scheduling decision before the binding is confirmed. */
  assume(pod: Pod, nodeName: string, precomputed?: PodInfo): void {
    const info = precomputed ?? podInfoOf(pod);
    this.removeByUid(info.uid);
    this.pods.set(info.uid, { info, nodeName, assumed: true });
    this.nodeInfo(nodeName).addPod(info);
  }

  /** Starts the expiry clock of an assumed pod once its binding request was sent. */
  finishBinding(uid: string): void {
    const s = this.pods.get(uid);
    if (s?.assumed) s.deadline = this.now() + this.assumeTtlMs;
  }

  /** Undoes an assumption (binding failed). */
  forget(uid: string): void {
    const s = this.pods.get(uid);
    if (s?.assumed) this.removeByUid(uid);
  }

  /** True when the pod is assumed and not yet confirmed. */
  isAssumed(uid: string): boolean {
    return this.pods.get(uid)?.assumed === true;
  }

  /** A bound pod seen from the API server (confirms an assumption). */
  addOrUpdateBoundPod(pod: Pod): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return;
    const uid = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
    const known = this.pods.get(uid);
    // Status-only updates of a known pod change nothing the scheduler accounts for.
    if (known && known.nodeName === nodeName && known.info.pod.spec === pod.spec) return;
    const info = known && known.nodeName === nodeName && JSON.stringify(known.info.pod.spec?.containers) === JSON.stringify(pod.spec?.containers) && JSON.stringify(known.info.pod.metadata.labels) === JSON.stringify(pod.metadata.labels) && JSON.stringify(known.info.pod.spec?.affinity) === JSON.stringify(pod.spec?.affinity) ? { ...known.info, pod } : podInfoOf(pod);
    this.removeByUid(info.uid);
    this.pods.set(info.uid, { info, nodeName, assumed: false });
    this.nodeInfo(nodeName).addPod(info);
  }

  /** A pod that left (deleted or terminal). */
  removePod(pod: Pod): void {
    this.removeByUid(pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`);
  }

  private removeByUid(uid: string): void {
    const s = this.pods.get(uid);
    if (!s) return;
    this.pods.delete(uid);
    const n = this.nodes.get(s.nodeName);
    if (n) {
      n.removePod(uid);
      if (!n.node && n.pods.size === 0) {
        this.nodes.delete(s.nodeName);
        this.listDirty = true;
      }
    }
  }

  /** Drops assumed pods whose bindings were never confirmed in time. Returns their UIDs. */
  expireAssumed(): string[] {
    const now = this.now();
    const expired: string[] = [];
    for (const [uid, s] of this.pods) {
      if (s.assumed && s.deadline !== undefined && s.deadline < now) expired.push(uid);
    }
    for (const uid of expired) this.removeByUid(uid);
    return expired;
  }

  /** Total pods accounted (bound + assumed). */
  get podCount(): number {
    return this.pods.size;
  }
}
