/**
 * Reads agents' resource usage (`GET /stats/summary` on the node's agent endpoint, the agent's
 * simplified kubelet Summary API) for the metrics.k8s.io API, with a short per-node cache so that
 * `kubectl top` and every HPA sync do not each hit every agent.
 *
 * Agents serve HTTPS (self-signed serving certificates, as kubelets by default; like metrics-server
 * with `--kubelet-insecure-tls` the certificate is not verified) and require a client certificate:
 * the API server presents its `apiserver-kubelet-client` certificate. An agent that answers plain
 * HTTP (older agents, tests) is detected on the TLS handshake error and remembered.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** One container's usage as an agent reports it. */
export interface ContainerUsageSummary {
  name: string;
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
}

/** One pod's usage as an agent reports it. */
export interface PodUsageSummary {
  namespace: string;
  name: string;
  uid?: string;
  /** RFC 3339 end of the window. */
  timestamp: string;
  /** Go duration (`10s`). */
  window: string;
  containers: ContainerUsageSummary[];
}

/** The node's usage as its agent reports it. */
export interface NodeUsageSummary {
  timestamp: string;
  window: string;
  cpuNanoCores: number;
  memoryWorkingSetBytes: number;
}

/** What `GET /stats/summary` of an agent answers. */
export interface StatsSummary {
  node: NodeUsageSummary | null;
  pods: PodUsageSummary[];
}

/** Where a node's agent listens. */
export interface AgentEndpoint {
  nodeName: string;
  host: string;
  port: number;
}

/** Source of agents' summaries. */
export interface SummarySource {
  /** The node's summary, or undefined when its agent cannot be reached (the node is skipped). */
  summary(endpoint: AgentEndpoint): Promise<StatsSummary | undefined>;
  close(): void;
}

/** Options of the client. */
export interface AgentSummaryClientOptions {
  /** Client certificate presented to agents. */
  clientCert?: { cert: string; key: string };
  /** How long a node's summary is reused (default 5 s). */
  cacheTtlMs?: number;
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * Loads the API server's client certificate for agents from the PKI directory
 * (`apiserver-kubelet-client.crt`/`.key`), or undefined when it does not exist.
 */
export async function loadKubeletClientCert(pkiDir: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(join(pkiDir, 'apiserver-kubelet-client.crt'), 'utf8'), readFile(join(pkiDir, 'apiserver-kubelet-client.key'), 'utf8')]);
    return { cert, key };
  } catch {
    return undefined;
  }
}

/** The failure means "this endpoint speaks plain HTTP" (a TLS ClientHello answered by an HTTP server). */
function isPlainHttpAnswer(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  return e?.code === 'EPROTO' || e?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e?.message ?? '');
}

const MAX_SUMMARY_BYTES = 32 * 1024 * 1024;

/** Fetches summaries over HTTPS (or HTTP), caching each node's for a few seconds. */
export class AgentSummaryClient implements SummarySource {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly plainHttp = new Set<string>();
  private readonly cache = new Map<string, { at: number; value: Promise<StatsSummary | undefined> }>();
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: AgentSummaryClientOptions = {}) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false, ...(options.clientCert ? { cert: options.clientCert.cert, key: options.clientCert.key } : {}) });
    this.ttl = options.cacheTtlMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  summary(endpoint: AgentEndpoint): Promise<StatsSummary | undefined> {
    const key = `${endpoint.nodeName}@${endpoint.host}:${endpoint.port}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttl) return hit.value;
    for (const [k, v] of this.cache) if (now - v.at >= this.ttl) this.cache.delete(k);
    const value = this.fetchSummary(endpoint, key).catch((err: unknown) => {
      this.options.logger?.warn({ err, node: endpoint.nodeName, host: endpoint.host, port: endpoint.port }, 'reading agent stats summary failed');
      return undefined;
    });
    this.cache.set(key, { at: now, value });
    return value;
  }

  private async fetchSummary(endpoint: AgentEndpoint, key: string): Promise<StatsSummary> {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    if (!this.plainHttp.has(key)) {
      try {
        return await this.get(`https://${host}:${endpoint.port}/stats/summary`);
      } catch (err) {
        if (!isPlainHttpAnswer(err)) throw err;
        this.plainHttp.add(key);
      }
    }
    return this.get(`http://${host}:${endpoint.port}/stats/summary`);
  }

  private get(url: string): Promise<StatsSummary> {
    const secure = url.startsWith('https:');
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).get(url, { agent: secure ? this.httpsAgent : this.httpAgent, headers: { accept: 'application/json' }, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_SUMMARY_BYTES) req.destroy(new Error('stats summary too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`agent answered ${res.statusCode} for ${url}`));
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StatsSummary;
            if (!body || !Array.isArray(body.pods)) throw new Error('not a stats summary');
            resolve(body);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`agent did not answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
    });
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
    this.cache.clear();
  }
}
