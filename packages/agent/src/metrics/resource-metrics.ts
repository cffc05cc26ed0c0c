/**
 * Resource metrics of this node and its pods, as the kubelet's Summary API provides them to
 * metrics-server: every `intervalMs` (default 10 s, the kubelet's resolution) the collector reads
 * each running container's cumulative CPU time and working set through `runtime.stats(id)`, and the
 * node's from /proc/stat and /proc/meminfo; CPU usage is the rate between two consecutive samples
 * (nanocores), memory the latest working set.
 *
 * `GET /stats/summary` answers the latest snapshot as JSON (a simplified Summary API):
 * ```
 * { "node": { "nodeName", "timestamp", "window", "cpuNanoCores", "memoryWorkingSetBytes" } | null,
 *   "pods": [ { "namespace", "name", "uid", "timestamp", "window",
 *               "containers": [ { "name", "cpuNanoCores", "memoryWorkingSetBytes" } ] } ] }
 * ```
 * `timestamp` is RFC 3339 (the end of the window), `window` a Go duration rounded to whole seconds
 * (`"10s"`). A container appears once it has two samples (one interval after it started); the
 * node once /proc was read twice.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatIsoTime } from '@flotilla/api/core';
import type { Logger } from 'pino';
import type { ContainerInfo, ContainerRuntime, ContainerStats } from '../runtime/runtime.js';

/** A cumulative CPU reading with the working set at the same time. */
export interface UsageSample {
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageCoreNanoSeconds: number;
  memoryWorkingSetBytes: number;
}

/** Usage over the window between two samples. */
export interface UsageRate {
  /** End of the window (ms since the epoch). */
  timestamp: number;
  windowMs: number;
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
}

/** The node's usage in a snapshot. */
export interface NodeUsage {
  nodeName: string;
  timestamp: string;
  window: string;
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
}

/** One pod's usage in a snapshot. */
export interface PodUsage {
  namespace: string;
  name: string;
  uid: string;
  timestamp: string;
  window: string;
  containers: { name: string; cpuNanoCores: number; memoryWorkingSetBytes: number }[];
}

/** What `GET /stats/summary` answers. */
export interface ResourceMetricsSnapshot {
  node: NodeUsage | null;
  pods: PodUsage[];
}

/**
 * The usage between `prev` and `cur` of one cumulative counter, or undefined when it cannot be
 * computed: no time passed, or the counter went backwards (the container was replaced).
 */
export function usageRate(prev: UsageSample, cur: UsageSample): UsageRate | undefined {
  const windowMs = cur.timestamp - prev.timestamp;
  const cpu = cur.cpuUsageCoreNanoSeconds - prev.cpuUsageCoreNanoSeconds;
  if (!(windowMs > 0) || cpu < 0) return undefined;
  return { timestamp: cur.timestamp, windowMs, cpuNanoCores: Math.round((cpu * 1000) / windowMs), memoryWorkingSetBytes: cur.memoryWorkingSetBytes };
}

/** A window as a Go duration rounded to whole seconds (at least `1s`), as metrics-server reports it. */
export function formatWindow(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

/** Clock ticks per second of /proc/stat (USER_HZ; 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/**
 * Cumulative busy CPU time of the machine, in nanoseconds, from /proc/stat's aggregate `cpu` line:
 * every field but idle and iowait (guest time is already part of user time, so it is not added).
 */
export function parseProcStat(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  const busyTicks = user + nice + system + irq + softirq + steal;
  return (busyTicks * 1e9) / USER_HZ;
}

/** The node's working set from /proc/meminfo: memory not available to new work (MemTotal - MemAvailable), in bytes. */
export function parseMemInfo(text: string): number {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const total = kb('MemTotal');
  if (total === undefined) throw new Error('no MemTotal in /proc/meminfo');
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Cached') ?? 0) + (kb('Buffers') ?? 0);
  return Math.max(0, total - available) * 1024;
}

/** Reads the node's sample from /proc. */
export async function readNodeSample(procDir = '/proc', now: () => number = Date.now): Promise<UsageSample> {
  const [stat, meminfo] = await Promise.all([readFile(`${procDir}/stat`, 'utf8'), readFile(`${procDir}/meminfo`, 'utf8')]);
  return { timestamp: now(), cpuUsageCoreNanoSeconds: parseProcStat(stat), memoryWorkingSetBytes: parseMemInfo(meminfo) };
}

/** What the collector reads from. */
export interface ResourceMetricsDeps {
  nodeName: string;
  runtime: Pick<ContainerRuntime, 'listContainers' | 'stats'>;
  /** The node's sample (default: /proc). */
  readNode?: () => Promise<UsageSample>;
  /** Collection period in ms (default 10 s). */
  intervalMs?: number;
  logger?: Logger;
}

interface ContainerTrack {
  info: ContainerInfo;
  last: UsageSample;
  rate?: UsageRate;
}

/** How many `stats` calls run at once. */
const STATS_CONCURRENCY = 8;

/** Samples the node and its running containers periodically and keeps their latest usage rates. */
export class ResourceMetrics {
  private readonly containers = new Map<string, ContainerTrack>();
  private nodeLast: UsageSample | undefined;
  private nodeRate: UsageRate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly intervalMs: number;

  constructor(private readonly deps: ResourceMetricsDeps) {
    this.intervalMs = deps.intervalMs ?? 10_000;
  }

  /** Collects now and then every interval until `stop()`. */
  start(): void {
    if (this.timer) return;
    void this.collect();
    this.timer = setInterval(() => void this.collect(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One collection round; a round still running is not overlapped. Never throws. */
  collect(): Promise<void> {
    this.running ??= this.collectOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async collectOnce(): Promise<void> {
    const log = this.deps.logger;
    try {
      const sample = await (this.deps.readNode ?? (() => readNodeSample()))();
      if (this.nodeLast) this.nodeRate = usageRate(this.nodeLast, sample) ?? this.nodeRate;
      this.nodeLast = sample;
    } catch (err) {
      log?.warn({ err }, 'reading node usage failed');
    }
    let list: ContainerInfo[];
    try {
      list = (await this.deps.runtime.listContainers({ all: false })).filter((c) => c.state === 'running');
    } catch (err) {
      log?.warn({ err }, 'listing containers for metrics failed');
      return;
    }
    const seen = new Set(list.map((c) => c.id));
    for (const id of this.containers.keys()) if (!seen.has(id)) this.containers.delete(id);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const info = list[next++]!;
        let s: ContainerStats;
        try {
          s = await this.deps.runtime.stats(info.id);
        } catch (err) {
          // Gone between list and stats, most likely; it is dropped next round.
          log?.debug({ err, container: info.id }, 'container stats failed');
          continue;
        }
        const sample: UsageSample = { timestamp: s.timestamp, cpuUsageCoreNanoSeconds: s.cpuUsageCoreNanoSeconds, memoryWorkingSetBytes: s.memoryWorkingSetBytes };
        const prev = this.containers.get(info.id);
        const rate = prev ? usageRate(prev.last, sample) : undefined;
        const keep = rate ?? prev?.rate;
        this.containers.set(info.id, { info, last: sample, ...(keep ? { rate: keep } : {}) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATS_CONCURRENCY, list.length) }, worker));
  }

  /** The latest usage of the node and of every pod with at least one measured container. */
  snapshot(): ResourceMetricsSnapshot {
    const node = this.nodeRate
      ? { nodeName: this.deps.nodeName, timestamp: formatIsoTime(this.nodeRate.timestamp), window: formatWindow(this.nodeRate.windowMs), cpuNanoCores: this.nodeRate.cpuNanoCores, memoryWorkingSetBytes: this.nodeRate.memoryWorkingSetBytes }
      : null;
    const byPod = new Map<string, { info: ContainerInfo; timestamp: number; windowMs: number; containers: PodUsage['containers'] }>();
    for (const t of this.containers.values()) {
      if (!t.rate) continue;
      let p = byPod.get(t.info.podUid);
      if (!p) {
        p = { info: t.info, timestamp: 0, windowMs: 0, containers: [] };
        byPod.set(t.info.podUid, p);
      }
      p.timestamp = Math.max(p.timestamp, t.rate.timestamp);
      p.windowMs = Math.max(p.windowMs, t.rate.windowMs);
      p.containers.push({ name: t.info.name, cpuNanoCores: t.rate.cpuNanoCores, memoryWorkingSetBytes: t.rate.memoryWorkingSetBytes });
    }
    const pods: PodUsage[] = [...byPod.values()].map((p) => ({
      namespace: p.info.podNamespace,
      name: p.info.podName,
      uid: p.info.podUid,
      timestamp: formatIsoTime(p.timestamp),
      window: formatWindow(p.windowMs),
      containers: p.containers.sort((a, b) => a.name.localeCompare(b.name)),
    }));
    pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    return { node, pods };
  }
}

/** The agent's HTTP route for resource metrics. */
export const STATS_SUMMARY_PATH = '/stats/summary';

/**
 * Answers `GET /stats/summary` with `metrics.snapshot()`; returns false (and leaves `resp` alone)
 * for any other path, so the agent's server can try its other routes.
 */
export function serveResourceMetrics(req: IncomingMessage, pathname: string, resp: ServerResponse, metrics: ResourceMetrics): boolean {
  if (pathname !== STATS_SUMMARY_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    resp.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('method not allowed');
    return true;
  }
  resp.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(metrics.snapshot()));
  return true;
}
