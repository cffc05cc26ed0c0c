/**
 * The controllers this manager can run, by the names kube-controller-manager's `--controllers` uses.
 */
import type { Controller, ControllerContext } from './controller-context.js';
import { CronJobController } from './controllers/cronjob/cronjob-controller.js';
import { DisruptionController } from './controllers/disruption/disruption-controller.js';
import { DeploymentController } from './controllers/deployment/deployment-controller.js';
import { EndpointSliceController, EndpointsController } from './controllers/endpoints/endpoints-controller.js';
import { HorizontalPodAutoscalerController } from './controllers/hpa/hpa-controller.js';
import { NodeIpamController } from './controllers/nodeipam/node-ipam-controller.js';
import { DaemonSetController } from './controllers/daemonset/daemonset-controller.js';
import { StatefulSetController } from './controllers/statefulset/statefulset-controller.js';
import { GarbageCollector } from './controllers/garbagecollector/garbage-collector.js';
import { JobController } from './controllers/job/job-controller.js';
import { NamespaceController } from './controllers/namespace/namespace-controller.js';
import { NodeLifecycleController } from './controllers/nodelifecycle/node-lifecycle-controller.js';
import { PodGcController } from './controllers/podgc/pod-gc-controller.js';
import { REPLICATION_CONTROLLERS, ReplicaSetController } from './controllers/replicaset/replicaset-controller.js';
import { ResourceQuotaController } from './controllers/resourcequota/resource-quota-controller.js';
import { ClusterRoleAggregationController } from './controllers/clusterroleaggregation/cluster-role-aggregation-controller.js';
import { RootCaCertPublisher } from './controllers/rootcacertpublisher/root-ca-cert-publisher.js';
import { ServiceAccountsController } from './controllers/serviceaccount/service-accounts-controller.js';
import { legacyTokenSigningKey, TokensController } from './controllers/serviceaccount/tokens-controller.js';

/** Builds a controller on a context; undefined when the controller cannot run with these options (it logs why). */
export type ControllerFactory = (ctx: ControllerContext) => Controller | undefined;

/** Every controller by name. */
export const CONTROLLERS: Record<string, ControllerFactory> = {
  deployment: (ctx) => new DeploymentController(ctx),
  replicaset: (ctx) => new ReplicaSetController(ctx),
  replicationcontroller: (ctx) => new ReplicaSetController(ctx, REPLICATION_CONTROLLERS),
  statefulset: (ctx) => new StatefulSetController(ctx),
  daemonset: (ctx) => new DaemonSetController(ctx),
  job: (ctx) => new JobController(ctx),
  cronjob: (ctx) => new CronJobController(ctx),
  endpoint: (ctx) => new EndpointsController(ctx),
  endpointslice: (ctx) => new EndpointSliceController(ctx),
  namespace: (ctx) => new NamespaceController(ctx),
  garbagecollector: (ctx) => new GarbageCollector(ctx),
  nodelifecycle: (ctx) => new NodeLifecycleController(ctx),
  podgc: (ctx) => new PodGcController(ctx),
  horizontalpodautoscaling: (ctx) => new HorizontalPodAutoscalerController(ctx, { syncPeriodMs: ctx.options.hpaSyncPeriodMs ?? 15_000 }),
  nodeipam: (ctx) => new NodeIpamController(ctx),
  serviceaccount: (ctx) => new ServiceAccountsController(ctx),
  'root-ca-cert-publisher': (ctx) => new RootCaCertPublisher(ctx, ctx.options.rootCaPem ?? ''),
  'serviceaccount-token': (ctx) => {
    const key = ctx.options.serviceAccountPrivateKey;
    if (key) return new TokensController(ctx, legacyTokenSigningKey(key), ctx.options.rootCaPem ?? '');
    ctx.logger.info({ controller: 'serviceaccount-token' }, 'controller is disabled because there is no private key');
    return undefined;
  },
  'clusterrole-aggregation': (ctx) => new ClusterRoleAggregationController(ctx),
  disruption: (ctx) => new DisruptionController(ctx),
  resourcequota: (ctx) => new ResourceQuotaController(ctx, ctx.options.resourceQuotaSyncPeriodMs !== undefined ? { syncPeriodMs: ctx.options.resourceQuotaSyncPeriodMs } : {}),
};

/**
 * Resolves a `--controllers` list: `*` is every controller, `name` adds one, `-name` removes one
 * (kube-controller-manager's syntax). Unknown names are an error.
 */
export function selectControllers(spec: readonly string[]): string[] {
  const all = Object.keys(CONTROLLERS);
  const chosen = new Set<string>();
  const removed = new Set<string>();
  for (const raw of spec.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    if (raw === '*') {
      for (const n of all) chosen.add(n);
      continue;
    }
    const minus = raw.startsWith('-');
    const name = minus ? raw.slice(1) : raw;
    if (!CONTROLLERS[name]) throw new Error(`unknown controller "${name}" (known: ${all.join(', ')})`);
    (minus ? removed : chosen).add(name);
  }
  return all.filter((n) => chosen.has(n) && !removed.has(n));
}
