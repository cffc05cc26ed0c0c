/**
 * `start(config)`: brings up the API server — PKI and tokens in the data dir, LevelDB storage, the
 * object cache, built-in namespaces, HTTPS listener, admin kubeconfig, periodic compaction — and
 * returns a handle to stop it. Used by `flotilla-apiserver`, the `flotilla` launcher and tests.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFINITIONS } from '@flotilla/api';
import type { Logger } from 'pino';
import { ClientCertAuthenticator, ensureTokenFile, TokenAuthenticator, UnionAuthenticator, type Authenticator } from './auth/authenticator.js';
import { ensureServerPki } from './auth/pki.js';
import { bootstrapCluster } from './bootstrap.js';
import { writeKubeconfig } from './kubeconfig-file.js';
import { ApiServerMetrics } from './metrics.js';
import { Patcher } from './registry/patcher.js';
import { Registry } from './registry/registry.js';
import { schemaCodecs } from './registry/schema-codecs.js';
import { buildStrategies } from './registry/strategies/index.js';
import { buildServer } from './server.js';
import { EtcdStorage } from './storage/etcd-storage.js';
import { LevelStorage } from './storage/level-storage.js';
import type { Storage } from './storage/storage.js';

/** Configuration of one API server. */
export interface ApiServerConfig {
  /** Where the database, PKI, tokens and admin kubeconfig live. */
  dataDir: string;
  /** Address to listen on (default 127.0.0.1). */
  bindAddress: string;
  /** HTTPS port; 0 picks a free one. */
  securePort: number;
  /** Address put in kubeconfigs and discovery (default: the bind address, or 127.0.0.1 for 0.0.0.0/::). */
  advertiseAddress?: string;
  /** Extra names/IPs for the serving certificate. */
  tlsSans?: string[];
  /** How much history to keep for watches, in milliseconds (default 5 minutes). */
  compactionRetentionMs?: number;
  /** etcd client URLs; when set, state lives in etcd (several API servers may share it) instead of LevelDB. */
  etcdServers?: string[];
}

/** A running API server. */
export interface ApiServerHandle {
  /** `https://host:port`. */
  url: string;
  port: number;
  /** Path of the admin kubeconfig. */
  adminKubeconfig: string;
  /** The admin bearer token. */
  adminToken: string;
  /** PEM of the cluster CA. */
  caPem: string;
  storage: Storage;
  registry: Registry;
  /** Stops listening, closes watches, flushes and closes storage. */
  stop(): Promise<void>;
}

function isWildcard(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '';
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts an API server; resolves once it serves requests. */
export async function start(config: ApiServerConfig, options: { logger: Logger; signal?: AbortSignal; authenticators?: Authenticator[] }): Promise<ApiServerHandle> {
  const log = options.logger;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const advertise = config.advertiseAddress ?? (isWildcard(config.bindAddress) ? '127.0.0.1' : config.bindAddress);
  const sans = [...new Set(['127.0.0.1', '::1', 'localhost', hostname(), advertise, ...(isWildcard(config.bindAddress) ? [] : [config.bindAddress]), ...(config.tlsSans ?? [])])];
  const pki = await ensureServerPki(join(config.dataDir, 'pki'), sans);
  const tokens = await ensureTokenFile(join(config.dataDir, 'tokens.csv'));

  const storageLog = log.child({ subsystem: 'storage' });
  const storage: Storage =
    config.etcdServers && config.etcdServers.length > 0
      ? new EtcdStorage({ endpoints: config.etcdServers, logger: storageLog })
      : new LevelStorage({ path: join(config.dataDir, 'db'), logger: storageLog });
  await storage.open();
  const registry = new Registry({ storage, strategies: buildStrategies(), codecs: schemaCodecs(), logger: log, defs: DEFINITIONS });
  let ready = false;
  let port = config.securePort;
  try {
    await registry.start();
    await bootstrapCluster(registry, log);
  } catch (err) {
    await storage.close();
    throw err;
  }

  const metrics = new ApiServerMetrics({
    storage,
    watcherCount: () => registry.cache.watcherCount(),
    objectCounts: () => {
      const m = new Map<string, number>();
      for (const s of registry.allStores()) m.set(s.qualifiedResource, s.cache.size);
      return m;
    },
  });
  const authenticator = new UnionAuthenticator([new TokenAuthenticator(tokens.entries), new ClientCertAuthenticator(), ...(options.authenticators ?? [])]);
  const app = await buildServer({
    registry,
    storage,
    patcher: new Patcher(DEFINITIONS),
    authenticator,
    metrics,
    logger: log,
    https: { key: pki.serving.key, cert: pki.serving.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false },
    advertiseAddress: () => formatHostPort(advertise, port),
    isReady: () => ready,
  });
  await app.listen({ host: config.bindAddress, port: config.securePort });
  port = (app.server.address() as AddressInfo).port;
  const url = `https://${formatHostPort(advertise, port)}`;
  const adminKubeconfig = join(config.dataDir, 'admin.kubeconfig');
  await writeKubeconfig(adminKubeconfig, { server: url, caPem: pki.ca.cert, token: tokens.adminToken });

  // Compaction: keep about `retention` of history for resuming watches.
  const retention = config.compactionRetentionMs ?? 5 * 60_000;
  const marks: { at: number; revision: number }[] = [];
  const compactTimer = setInterval(() => {
    const now = Date.now();
    marks.push({ at: now, revision: storage.currentRevision() });
    let target: number | undefined;
    while (marks.length > 0 && now - marks[0]!.at >= retention) target = marks.shift()!.revision;
    if (target !== undefined && target > storage.compactedRevision()) {
      storage.compact(target).catch((err: unknown) => log.warn({ err, revision: target }, 'compaction failed'));
    }
  }, Math.max(1000, Math.min(60_000, retention / 5)));
  compactTimer.unref();

  ready = true;
  log.info({ url, dataDir: config.dataDir, revision: storage.currentRevision() }, 'serving');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      clearInterval(compactTimer);
      registry.stop();
      await app.close();
      await storage.close();
      log.info('stopped');
    })();
    return stopping;
  };
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  return { url, port, adminKubeconfig, adminToken: tokens.adminToken, caPem: pki.ca.cert, storage, registry, stop };
}
