/**
 * Where the autoscaler reads pods' resource usage: the resource metrics API
 * (`GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods?labelSelector=…`, served by metrics-server
 * or an aggregated API), behind an interface so tests inject a fake.
 */
import { ApiError, isNotFound, type KubeObject, type ResourceInfo } from '@flotilla/api';
import { ConnectionError, type KubeClient } from '@flotilla/client';

/** A metrics.k8s.io/v1beta1 PodMetrics: usage per container over a window ending at `timestamp`. */
export interface PodMetrics extends KubeObject {
  /** When the window ended (RFC 3339). */
  timestamp?: string;
  /** The window's length (a Go duration, `30s`). */
  window?: string;
  containers?: { name: string; usage?: Record<string, string> }[];
}

/** Reads pod metrics. */
export interface PodMetricsSource {
  /**
   * The metrics of the pods of `namespace` matching `selector` (a label selector string), or
   * undefined when the metrics API is not available (not served, 503, unreachable). Other errors
   * are thrown.
   */
  podMetrics(namespace: string, selector: string): Promise<PodMetrics[] | undefined>;
}

/** The `pods` resource of the metrics.k8s.io/v1beta1 group (not in the resource table: it is not stored). */
export const POD_METRICS: ResourceInfo = {
  group: 'metrics.k8s.io',
  version: 'v1beta1',
  kind: 'PodMetrics',
  listKind: 'PodMetricsList',
  plural: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: ['get', 'list'],
  subresources: [],
};

/** True for the answers that mean "the metrics API is not there" rather than "the request was wrong". */
function isUnavailable(err: unknown): boolean {
  return isNotFound(err) || (err instanceof ApiError && err.code === 503) || err instanceof ConnectionError;
}

/** Pod metrics listed through the KubeClient from the metrics.k8s.io API. */
export class MetricsApiPodMetricsSource implements PodMetricsSource {
  constructor(private readonly client: KubeClient) {}

  async podMetrics(namespace: string, selector: string): Promise<PodMetrics[] | undefined> {
    try {
      const list = await this.client.list<PodMetrics>(POD_METRICS, { namespace, labelSelector: selector });
      return list.items;
    } catch (err) {
      if (isUnavailable(err)) return undefined;
      throw err;
    }
  }
}
