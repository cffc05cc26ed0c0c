/**
 * `start(config)`: brings up the API server — PKI and tokens in the data dir, LevelDB storage, the
 * object cache, built-in namespaces, HTTPS listener, admin kubeconfig, periodic compaction — and
 * returns a handle to stop it. Used by `flotilla-apiserver`, the `flotilla` launcher and tests.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFINITIONS, parseFieldSelector, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import { ClientCertAuthenticator, ensureTokenFile, TokenAuthenticator, UnionAuthenticator, type Authenticator } from './auth/authenticator.js';
import { GroupAuthorizer, UnionAuthorizer } from './auth/authorizer.js';
import { RbacAuthorizer, registryRbacSource } from './auth/rbac-authorizer.js';
import { EscalationCheck } from './auth/rbac-escalation.js';
import { BootstrapTokenAuthenticator } from './auth/bootstrap-token-authenticator.js';
import { ensureClusterJoinToken, readJoinTokenFile } from './auth/cluster-join-token.js';
import { podReferenceGraph } from './auth/node-authorizer.js';
import { ensureServerPki } from './auth/pki.js';
import { ServiceAccountTokenAuthenticator } from './auth/service-account-authenticator.js';
import { DEFAULT_SERVICE_ACCOUNT_ISSUER, ensureServiceAccountKey } from './auth/service-account-token.js';
import { bootstrapCluster, bootstrapRbac } from './bootstrap.js';
import { ensureKubernetesService } from './kubernetes-service.js';
import { writeKubeconfig } from './kubeconfig-file.js';
import { podStreamHandlers } from './http/pod-streams.js';
import { ApiServerMetrics } from './metrics.js';
import { Patcher } from './registry/patcher.js';
import { storagePrefix } from './registry/object-cache.js';
import { Registry, resourceKey } from './registry/registry.js';
import { schemaCodecs } from './registry/schema-codecs.js';
import { kubernetesServiceIP, parsePortRange, parseServiceCidr, ServiceAllocator } from './registry/service-allocator.js';
import { buildStrategies, definitionNameOf } from './registry/strategies/index.js';
import { podStrategy } from './registry/strategies/pods.js';
import { TOKEN_REQUEST_DEFINITION, TokenRequestService } from './registry/token-request.js';
import { AgentSummaryClient, loadKubeletClientCert } from './resource-metrics/agent-summary-client.js';
import { composeHooks } from './registry/generic-store.js';
import { buildServer } from './server.js';
import { recordCommitTimes } from './storage/commit-times.js';
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
  /** IPv4 CIDR Service ClusterIPs come from (default 10.43.0.0/16, like k3s). */
  serviceClusterIPRange?: string;
  /** `MIN-MAX` range of Service node ports (default 30000-32767). */
  serviceNodePortRange?: string;
  /** tolerationSeconds of the not-ready toleration every pod gets (default 300). */
  defaultNotReadyTolerationSeconds?: number;
  /** tolerationSeconds of the unreachable toleration every pod gets (default 300). */
  defaultUnreachableTolerationSeconds?: number;
  /** How often Service allocations are repaired against the Services (default 3 minutes). */
  serviceAllocationRepairIntervalMs?: number;
  /** File holding the cluster join token; its bootstrap token Secret is created at start. */
  joinTokenFile?: string;
  /** Issuers of service account tokens (`--service-account-issuer`): the first signs, all are accepted. Default {@link DEFAULT_SERVICE_ACCOUNT_ISSUER}. */
  serviceAccountIssuers?: string[];
  /** Audiences a token must name to authenticate to this server (`--api-audiences`); default the issuers. */
  apiAudiences?: string[];
  /** Longest service account token lifetime issued, in seconds (`--service-account-max-token-expiration`); unset = no maximum. */
  serviceAccountMaxTokenExpirationSeconds?: number;
  /** Pod-bound tokens asked for the kubelet's default 3607 s live a year with a warning time (default true). */
  serviceAccountExtendTokenExpiration?: boolean;
  /** Diagnostics (`--commit-times-file`): append each committed batch's last revision and monotonic time here. */
  commitTimesFile?: string;
}

/** Default `--service-cluster-ip-range`. */
export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.43.0.0/16';
/** Default `--service-node-port-range`. */
export const DEFAULT_SERVICE_NODE_PORT_RANGE = '30000-32767';

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
  const serviceCidr = parseServiceCidr(config.serviceClusterIPRange ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE);
  const nodePortRange = parsePortRange(config.serviceNodePortRange ?? DEFAULT_SERVICE_NODE_PORT_RANGE);
  const sharedStorage = !!config.etcdServers && config.etcdServers.length > 0;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const advertise = config.advertiseAddress ?? (isWildcard(config.bindAddress) ? '127.0.0.1' : config.bindAddress);
  // As kube-apiserver's: in-cluster clients reach the server at the `kubernetes` Service's ClusterIP
  // (KUBERNETES_SERVICE_HOST) or its DNS names, and verify the certificate against them.
  const inCluster = [kubernetesServiceIP(serviceCidr), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  const sans = [...new Set(['127.0.0.1', '::1', 'localhost', hostname(), advertise, ...(isWildcard(config.bindAddress) ? [] : [config.bindAddress]), ...inCluster, ...(config.tlsSans ?? [])])];
  const pki = await ensureServerPki(join(config.dataDir, 'pki'), sans);
  const tokens = await ensureTokenFile(join(config.dataDir, 'tokens.csv'));
  const saKey = await ensureServiceAccountKey(join(config.dataDir, 'pki'));
  const saIssuers = config.serviceAccountIssuers && config.serviceAccountIssuers.length > 0 ? config.serviceAccountIssuers : [DEFAULT_SERVICE_ACCOUNT_ISSUER];
  const apiAudiences = config.apiAudiences && config.apiAudiences.length > 0 ? config.apiAudiences : saIssuers;
  const joinToken = config.joinTokenFile ? await readJoinTokenFile(config.joinTokenFile) : undefined;

  const storageLog = log.child({ subsystem: 'storage' });
  const storage: Storage =
    config.etcdServers && config.etcdServers.length > 0
      ? new EtcdStorage({ endpoints: config.etcdServers, logger: storageLog })
      : new LevelStorage({ path: join(config.dataDir, 'db'), logger: storageLog });
  await storage.open();
  // Registered before any other subscriber, so the time is the commit's, not the fan-out's.
  const commitTimes = config.commitTimesFile ? recordCommitTimes(storage, config.commitTimesFile, storageLog) : undefined;
  const strategies = buildStrategies();
  const pods = podStrategy(definitionNameOf('', 'v1', 'Pod'), {
    tolerationSeconds: { notReady: config.defaultNotReadyTolerationSeconds ?? 300, unreachable: config.defaultUnreachableTolerationSeconds ?? 300 },
  });
  strategies.set(resourceKey(pods.resource), pods);
  // RBAC writes may only grant what their author holds (the authorizers are attached below).
  const escalation = new EscalationCheck();
  escalation.guard(strategies);
  const registry = new Registry({ storage, strategies, codecs: schemaCodecs(), logger: log, defs: DEFINITIONS });
  let ready = false;
  let port = config.securePort;
  const services = () => registry.mustStore('', 'services');
  const allocator = new ServiceAllocator({
    storage,
    serviceCidr,
    nodePortRange,
    logger: log,
    sharedStorage,
    listServices: () => services().cache.list({}, 0).items.map((o) => JSON.parse(o.json) as KubeObject),
    readNamespaceServices: async (namespace) => {
      const prefix = `${storagePrefix(services().strategy.resource)}${namespace}/`;
      const out: KubeObject[] = [];
      let startAfter: string | undefined;
      for (;;) {
        const page = await storage.list(prefix, { ...(startAfter !== undefined ? { startAfter } : {}), limit: 1000 });
        for (const kv of page.items) out.push(JSON.parse(kv.value) as KubeObject);
        if (!page.more || page.items.length === 0) return out;
        startAfter = page.items[page.items.length - 1]!.key;
      }
    },
    ...(config.serviceAllocationRepairIntervalMs !== undefined ? { repairIntervalMs: config.serviceAllocationRepairIntervalMs } : {}),
  });
  try {
    await registry.start();
    await bootstrapCluster(registry, log);
    await bootstrapRbac(registry, log);
    if (joinToken) await ensureClusterJoinToken(registry, joinToken, log);
    // Allocation records are repaired before the first request can allocate.
    await allocator.start();
    services().hooks = composeHooks(services().hooks, allocator);
  } catch (err) {
    allocator.stop();
    registry.stop();
    await storage.close();
    await commitTimes?.close();
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
  const kubeletClientCert = await loadKubeletClientCert(join(config.dataDir, 'pki'));
  const resourceMetrics = new AgentSummaryClient({ ...(kubeletClientCert ? { clientCert: kubeletClientCert } : {}), logger: log.child({ subsystem: 'resource-metrics' }) });
  const secrets = registry.mustStore('', 'secrets');
  const authenticator = new UnionAuthenticator([
    new TokenAuthenticator(tokens.entries),
    new BootstrapTokenAuthenticator((ns, name) => secrets.tryGet(ns, name)),
    new ClientCertAuthenticator(),
    new ServiceAccountTokenAuthenticator({
      issuers: saIssuers,
      publicKeys: [saKey.publicKey],
      apiAudiences,
      objects: {
        getServiceAccount: (ns, name) => registry.mustStore('', 'serviceaccounts').tryGet(ns, name),
        getPod: (ns, name) => registry.mustStore('', 'pods').tryGet(ns, name),
        getSecret: (ns, name) => secrets.tryGet(ns, name),
        getNode: (name) => registry.mustStore('', 'nodes').tryGet('', name),
      },
      logger: log.child({ subsystem: 'serviceaccount-tokens' }),
    }),
    ...(options.authenticators ?? []),
  ]);
  const tokenRequests = new TokenRequestService({
    key: saKey,
    issuer: saIssuers[0]!,
    apiAudiences,
    ...(config.serviceAccountMaxTokenExpirationSeconds ? { maxExpirationSeconds: config.serviceAccountMaxTokenExpirationSeconds } : {}),
    extendExpiration: config.serviceAccountExtendTokenExpiration ?? true,
    objects: { get: (resource, ns, name) => registry.mustStore('', resource).get(ns, name) },
    codec: registry.codecFor(TOKEN_REQUEST_DEFINITION),
  });
  const podStore = registry.mustStore('', 'pods');
  const podFields = new Set(['metadata.name', 'metadata.namespace', ...Object.keys(podStore.strategy.selectableFields)]);
  // --authorization-mode=Node,RBAC: the fixed policy (masters, discovery, bootstrappers, nodes) or RBAC.
  const rbacAuthorizer = new RbacAuthorizer(registryRbacSource(registry));
  const authorizer = new UnionAuthorizer([
    new GroupAuthorizer(
      podReferenceGraph({
        getPod: (ns, name) => podStore.tryGet(ns, name),
        podsOnNode: (node, ns) =>
          podStore.cache.list({ namespace: ns, fieldSelector: parseFieldSelector(`spec.nodeName=${node}`, podFields) }, registry.cache.revision).items.map((o) => JSON.parse(o.json) as KubeObject),
        getPersistentVolume: (name) => registry.mustStore('', 'persistentvolumes').tryGet('', name),
      }),
    ),
    rbacAuthorizer,
  ]);
  escalation.attach(authorizer, rbacAuthorizer);
  const podStreams = podStreamHandlers({ registry, kubeletClient: pki.kubeletClient, logger: log });
  const app = await buildServer({
    registry,
    storage,
    patcher: new Patcher(DEFINITIONS),
    authenticator,
    authorizer,
    ca: pki.ca,
    metrics,
    logger: log,
    https: { key: pki.serving.key, cert: pki.serving.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false },
    advertiseAddress: () => formatHostPort(advertise, port),
    isReady: () => ready,
    connectHandlers: new Map([...podStreams.connectHandlers, ['token', tokenRequests.handler()]]),
    webSocketHandlers: podStreams.webSocketHandlers,
    resourceMetrics,
    serviceAccountIssuer: { issuer: saIssuers[0]!, keys: [saKey] },
  });
  await app.listen({ host: config.bindAddress, port: config.securePort });
  port = (app.server.address() as AddressInfo).port;
  try {
    await ensureKubernetesService(registry, { clusterIP: kubernetesServiceIP(serviceCidr), securePort: port, advertiseAddress: advertise, sharedStorage }, log);
  } catch (err) {
    log.error({ err }, 'could not reconcile the kubernetes service');
  }
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
      allocator.stop();
      registry.stop();
      await app.close();
      podStreams.close();
      resourceMetrics.close();
      await storage.close();
      await commitTimes?.close();
      log.info('stopped');
    })();
    return stopping;
  };
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  return { url, port, adminKubeconfig, adminToken: tokens.adminToken, caPem: pki.ca.cert, storage, registry, stop };
}
