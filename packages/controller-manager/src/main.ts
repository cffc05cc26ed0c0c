/**
 * `flotilla-controller-manager`: flags (kube-controller-manager's names), logging, signals.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '@flotilla/api';
import { loadClientConfig } from '@flotilla/client';
import pino from 'pino';
import { CONTROLLERS } from './controllers.js';
import { start } from './start.js';

const USAGE = `Usage: flotilla-controller-manager --kubeconfig FILE [flags]

Runs the controllers that reconcile the cluster's desired state, through the API server.

Flags:
  --kubeconfig FILE                     kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --controllers LIST                    controllers to run: '*' for all, 'name' to enable, '-name' to
                                        disable (default '*'); known: ${Object.keys(CONTROLLERS).join(', ')}
  --concurrent-syncs N                  workers per controller (default 5)
  --leader-elect BOOL                   elect a leader among controller managers on a Lease (default true)
  --leader-elect-lease-duration DURATION (default 15s)
  --leader-elect-renew-deadline DURATION (default 10s)
  --leader-elect-retry-period DURATION  (default 2s)
  --leader-elect-resource-namespace NAMESPACE (default kube-system)
  --leader-elect-resource-name NAME     (default kube-controller-manager)
  --bind-address ADDR                   address of /healthz and /metrics (default 127.0.0.1)
  --port PORT                           port of /healthz and /metrics (default 10257; 0 picks one)
  --node-monitor-grace-period DURATION  a node silent this long becomes Ready=Unknown (default 40s)
  --terminated-pod-gc-threshold N       terminated pods kept before the oldest are deleted (default 12500)
  --job-backoff-base DURATION           first delay before a Job recreates a failed pod (default 10s)
  --cluster-cidr CIDR                   allocate each node a pod CIDR from this range (default: none)
  --node-cidr-mask-size N               prefix length of each node's pod CIDR (default 24)
  --horizontal-pod-autoscaler-sync-period DURATION  how often HPAs are evaluated (default 15s)
  --clock-speed FACTOR                  run the controllers' clock FACTOR times faster (testing only)
  --log-level LEVEL                     (default info)
`;

function bool(v: string | undefined, name: string): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`--${name} must be true or false`);
}

function duration(v: string, name: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new Error(`--${name}: "${v}" is not a duration (e.g. 40s, 5m)`);
  return ms;
}

function int(v: string, name: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

/** Runs the controller manager until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        controllers: { type: 'string', multiple: true },
        'concurrent-syncs': { type: 'string', default: '5' },
        'leader-elect': { type: 'string', default: 'true' },
        'leader-elect-lease-duration': { type: 'string', default: '15s' },
        'leader-elect-renew-deadline': { type: 'string', default: '10s' },
        'leader-elect-retry-period': { type: 'string', default: '2s' },
        'leader-elect-resource-namespace': { type: 'string', default: 'kube-system' },
        'leader-elect-resource-name': { type: 'string', default: 'kube-controller-manager' },
        'bind-address': { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '10257' },
        'node-monitor-grace-period': { type: 'string', default: '40s' },
        'terminated-pod-gc-threshold': { type: 'string', default: '12500' },
        'job-backoff-base': { type: 'string', default: '10s' },
        'cluster-cidr': { type: 'string', default: '' },
        'node-cidr-mask-size': { type: 'string', default: '24' },
        'horizontal-pod-autoscaler-sync-period': { type: 'string', default: '15s' },
        'clock-speed': { type: 'string', default: '1' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`flotilla-controller-manager: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  let config;
  try {
    const clockSpeed = Number(values['clock-speed']);
    if (!(clockSpeed > 0)) throw new Error(`--clock-speed must be a positive number, got "${values['clock-speed']}"`);
    config = {
      client: loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      controllers: values.controllers ?? ['*'],
      leaderElect: bool(values['leader-elect'], 'leader-elect'),
      leaseNamespace: values['leader-elect-resource-namespace']!,
      leaseName: values['leader-elect-resource-name']!,
      leaseDurationSeconds: duration(values['leader-elect-lease-duration']!, 'leader-elect-lease-duration') / 1000,
      renewDeadlineMs: duration(values['leader-elect-renew-deadline']!, 'leader-elect-renew-deadline'),
      retryPeriodMs: duration(values['leader-elect-retry-period']!, 'leader-elect-retry-period'),
      bindAddress: values['bind-address']!,
      port: int(values.port!, 'port', 0),
      clockSpeed,
      options: {
        workers: int(values['concurrent-syncs']!, 'concurrent-syncs', 1),
        nodeMonitorGracePeriodMs: duration(values['node-monitor-grace-period']!, 'node-monitor-grace-period'),
        terminatedPodGcThreshold: int(values['terminated-pod-gc-threshold']!, 'terminated-pod-gc-threshold', 0),
        jobBackoffBaseMs: duration(values['job-backoff-base']!, 'job-backoff-base'),
        clusterCidr: values['cluster-cidr']!,
        nodeCidrMaskSize: int(values['node-cidr-mask-size']!, 'node-cidr-mask-size', 1),
        hpaSyncPeriodMs: duration(values['horizontal-pod-autoscaler-sync-period']!, 'horizontal-pod-autoscaler-sync-period'),
      },
    };
  } catch (err) {
    process.stderr.write(`flotilla-controller-manager: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = pino({ level: values['log-level'], base: { component: 'controller-manager' } }, pino.destination(2));
  try {
    const handle = await start(config, { logger });
    process.stdout.write(`Flotilla controller manager running${handle.metricsUrl ? `; metrics on ${handle.metricsUrl}/metrics` : ''}\n`);
    const shutdown = () => handle.stop().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}
