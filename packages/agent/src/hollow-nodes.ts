/**
 * Hollow nodes (like kubemark / kwok): many simulated nodes in one process with one connection pool.
 * They register through the agent's node registration, heartbeat through its Lease renewal and
 * report pod status through its status computation — only the containers are imaginary: a pod bound
 * to a hollow node is reported Running shortly after binding, and a deleted pod is finished at once
 * (or at the end of its grace period when annotated to ignore SIGTERM).
 */
import { formatTime, objectKey, type Condition, type KubeObject } from '@flotilla/api/core';
import { deletedObject, res, type KubeClient, SharedInformer } from '@flotilla/client';
import type { Logger } from 'pino';
import { NodeLease, registerNode, reportNodeConditions } from './node/node-registration.js';
import type { NodeFacts, NodeHealth } from './node/node-object.js';
import { computePodStatus } from './pod-sync/pod-status.js';

/** Annotation: a hollow pod's containers exit after this many seconds (simulated workloads such as Jobs). */
export const HOLLOW_RUN_SECONDS = 'hollow.flotilla.io/run-seconds';
/** Annotation: the exit code of a hollow pod's containers when they end (default 0). */
export const HOLLOW_EXIT_CODE = 'hollow.flotilla.io/exit-code';
/**
 * Annotation: `"true"` makes a hollow pod's containers ignore SIGTERM, so its graceful deletion
 * finishes only at its deletionTimestamp (the end of the grace period, when SIGKILL would come).
 */
export const HOLLOW_IGNORE_SIGTERM = 'hollow.flotilla.io/ignore-sigterm';
const PODS = res('pods');

/** Options of a hollow node fleet. */
export interface HollowNodesOptions {
  client: KubeClient;
  logger: Logger;
  count: number;
  namePrefix: string;
  /** Zones the nodes are spread across (label topology.kubernetes.io/zone). */
  zones: number;
  cpu: string;
  memory: string;
  pods: number;
  /** Extra labels on every node. */
  labels?: Record<string, string>;
  /** Taints on every node. */
  taints?: NodeFacts['taints'];
  /** Delay between a pod's binding and its Running status. */
  podStartDelayMs: number;
  leaseDurationSeconds?: number;
  /** How often each lease is renewed (default 10 s). */
  leaseRenewMs?: number;
  /** How often each node reports its conditions (default 60 s). */
  statusReportMs?: number;
  /** Registration and status write concurrency. */
  concurrency?: number;
}

/** One simulated node. */
interface Hollow {
  name: string;
  ip: string;
  lease: NodeLease;
  conditions: Condition[];
  stopped: boolean;
}

const HEALTHY: NodeHealth = { ready: true, memoryPressure: false, diskPressure: false, pidPressure: false };

/** Runs with bounded concurrency. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

/** A fleet of hollow nodes. */
export class HollowNodes {
  private readonly nodes = new Map<string, Hollow>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedPods = new Set<string>();
  private readonly log: Logger;
  private readonly conc: number;
  private statusWrites = 0;
  private leaseRenewals = 0;

  constructor(private readonly o: HollowNodesOptions) {
    this.log = o.logger;
    this.conc = o.concurrency ?? 32;
  }

  /** Node names of the fleet. */
  names(): string[] {
    return [...this.nodes.keys()];
  }

  /** Counters (for benchmarks). */
  counters(): { statusWrites: number; leaseRenewals: number } {
    return { statusWrites: this.statusWrites, leaseRenewals: this.leaseRenewals };
  }

  private facts(i: number): NodeFacts {
    const name = `${this.o.namePrefix}${i}`;
    const ip = `10.${100 + Math.floor(i / 65536) % 100}.${Math.floor(i / 256) % 256}.${i % 256}`;
    return {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${i % Math.max(1, this.o.zones)}`,
        'node.flotilla.io/hollow': 'true',
        ...(this.o.labels ?? {}),
      },
      ...(this.o.taints && this.o.taints.length > 0 ? { taints: this.o.taints } : {}),
      capacity: { cpu: this.o.cpu, memory: this.o.memory, pods: String(this.o.pods), 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: this.o.cpu, memory: this.o.memory, pods: String(this.o.pods), 'ephemeral-storage': '100Gi' },
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        machineID: `hollow-${i}`,
        systemUUID: `hollow-${i}`,
        bootID: `hollow-${i}`,
        kernelVersion: 'hollow',
        osImage: 'Flotilla hollow node',
        containerRuntimeVersion: 'hollow://0.1.0',
        kubeletVersion: 'v1.31.0-flotilla',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      // No agent endpoint (logs, metrics): Port 0, as a kubelet without a server reports it.
      agentPort: 0,
    };
  }

  /** Registers the nodes and starts heartbeats and pod handling. Resolves once all are registered. */
  async start(signal: AbortSignal): Promise<void> {
    const indexes = Array.from({ length: this.o.count }, (_, i) => i);
    await forEachLimited(indexes, this.conc, async (i) => {
      const f = this.facts(i);
      const node = await registerNode(this.o.client, f, HEALTHY, new Date());
      const h: Hollow = { name: f.name, ip: f.addresses[0]!.address, lease: new NodeLease(this.o.client, f.name, this.o.leaseDurationSeconds ?? 40, node.metadata.uid), conditions: ((node['status'] as { conditions?: Condition[] })?.conditions) ?? [], stopped: false };
      this.nodes.set(f.name, h);
      await h.lease.renew(new Date());
    });
    this.log.info({ nodes: this.nodes.size }, 'hollow nodes registered');
    this.startHeartbeats();
    this.startPods(signal);
    signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** Spreads lease renewals and condition reports evenly over their periods. */
  private startHeartbeats(): void {
    const all = [...this.nodes.values()];
    const tick = 100;
    const schedule = (periodMs: number, work: (h: Hollow) => Promise<void>) => {
      const perTick = Math.max(1, Math.ceil((all.length * tick) / periodMs));
      let next = 0;
      let busy = false;
      this.timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          const batch: Hollow[] = [];
          for (let k = 0; k < perTick && all.length > 0; k++) batch.push(all[next++ % all.length]!);
          forEachLimited(batch, this.conc, async (h) => {
            if (h.stopped) return;
            try {
              await work(h);
            } catch (err) {
              this.log.warn({ err, node: h.name }, 'hollow heartbeat failed');
            }
          }).finally(() => (busy = false));
        }, tick),
      );
    };
    schedule(this.o.leaseRenewMs ?? 10_000, async (h) => {
      await h.lease.renew(new Date());
      this.leaseRenewals++;
    });
    schedule(this.o.statusReportMs ?? 60_000, async (h) => {
      h.conditions = await reportNodeConditions(this.o.client, h.name, HEALTHY, new Date(), h.conditions);
    });
  }

  /** Stops heartbeats of one node (it will go NotReady); its pods are left alone. */
  stopNode(name: string): void {
    const h = this.nodes.get(name);
    if (h) h.stopped = true;
  }

  /** Watches pods bound to hollow nodes: reports them Running, finishes their deletion. */
  private startPods(signal: AbortSignal): void {
    const informer = new SharedInformer<KubeObject>(this.o.client, { resource: PODS, fieldSelector: 'spec.nodeName!=', logger: this.log });
    const pending: KubeObject[] = [];
    let draining = false;
    const drain = async () => {
      if (draining) return;
      draining = true;
      try {
        while (pending.length > 0) {
          const batch = pending.splice(0, 256);
          await forEachLimited(batch, this.conc, (p) => this.handlePod(p));
        }
      } finally {
        draining = false;
      }
    };
    const consider = (p: KubeObject) => {
      const node = (p['spec'] as { nodeName?: string } | undefined)?.nodeName;
      const h = node ? this.nodes.get(node) : undefined;
      if (!h || h.stopped) return;
      const deletion = p.metadata.deletionTimestamp;
      if (deletion || !this.startedPods.has(p.metadata.uid ?? '')) {
        const delay = !deletion ? this.o.podStartDelayMs : p.metadata.annotations?.[HOLLOW_IGNORE_SIGTERM] === 'true' ? Math.max(0, Date.parse(deletion) - Date.now()) : 0;
        setTimeout(() => {
          pending.push(p);
          void drain();
        }, delay);
      }
    };
    informer.addEventHandler({
      onAdd: consider,
      onUpdate: (_a, b) => consider(b),
      onDelete: (p) => this.startedPods.delete(deletedObject(p).metadata.uid ?? ''),
    });
    void informer.run(signal);
  }

  private async handlePod(p: KubeObject): Promise<void> {
    const uid = p.metadata.uid ?? '';
    const ns = p.metadata.namespace ?? '';
    const name = p.metadata.name ?? '';
    const node = this.nodes.get((p['spec'] as { nodeName: string }).nodeName)!;
    try {
      if (p.metadata.deletionTimestamp) {
        // A hollow node has nothing to stop: finish the graceful deletion (at once unless the pod
        // ignores SIGTERM, see `consider`).
        await this.o.client.delete(PODS, ns, name, { gracePeriodSeconds: 0, preconditions: { uid } });
        this.startedPods.delete(uid);
        return;
      }
      if (this.startedPods.has(uid)) return;
      this.startedPods.add(uid);
      const now = new Date();
      const ts = formatTime(now);
      const spec = (p['spec'] ?? {}) as { containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] };
      const running = (c: { name: string; image?: string }) => ({ name: c.name, state: 'running' as const, startedAt: ts, ready: true, started: true, restartCount: 0, image: c.image ?? '', imageID: `hollow://${c.image ?? ''}`, containerID: `hollow://${uid}/${c.name}` });
      const done = (c: { name: string; image?: string }) => ({ name: c.name, state: 'terminated' as const, exitCode: 0, reason: 'Completed', startedAt: ts, finishedAt: ts, ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: `hollow://${c.image ?? ''}` });
      const status = computePodStatus(p, { hostIP: node.ip, podIP: node.ip, startTime: ts, init: (spec.initContainers ?? []).map(done), containers: (spec.containers ?? []).map(running) }, now);
      await this.o.client.patch(PODS, ns, name, { status }, 'merge', { subresource: 'status' });
      this.statusWrites++;
      const runSeconds = Number(p.metadata.annotations?.[HOLLOW_RUN_SECONDS]);
      if (p.metadata.annotations?.[HOLLOW_RUN_SECONDS] !== undefined && Number.isFinite(runSeconds) && runSeconds >= 0) {
        const exitCode = Number(p.metadata.annotations?.[HOLLOW_EXIT_CODE] ?? '0') || 0;
        setTimeout(() => void this.finishPod(p, node.ip, ts, exitCode), runSeconds * 1000);
      }
    } catch (err) {
      this.startedPods.delete(uid);
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) this.log.warn({ err, pod: objectKey(p) }, 'hollow pod status failed');
    }
  }

  /**
   * Ends a simulated pod's containers with an exit code (pods annotated with hollow.flotilla.io/run-seconds):
   * with restartPolicy Never or OnFailure the pod ends Succeeded or Failed as the kubelet would
   * report it; an exited container under Always is only reported, not restarted.
   */
  private async finishPod(p: KubeObject, hostIP: string, startedAt: string, exitCode: number): Promise<void> {
    const now = new Date();
    const ts = formatTime(now);
    const spec = (p['spec'] ?? {}) as { containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] };
    const ended = (c: { name: string; image?: string }, code: number) => ({ name: c.name, state: 'terminated' as const, exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt, finishedAt: ts, ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: `hollow://${c.image ?? ''}`, containerID: `hollow://${p.metadata.uid}/${c.name}` });
    const status = computePodStatus(p, { hostIP, podIP: hostIP, startTime: startedAt, init: (spec.initContainers ?? []).map((c) => ended(c, 0)), containers: (spec.containers ?? []).map((c) => ended(c, exitCode)) }, now);
    try {
      await this.o.client.patch(PODS, p.metadata.namespace ?? '', p.metadata.name ?? '', { status }, 'merge', { subresource: 'status' });
      this.statusWrites++;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) this.log.warn({ err, pod: objectKey(p) }, 'hollow pod completion failed');
    }
  }

  /** Stops heartbeats. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
