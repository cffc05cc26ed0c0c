/**
 * The Endpoints and EndpointSlice controllers: for every Service with a selector, the addresses of
 * the pods it selects — ready ones and not-ready ones — with the service's ports resolved against the
 * pods' container ports (named target ports included). Updated on every pod or service change.
 */
import { isDeepStrictEqual } from 'node:util';
import { isAlreadyExists, isNotFound, labelSelectorFromObject, objectKey, splitObjectKey, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { isPodReady, type PodView } from '../../pod-utils.js';

const SERVICES = res('services');
const PODS = res('pods');
const ENDPOINTS = res('endpoints');
const SLICES = res('endpointslices.discovery.k8s.io');

interface ServiceView extends KubeObject {
  spec?: { selector?: Record<string, string>; ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string; appProtocol?: string }[]; publishNotReadyAddresses?: boolean; clusterIP?: string };
}

interface PodFull extends PodView {
  spec?: PodView['spec'] & { containers?: { ports?: { name?: string; containerPort: number; protocol?: string }[] }[]; hostname?: string; subdomain?: string };
}

/** One resolved endpoint. */
interface Address {
  ip: string;
  /** Listed as ready: serving and not terminating, or the service publishes not-ready addresses. */
  ready: boolean;
  /** The pod's Ready condition (EndpointSlice `serving`). */
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  hostname?: string;
  pod: { name: string; namespace: string; uid: string; resourceVersion?: string };
}

interface ResolvedPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

/** The service ports as a pod serves them; a named port missing on the pod is left out (as Kubernetes' FindPort failing). */
function resolvePorts(svc: ServiceView, pod: PodFull): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const protocol = sp.protocol ?? 'TCP';
    let port: number | undefined;
    const target = sp.targetPort ?? sp.port;
    if (typeof target === 'number') port = target;
    else if (/^\d+$/.test(target)) port = Number(target);
    else {
      for (const c of pod.spec?.containers ?? []) for (const cp of c.ports ?? []) if (cp.name === target && (cp.protocol ?? 'TCP') === protocol) port = cp.containerPort;
    }
    if (port === undefined) continue;
    out.push({ name: sp.name ?? '', port, protocol, ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

/**
 * The endpoints of a service: addresses grouped by their resolved port sets. For Endpoints (the
 * default) terminating pods are left out unless the service publishes not-ready addresses, and a pod
 * serving none of the service's ports is left out; EndpointSlices (`forSlices`) keep both, as in
 * Kubernetes.
 */
export function serviceEndpoints(svc: ServiceView, pods: readonly PodFull[], options: { forSlices?: boolean } = {}): { ports: ResolvedPort[]; addresses: Address[] }[] {
  const selector = svc.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const sel = labelSelectorFromObject({ matchLabels: selector });
  const groups = new Map<string, { ports: ResolvedPort[]; addresses: Address[] }>();
  for (const pod of pods) {
    if (!sel.matches(pod.metadata.labels)) continue;
    const ip = pod.status?.podIP;
    if (!ip) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const ports = resolvePorts(svc, pod);
    const svcPorts = svc.spec?.ports ?? [];
    // Endpoints: a pod serving none of the ports is left out; without ports, only headless services list pods.
    if (!options.forSlices && (svcPorts.length > 0 ? ports.length === 0 : svc.spec?.clusterIP !== 'None')) continue;
    const terminating = !!pod.metadata.deletionTimestamp;
    const serving = isPodReady(pod);
    if (terminating && !options.forSlices && !svc.spec?.publishNotReadyAddresses) continue;
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, addresses: [] }));
    const hostname = pod.spec?.hostname && pod.spec.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace ? pod.spec.hostname : undefined;
    g.addresses.push({
      ip,
      ready: svc.spec?.publishNotReadyAddresses === true || (serving && !terminating),
      serving,
      terminating,
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      ...(hostname ? { hostname } : {}),
      pod: { name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? '', uid: pod.metadata.uid ?? '' },
    });
  }
  for (const g of groups.values()) g.addresses.sort((a, b) => a.ip.localeCompare(b.ip));
  return [...groups.values()].sort((a, b) => JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)));
}

function targetRef(a: Address): Record<string, unknown> {
  return { kind: 'Pod', namespace: a.pod.namespace, name: a.pod.name, uid: a.pod.uid };
}

/** Shared plumbing of both controllers: which services a pod change touches. */
abstract class ServiceEndpointsController implements Controller {
  abstract readonly name: string;
  readonly queue: WorkQueue<string>;
  protected readonly services: SharedInformer<ServiceView>;
  protected readonly pods: SharedInformer<PodFull>;

  constructor(protected readonly ctx: ControllerContext) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.services = ctx.informers.informerFor<ServiceView>(SERVICES);
    this.pods = ctx.informers.informerFor<PodFull>(PODS);
    this.services.addEventHandler({
      onAdd: (s) => this.queue.add(objectKey(s)),
      onUpdate: (_a, b) => this.queue.add(objectKey(b)),
      onDelete: (s) => this.queue.add(objectKey(deletedObject(s))),
    });
    const touch = (p: PodFull) => {
      for (const s of this.services.lister.list(p.metadata.namespace ?? '')) {
        const sel = s.spec?.selector;
        if (sel && Object.keys(sel).length > 0 && labelSelectorFromObject({ matchLabels: sel }).matches(p.metadata.labels)) this.queue.add(objectKey(s));
      }
    };
    this.pods.addEventHandler({
      onAdd: touch,
      onUpdate: (a, b) => {
        touch(b);
        if (!isDeepStrictEqual(a.metadata.labels, b.metadata.labels)) touch(a);
      },
      onDelete: (p) => touch(deletedObject(p)),
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.ctx.queueDepth?.(this.name, () => this.queue.len());
    await Promise.all([this.services.waitForSync(signal), this.pods.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  abstract sync(key: string): Promise<void>;
}

/** Maintains core/v1 Endpoints. */
export class EndpointsController extends ServiceEndpointsController {
  readonly name = 'endpoints-controller';
  private readonly endpoints: SharedInformer<KubeObject>;

  constructor(ctx: ControllerContext) {
    super(ctx);
    this.endpoints = ctx.informers.informerFor<KubeObject>(ENDPOINTS);
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const svc = this.services.lister.get(namespace, name);
    const existing = this.endpoints.lister.get(namespace, name);
    if (!svc) {
      if (existing) await this.ctx.client.delete(ENDPOINTS, namespace, name).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      return;
    }
    if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) return;
    const groups = serviceEndpoints(svc, this.pods.lister.list(namespace));
    const subsets = groups.map((g) => {
      const subset: Record<string, unknown> = {};
      const ready = g.addresses.filter((a) => a.ready);
      const notReady = g.addresses.filter((a) => !a.ready);
      const addr = (a: Address) => ({ ip: a.ip, ...(a.hostname ? { hostname: a.hostname } : {}), ...(a.nodeName ? { nodeName: a.nodeName } : {}), targetRef: targetRef(a) });
      if (ready.length > 0) subset['addresses'] = ready.map(addr);
      if (notReady.length > 0) subset['notReadyAddresses'] = notReady.map(addr);
      subset['ports'] = g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
      return subset;
    });
    const labels = { ...(svc.metadata.labels ?? {}) };
    const desired: KubeObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels }, subsets };
    if (existing) {
      if (isDeepStrictEqual(existing['subsets'] ?? [], subsets) && isDeepStrictEqual(existing.metadata.labels ?? {}, labels)) return;
      await this.ctx.client.update(ENDPOINTS, { ...existing, metadata: { ...existing.metadata, labels }, subsets });
    } else {
      try {
        await this.ctx.client.create(ENDPOINTS, namespace, desired);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        this.queue.addAfter(key, 100);
      }
    }
  }
}

/** Maintains discovery.k8s.io/v1 EndpointSlices (one per port set, up to 100 endpoints each). */
export class EndpointSliceController extends ServiceEndpointsController {
  readonly name = 'endpointslice-controller';
  private readonly slices: SharedInformer<KubeObject>;

  constructor(ctx: ControllerContext) {
    super(ctx);
    this.slices = ctx.informers.informerFor<KubeObject>(SLICES);
    this.slices.addIndexer('service', (s) => [s.metadata.labels?.['kubernetes.io/service-name'] ? `${s.metadata.namespace}/${s.metadata.labels['kubernetes.io/service-name']}` : '']);
  }

  async sync(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const svc = this.services.lister.get(namespace, name);
    const existing = this.slices.lister.byIndex('service', key).filter((s) => s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io');
    if (!svc || !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) {
      for (const s of existing) await this.ctx.client.delete(SLICES, namespace, s.metadata.name ?? '').catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      return;
    }
    const desired: { ports: unknown[]; endpoints: unknown[] }[] = [];
    for (const g of serviceEndpoints(svc, this.pods.lister.list(namespace), { forSlices: true })) {
      const eps = g.addresses.map((a) => ({
        addresses: [a.ip],
        conditions: { ready: a.ready, serving: a.serving, terminating: a.terminating },
        ...(a.hostname ? { hostname: a.hostname } : {}),
        ...(a.nodeName ? { nodeName: a.nodeName } : {}),
        targetRef: targetRef(a),
      }));
      const ports = g.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
      for (let i = 0; i < eps.length; i += 100) desired.push({ ports, endpoints: eps.slice(i, i + 100) });
    }
    // A service with no endpoints still has one placeholder slice, without ports as in Kubernetes.
    if (desired.length === 0) desired.push({ ports: [], endpoints: [] });
    const labels = { ...(svc.metadata.labels ?? {}), 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' };
    const ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
    // Reuse existing slices in order; create or delete the difference.
    const keep = [...existing].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    for (let i = 0; i < Math.max(desired.length, keep.length); i++) {
      const want = desired[i];
      const have = keep[i];
      if (want && have) {
        if (isDeepStrictEqual(have['endpoints'] ?? [], want.endpoints) && isDeepStrictEqual(have['ports'] ?? [], want.ports) && isDeepStrictEqual(have.metadata.labels, labels)) continue;
        await this.ctx.client.update(SLICES, { ...have, metadata: { ...have.metadata, labels }, addressType: 'IPv4', endpoints: want.endpoints, ports: want.ports });
      } else if (want) {
        await this.ctx.client.create(SLICES, namespace, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { generateName: `${name}-`, namespace, labels, ownerReferences }, addressType: 'IPv4', endpoints: want.endpoints, ports: want.ports });
      } else if (have) {
        await this.ctx.client.delete(SLICES, namespace, have.metadata.name ?? '').catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      }
    }
  }
}
