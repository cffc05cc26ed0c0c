/**
 * `flctl top nodes|pods`: resource usage from metrics.k8s.io/v1beta1, printed like kubectl top
 * (CPU in millicores `123m`, memory in `Mi`, node CPU% and MEMORY% of allocatable or, with
 * --show-capacity, of capacity; every cell tab-terminated as kubectl's tabwriter pads them).
 */
import { parseQuantity, type KubeObject } from '@flotilla/api';
import { res, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { apiErrorCode, CliError } from '../cli-error.js';
import { formatColumns } from '../printers/columns.js';

type Usage = Record<string, string>;

/** NodeMetrics. */
export interface NodeMetrics {
  metadata: { name: string };
  usage?: Usage;
}

/** PodMetrics. */
export interface PodMetrics {
  metadata: { name: string; namespace?: string };
  containers?: { name: string; usage?: Usage }[];
}

interface NodeView extends KubeObject {
  status?: { allocatable?: Usage; capacity?: Usage };
}

const METRICS = '/apis/metrics.k8s.io/v1beta1';

/** Options of top. */
export interface TopOptions {
  selector?: string;
  allNamespaces?: boolean;
  containers?: boolean;
  sortBy?: string;
  noHeaders?: boolean;
  showCapacity?: boolean;
}

function milli(q: string | undefined): bigint {
  if (!q) return 0n;
  try {
    return parseQuantity(q).toMilli();
  } catch {
    return 0n;
  }
}

function bytes(q: string | undefined): bigint {
  if (!q) return 0n;
  try {
    return parseQuantity(q).value();
  } catch {
    return 0n;
  }
}

/** `123m`. */
export function formatCpu(q: string | undefined): string {
  return `${milli(q)}m`;
}

/** `45Mi` (whole MiB, truncated like kubectl). */
export function formatMemory(q: string | undefined): string {
  return `${bytes(q) / (1024n * 1024n)}Mi`;
}

function percent(used: bigint, available: bigint): string {
  if (available === 0n) return '0%';
  return `${Math.trunc((Number(used) / Number(available)) * 100)}%`;
}

function checkSortBy(sortBy: string | undefined): void {
  if (sortBy !== undefined && sortBy !== '' && sortBy !== 'cpu' && sortBy !== 'memory') throw new CliError('--sort-by accepts only cpu or memory');
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

/** kubectl's node table, rows sorted by name or descending usage. */
export function formatNodeTable(metrics: NodeMetrics[], nodes: Map<string, Usage | undefined>, opts: TopOptions): string {
  const sorted = [...metrics].sort((a, b) => {
    if (opts.sortBy === 'cpu') return cmp(milli(a.usage?.['cpu']), milli(b.usage?.['cpu']));
    if (opts.sortBy === 'memory') return cmp(bytes(a.usage?.['memory']), bytes(b.usage?.['memory']));
    return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  });
  const rows: string[][] = [];
  if (!opts.noHeaders) rows.push(['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%', '']);
  const seen = new Set<string>();
  for (const m of sorted) {
    seen.add(m.metadata.name);
    const cpu = m.usage?.['cpu'];
    const mem = m.usage?.['memory'];
    const available = nodes.get(m.metadata.name);
    const row = [m.metadata.name, formatCpu(cpu)];
    if (available?.['cpu'] !== undefined) row.push(percent(milli(cpu), milli(available['cpu'])));
    row.push(formatMemory(mem));
    if (available?.['memory'] !== undefined) row.push(percent(milli(mem), milli(available['memory'])));
    row.push('');
    rows.push(row);
  }
  for (const name of [...nodes.keys()].filter((n) => !seen.has(n)).sort()) rows.push([name, '<unknown>', '<unknown>', '<unknown>', '<unknown>', '']);
  return formatColumns(rows);
}

function nano(q: string | undefined): bigint {
  if (!q) return 0n;
  try {
    return parseQuantity(q).nano;
  } catch {
    return 0n;
  }
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return a <= 0n ? a / b : (a + b - 1n) / b;
}

/** A pod's usage: the exact sum over its containers, then rounded up like Quantity.MilliValue/Value. */
function podTotals(m: PodMetrics): { cpu: bigint; memory: bigint } {
  let cpu = 0n;
  let memory = 0n;
  for (const c of m.containers ?? []) {
    cpu += nano(c.usage?.['cpu']);
    memory += nano(c.usage?.['memory']);
  }
  return { cpu: ceilDiv(cpu, 1_000_000n), memory: ceilDiv(memory, 1_000_000_000n) };
}

/** kubectl's pod table (NAMESPACE with -A, POD with --containers). */
export function formatPodTable(metrics: PodMetrics[], opts: TopOptions): string {
  const withNs = opts.allNamespaces === true;
  const sorted = [...metrics].sort((a, b) => {
    if (opts.sortBy === 'cpu') return cmp(podTotals(a).cpu, podTotals(b).cpu);
    if (opts.sortBy === 'memory') return cmp(podTotals(a).memory, podTotals(b).memory);
    const an = a.metadata.namespace ?? '';
    const bn = b.metadata.namespace ?? '';
    if (withNs && an !== bn) return an < bn ? -1 : 1;
    return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  });
  const rows: string[][] = [];
  if (!opts.noHeaders) rows.push([...(withNs ? ['NAMESPACE'] : []), ...(opts.containers ? ['POD'] : []), 'NAME', 'CPU(cores)', 'MEMORY(bytes)', '']);
  for (const m of sorted) {
    const lead = withNs ? [m.metadata.namespace ?? ''] : [];
    if (opts.containers) {
      const containers = [...(m.containers ?? [])].sort((a, b) => {
        if (opts.sortBy === 'cpu') return cmp(milli(a.usage?.['cpu']), milli(b.usage?.['cpu']));
        if (opts.sortBy === 'memory') return cmp(bytes(a.usage?.['memory']), bytes(b.usage?.['memory']));
        return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      });
      for (const c of containers) rows.push([...lead, m.metadata.name, c.name, formatCpu(c.usage?.['cpu']), formatMemory(c.usage?.['memory']), '']);
    } else {
      const t = podTotals(m);
      rows.push([...lead, m.metadata.name, `${t.cpu}m`, `${t.memory / (1024n * 1024n)}Mi`, '']);
    }
  }
  return formatColumns(rows);
}

async function getJson<T>(client: RestClient, path: string): Promise<T> {
  try {
    return JSON.parse((await client.request('GET', path)).body) as T;
  } catch (err) {
    if (apiErrorCode(err) === 404 && !/\/(nodes|pods)\/[^/]+$/.test(path.split('?')[0]!)) throw new CliError('Metrics API not available');
    throw err;
  }
}

function selectorQuery(selector: string | undefined): string {
  return selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
}

/** Runs `top node`. */
export async function runTopNode(ctx: CliContext, name: string | undefined, opts: TopOptions): Promise<number> {
  checkSortBy(opts.sortBy);
  if (name && opts.selector) throw new CliError('only one of NAME or --selector can be provided');
  const client = await ctx.client();
  let metrics: NodeMetrics[];
  let nodes: NodeView[];
  if (name) {
    metrics = [await getJson<NodeMetrics>(client, `${METRICS}/nodes/${encodeURIComponent(name)}`)];
    nodes = [await client.get<NodeView>(res('nodes'), '', name)];
  } else {
    metrics = (await getJson<{ items?: NodeMetrics[] }>(client, `${METRICS}/nodes${selectorQuery(opts.selector)}`)).items ?? [];
    if (metrics.length === 0) throw new CliError('metrics not available yet');
    nodes = (await client.list<NodeView>(res('nodes'), opts.selector ? { labelSelector: opts.selector } : {})).items;
  }
  const available = new Map<string, Usage | undefined>(nodes.map((n) => [n.metadata.name ?? '', opts.showCapacity ? n.status?.capacity : n.status?.allocatable]));
  ctx.out(formatNodeTable(metrics, available, opts));
  return 0;
}

/** Runs `top pod`. */
export async function runTopPod(ctx: CliContext, name: string | undefined, opts: TopOptions): Promise<number> {
  checkSortBy(opts.sortBy);
  if (name && opts.selector) throw new CliError('only one of NAME or --selector can be provided');
  const client = await ctx.client();
  const namespace = opts.allNamespaces ? '' : await ctx.namespace();
  let metrics: PodMetrics[];
  if (name) {
    metrics = [await getJson<PodMetrics>(client, `${METRICS}/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`)];
  } else {
    const base = namespace ? `${METRICS}/namespaces/${encodeURIComponent(namespace)}/pods` : `${METRICS}/pods`;
    metrics = (await getJson<{ items?: PodMetrics[] }>(client, base + selectorQuery(opts.selector))).items ?? [];
    if (metrics.length === 0) {
      const pods = await client.list(res('pods'), { ...(namespace ? { namespace } : {}), ...(opts.selector ? { labelSelector: opts.selector } : {}) });
      if (pods.items.length > 0) throw new CliError('metrics not available yet');
      ctx.err(opts.allNamespaces ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`);
      return 0;
    }
  }
  ctx.out(formatPodTable(metrics, opts));
  return 0;
}
