/**
 * Kubeconfig files: loading (a path, `KUBECONFIG` lists merged like kubectl, `~/.kube/config`)
 * into a ClientConfig, and writing one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * js-yaml for one call: its CommonJS build, let go afterwards unless something had loaded it
 * before. A long-running component (the agent) reads its kubeconfig once, at start; kept, the
 * parser's code and source would hold ~0.5 MiB of its heap for good.
 */
function withYaml<T>(use: (yaml: typeof import('js-yaml')) => T): T {
  const id = require.resolve('js-yaml');
  const before = require.cache[id];
  try {
    return use(require(id) as typeof import('js-yaml'));
  } finally {
    const mod = require.cache[id];
    if (!before && mod) {
      delete require.cache[id];
      const siblings = mod.parent?.children;
      const at = siblings?.indexOf(mod) ?? -1;
      if (at >= 0) siblings!.splice(at, 1);
    }
  }
}

/** Everything a client needs to reach one API server as one user. */
export interface ClientConfig {
  server: string;
  /** PEM of the CA that signs the server certificate. */
  ca?: string;
  /** PEM client certificate and key. */
  cert?: string;
  key?: string;
  token?: string;
  insecureSkipTLSVerify?: boolean;
  /** Name to verify the server certificate against (tls-server-name). */
  tlsServerName?: string;
  /** The context's namespace (default "default"). */
  namespace: string;
  /** The context name it came from. */
  context?: string;
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface RawKubeconfig {
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<Record<string, unknown>>[];
  'current-context'?: string;
}

/** A merged kubeconfig with where each file lives (for relative paths). */
export interface Kubeconfig {
  clusters: Map<string, { data: Record<string, unknown>; dir: string }>;
  users: Map<string, { data: Record<string, unknown>; dir: string }>;
  contexts: Map<string, Record<string, unknown>>;
  currentContext: string | undefined;
}

/** The kubeconfig paths in effect: an explicit one, else `$KUBECONFIG` (colon list), else `~/.kube/config`. */
export function kubeconfigPaths(explicit?: string): string[] {
  if (explicit) return [explicit];
  const env = process.env['KUBECONFIG'];
  if (env) return env.split(':').filter((p) => p !== '');
  return [resolve(homedir(), '.kube', 'config')];
}

/** Reads and merges kubeconfig files; the first file that sets a name wins (kubectl's rule). */
export function readKubeconfig(paths: string[]): Kubeconfig {
  const kc: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  let readAny = false;
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && paths.length > 1) continue;
      throw new Error(`cannot read kubeconfig ${p}: ${(err as Error).message}`, { cause: err });
    }
    readAny = true;
    const raw = (withYaml((yaml) => yaml.load(text)) ?? {}) as RawKubeconfig;
    const dir = dirname(resolve(p));
    for (const c of raw.clusters ?? []) if (!kc.clusters.has(c.name)) kc.clusters.set(c.name, { data: c.cluster ?? {}, dir });
    for (const u of raw.users ?? []) if (!kc.users.has(u.name)) kc.users.set(u.name, { data: u.user ?? {}, dir });
    for (const c of raw.contexts ?? []) if (!kc.contexts.has(c.name)) kc.contexts.set(c.name, c.context ?? {});
    kc.currentContext ??= raw['current-context'] || undefined;
  }
  if (!readAny) throw new Error(`no kubeconfig found (looked at ${paths.join(', ')})`);
  return kc;
}

function fileOrData(entry: Record<string, unknown>, fileKey: string, dataKey: string, dir: string): string | undefined {
  const data = entry[dataKey];
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64').toString('utf8');
  const file = entry[fileKey];
  if (typeof file === 'string' && file !== '') return readFileSync(isAbsolute(file) ? file : resolve(dir, file), 'utf8');
  return undefined;
}

/** Resolves a context (default: the current one) of a kubeconfig to a ClientConfig. */
export function clientConfigFrom(kc: Kubeconfig, contextName?: string): ClientConfig {
  const name = contextName ?? kc.currentContext;
  if (!name) throw new Error('kubeconfig has no current-context; pass --context');
  const ctx = kc.contexts.get(name);
  if (!ctx) throw new Error(`context "${name}" not found in kubeconfig`);
  const cluster = kc.clusters.get(String(ctx['cluster'] ?? ''));
  if (!cluster) throw new Error(`cluster "${String(ctx['cluster'])}" of context "${name}" not found in kubeconfig`);
  const server = cluster.data['server'];
  if (typeof server !== 'string' || server === '') throw new Error(`cluster "${String(ctx['cluster'])}" has no server`);
  const cfg: ClientConfig = { server: server.replace(/\/+$/, ''), namespace: typeof ctx['namespace'] === 'string' && ctx['namespace'] ? ctx['namespace'] : 'default', context: name };
  const ca = fileOrData(cluster.data, 'certificate-authority', 'certificate-authority-data', cluster.dir);
  if (ca) cfg.ca = ca;
  if (cluster.data['insecure-skip-tls-verify'] === true) cfg.insecureSkipTLSVerify = true;
  if (typeof cluster.data['tls-server-name'] === 'string') cfg.tlsServerName = cluster.data['tls-server-name'];
  const user = ctx['user'] !== undefined ? kc.users.get(String(ctx['user'])) : undefined;
  if (user) {
    const token = user.data['token'];
    if (typeof token === 'string' && token !== '') cfg.token = token;
    const tokenFile = user.data['tokenFile'];
    if (!cfg.token && typeof tokenFile === 'string' && tokenFile !== '') cfg.token = readFileSync(isAbsolute(tokenFile) ? tokenFile : resolve(user.dir, tokenFile), 'utf8').trim();
    const cert = fileOrData(user.data, 'client-certificate', 'client-certificate-data', user.dir);
    const key = fileOrData(user.data, 'client-key', 'client-key-data', user.dir);
    if (cert && key) {
      cfg.cert = cert;
      cfg.key = key;
    }
  }
  return cfg;
}

/** Loads the ClientConfig the way kubectl would (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`). */
export function loadClientConfig(options: { kubeconfig?: string; context?: string } = {}): ClientConfig {
  return clientConfigFrom(readKubeconfig(kubeconfigPaths(options.kubeconfig)), options.context);
}

/** What goes into a kubeconfig written by Flotilla. */
export interface KubeconfigSpec {
  server: string;
  caPem: string;
  token?: string;
  certPem?: string;
  keyPem?: string;
  clusterName?: string;
  userName?: string;
  namespace?: string;
}

/** A kubeconfig (YAML) with one cluster, one user and one context. */
export function buildKubeconfig(spec: KubeconfigSpec): string {
  const cluster = spec.clusterName ?? 'flotilla';
  const userName = spec.userName ?? 'admin';
  const user: Record<string, string> = {};
  if (spec.token) user['token'] = spec.token;
  if (spec.certPem && spec.keyPem) {
    user['client-certificate-data'] = Buffer.from(spec.certPem).toString('base64');
    user['client-key-data'] = Buffer.from(spec.keyPem).toString('base64');
  }
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: spec.server, 'certificate-authority-data': Buffer.from(spec.caPem).toString('base64') } }],
    users: [{ name: userName, user }],
    contexts: [{ name: cluster, context: { cluster, user: userName, namespace: spec.namespace ?? 'default' } }],
    'current-context': cluster,
    preferences: {},
  };
  return withYaml((yaml) => yaml.dump(doc, { lineWidth: -1 }));
}
