/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics built from agents' summaries, exactly as
 * metrics-server returns them: `usage` quantities in Kubernetes' canonical form (`cpu: "123456n"` /
 * `"5m"`, `memory: "12345Ki"`), `timestamp` (end of the window), `window` (`"10s"`), and metadata
 * with the object's name, namespace and labels and the time of the request as creationTimestamp.
 */
import { formatTime, type KubeObject } from '@flotilla/api';
import type { AgentEndpoint, NodeUsageSummary, PodUsageSummary } from './agent-summary-client.js';

/** The group/version served. */
export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
export const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;

/** Label of hollow (simulated) nodes, which have no agent endpoint. */
const HOLLOW_NODE_LABEL = 'node.flotilla.io/hollow';

const DECIMAL_SUFFIXES: readonly [number, string][] = [
  [18, 'E'],
  [15, 'P'],
  [12, 'T'],
  [9, 'G'],
  [6, 'M'],
  [3, 'k'],
  [0, ''],
  [-3, 'm'],
  [-6, 'u'],
  [-9, 'n'],
];

/**
 * Nanocores as a canonical DecimalSI quantity (Go's `resource.NewScaledQuantity(n, -9).String()`):
 * the largest suffix that keeps an integer mantissa — `5000000` → `5m`, `1500000000` → `1500m`,
 * `2000000000` → `2`, `123456` → `123456n`.
 */
export function formatCpuNanoCores(nanoCores: number): string {
  let n = BigInt(Math.max(0, Math.round(nanoCores)));
  if (n === 0n) return '0';
  let exp = -9;
  while (n % 1000n === 0n && exp < 18) {
    n /= 1000n;
    exp += 3;
  }
  return `${n}${DECIMAL_SUFFIXES.find(([e]) => e === exp)![1]}`;
}

const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/**
 * Bytes as a canonical BinarySI quantity (Go's `resource.NewQuantity(b, BinarySI).String()`): the
 * largest power-of-1024 suffix that divides exactly — `12288` → `12Ki`, `1048576` → `1Mi`,
 * `1000` → `1000`.
 */
export function formatMemoryBytes(bytes: number): string {
  let n = BigInt(Math.max(0, Math.round(bytes)));
  if (n < 1024n) return String(n);
  let i = 0;
  while (n % 1024n === 0n && i < BINARY_SUFFIXES.length - 1) {
    n /= 1024n;
    i++;
  }
  return `${n}${BINARY_SUFFIXES[i]}`;
}

interface NodeView {
  status?: { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
}

/**
 * Where the node's agent listens: its InternalIP (else ExternalIP, else Hostname) and
 * `status.daemonEndpoints.kubeletEndpoint.Port`. Undefined for nodes without an agent endpoint
 * (Port 0 or missing, hollow nodes, no address).
 */
export function agentEndpointOf(node: KubeObject): AgentEndpoint | undefined {
  if (node.metadata.labels?.[HOLLOW_NODE_LABEL] === 'true') return undefined;
  const status = (node as NodeView).status;
  const port = status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!port || port <= 0 || port > 65535) return undefined;
  const addresses = status?.addresses ?? [];
  for (const type of ['InternalIP', 'ExternalIP', 'Hostname']) {
    const a = addresses.find((x) => x.type === type && x.address);
    if (a) return { nodeName: node.metadata.name ?? '', host: a.address, port };
  }
  return undefined;
}

function metadataOf(obj: KubeObject, now: Date): Record<string, unknown> {
  const m: Record<string, unknown> = { name: obj.metadata.name };
  if (obj.metadata.namespace) m['namespace'] = obj.metadata.namespace;
  m['creationTimestamp'] = formatTime(now);
  if (obj.metadata.labels && Object.keys(obj.metadata.labels).length > 0) m['labels'] = obj.metadata.labels;
  return m;
}

/** The NodeMetrics of `node`. */
export function nodeMetricsOf(node: KubeObject, usage: NodeUsageSummary, now: Date): KubeObject {
  return {
    kind: 'NodeMetrics',
    apiVersion: METRICS_API_VERSION,
    metadata: metadataOf(node, now),
    timestamp: formatTime(new Date(usage.timestamp)),
    window: usage.window,
    usage: { cpu: formatCpuNanoCores(usage.cpuNanoCores), memory: formatMemoryBytes(usage.memoryWorkingSetBytes) },
  } as KubeObject;
}

/** The PodMetrics of `pod`, with its containers in spec order. */
export function podMetricsOf(pod: KubeObject, usage: PodUsageSummary, now: Date): KubeObject {
  const order = (((pod['spec'] as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((c) => c.name));
  const rank = (name: string) => {
    const i = order.indexOf(name);
    return i < 0 ? order.length : i;
  };
  const containers = [...usage.containers].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  return {
    kind: 'PodMetrics',
    apiVersion: METRICS_API_VERSION,
    metadata: metadataOf(pod, now),
    timestamp: formatTime(new Date(usage.timestamp)),
    window: usage.window,
    containers: containers.map((c) => ({ name: c.name, usage: { cpu: formatCpuNanoCores(c.cpuNanoCores), memory: formatMemoryBytes(c.memoryWorkingSetBytes) } })),
  } as KubeObject;
}

/** The usage of `pod` in an agent's summary (same namespace and name, and uid when both carry one). */
export function findPodUsage(pods: readonly PodUsageSummary[], pod: KubeObject): PodUsageSummary | undefined {
  const uid = pod.metadata.uid;
  return pods.find((p) => p.namespace === pod.metadata.namespace && p.name === pod.metadata.name && (!p.uid || !uid || p.uid === uid));
}
