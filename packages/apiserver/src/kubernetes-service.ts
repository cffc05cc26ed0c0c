/**
 * The `kubernetes` Service in namespace `default` and its Endpoints/EndpointSlice, pointing at the
 * API server (kube-apiserver's "kubernetes service" controller and endpoint reconciler): ClusterIP
 * the first address of the service range, port 443 named https to the secure port.
 */
import { isIP } from 'node:net';
import deepEqual from 'fast-deep-equal';
import { isAlreadyExists, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Registry } from './registry/registry.js';
import type { RequestContext } from './registry/strategy.js';

/** What the `kubernetes` Service points at. */
export interface KubernetesServiceOptions {
  /** The first address of the service range. */
  clusterIP: string;
  /** The API server's HTTPS port. */
  securePort: number;
  /** The address other components reach this server at (must be an IP for Endpoints). */
  advertiseAddress: string;
  /**
   * Other API servers share the storage: add this server to the Endpoints instead of replacing
   * them (a single server owns them and drops stale addresses and ports of earlier runs).
   */
  sharedStorage: boolean;
}

interface EndpointSubset {
  addresses?: { ip: string }[];
  ports?: { name?: string; port: number; protocol?: string }[];
}

const NAMESPACE = 'default';
const NAME = 'kubernetes';
const WRITE = { dryRun: false, fieldValidation: 'Ignore' as const };

function servicePorts(securePort: number): unknown[] {
  return [{ name: 'https', protocol: 'TCP', port: 443, targetPort: securePort }];
}

/** The Endpoints subsets with this server in them. */
function desiredSubsets(current: EndpointSubset[] | undefined, ip: string, port: number, shared: boolean): EndpointSubset[] {
  const mine: EndpointSubset = { addresses: [{ ip }], ports: [{ name: 'https', port, protocol: 'TCP' }] };
  if (!shared) return [mine];
  const subsets = structuredClone(current ?? []);
  const same = subsets.find((s) => deepEqual(s.ports, mine.ports));
  if (!same) return [...subsets, mine];
  if (!(same.addresses ?? []).some((a) => a.ip === ip)) (same.addresses ??= []).push({ ip });
  return subsets;
}

/** Creates or updates one object so that `apply` holds; `build` makes it when missing. */
async function reconcile(registry: Registry, group: string, plural: string, build: () => KubeObject, apply: (obj: KubeObject) => void, ctx: RequestContext): Promise<'created' | 'updated' | 'unchanged'> {
  const store = registry.storeFor({ group, plural });
  if (!store) return 'unchanged';
  const current = store.tryGet(NAMESPACE, NAME);
  if (!current) {
    try {
      await store.createObject(build(), WRITE, ctx);
      return 'created';
    } catch (err) {
      // Another API server created it first: bring that one up to date instead.
      if (!isAlreadyExists(err)) throw err;
    }
  }
  const r = await store.guaranteedUpdate(NAMESPACE, NAME, WRITE, ctx, '', (obj) => {
    apply(obj);
    return obj;
  }, undefined);
  return r.object.metadata.resourceVersion === current?.metadata.resourceVersion ? 'unchanged' : 'updated';
}

/** Makes sure the `kubernetes` Service and its endpoints exist and point at this server. */
export async function ensureKubernetesService(registry: Registry, options: KubernetesServiceOptions, logger: Logger): Promise<void> {
  const ctx: RequestContext = { now: new Date(), user: { name: 'system:apiserver', groups: ['system:masters'] } };
  const labels = { component: 'apiserver', provider: 'kubernetes' };
  const svc = await reconcile(
    registry,
    '',
    'services',
    () => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: NAME, namespace: NAMESPACE, labels },
      spec: { type: 'ClusterIP', clusterIP: options.clusterIP, ports: servicePorts(options.securePort), sessionAffinity: 'None' },
    }),
    (obj) => {
      const spec = obj['spec'] as { ports?: unknown[] };
      // Only the single server of a storage may move the port; with several, the first one's stays.
      if (!options.sharedStorage || !spec.ports) spec.ports = servicePorts(options.securePort);
    },
    ctx,
  );
  if (svc !== 'unchanged') logger.info({ clusterIP: options.clusterIP, result: svc }, 'reconciled the kubernetes service');

  const ip = options.advertiseAddress;
  if (isIP(ip) === 0) {
    logger.warn({ advertiseAddress: ip }, 'advertise address is not an IP; not writing endpoints of the kubernetes service');
    return;
  }
  let subsets: EndpointSubset[] = [];
  await reconcile(
    registry,
    '',
    'endpoints',
    () => {
      subsets = desiredSubsets(undefined, ip, options.securePort, options.sharedStorage);
      return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: NAME, namespace: NAMESPACE, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets };
    },
    (obj) => {
      subsets = desiredSubsets(obj['subsets'] as EndpointSubset[] | undefined, ip, options.securePort, options.sharedStorage);
      obj['subsets'] = subsets;
    },
    ctx,
  );
  // The EndpointSlice mirrors the subset that has this server's port.
  const subset = subsets.find((s) => (s.ports ?? []).some((p) => p.port === options.securePort)) ?? subsets[0];
  const slice = () => ({
    addressType: isIP(ip) === 6 ? 'IPv6' : 'IPv4',
    endpoints: (subset?.addresses ?? []).map((a) => ({ addresses: [a.ip], conditions: { ready: true } })),
    ports: subset?.ports ?? [],
  });
  await reconcile(
    registry,
    'discovery.k8s.io',
    'endpointslices',
    () => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: NAME, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': NAME } }, ...slice() }),
    (obj) => Object.assign(obj, slice()),
    ctx,
  );
}
