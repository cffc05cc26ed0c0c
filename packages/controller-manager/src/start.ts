/**
 * `start(config)`: the controller manager process — shared informers, the enabled controllers,
 * leader election on a Lease (controllers run only while leading), and /healthz and /metrics.
 */
import { hostname } from 'node:os';
import { acceleratedClock, componentAbortController, realClock, RestClient, runWhileLeading, serveHealthAndMetrics, SharedInformerFactory, type ClientConfig, type LeaderElectionConfig } from '@flotilla/client';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { recorderFactory, type Controller, type ControllerContext, type ControllerOptions } from './controller-context.js';
import { CONTROLLERS, selectControllers } from './controllers.js';

/** Configuration of the controller manager. */
export interface ControllerManagerConfig {
  client: ClientConfig;
  /** Controller selection as in `--controllers` (`*`, `name`, `-name`). */
  controllers: string[];
  leaderElection: LeaderElectionConfig;
  /** Address of /healthz and /metrics; port 0 picks one; undefined disables it. */
  bindAddress?: string;
  port?: number;
  options: ControllerOptions;
  /** Speed of the controllers' clock relative to real time (tests of schedules). */
  clockSpeed?: number;
  identity?: string;
}

/** A running controller manager. */
export interface ControllerManagerHandle {
  metricsUrl: string | undefined;
  /** Names of the controllers this process runs. */
  controllers: string[];
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** Starts the controller manager; resolves once informers are started (and the metrics endpoint listens). */
export async function start(config: ControllerManagerConfig, options: { logger: Logger; signal?: AbortSignal }): Promise<ControllerManagerHandle> {
  const log = options.logger;
  const selected = selectControllers(config.controllers);
  const client = new RestClient(config.client, { userAgent: 'flotilla-controller-manager', connections: 64 });
  const identity = config.identity ?? `${hostname()}_${process.pid}`;
  const clock = acceleratedClock(config.clockSpeed ?? 1, realClock);

  const registry = new Registry();
  const syncDuration = new Histogram({
    name: 'controller_sync_duration_seconds',
    help: 'Time of one sync of one key, by controller.',
    labelNames: ['controller'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const syncErrors = new Counter({ name: 'controller_sync_errors_total', help: 'Failed syncs (retried with back-off), by controller.', labelNames: ['controller'], registers: [registry] });
  const depths = new Map<string, () => number>();
  new Gauge({
    name: 'workqueue_depth',
    help: 'Keys waiting in a controller work queue.',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      for (const [name, depth] of depths) this.set({ name }, depth());
    },
  });
  const leaderGauge = new Gauge({ name: 'controller_manager_is_leader', help: '1 while this instance runs the controllers.', registers: [registry] });
  collectDefaultMetrics({ register: registry });

  const stopAll = componentAbortController();
  options.signal?.addEventListener('abort', () => stopAll.abort(), { once: true });
  const factory = new SharedInformerFactory(client, log);
  const recorders = recorderFactory(client, log, clock);
  const ctx: ControllerContext = {
    client,
    informers: factory,
    logger: log,
    clock,
    // The root CA to publish: --root-ca-file, else the CA this process trusts the API server with.
    options: { ...config.options, ...(config.options.rootCaPem === undefined && config.client.ca !== undefined ? { rootCaPem: config.client.ca } : {}) },
    observer: {
      synced: (controller, seconds, failed) => {
        syncDuration.observe({ controller }, seconds);
        if (failed) syncErrors.inc({ controller });
      },
    },
    queueDepth: (controller, depth) => depths.set(controller, depth),
    recorder: recorders,
  };
  if (selected.includes('root-ca-cert-publisher') && !ctx.options.rootCaPem) log.warn('no root CA (neither --root-ca-file nor a CA in the kubeconfig): kube-root-ca.crt is published empty');
  // Controllers register their informers when built; informers start at once (a standby keeps warm caches).
  // A controller its options cannot run (serviceaccount-token without a key) is left out, as Kubernetes does.
  const built = selected.map((n) => [n, CONTROLLERS[n]!(ctx)] as const).filter((e): e is readonly [string, Controller] => e[1] !== undefined);
  const controllers: Controller[] = built.map(([, c]) => c);
  const names = built.map(([n]) => n);
  factory.start(stopAll.signal);

  const running = runWhileLeading(
    {
      ...config.leaderElection,
      client,
      identity,
      logger: log,
      onLeadership: (leading) => leaderGauge.set(leading ? 1 : 0),
      lead: async (signal) => {
        await factory.waitForSync(signal);
        log.info({ controllers: names }, 'informers synced; running controllers');
        await Promise.all(
          controllers.map((c) =>
            c.run(signal).catch((err: unknown) => {
              if (!signal.aborted) log.error({ err, controller: c.name }, 'controller stopped');
            }),
          ),
        );
      },
    },
    stopAll.signal,
  );

  const server = config.bindAddress !== undefined && config.port !== undefined ? await serveHealthAndMetrics({ bindAddress: config.bindAddress, port: config.port, registry }) : undefined;
  const metricsUrl = server?.url;
  log.info({ identity, controllers: names, leaderElect: config.leaderElection.leaderElect, metricsUrl }, 'controller manager started');
  return {
    metricsUrl,
    controllers: names,
    isLeader: running.isLeader,
    stop: async () => {
      stopAll.abort();
      await running.done.catch(() => undefined);
      await factory.stopped();
      await recorders.flush().catch(() => undefined);
      await server?.close();
      await client.close();
    },
  };
}
