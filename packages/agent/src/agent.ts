/**
 * `startAgent(config)`: the node agent — registers the Node, renews its Lease, reports conditions,
 * runs one worker per pod bound to it (through the container runtime), cleans up what belongs to
 * pods that are gone, and serves /healthz, /metrics and container logs.
 */
import type { RequestListener } from 'node:http';
import { readFileSync, statfsSync, mkdirSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { isNotFound, type KubeObject, type Pod } from '@flotilla/api/core';
import { componentAbortController, deletedObject, EventRecorder, requestServiceAccountToken, res, RestClient, SharedInformer, type ClientConfig, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import { fullGc, IdleCollector } from './idle-collector.js';
import type { EnvSources } from './containers/env.js';
import { NodeLease, registerNode, reportNodeConditions } from './node/node-registration.js';
import type { NodeFacts, NodeHealth } from './node/node-object.js';
import { Backoff } from './pod-sync/backoff.js';
import { PodWorker, type PodWorkerDeps } from './pod-sync/pod-worker.js';
import { DockerClient } from './runtime/docker-client.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import { LocalPathProvisioner } from './storage/local-path.js';
import { handleStreamingRequest, listenAgentServer, type AgentServer, type StreamingDeps } from './server/agent-server.js';
import { ensureServingCertificate } from './server/serving-certificate.js';
import type { NodeDnsConfig } from './dns/node-dns.js';
import { prometheusMetrics } from './metrics/prometheus-metrics.js';
import { ResourceMetrics, serveResourceMetrics } from './metrics/resource-metrics.js';
import type { IngressControllerHandle } from './ingress/ingress-controller.js';
import { VolumeManager, type VolumeSources } from './volumes/index.js';
import { ServiceAccountTokenManager } from './volumes/token-manager.js';

const PODS = res('pods');
const CONFIGMAPS = res('configmaps');
const SECRETS = res('secrets');
const PVCS = res('persistentvolumeclaims');
const PVS = res('persistentvolumes');
const SERVICES = res('services');

/** Configuration of an agent. */
export interface AgentConfig {
  client: ClientConfig;
  nodeName: string;
  dataDir: string;
  dockerSocket: string;
  podInfraImage: string;
  nodeIP?: string;
  nodeLabels: Record<string, string>;
  taints: NonNullable<NodeFacts['taints']>;
  maxPods: number;
  /** Lease renewal period (ms, default 10 s). */
  leaseRenewMs?: number;
  /** Condition report period (ms, default 60 s; sooner when they change). */
  statusReportMs?: number;
  /** Address and port of /healthz, /metrics and /containerLogs; port 0 picks one; undefined disables. */
  bindAddress?: string;
  port?: number;
  clusterDns?: { servers: string[]; domain: string };
  /** Serve cluster DNS (dns/); its address is pods' nameserver unless clusterDns is set. */
  dnsServer?: NodeDnsConfig;
  /** Where local-path volumes are created (default DATA_DIR/storage). */
  localPathDir?: string;
  /** Labels added to every container (tests mark theirs). */
  extraContainerLabels?: Record<string, string>;
  /** `docker` (default): the engine's default bridge; `host-gw`: pod IPs from the Node's podCIDR, routes to other nodes'. */
  podNetwork?: 'docker' | 'host-gw';
  /** The cluster's pod range (host-gw: pod-to-pod traffic across nodes is not masqueraded). */
  clusterCIDR?: string;
  /**
   * Ingress proxy listeners: a port left undefined stays closed (both undefined: no Ingress
   * controller), 0 picks one; `nginx` names the nginx binary that runs the proxy (its files go to
   * DATA_DIR/ingress-nginx), else the Node.js proxy runs in the agent.
   */
  ingress?: { httpPort?: number; httpsPort?: number; bindAddress: string; nginx?: string };
  /** Service proxy: `userspace` (proxy/service-proxy.ts), `iptables` (kernel DNAT, proxy/iptables-rules.ts) or `none` (default). */
  proxyMode?: 'userspace' | 'iptables' | 'none';
  /** Link holding the service VIPs (default flotilla0). */
  proxyInterface?: string;
  /** Resource metrics collection period (ms, default 10 s). */
  metricsIntervalMs?: number;
}

/** A running agent. */
export interface AgentHandle {
  url: string | undefined;
  runtime: ContainerRuntime;
  /** URLs of the Ingress proxy's listeners, when running. */
  ingress?: { httpUrl: string | undefined; httpsUrl: string | undefined };
  /** Stops the agent; containers keep running (like a kubelet restart). */
  stop(): Promise<void>;
}

/** The first non-internal IPv4 address of this machine (the node's InternalIP by default). */
export function detectNodeIP(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function readTrimmed(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readTrimmed('/etc/os-release'));
  return m?.[1] ?? 'Linux';
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** Kubernetes-style service environment variables (`FOO_SERVICE_HOST`, `FOO_PORT_80_TCP`, ...). */
export function serviceEnvFor(services: readonly KubeObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of services) {
    const spec = s['spec'] as { clusterIP?: string; ports?: { name?: string; port: number; protocol?: string }[] } | undefined;
    const ip = spec?.clusterIP;
    if (!ip || ip === 'None' || !spec?.ports?.length) continue;
    const name = (s.metadata.name ?? '').toUpperCase().replace(/-/g, '_');
    const first = spec.ports[0]!;
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    for (const p of spec.ports) if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
    const proto = (first.protocol ?? 'TCP').toLowerCase();
    env[`${name}_PORT`] = `${proto}://${ip}:${first.port}`;
    for (const p of spec.ports) {
      const pr = (p.protocol ?? 'TCP').toUpperCase();
      const prefix = `${name}_PORT_${p.port}_${pr}`;
      env[prefix] = `${pr.toLowerCase()}://${ip}:${p.port}`;
      env[`${prefix}_PROTO`] = pr.toLowerCase();
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    }
  }
  return env;
}

/** Reads configMaps, secrets and volumes' claims through the API (undefined on 404). */
function apiSources(client: KubeClient): EnvSources & VolumeSources {
  const tokens = new ServiceAccountTokenManager((ns, sa, r) =>
    requestServiceAccountToken(client, ns, sa, { ...(r.audience ? { audiences: [r.audience] } : {}), expirationSeconds: r.expirationSeconds, boundPod: { name: r.podName, uid: r.podUid } }),
  );
  const get = async (r: ReturnType<typeof res>, ns: string, name: string) => {
    try {
      return await client.get<KubeObject>(r, ns, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    getConfigMap: (ns, name) => get(CONFIGMAPS, ns, name),
    getSecret: (ns, name) => get(SECRETS, ns, name),
    getPersistentVolumeClaim: (ns, name) => get(PVCS, ns, name),
    getPersistentVolume: (name) => get(PVS, '', name),
    getServiceAccountToken: (ns, sa, request) => tokens.get(ns, sa, request),
  };
}

/** Starts the agent; resolves once the node is registered and pods are being synced. */
export async function startAgent(config: AgentConfig, options: { logger: Logger }): Promise<AgentHandle> {
  const log = options.logger;
  const dataDir = resolve(config.dataDir);
  mkdirSync(join(dataDir, 'pods'), { recursive: true });
  const client = new RestClient(config.client, { userAgent: `flotilla-agent/${config.nodeName}`, connections: 16 });
  const docker = new DockerClient({ socketPath: config.dockerSocket });
  const runtimeOptions = { client: docker, nodeName: config.nodeName, podInfraImage: config.podInfraImage, ...(config.extraContainerLabels ? { extraLabels: config.extraContainerLabels } : {}) };
  const version = await new DockerRuntime(runtimeOptions).version();
  const hostIP = config.nodeIP ?? detectNodeIP();

  const fs = statfsSync(dataDir);
  const ephemeral = String(BigInt(fs.blocks) * BigInt(fs.bsize));
  const memKi = `${Math.floor(totalmem() / 1024)}Ki`;
  const facts: NodeFacts = {
    name: config.nodeName,
    labels: { 'kubernetes.io/hostname': config.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': goArch(), 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': goArch(), ...config.nodeLabels },
    taints: config.taints,
    capacity: { cpu: String(cpus().length), memory: memKi, pods: String(config.maxPods), 'ephemeral-storage': ephemeral },
    allocatable: { cpu: String(cpus().length), memory: memKi, pods: String(config.maxPods), 'ephemeral-storage': ephemeral },
    addresses: [
      { type: 'InternalIP', address: hostIP },
      { type: 'Hostname', address: hostname() },
    ],
    nodeInfo: {
      machineID: readTrimmed('/etc/machine-id'),
      systemUUID: readTrimmed('/sys/class/dmi/id/product_uuid') || readTrimmed('/etc/machine-id'),
      bootID: readTrimmed('/proc/sys/kernel/random/boot_id'),
      kernelVersion: release(),
      osImage: osImage(),
      containerRuntimeVersion: `${version.runtimeName}://${version.runtimeVersion}`,
      kubeletVersion: 'v1.31.0-flotilla',
      kubeProxyVersion: 'v1.31.0-flotilla',
      operatingSystem: 'linux',
      architecture: goArch(),
    },
    ...(config.port ? { agentPort: config.port } : {}),
  };
  let health: NodeHealth = { ready: true, memoryPressure: false, diskPressure: false, pidPressure: false };
  const node = await registerNode(client, facts, health, new Date());
  let conditions = ((node['status'] as { conditions?: [] } | undefined)?.conditions ?? []) as Parameters<typeof reportNodeConditions>[4];
  const lease = new NodeLease(client, config.nodeName, 40, node.metadata.uid);
  const stop = componentAbortController();
  const timers: NodeJS.Timeout[] = [];
  const dns = config.dnsServer ? await (await import('./dns/node-dns.js')).startNodeDns({ docker, client, config: config.dnsServer, logger: log, signal: stop.signal }) : undefined;
  const clusterDns = config.clusterDns ?? dns?.clusterDns;

  const renew = () => lease.renew(new Date()).catch((err: unknown) => log.warn({ err }, 'lease renewal failed'));
  await renew();
  timers.push(setInterval(renew, config.leaseRenewMs ?? 10_000));
  // With host-gw, sandboxes join the network of the node's podCIDR (waits for the IPAM controller).
  const podNetwork = config.podNetwork === 'host-gw' ? await (await import('./network/host-gw-network.js')).startHostGwNetwork({ client, docker, nodeName: config.nodeName, logger: log, ...(config.clusterCIDR ? { clusterCIDR: config.clusterCIDR } : {}) }, stop.signal) : undefined;
  const runtime: ContainerRuntime = new DockerRuntime({ ...runtimeOptions, ...(podNetwork ? { network: podNetwork.dockerNetwork } : {}) });
  let lastReport = Date.now();
  const checkHealth = async () => {
    let next: NodeHealth;
    try {
      await runtime.ping();
      next = { ready: true, memoryPressure: false, diskPressure: false, pidPressure: false };
    } catch (err) {
      next = { ready: false, readyMessage: `container runtime is down: ${(err as Error).message}`, memoryPressure: false, diskPressure: false, pidPressure: false };
    }
    const changed = next.ready !== health.ready;
    health = next;
    if (changed || Date.now() - lastReport >= (config.statusReportMs ?? 60_000)) {
      lastReport = Date.now();
      conditions = await reportNodeConditions(client, config.nodeName, health, new Date(), conditions).catch((err: unknown) => {
        log.warn({ err }, 'node status report failed');
        return conditions;
      });
    }
  };
  timers.push(setInterval(() => void checkHealth(), 10_000));

  const recorder = new EventRecorder({ client, component: 'kubelet', host: config.nodeName, logger: log });
  const services = new SharedInformer<KubeObject>(client, { resource: SERVICES, logger: log });
  void services.run(stop.signal);
  const proxy = config.proxyMode === 'userspace' || config.proxyMode === 'iptables' ? (await import('./proxy/service-proxy.js')).startServiceProxy({ client, mode: config.proxyMode, nodeName: config.nodeName, nodeIPs: [hostIP], logger: log.child({ component: 'service-proxy' }), signal: stop.signal, ...(config.proxyInterface ? { interfaceName: config.proxyInterface } : {}) }) : undefined;
  const sources = apiSources(client);
  const provisioner = new LocalPathProvisioner({ client, nodeName: config.nodeName, rootDir: config.localPathDir ?? join(dataDir, 'storage'), logger: log });
  void provisioner.run(stop.signal).catch((err: unknown) => log.warn({ err }, 'local-path provisioner stopped'));
  timers.push(setInterval(() => void provisioner.reclaimNow(), 10_000));
  const idleCollector = new IdleCollector(fullGc());
  const deps: PodWorkerDeps = {
    provisioner,
    client,
    runtime,
    volumes: new VolumeManager({ podsDir: join(dataDir, 'pods'), sources, nodeName: config.nodeName, logger: log }),
    sources,
    recorder,
    logger: log,
    nodeName: config.nodeName,
    hostIP,
    restartBackoff: new Backoff(),
    pullBackoff: new Backoff(),
    ...(clusterDns ? { clusterDns } : {}),
    serviceEnv: (ns, links) => serviceEnvFor([...services.lister.list('default').filter((s) => s.metadata.name === 'kubernetes'), ...(links ? services.lister.list(ns) : [])]),
    synced: () => idleCollector.changed(),
  };

  const workers = new Map<string, PodWorker>();
  const workerFor = (pod: Pod): PodWorker => {
    const uid = pod.metadata.uid ?? '';
    let w = workers.get(uid);
    if (!w) {
      w = new PodWorker(pod, deps);
      workers.set(uid, w);
      void w.done.then(() => {
        if (workers.get(uid) === w) workers.delete(uid);
      });
    }
    return w;
  };
  const pods = new SharedInformer<Pod>(client, { resource: PODS, fieldSelector: `spec.nodeName=${config.nodeName}`, logger: log });
  pods.addEventHandler({
    onAdd: (p) => workerFor(p).trigger(),
    onUpdate: (_a, p) => workerFor(p).update(p),
    onDelete: (p) => workers.get(deletedObject(p).metadata.uid ?? '')?.podDeleted(),
  });
  void pods.run(stop.signal);
  await pods.waitForSync(stop.signal);

  // Containers and volumes of pods that were deleted while the agent was away.
  const known = new Set(pods.lister.list().map((p) => p.metadata.uid ?? ''));
  const orphans = new Set<string>();
  for (const s of await runtime.listPodSandboxes()) if (!known.has(s.uid)) orphans.add(s.uid);
  for (const c of await runtime.listContainers({ all: true })) if (!known.has(c.podUid)) orphans.add(c.podUid);
  for (const uid of await deps.volumes.podUidsOnDisk()) if (!known.has(uid)) orphans.add(uid);
  await Promise.all(
    [...orphans].map(async (uid) => {
      log.info({ uid }, 'removing containers of a pod that no longer exists');
      for (const c of await runtime.listContainers({ podUid: uid, all: true })) {
        if (c.state === 'running') {
          const grace = (await runtime.containerStatus(c.id).catch(() => undefined))?.terminationGracePeriodSeconds ?? 30;
          await runtime.stopContainer(c.id, grace).catch((err: unknown) => log.warn({ err, container: c.id }, 'stopping an orphaned container failed'));
        }
        await runtime.removeContainer(c.id);
      }
      for (const s of await runtime.listPodSandboxes({ podUid: uid })) await runtime.removeSandbox(s.id);
      await deps.volumes.tearDown(uid);
    }),
  );

  // Runtime events wake the pod's worker at once (a container died, was OOM-killed).
  void (async () => {
    while (!stop.signal.aborted) {
      try {
        for await (const ev of runtime.events({ signal: stop.signal })) {
          if (ev.podUid && (ev.type === 'died' || ev.type === 'oom' || ev.type === 'destroyed')) workers.get(ev.podUid)?.trigger();
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        log.warn({ err }, 'runtime event stream failed; reconnecting');
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  // Periodic resync (configMap/secret contents, missed events), each pod at a random point of the
  // period, as the kubelet jitters its pod resyncs: the pods' engine calls do not all arrive at
  // once (30 pods at once opened 30+ engine connections and briefly took ~5 MiB).
  const RESYNC_MS = 10_000;
  timers.push(setInterval(() => {
    for (const w of workers.values()) setTimeout(() => w.trigger(), Math.random() * RESYNC_MS).unref();
  }, RESYNC_MS));

  const metrics = prometheusMetrics({ runningPods: () => workers.size });
  const resourceMetrics = new ResourceMetrics({ nodeName: config.nodeName, runtime, logger: log, ...(config.metricsIntervalMs ? { intervalMs: config.metricsIntervalMs } : {}) });
  resourceMetrics.start();
  let server: AgentServer | undefined;
  let url: string | undefined;
  if (config.bindAddress !== undefined && config.port !== undefined) {
    const streaming: StreamingDeps = { runtime, getPod: (ns, name) => pods.lister.get(ns, name), logger: log };
    const listener: RequestListener = (req, resp) => {
      const u = new URL(req.url ?? '/', 'http://agent');
      if (u.pathname === '/healthz') {
        resp.writeHead(health.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(health.ready ? 'ok' : health.readyMessage);
        return;
      }
      if (u.pathname === '/metrics') {
        metrics(resp);
        return;
      }
      if (serveResourceMetrics(req, u.pathname, resp, resourceMetrics)) return;
      if (handleStreamingRequest(streaming, req, resp, u)) return;
      resp.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    };
    const tls = await ensureServingCertificate(dataDir, config.nodeName, [...new Set([hostIP, '127.0.0.1', 'localhost', hostname(), config.nodeName, ...(config.bindAddress && config.bindAddress !== '0.0.0.0' && config.bindAddress !== '::' ? [config.bindAddress] : [])])]);
    server = await listenAgentServer(listener, streaming, { ...tls, ...(config.client.ca ? { ca: config.client.ca } : {}) }, config.bindAddress, config.port);
    url = server.url;
    if (facts.agentPort !== server.port) {
      // Port 0 picked a port: the API server finds the agent through daemonEndpoints.
      facts.agentPort = server.port;
      await client.patch(res('nodes'), '', config.nodeName, { status: { daemonEndpoints: { kubeletEndpoint: { Port: server.port } } } }, 'merge', { subresource: 'status' });
    }
  }
  let ingress: IngressControllerHandle | undefined;
  if (config.ingress && (config.ingress.httpPort !== undefined || config.ingress.httpsPort !== undefined)) {
    // Specific addresses, not 0.0.0.0: a wildcard listener on 80/443 would keep the service proxy
    // from listening on VIP:80 and VIP:443.
    const bindAddress = config.ingress.bindAddress || [...new Set([hostIP, '127.0.0.1'])].join(',');
    const { nginx, ...listeners } = config.ingress;
    const proxy = nginx ? { kind: 'nginx' as const, binary: nginx, dir: join(dataDir, 'ingress-nginx') } : { kind: 'node' as const };
    ingress = await (await import('./ingress/ingress-controller.js')).startIngressController({ client, nodeName: config.nodeName, nodeIPs: [hostIP], ...listeners, bindAddress, proxy, logger: log, signal: stop.signal });
  }
  log.info({ node: config.nodeName, hostIP, runtime: facts.nodeInfo.containerRuntimeVersion, url }, 'agent started');
  return {
    url,
    runtime,
    ...(ingress ? { ingress: { httpUrl: ingress.httpUrl, httpsUrl: ingress.httpsUrl } } : {}),
    stop: async () => {
      stop.abort();
      await ingress?.stop();
      for (const t of timers) clearInterval(t);
      idleCollector.stop();
      resourceMetrics.stop();
      for (const w of workers.values()) w.shutdown();
      server?.close();
      await proxy?.stop();
      await dns?.handle.stop();
      await recorder.flush().catch(() => undefined);
      await client.close();
    },
  };
}
