/**
 * The small HTTP endpoint every control-plane component serves: /healthz (/livez, /readyz) and
 * Prometheus /metrics from a registry (prom-client's Registry fits).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What /metrics needs from a metrics registry. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A listening health and metrics endpoint. */
export interface HealthServer {
  /** `http://host:port`. */
  url: string;
  close(): Promise<void>;
}

/** Listens on `bindAddress:port` (port 0 picks one); resolves once listening. */
export async function serveHealthAndMetrics(o: { bindAddress: string; port: number; registry: MetricsRegistry }): Promise<HealthServer> {
  const server: Server = createServer((req, resp) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      resp.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => resp.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        () => resp.writeHead(500).end(),
      );
    } else resp.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.bindAddress, resolve);
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
