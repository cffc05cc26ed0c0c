/**
 * What every command gets: the global flags resolved into a kubeconfig context, a lazily created
 * RestClient, the effective namespace and the output streams.
 */
import type { ClientConfig, RestClient } from '@flotilla/client';
import type { CliIO } from './io.js';

/** The flags every command accepts (kubectl's global flags that flctl supports). */
export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  server?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
  requestTimeout?: string;
}

/** Per-invocation state shared by the commands. */
export class CliContext {
  private clientConfig: ClientConfig | undefined;
  private restClient: RestClient | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIO,
  ) {}

  /** The kubeconfig context in effect, with --server/--token overrides. */
  async config(): Promise<ClientConfig> {
    if (!this.clientConfig) {
      const { loadClientConfig } = await import('@flotilla/client');
      let cfg: ClientConfig;
      if (this.options.server && !this.options.kubeconfig && !process.env['KUBECONFIG']) cfg = { server: this.options.server, namespace: 'default' };
      else cfg = loadClientConfig({ ...(this.options.kubeconfig ? { kubeconfig: this.options.kubeconfig } : {}), ...(this.options.context ? { context: this.options.context } : {}) });
      if (this.options.server) cfg.server = this.options.server;
      if (this.options.token) cfg.token = this.options.token;
      if (this.options.insecureSkipTlsVerify) cfg.insecureSkipTLSVerify = true;
      this.clientConfig = cfg;
    }
    return this.clientConfig;
  }

  /** The client (created on first use). */
  async client(): Promise<RestClient> {
    if (!this.restClient) {
      const cfg = await this.config();
      const { RestClient } = await import('@flotilla/client');
      const timeoutMs = this.options.requestTimeout ? parseTimeout(this.options.requestTimeout) : undefined;
      this.restClient = new RestClient(cfg, { userAgent: 'flctl/v0.1.0', connections: 16, ...(timeoutMs ? { timeoutMs } : {}) });
    }
    return this.restClient;
  }

  /** `-n`, else the context's namespace, else `default`. */
  async namespace(): Promise<string> {
    if (this.options.namespace) return this.options.namespace;
    return (await this.config()).namespace || 'default';
  }

  /** Writes to stdout. */
  out(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes to stderr. */
  err(text: string): void {
    this.io.stderr.write(text);
  }

  /** Closes connections so the process can exit. */
  async close(): Promise<void> {
    await this.restClient?.close();
  }
}

/** `30s`, `2m`, `1h`, or plain seconds; 0 = none. */
export function parseTimeout(text: string): number | undefined {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new Error(`invalid duration "${text}"`);
  return ms === 0 ? undefined : ms;
}

/** Parses a Go duration (`1h2m3.5s`, `500ms`) or a bare number of seconds into milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === t.length && t.length > 0 ? total : undefined;
}
