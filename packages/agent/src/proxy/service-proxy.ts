/**
 * The agent's service proxy (kube-proxy's job), in the shape of kube-proxy's old *userspace* mode,
 * or (`mode: 'iptables'`, the agent's default as root) kube-proxy's iptables mode: the same informers,
 * sync and VIPs, but each sync writes DNAT rules (iptables-rules.ts) instead of opening listeners;
 * when iptables does not work at start it logs so and runs in userspace mode. Notes below are about
 * userspace mode unless they say otherwise.
 *
 * Why userspace: it needs no iptables/nftables/IPVS (nothing of the host's packet filter is touched,
 * nothing to leak or to fight Docker over), it works the same in a container or on a laptop, and it
 * is all testable from Node. The price is a copy of every byte through this process; the
 * benchmark (bench/service-proxy-bench.mjs) measures it against going straight to a pod.
 *
 * How a VIP is reached: every Service's ClusterIP is added as a /32 to a local link (`flotilla0`,
 * a dummy interface). That makes the VIP a local address of the node, so connections from the node
 * itself and from pods on the Docker bridge (whose default route is the host) arrive at the sockets
 * this proxy listens on at VIP:port — and a packet to a VIP nobody serves gets a reset from the
 * local stack instead of leaving the machine. The VIP is removed when the service goes; at start,
 * addresses on the link that no service has any more are removed.
 *
 * Per service port: a listener on VIP:port (TCP, or UDP with per-client sessions); for NodePort and
 * LoadBalancer services one on 0.0.0.0:nodePort, and for LoadBalancer services (ServiceLB-style)
 * one on each node IP at the service port, with `status.loadBalancer.ingress` set to the InternalIPs
 * of the Ready nodes (every agent writes the same sorted list, only when it differs). Each listener
 * picks endpoints from the service's EndpointSlices (see endpoint-selector.ts): ready ones, else
 * serving-and-terminating ones; internalTrafficPolicy Local (ClusterIP) and externalTrafficPolicy
 * Local (NodePort/LB) keep to this node's endpoints; round robin, ClientIP affinity honoured.
 * Headless and ExternalName services get nothing. Informer events enqueue the service; `sync`
 * reconciles its listeners, so endpoint changes apply as soon as the watch delivers them.
 *
 * Without root, or when `ip` fails, the proxy logs it once and serves NodePorts (and LB node IPs)
 * only. On stop, listeners close and the VIPs stay (a restart takes them over; meanwhile
 * connections to them are refused).
 */
import { isIPv4 } from 'node:net';
import { objectKey, splitObjectKey, type EndpointSlice, type KubeObject, type Node, type Service, type ServicePort } from '@flotilla/api/core';
import { res, runWorkers, SharedInformer, WorkQueue, deletedObject, type Clock, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import { IptablesProxier, type IptablesDestination, type IptablesServicePort } from './iptables-rules.js';
import { EndpointSelector, endpointKey, usableEndpoints, type ProxyEndpoint, type TrafficPolicy } from './endpoint-selector.js';
import { TcpProxier } from './tcp-proxier.js';
import { UdpProxier } from './udp-proxier.js';
import { VipInterface, type AddressManager } from './vip-interface.js';

const SERVICES = res('services');
const SLICES = res('endpointslices.discovery.k8s.io');
const NODES = res('nodes');
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
const DEFAULT_AFFINITY_SECONDS = 10_800;

/** Options of startServiceProxy. */
export interface ServiceProxyOptions {
  client: KubeClient;
  nodeName: string;
  /** Addresses of this node: LoadBalancer services listen on each at their port. */
  nodeIPs: string[];
  logger: Logger;
  signal: AbortSignal;
  /** Link holding the VIPs (default `flotilla0`). */
  interfaceName?: string;
  /** VIP management; default a VipInterface on `interfaceName` when running as root, none (NodePorts only) otherwise. Null disables VIPs. */
  addresses?: AddressManager | null;
  /** Address NodePorts listen on (default 0.0.0.0). */
  nodePortAddress?: string;
  /** UDP sessions end after this long without traffic (ms, default 30 s). */
  udpIdleTimeoutMs?: number;
  clock?: Clock;
  /** `userspace` (listeners in this process, default) or `iptables` (kernel DNAT, see iptables-rules.ts). */
  mode?: 'userspace' | 'iptables';
  /** The iptables rule writer (iptables mode; default one for `nodeName`). */
  iptables?: IptablesProxier;
}

/** A running service proxy. */
export interface ServiceProxyHandle {
  /** Resolves once the caches synced and every service had its first sync. */
  ready: Promise<void>;
  /** The mode in effect (iptables falls back to userspace when iptables fails at start). */
  readonly mode: 'userspace' | 'iptables';
  /** True while VIPs are managed (false: NodePorts only). */
  readonly vipsEnabled: boolean;
  /** Closes every listener (VIPs stay assigned). */
  stop(): Promise<void>;
}

type Listener = TcpProxier | UdpProxier;

interface ServiceState {
  vips: string[];
  /** `TCP/address:port` -> listener. */
  listeners: Map<string, Listener>;
  /** `portName/protocol/internal|external` -> selector. */
  selectors: Map<string, EndpointSelector>;
}

interface DesiredListener {
  key: string;
  protocol: 'TCP' | 'UDP';
  address: string;
  port: number;
  selector: EndpointSelector;
  /** Selector key (one iptables service-port chain per selector). */
  selKey: string;
  dest: IptablesDestination;
  affinitySeconds: number;
}

/** The IPv4 ClusterIPs of a service that gets VIPs (none for headless and ExternalName). */
export function serviceVIPs(svc: Readonly<Service>): string[] {
  const spec = svc.spec;
  if (!spec || spec.type === 'ExternalName' || !spec.clusterIP || spec.clusterIP === 'None' || !spec.ports?.length) return [];
  return [...new Set([spec.clusterIP, ...(spec.clusterIPs ?? [])])].filter((ip) => isIPv4(ip));
}

/** The endpoints of one service port from the service's EndpointSlices (IPv4, first address of each). */
export function endpointsForPort(slices: readonly Readonly<EndpointSlice>[], port: Pick<ServicePort, 'name' | 'protocol'>): ProxyEndpoint[] {
  const out: ProxyEndpoint[] = [];
  const protocol = port.protocol ?? 'TCP';
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const sp = slice.ports?.find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol);
    if (!sp?.port) continue;
    for (const e of slice.endpoints ?? []) {
      const ip = e.addresses[0];
      if (!ip) continue;
      const ready = e.conditions?.ready ?? true;
      out.push({ ip, port: sp.port, ...(e.nodeName ? { nodeName: e.nodeName } : {}), ready, serving: e.conditions?.serving ?? ready, terminating: e.conditions?.terminating ?? false });
    }
  }
  return out;
}

/** The sorted InternalIPs of Ready nodes not excluded from load balancers (ServiceLB's ingress). */
export function loadBalancerIngressIPs(nodes: readonly Readonly<Node>[]): string[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    if (n.metadata.labels?.[EXCLUDE_LB_LABEL] !== undefined) continue;
    if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') continue;
    for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP' && isIPv4(a.address)) ips.add(a.address);
  }
  return [...ips].sort();
}

function nodeLbFacts(n: Readonly<Node>): string {
  return JSON.stringify([n.metadata.labels?.[EXCLUDE_LB_LABEL], n.status?.conditions?.find((c) => c.type === 'Ready')?.status, n.status?.addresses]);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Starts the service proxy; it runs until the signal aborts or stop() is called. */
export function startServiceProxy(options: ServiceProxyOptions): ServiceProxyHandle {
  const log = options.logger;
  const { client, nodeName } = options;
  const stopper = new AbortController();
  const signal = AbortSignal.any([options.signal, stopper.signal]);
  const interfaceName = options.interfaceName ?? 'flotilla0';
  const addresses: AddressManager | null = options.addresses !== undefined ? options.addresses : isRoot() ? new VipInterface(interfaceName) : null;
  let vipsEnabled = addresses !== null;
  if (!addresses) log.warn({ interface: interfaceName }, 'not running as root; service VIPs disabled, serving NodePorts only');
  const nodePortAddress = options.nodePortAddress ?? '0.0.0.0';
  const clock = options.clock ? { clock: options.clock } : {};
  let iptables: IptablesProxier | null = options.mode === 'iptables' ? (options.iptables ?? new IptablesProxier(nodeName)) : null;
  /** iptables mode: service key -> its service ports. */
  const rulePorts = new Map<string, IptablesServicePort[]>();
  let applyRunning: Promise<void> = Promise.resolve();
  let applyPending: Promise<void> | undefined;
  /** Applies the current rules; concurrent callers share one pending apply (which sees every change made before it starts). */
  const applyRules = (): Promise<void> => {
    if (applyPending) return applyPending;
    const p = applyRunning.catch(() => undefined).then(() => {
      applyPending = undefined;
      return iptables!.apply([...rulePorts.values()].flat());
    });
    applyPending = p;
    applyRunning = p;
    return p;
  };

  const services = new SharedInformer<Service>(client, { resource: SERVICES, logger: log, ...clock });
  const slices = new SharedInformer<EndpointSlice>(client, { resource: SLICES, logger: log, ...clock });
  const nodes = new SharedInformer<Node>(client, { resource: NODES, logger: log, ...clock });
  slices.addIndexer('service', (s) => {
    const name = s.metadata.labels?.[SERVICE_NAME_LABEL];
    return name ? [`${s.metadata.namespace}/${name}`] : [];
  });
  const queue = new WorkQueue<string>({ baseDelayMs: 200, maxDelayMs: 30_000, ...clock });
  const state = new Map<string, ServiceState>();
  /** VIPs known to be on the interface. */
  const assigned = new Set<string>();

  services.addEventHandler({
    onAdd: (s) => queue.add(objectKey(s)),
    onUpdate: (_a, s) => queue.add(objectKey(s)),
    onDelete: (s) => queue.add(objectKey(deletedObject(s))),
  });
  const enqueueSliceService = (s: EndpointSlice) => {
    const name = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (name) queue.add(`${s.metadata.namespace}/${name}`);
  };
  slices.addEventHandler({
    onAdd: enqueueSliceService,
    onUpdate: (_a, s) => enqueueSliceService(s),
    onDelete: (s) => enqueueSliceService(deletedObject(s)),
  });
  const enqueueLoadBalancers = () => {
    for (const s of services.lister.list()) if (s.spec?.type === 'LoadBalancer') queue.add(objectKey(s));
  };
  nodes.addEventHandler({
    onAdd: enqueueLoadBalancers,
    onUpdate: (a, b) => {
      if (nodeLbFacts(a) !== nodeLbFacts(b)) enqueueLoadBalancers();
    },
    onDelete: enqueueLoadBalancers,
  });

  const selectorFor = (serviceKey: string, st: ServiceState, key: string, affinityMs: number, endpoints: ProxyEndpoint[]): EndpointSelector => {
    let sel = st.selectors.get(key);
    if (!sel) st.selectors.set(key, (sel = new EndpointSelector({ affinityTimeoutMs: affinityMs, ...clock })));
    sel.setAffinityTimeout(affinityMs);
    const before = sel.endpoints.map(endpointKey).join(',');
    sel.setEndpoints(endpoints);
    const after = endpoints.map(endpointKey).join(',');
    if (before !== after) log.debug({ service: serviceKey, port: key, endpoints: after }, 'endpoints changed');
    return sel;
  };

  const vipInUseElsewhere = (ip: string, except: string): boolean => {
    for (const [k, st] of state) if (k !== except && st.vips.includes(ip)) return true;
    return false;
  };

  const sync = async (key: string): Promise<void> => {
    const { namespace, name } = splitObjectKey(key);
    const svc = services.lister.get(namespace, name);
    let st = state.get(key);
    if (!st) state.set(key, (st = { vips: [], listeners: new Map(), selectors: new Map() }));
    const spec = svc?.spec;
    const vips = svc && vipsEnabled ? serviceVIPs(svc) : [];
    const desired: DesiredListener[] = [];
    const usedSelectors = new Set<string>();
    if (svc && spec && spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
      const serviceSlices = slices.lister.byIndex('service', key);
      const affinityMs = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) * 1000 : 0;
      const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
      for (const port of spec.ports ?? []) {
        const protocol = port.protocol ?? 'TCP';
        if (protocol !== 'TCP' && protocol !== 'UDP') continue;
        const all = endpointsForPort(serviceSlices, port);
        const id = `${port.name ?? ''}/${protocol}`;
        const add = (scope: 'internal' | 'external', policy: TrafficPolicy, address: string, listenPort: number, nodePort = false) => {
          const selKey = `${id}/${scope}`;
          usedSelectors.add(selKey);
          const selector = selectorFor(key, st, selKey, affinityMs, usableEndpoints(all, policy, nodeName));
          const dest: IptablesDestination = nodePort ? { kind: 'nodePort', port: listenPort } : { kind: 'address', ip: address, port: listenPort };
          desired.push({ key: `${protocol}/${address}:${listenPort}`, protocol, address, port: listenPort, selector, selKey, dest, affinitySeconds: Math.round(affinityMs / 1000) });
        };
        for (const vip of vips) add('internal', spec.internalTrafficPolicy ?? 'Cluster', vip, port.port);
        if (external && port.nodePort) add('external', spec.externalTrafficPolicy ?? 'Cluster', nodePortAddress, port.nodePort, true);
        if (spec.type === 'LoadBalancer') for (const ip of options.nodeIPs) add('external', spec.externalTrafficPolicy ?? 'Cluster', ip, port.port);
      }
    }

    // VIPs first: a listener cannot bind an address the node does not have.
    if (addresses) {
      for (const vip of vips) {
        if (assigned.has(vip)) continue;
        await addresses.add(vip);
        assigned.add(vip);
        log.info({ service: key, vip }, 'assigned service VIP');
      }
    }
    if (iptables) {
      const byChain = new Map<string, IptablesServicePort & { destinations: IptablesDestination[] }>();
      for (const d of desired) {
        const id = `${key}/${d.selKey}`;
        let sp = byChain.get(id);
        if (!sp) byChain.set(id, (sp = { id, protocol: d.protocol, affinitySeconds: d.affinitySeconds, endpoints: d.selector.endpoints.map((e) => ({ ip: e.ip, port: e.port })), destinations: [] }));
        sp.destinations.push(d.dest);
      }
      if (svc) rulePorts.set(key, [...byChain.values()]);
      else rulePorts.delete(key);
      desired.length = 0;
      await applyRules();
    }
    const wanted = new Map(desired.map((d) => [d.key, d]));
    for (const [k, l] of st.listeners) {
      if (wanted.has(k)) continue;
      l.close();
      st.listeners.delete(k);
    }
    const failures: { key: string; err: unknown }[] = [];
    for (const d of desired) {
      const have = st.listeners.get(d.key);
      if (have) {
        have.selector = d.selector;
        if (have instanceof UdpProxier) have.prune();
        continue;
      }
      const l = d.protocol === 'TCP' ? new TcpProxier(d.address, d.port, d.selector, log) : new UdpProxier(d.address, d.port, d.selector, log, options.udpIdleTimeoutMs);
      try {
        await l.listen();
        st.listeners.set(d.key, l);
        log.debug({ service: key, listener: d.key }, 'proxy listening');
      } catch (err) {
        l.close();
        failures.push({ key: d.key, err });
      }
    }
    for (const k of st.selectors.keys()) if (!usedSelectors.has(k)) st.selectors.delete(k);

    const stale = st.vips.filter((ip) => !vips.includes(ip));
    st.vips = vips;
    if (addresses) {
      for (const ip of stale) {
        if (vipInUseElsewhere(ip, key)) continue;
        await addresses.remove(ip);
        assigned.delete(ip);
        log.info({ service: key, vip: ip }, 'removed service VIP');
      }
    }
    if (!svc) state.delete(key);

    if (svc && spec?.type === 'LoadBalancer' && !spec.loadBalancerClass) await writeLoadBalancerStatus(svc);
    if (failures.length > 0) {
      throw new Error(`service ${key}: cannot listen on ${failures.map((f) => `${f.key} (${(f.err as NodeJS.ErrnoException).code ?? (f.err as Error).message})`).join(', ')}`, { cause: failures[0]!.err });
    }
  };

  const writeLoadBalancerStatus = async (svc: Readonly<Service>): Promise<void> => {
    const ips = loadBalancerIngressIPs(nodes.lister.list());
    if (ips.length === 0) return;
    const current = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
    if (current.length === ips.length && current.every((ip, i) => ip === ips[i])) return;
    const copy = structuredClone(svc) as Service;
    copy.status = { ...(copy.status ?? {}), loadBalancer: { ingress: ips.map((ip) => ({ ip })) } };
    await client.updateStatus(SERVICES, copy as KubeObject);
    log.info({ service: objectKey(svc), ingress: ips }, 'load balancer ingress set');
  };

  const closeAll = () => {
    for (const st of state.values()) for (const l of st.listeners.values()) l.close();
    state.clear();
  };

  let workers: Promise<void> = Promise.resolve();
  const ready = (async () => {
    void services.run(signal);
    void slices.run(signal);
    void nodes.run(signal);
    if (addresses) {
      try {
        await addresses.ensure();
      } catch (err) {
        vipsEnabled = false;
        log.warn({ err, interface: interfaceName }, 'cannot set up the service VIP interface; serving NodePorts only');
      }
    }
    if (iptables) {
      try {
        await iptables.init();
      } catch (err) {
        iptables = null;
        log.warn({ err }, 'iptables does not work here; service proxy falls back to userspace mode');
      }
    }
    await Promise.all([services.waitForSync(signal), slices.waitForSync(signal), nodes.waitForSync(signal)]);
    if (addresses && vipsEnabled) {
      const wantedVips = new Set(services.lister.list().flatMap((s) => serviceVIPs(s)));
      try {
        for (const ip of await addresses.list()) {
          if (wantedVips.has(ip)) assigned.add(ip);
          else await addresses.remove(ip);
        }
      } catch (err) {
        log.warn({ err, interface: interfaceName }, 'cannot clean up stale service VIPs');
      }
    }
    // First sync inline, so `ready` means every service is being served.
    for (const s of services.lister.list()) {
      const key = objectKey(s);
      await sync(key).catch((err: unknown) => {
        log.warn({ err, key }, 'sync failed');
        queue.addRateLimited(key);
      });
    }
    workers = runWorkers({ name: 'service-proxy', queue, workers: 2, sync, logger: log, signal });
    log.info({ node: nodeName, mode: iptables ? 'iptables' : 'userspace', vips: vipsEnabled, interface: vipsEnabled ? interfaceName : undefined }, 'service proxy started');
  })();
  ready.catch(() => undefined);
  signal.addEventListener('abort', () => {
    queue.shutDown();
    closeAll();
  }, { once: true });

  return {
    ready,
    get mode() {
      return iptables ? 'iptables' as const : 'userspace' as const;
    },
    get vipsEnabled() {
      return vipsEnabled;
    },
    stop: async () => {
      stopper.abort();
      await workers.catch(() => undefined);
      closeAll();
    },
  };
}
