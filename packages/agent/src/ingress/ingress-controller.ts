/**
 * `startIngressController(options)`: the Ingress controller every agent runs. Informers on
 * Ingresses, IngressClasses, Services, EndpointSlices, TLS Secrets and Nodes feed one work queue:
 * the key `routes` rebuilds the routing table and certificates, `endpoints` refreshes the backends'
 * ready pods, and `namespace/name` writes that Ingress's `status.loadBalancer` (this node's IPs).
 * Handlers only enqueue; the Node.js proxy reads the last built table, nginx gets it rendered into
 * its configuration after every change.
 */
import type { EndpointSlice, Ingress, IngressClass, KubeObject, Node, Secret, Service } from '@flotilla/api/core';
import { createSelfSignedCertificate } from '@flotilla/api/pki';
import { res, runWorkers, SharedInformer, WorkQueue, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import { readyUpstreams, RoundRobin } from './backend-endpoints.js';
import { CertificateStore, tlsSourcesByHost } from './certificate-store.js';
import { ensureIngressClass, isIngressServed } from './ingress-class.js';
import type { RouteResolver } from './ingress-proxy.js';
import { desiredLoadBalancerIngress, isSameLoadBalancerIngress } from './ingress-status.js';
import { backendKey, RoutingTable, sortIngresses, type BackendRef } from './routing-table.js';

const INGRESSES = res('ingresses.networking.k8s.io');
const INGRESSCLASSES = res('ingressclasses.networking.k8s.io');
const SERVICES = res('services');
const SLICES = res('endpointslices.discovery.k8s.io');
const SECRETS = res('secrets');
const NODES = res('nodes');

const ROUTES_KEY = 'routes';
const ENDPOINTS_KEY = 'endpoints';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const BY_SERVICE = 'service';

/** Options of startIngressController. */
export interface IngressControllerOptions {
  client: KubeClient;
  nodeName: string;
  /** This node's addresses, written to the Ingresses' status. */
  nodeIPs: string[];
  /** Ports of the HTTP and HTTPS listeners: undefined leaves one closed, 0 picks a free port. */
  httpPort?: number;
  httpsPort?: number;
  bindAddress: string;
  /**
   * What moves the traffic: nginx (the binary, and its directory for configuration and
   * certificates), or the Node.js proxy in this process.
   */
  proxy: { kind: 'nginx'; binary: string; dir: string } | { kind: 'node' };
  logger: Logger;
  /** Aborting stops the informers and the work queue (call `stop()` to close the listeners). */
  signal: AbortSignal;
}

/** A running Ingress controller. */
export interface IngressControllerHandle {
  /** `http://ADDRESS:PORT` of the HTTP listener, when open. */
  httpUrl: string | undefined;
  /** `https://ADDRESS:PORT` of the HTTPS listener, when open. */
  httpsUrl: string | undefined;
  /** Closes the listeners and stops the controller. */
  stop(): Promise<void>;
}

type Ro<T> = Readonly<T>;

/**
 * Creates the `flotilla` IngressClass unless it exists, starts the informers, waits for them to
 * sync, builds the first routing table and opens the listeners. A listener whose port cannot be
 * bound is logged and left closed (the agent keeps running).
 */
export async function startIngressController(options: IngressControllerOptions): Promise<IngressControllerHandle> {
  const log = options.logger.child({ component: 'ingress' });
  const { client } = options;
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);

  await ensureIngressClass(client);
  const ingresses = new SharedInformer<Ingress & KubeObject>(client, { resource: INGRESSES, logger: log });
  const classes = new SharedInformer<IngressClass & KubeObject>(client, { resource: INGRESSCLASSES, logger: log });
  const services = new SharedInformer<Service & KubeObject>(client, { resource: SERVICES, logger: log });
  const slices = new SharedInformer<EndpointSlice & KubeObject>(client, { resource: SLICES, logger: log });
  const secrets = new SharedInformer<Secret & KubeObject>(client, { resource: SECRETS, fieldSelector: 'type=kubernetes.io/tls', logger: log });
  const nodes = new SharedInformer<Node & KubeObject>(client, { resource: NODES, logger: log });
  slices.addIndexer(BY_SERVICE, (s) => {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    return svc ? [`${s.metadata.namespace ?? ''}/${svc}`] : [];
  });

  const queue = new WorkQueue<string>();
  const enqueueAllStatus = () => {
    for (const i of ingresses.lister.list()) queue.add(`${i.metadata.namespace}/${i.metadata.name}`);
  };
  const onIngress = (i: Ro<Ingress>) => {
    queue.add(ROUTES_KEY);
    queue.add(`${i.metadata.namespace}/${i.metadata.name}`);
  };
  ingresses.addEventHandler({ onAdd: onIngress, onUpdate: (_old, i) => onIngress(i), onDelete: () => queue.add(ROUTES_KEY) });
  const routes = () => queue.add(ROUTES_KEY);
  const endpoints = () => queue.add(ENDPOINTS_KEY);
  classes.addEventHandler({ onAdd: () => (routes(), enqueueAllStatus()), onUpdate: () => (routes(), enqueueAllStatus()), onDelete: () => (routes(), enqueueAllStatus()) });
  secrets.addEventHandler({ onAdd: routes, onUpdate: routes, onDelete: routes });
  services.addEventHandler({ onAdd: endpoints, onUpdate: endpoints, onDelete: endpoints });
  slices.addEventHandler({ onAdd: endpoints, onUpdate: endpoints, onDelete: endpoints });
  nodes.addEventHandler({ onDelete: enqueueAllStatus });

  const informers = [ingresses, classes, services, slices, secrets, nodes];
  for (const i of informers) void i.run(signal).catch((err: unknown) => log.warn({ err, resource: i.options.resource.plural }, 'ingress informer stopped'));
  await Promise.all(informers.map((i) => i.waitForSync(signal)));

  let table = RoutingTable.build([]);
  let pools = new Map<string, { ref: BackendRef; upstreams: RoundRobin }>();

  const isServed = (i: Ro<Ingress>) => isIngressServed(i, classes.lister.list());
  const refreshEndpoints = () => {
    const next = new Map<string, { ref: BackendRef; upstreams: RoundRobin }>();
    for (const ref of table.backends()) {
      const key = backendKey(ref);
      const pool = pools.get(key) ?? { ref, upstreams: new RoundRobin() };
      pool.upstreams.set(readyUpstreams(ref, services.lister.get(ref.namespace, ref.service), slices.lister.byIndex(BY_SERVICE, `${ref.namespace}/${ref.service}`)));
      next.set(key, pool);
    }
    pools = next;
  };
  const certificates = new CertificateStore(await createSelfSignedCertificate('Flotilla Ingress Default Certificate', ['ingress.local']), log);
  const rebuildRoutes = () => {
    const served = ingresses.lister.list().filter(isServed);
    table = RoutingTable.build(served);
    certificates.update(tlsSourcesByHost(sortIngresses(served)), (ns, name) => secrets.lister.get(ns, name));
    refreshEndpoints();
    log.debug({ ingresses: served.length, backends: pools.size }, 'ingress routes rebuilt');
  };
  const syncStatus = async (key: string) => {
    const [ns, name] = key.split('/') as [string, string];
    const ing = ingresses.lister.get(ns, name);
    if (!ing) return;
    const nodeIPs = new Set<string>();
    for (const n of nodes.lister.list()) for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP' || a.type === 'ExternalIP') nodeIPs.add(a.address);
    const current = ing.status?.loadBalancer?.ingress;
    const want = desiredLoadBalancerIngress(current, options.nodeIPs, nodeIPs, isServed(ing));
    if (isSameLoadBalancerIngress(current, want)) return;
    const next = structuredClone(ing) as Ingress & KubeObject;
    next.status = { ...next.status, loadBalancer: { ingress: want } };
    await client.updateStatus(INGRESSES, next);
    log.info({ ingress: key, ips: want.map((e) => e.ip) }, 'ingress status updated');
  };
  rebuildRoutes();

  const listeners = {
    bindAddress: options.bindAddress,
    ...(options.httpPort !== undefined ? { httpPort: options.httpPort } : {}),
    ...(options.httpsPort !== undefined ? { httpsPort: options.httpsPort } : {}),
    logger: log,
  };
  let proxy: { httpUrl: string | undefined; httpsUrl: string | undefined; listen(): Promise<void>; update?(): void; close(): Promise<void> };
  if (options.proxy.kind === 'nginx') {
    const { NginxIngressProxy } = await import('./nginx-proxy.js');
    proxy = new NginxIngressProxy({
      ...listeners,
      binary: options.proxy.binary,
      dir: options.proxy.dir,
      routes: () => ({
        table,
        upstreams: (ref) => pools.get(backendKey(ref))?.upstreams.upstreams ?? [],
        certificate: (servername) => certificates.pemFor(servername),
        certificateHosts: certificates.hosts(),
      }),
    });
  } else {
    const resolver: RouteResolver = {
      resolve: (host, path) => {
        const match = table.match(host, path);
        if (!match) return undefined;
        const pool = pools.get(backendKey(match.backend));
        return pool ? { match, upstreams: pool.upstreams } : undefined;
      },
    };
    const { IngressProxy } = await import('./ingress-proxy.js');
    proxy = new IngressProxy({ ...listeners, resolver, certificates });
  }
  await proxy.listen();

  const workers = runWorkers({
    name: 'ingress',
    queue,
    workers: 2,
    logger: log,
    signal,
    sync: async (key) => {
      if (key === ROUTES_KEY) rebuildRoutes();
      else if (key === ENDPOINTS_KEY) refreshEndpoints();
      else return syncStatus(key);
      proxy.update?.();
    },
  });
  log.info({ node: options.nodeName, proxy: options.proxy.kind, http: proxy.httpUrl, https: proxy.httpsUrl }, 'ingress controller started');
  return {
    httpUrl: proxy.httpUrl,
    httpsUrl: proxy.httpsUrl,
    stop: async () => {
      stop.abort();
      await proxy.close();
      await workers;
    },
  };
}
