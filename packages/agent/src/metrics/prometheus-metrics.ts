/**
 * The agent's Prometheus `/metrics`: prom-client's default process and Node.js metrics plus
 * `agent_running_pods`. prom-client (with the OpenTelemetry API it requires, ~80 modules) loads
 * with the first scrape, so an agent nobody scrapes does not carry it; from then on it is the same
 * registry as before, except that the event-loop-lag and GC histograms count from the first scrape.
 */
import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** Metrics the agent reports besides the defaults. */
export interface AgentMetricSources {
  /** Pods the agent is syncing. */
  runningPods(): number;
}

/** Answers `/metrics` requests; the registry is made on the first. */
export function prometheusMetrics(sources: AgentMetricSources): (resp: ServerResponse) => void {
  let registry: Promise<Registry> | undefined;
  const create = async (): Promise<Registry> => {
    const { collectDefaultMetrics, Gauge, Registry } = await import('prom-client');
    const r = new Registry();
    new Gauge({ name: 'agent_running_pods', help: 'Pods this agent is syncing.', registers: [r], collect() { this.set(sources.runningPods()); } });
    collectDefaultMetrics({ register: r });
    return r;
  };
  return (resp) => {
    (registry ??= create().catch((err: unknown) => {
      registry = undefined;
      throw err;
    }))
      .then(async (r) => resp.writeHead(200, { 'content-type': r.contentType }).end(await r.metrics()))
      .catch(() => {
        if (!resp.headersSent) resp.writeHead(500);
        resp.end();
      });
  };
}
