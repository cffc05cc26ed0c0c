/**
 * The resource metrics API, `metrics.k8s.io/v1beta1` (what metrics-server serves as an aggregated
 * API), served by the API server itself: `nodes` (NodeMetrics, cluster-scoped) and `pods`
 * (PodMetrics, namespaced), verbs get and list, with label selectors and `metadata.name` /
 * `metadata.namespace` field selectors. Objects come from the Node and Pod caches plus each node's
 * agent summary (see AgentSummaryClient); nodes without an agent endpoint, unreachable agents and
 * pods not measured yet are left out, as metrics-server leaves them out.
 *
 * `kubectl top` reads this, and so does the HPA controller.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest, methodNotAllowed, notFound, parseFieldSelector, parseLabelSelector, parseQuantity, type KubeObject } from '@flotilla/api';
import { negotiateView, parseQuery, queryBool, queryString, type Query } from '../http/negotiation.js';
import type { Registry } from '../registry/registry.js';
import type { SummarySource, StatsSummary } from './agent-summary-client.js';
import { agentEndpointOf, findPodUsage, formatCpuNanoCores, formatMemoryBytes, METRICS_API_VERSION, METRICS_GROUP, METRICS_VERSION, nodeMetricsOf, podMetricsOf } from './metrics-objects.js';

/** The group as /apis lists it. */
export const METRICS_API_GROUP: { name: string; versions: string[] } = { name: METRICS_GROUP, versions: [METRICS_VERSION] };

/** What the metrics API reads. */
export interface MetricsApiDeps {
  registry: Registry;
  summaries: SummarySource;
  now?: () => Date;
}

const PREFIX = `/apis/${METRICS_GROUP}`;
const POD_FIELDS: ReadonlySet<string> = new Set(['metadata.name', 'metadata.namespace']);
const NODE_FIELDS: ReadonlySet<string> = new Set(['metadata.name']);

function groupDocument(): Record<string, unknown> {
  const v = { groupVersion: METRICS_API_VERSION, version: METRICS_VERSION };
  return { kind: 'APIGroup', apiVersion: 'v1', name: METRICS_GROUP, versions: [v], preferredVersion: v };
}

/** `GET /apis/metrics.k8s.io/v1beta1`. */
export function metricsResourceList(): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: METRICS_API_VERSION,
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  };
}

const TABLE_COLUMNS = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
  { name: 'CPU', type: 'string', format: '', description: 'CPU usage', priority: 0 },
  { name: 'Memory', type: 'string', format: '', description: 'Memory usage', priority: 0 },
  { name: 'Window', type: 'string', format: '', description: 'Interval over which the usage was measured', priority: 0 },
];

/** CPU and memory cells of a table row: a pod shows the sum over its containers, as metrics-server's table does. */
function usageCells(o: KubeObject): [string, string] {
  const usages = o.kind === 'NodeMetrics' ? [(o as { usage?: Record<string, string> }).usage ?? {}] : ((o as { containers?: { usage?: Record<string, string> }[] }).containers ?? []).map((c) => c.usage ?? {});
  let cpuNano = 0n;
  let memoryNano = 0n;
  for (const u of usages) {
    cpuNano += parseQuantity(u['cpu'] ?? '0').nano;
    memoryNano += parseQuantity(u['memory'] ?? '0').nano;
  }
  return [formatCpuNanoCores(Number(cpuNano)), formatMemoryBytes(Number(memoryNano / 1_000_000_000n))];
}

function render(req: FastifyRequest, q: Query, objects: KubeObject[], listKind: string | undefined): string {
  const view = negotiateView(req.headers.accept);
  if (view === 'table') {
    const includeObject = queryString(q, 'includeObject');
    return JSON.stringify({
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: {},
      columnDefinitions: TABLE_COLUMNS,
      rows: objects.map((o) => ({
        cells: [o.metadata.name ?? '', ...usageCells(o), (o as { window?: string }).window ?? ''],
        ...(includeObject === 'None' ? {} : { object: includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } }),
      })),
    });
  }
  if (view === 'partial') {
    const partial = objects.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }));
    return JSON.stringify(listKind === undefined ? partial[0] : { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: {}, items: partial });
  }
  return JSON.stringify(listKind === undefined ? objects[0] : { kind: listKind, apiVersion: METRICS_API_VERSION, metadata: {}, items: objects });
}

/** Registers `/apis/metrics.k8s.io[/v1beta1[/...]]` on the app (before its generic `/apis/*` handler matters: static routes win). */
export function registerMetricsApi(app: FastifyInstance, deps: MetricsApiDeps): void {
  const now = deps.now ?? (() => new Date());
  const nodesCache = () => deps.registry.mustStore('', 'nodes').cache;
  const podsCache = () => deps.registry.mustStore('', 'pods').cache;

  async function summaryOf(nodeName: string, memo: Map<string, Promise<StatsSummary | undefined>>): Promise<StatsSummary | undefined> {
    let p = memo.get(nodeName);
    if (!p) {
      const cached = nodesCache().get(nodeName);
      const endpoint = cached ? agentEndpointOf(JSON.parse(cached.json) as KubeObject) : undefined;
      p = endpoint ? deps.summaries.summary(endpoint) : Promise.resolve(undefined);
      memo.set(nodeName, p);
    }
    return p;
  }

  async function nodeMetrics(q: Query, name: string | undefined): Promise<KubeObject[]> {
    const at = now();
    const nodes = name !== undefined
      ? [nodesCache().get(name)].filter((o) => o !== undefined)
      : nodesCache().list({ labelSelector: parseLabelSelector(queryString(q, 'labelSelector')), fieldSelector: parseFieldSelector(queryString(q, 'fieldSelector'), NODE_FIELDS) }, 0).items;
    const memo = new Map<string, Promise<StatsSummary | undefined>>();
    const out = await Promise.all(
      nodes.map(async (c) => {
        const node = JSON.parse(c.json) as KubeObject;
        const usage = (await summaryOf(c.name, memo))?.node;
        return usage ? nodeMetricsOf(node, usage, at) : undefined;
      }),
    );
    return out.filter((o): o is KubeObject => o !== undefined);
  }

  async function podMetrics(q: Query, namespace: string | undefined, name: string | undefined): Promise<KubeObject[]> {
    const at = now();
    const pods = name !== undefined
      ? [podsCache().get(`${namespace}/${name}`)].filter((o) => o !== undefined)
      : podsCache().list({ ...(namespace ? { namespace } : {}), labelSelector: parseLabelSelector(queryString(q, 'labelSelector')), fieldSelector: parseFieldSelector(queryString(q, 'fieldSelector'), POD_FIELDS) }, 0).items;
    const memo = new Map<string, Promise<StatsSummary | undefined>>();
    const out = await Promise.all(
      pods.map(async (c) => {
        const pod = JSON.parse(c.json) as KubeObject;
        const nodeName = (pod['spec'] as { nodeName?: string } | undefined)?.nodeName;
        if (!nodeName) return undefined;
        const summary = await summaryOf(nodeName, memo);
        const usage = summary ? findPodUsage(summary.pods, pod) : undefined;
        return usage && usage.containers.length > 0 ? podMetricsOf(pod, usage, at) : undefined;
      }),
    );
    return out.filter((o): o is KubeObject => o !== undefined);
  }

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const [path = '', qs = ''] = req.url.split('?', 2) as [string, string?];
    const parts = path.slice(PREFIX.length).split('/').filter((s) => s !== '').map(decodeURIComponent);
    const q = parseQuery(qs);
    const send = (body: string) => reply.code(200).type('application/json').send(body);
    if (parts.length === 0 || (parts.length === 1 && parts[0] === METRICS_VERSION)) {
      if (req.method !== 'GET') throw methodNotAllowed();
      return send(JSON.stringify(parts.length === 0 ? groupDocument() : metricsResourceList()));
    }
    if (parts[0] !== METRICS_VERSION) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    const rest = parts.slice(1);
    let kind: 'nodes' | 'pods' | undefined;
    let namespace: string | undefined;
    let name: string | undefined;
    if (rest[0] === 'nodes' && rest.length <= 2) [kind, name] = ['nodes', rest[1]];
    else if (rest[0] === 'pods' && rest.length === 1) kind = 'pods';
    else if (rest[0] === 'namespaces' && rest[2] === 'pods' && rest.length >= 3 && rest.length <= 4) [kind, namespace, name] = ['pods', rest[1], rest[3]];
    if (!kind) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
    if (req.method !== 'GET') throw methodNotAllowed();
    if (queryBool(q, 'watch')) throw methodNotAllowed(`watch is not supported on ${kind}.${METRICS_GROUP}`);
    if (kind === 'nodes') {
      const items = await nodeMetrics(q, name);
      if (name !== undefined && items.length === 0) throw notFound({ qualifiedResource: `nodes.${METRICS_GROUP}`, name });
      return send(render(req, q, items, name === undefined ? 'NodeMetricsList' : undefined));
    }
    if (name !== undefined && !namespace) throw badRequest('a namespace is required');
    const items = await podMetrics(q, namespace, name);
    if (name !== undefined && items.length === 0) throw notFound({ qualifiedResource: `pods.${METRICS_GROUP}`, name: `${namespace}/${name}` });
    return send(render(req, q, items, name === undefined ? 'PodMetricsList' : undefined));
  };
  for (const url of [PREFIX, `${PREFIX}/*`]) app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url, handler });
}
