/**
 * What every controller gets: the API client, shared informers, an event recorder per controller,
 * a clock, a logger, metrics hooks, and the controller manager's options.
 */
import type { KeyObject } from 'node:crypto';
import { EventRecorder, type Clock, type KubeClient, type SharedInformerFactory, type SyncObserver } from '@flotilla/client';
import type { Logger } from 'pino';

/** Tunables of the controllers (flags of the controller manager). */
export interface ControllerOptions {
  /** Workers per controller. */
  workers: number;
  /** A node whose lease is not renewed for this long becomes Ready=Unknown (ms). */
  nodeMonitorGracePeriodMs: number;
  /** Terminated pods kept before the oldest are deleted. */
  terminatedPodGcThreshold: number;
  /** First back-off before a Job recreates a failed pod (ms; doubles, capped at 6 minutes). */
  jobBackoffBaseMs: number;
  /** Pod CIDR per node is carved from this range (empty = no allocation). */
  clusterCidr: string;
  /** Prefix length of each node's pod CIDR. */
  nodeCidrMaskSize: number;
  /** How often HorizontalPodAutoscalers are evaluated (ms, default 15 s). */
  hpaSyncPeriodMs?: number;
  /** How often every ResourceQuota's usage is recomputed (ms, default 5 minutes). */
  resourceQuotaSyncPeriodMs?: number;
  /**
   * The cluster CA bundle (PEM) published as `kube-root-ca.crt` in every namespace: `--root-ca-file`,
   * else (filled in by `start`) the CA of the controller manager's kubeconfig.
   */
  rootCaPem?: string;
  /**
   * The key legacy service account tokens are signed with (`--service-account-private-key-file`); the
   * `serviceaccount-token` controller is disabled without it.
   */
  serviceAccountPrivateKey?: KeyObject;
}

/** Shared dependencies of controllers. */
export interface ControllerContext {
  client: KubeClient;
  informers: SharedInformerFactory;
  logger: Logger;
  clock: Clock;
  options: ControllerOptions;
  /** Observes each sync (metrics). */
  observer?: SyncObserver;
  /** Reports a controller's queue depth (metrics). */
  queueDepth?: (controller: string, depth: () => number) => void;
  /** The recorder of a component (`replicaset-controller`). */
  recorder(component: string): EventRecorder;
}

/** A controller: set up in its constructor (informers and handlers), run while leading. */
export interface Controller {
  readonly name: string;
  run(signal: AbortSignal): Promise<void>;
}

/** Builds a context's recorder factory (one recorder per component, shared). */
export function recorderFactory(client: KubeClient, logger: Logger, clock: Clock): ((component: string) => EventRecorder) & { flush(): Promise<void> } {
  const recorders = new Map<string, EventRecorder>();
  const get = (component: string): EventRecorder => {
    let r = recorders.get(component);
    if (!r) recorders.set(component, (r = new EventRecorder({ client, component, logger, clock })));
    return r;
  };
  return Object.assign(get, { flush: async () => void (await Promise.all([...recorders.values()].map((r) => r.flush()))) });
}
