/**
 * `start(config)`: the scheduler process — informers on pods, nodes and the volume objects (claims,
 * volumes, storage classes), leader election on a Lease,
 * the scheduling loop while leading, and an HTTP endpoint with /healthz and /metrics.
 */
import { hostname } from 'node:os';
import { formatTime, type KubeObject } from '@flotilla/api';
import { componentAbortController, deletedObject, EventRecorder, res, RestClient, runWhileLeading, serveHealthAndMetrics, SharedInformerFactory, type ClientConfig, type LeaderElectionConfig } from '@flotilla/client';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { defaultProfile } from './plugins/index.js';
import { Scheduler } from './scheduler.js';
import { SELECTED_NODE_ANNOTATION, type VolumeLister } from './plugins/volume-binding.js';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from './types.js';

/** Configuration of the scheduler. */
export interface SchedulerConfig {
  client: ClientConfig;
  schedulerName: string;
  leaderElection: LeaderElectionConfig;
  /** Address of the /healthz and /metrics endpoint; port 0 picks one; undefined disables it. */
  bindAddress?: string;
  port?: number;
  percentageOfNodesToScore?: number;
  identity?: string;
}

/** A running scheduler. */
export interface SchedulerHandle {
  /** `http://host:port` of the metrics endpoint, if serving. */
  metricsUrl: string | undefined;
  isLeader(): boolean;
  stop(): Promise<void>;
}

const PODS = res('pods');
const NODES = res('nodes');
const PVCS = res('persistentvolumeclaims');
const PVS = res('persistentvolumes');
const STORAGE_CLASSES = res('storageclasses.storage.k8s.io');

/** Starts the scheduler; resolves once informers are started (and the metrics endpoint listens). */
export async function start(config: SchedulerConfig, options: { logger: Logger; signal?: AbortSignal }): Promise<SchedulerHandle> {
  const log = options.logger;
  const client = new RestClient(config.client, { userAgent: 'flotilla-scheduler', connections: 64 });
  const identity = config.identity ?? `${hostname()}_${process.pid}`;
  const recorder = new EventRecorder({ client, component: config.schedulerName, logger: log });

  const registry = new Registry();
  const attempts = new Counter({ name: 'scheduler_schedule_attempts_total', help: 'Scheduling attempts by result.', labelNames: ['result'], registers: [registry] });
  const attemptDuration = new Histogram({ name: 'scheduler_scheduling_attempt_duration_seconds', help: 'Time of one scheduling decision.', labelNames: ['result'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [registry] });
  const e2e = new Histogram({ name: 'scheduler_pod_scheduling_duration_seconds', help: 'Time from a pod entering the queue to its binding.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60], registers: [registry] });
  let queueLengths = (): { active: number; backoff: number; unschedulable: number } => ({ active: 0, backoff: 0, unschedulable: 0 });
  const pending = new Gauge({
    name: 'scheduler_pending_pods',
    help: 'Pods waiting, by queue.',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      const l = queueLengths();
      this.set({ queue: 'active' }, l.active);
      this.set({ queue: 'backoff' }, l.backoff);
      this.set({ queue: 'unschedulable' }, l.unschedulable);
    },
  });
  const leaderGauge = new Gauge({ name: 'scheduler_is_leader', help: '1 while this instance schedules.', registers: [registry] });
  collectDefaultMetrics({ register: registry });

  const stopAll = componentAbortController();
  options.signal?.addEventListener('abort', () => stopAll.abort(), { once: true });
  const factory = new SharedInformerFactory(client, log);
  const pods = factory.informerFor<Pod>(PODS);
  const nodes = factory.informerFor<Node>(NODES);
  const claims = factory.informerFor<PersistentVolumeClaim>(PVCS);
  const volumes = factory.informerFor<PersistentVolume>(PVS);
  const classes = factory.informerFor<StorageClass>(STORAGE_CLASSES);
  const volumeLister: VolumeLister = {
    claim: (namespace, name) => claims.lister.get(namespace, name),
    volume: (name) => volumes.lister.get('', name),
    storageClass: (name) => classes.lister.get('', name),
    storageClasses: () => classes.lister.list(),
  };

  const scheduler = new Scheduler({
    schedulerName: config.schedulerName,
    profile: defaultProfile({
      ...(config.percentageOfNodesToScore !== undefined ? { percentageOfNodesToScore: config.percentageOfNodesToScore } : {}),
      volumes: {
        lister: volumeLister,
        selectNode: async (claim, nodeName) => {
          await client.patch(PVCS, claim.metadata.namespace ?? '', claim.metadata.name ?? '', { metadata: { annotations: { [SELECTED_NODE_ANNOTATION]: nodeName } } }, 'merge');
        },
      },
    }),
    logger: log,
    observer: {
      attempt: (result, seconds) => {
        attempts.inc({ result });
        attemptDuration.observe({ result }, seconds);
      },
      e2eLatency: (seconds) => e2e.observe(seconds),
    },
    actions: {
      bind: async (pod, nodeName) => {
        await client.createSubresource(PODS, pod.metadata.namespace ?? '', pod.metadata.name ?? '', 'binding', {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid },
          target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
        });
      },
      markUnschedulable: async (pod, message) => {
        const existing = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (existing && existing.status === 'False' && existing.reason === 'Unschedulable' && existing.message === message) return;
        await client.patch(
          PODS,
          pod.metadata.namespace ?? '',
          pod.metadata.name ?? '',
          { status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: formatTime(new Date()) }] } },
          'strategic',
          { subresource: 'status' },
        );
      },
      event: (pod, type, reason, message) => recorder.event(pod as KubeObject, type, reason, message),
    },
  });
  queueLengths = () => scheduler.queue.lengths();
  void pending;

  pods.addEventHandler({
    onAdd: (p) => scheduler.onPod(p),
    onUpdate: (_old, p) => scheduler.onPod(p),
    onDelete: (p) => scheduler.onPodDeleted(deletedObject(p)),
  });
  nodes.addEventHandler({
    onAdd: (n) => scheduler.onNode(n),
    onUpdate: (_old, n) => scheduler.onNode(n),
    onDelete: (n) => scheduler.onNodeDeleted(deletedObject(n)),
  });
  const onVolumeObject = { onAdd: () => scheduler.onVolumeObject(), onUpdate: () => scheduler.onVolumeObject() };
  claims.addEventHandler(onVolumeObject);
  volumes.addEventHandler(onVolumeObject);
  classes.addEventHandler(onVolumeObject);
  factory.start(stopAll.signal);

  // A scheduler that loses its lease stops scheduling at once: its queue would be stale.
  const running = runWhileLeading(
    {
      ...config.leaderElection,
      client,
      identity,
      logger: log,
      onLeadership: (leading) => leaderGauge.set(leading ? 1 : 0),
      lead: async (signal) => {
        await factory.waitForSync(signal);
        log.info({ nodes: nodes.store.size, pods: pods.store.size, claims: claims.store.size }, 'informers synced; scheduling');
        await scheduler.run(signal);
      },
    },
    stopAll.signal,
  );

  const server = config.bindAddress !== undefined && config.port !== undefined ? await serveHealthAndMetrics({ bindAddress: config.bindAddress, port: config.port, registry }) : undefined;
  const metricsUrl = server?.url;
  log.info({ identity, schedulerName: config.schedulerName, leaderElect: config.leaderElection.leaderElect, metricsUrl }, 'scheduler started');
  return {
    metricsUrl,
    isLeader: running.isLeader,
    stop: async () => {
      stopAll.abort();
      await running.done.catch(() => undefined);
      await factory.stopped();
      await recorder.flush().catch(() => undefined);
      await server?.close();
      await client.close();
    },
  };
}
