/**
 * Raw HTTPS requests against the API server, for tests that need exact control of methods, headers
 * and bodies (bad input, content negotiation, watch streams).
 */
import { request as httpsRequest, Agent } from 'node:https';

/** The answer to a raw request. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
}

/** Options of a raw request. */
export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  token?: string | null;
  timeoutMs?: number;
}

/** Talks to one server with its CA. */
export class RawClient {
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    caPem: string,
    private readonly token: string,
  ) {
    this.agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 64 });
  }

  /** Sends a request and reads the whole response. */
  request(path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers ?? {}) };
    const token = options.token === undefined ? this.token : options.token;
    if (token !== null) headers['Authorization'] = `Bearer ${token}`;
    if (options.body !== undefined && headers['Content-Type'] === undefined) headers['Content-Type'] = 'application/json';
    // Node sends DELETE bodies without chunked framing, so the length must be explicit.
    if (options.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.body));
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method: options.method ?? 'GET', headers, agent: this.agent, timeout: options.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`request to ${path} timed out`)));
      req.on('error', reject);
      if (options.body !== undefined) req.write(options.body);
      req.end();
    });
  }

  /** Sends `body` as JSON (none when undefined) with `method`; resolves the whole response. */
  send<T = any>(path: string, method = 'GET', body?: unknown): Promise<Omit<RawResponse, 'json'> & { json: T }> {
    return this.request(path, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }) as Promise<Omit<RawResponse, 'json'> & { json: T }>;
  }

  /** Like {@link send}, but fails (naming the request and the answer) unless the status is 2xx; resolves the parsed body. */
  async ok<T = any>(path: string, method = 'GET', body?: unknown): Promise<T> {
    const r = await this.send<T>(path, method, body);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
    return r.json;
  }

  /** Opens a watch and collects events until `until` returns true or the timeout passes. */
  watch(path: string, until: (events: { type: string; object: Record<string, unknown> }[]) => boolean, timeoutMs = 15_000): Promise<{ type: string; object: Record<string, unknown> }[]> {
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const events: { type: string; object: Record<string, unknown> }[] = [];
      let buf = '';
      const req = httpsRequest(url, { method: 'GET', headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json' }, agent: false as unknown as Agent, ca: (this.agent.options as { ca?: string }).ca }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => reject(new Error(`watch ${path}: HTTP ${res.statusCode}: ${body}`)));
          return;
        }
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) events.push(JSON.parse(line) as { type: string; object: Record<string, unknown> });
          }
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(events);
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        resolve(events);
      }, timeoutMs);
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
      req.end();
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
  }
}
