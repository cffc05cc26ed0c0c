/**
 * `flotilla-controller-manager`: flags (kube-controller-manager's names), logging, signals.
 */
import { checkFlags, durationFlag, FlagError, intFlag, leaderElectionFlags, leaderElectionOptions, loadClientConfig, parseCommandLine, runUntilSignalled } from '@flotilla/client';
import pino from 'pino';
import { CONTROLLERS } from './controllers.js';
import { readRootCaFile } from './root-ca-file.js';
import { readServiceAccountPrivateKey } from './service-account-private-key.js';
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
  --resource-quota-sync-period DURATION  how often every ResourceQuota's usage is recomputed in full;
                                        changes to pods, services, claims, config maps and secrets
                                        update it at once (default 5m)
  --root-ca-file FILE                   CA bundle (PEM) published as ConfigMap kube-root-ca.crt in every
                                        namespace and put in service account token Secrets (default: the
                                        CA of the kubeconfig)
  --service-account-private-key-file FILE  RSA private key (PEM) that signs the tokens of Secrets of type
                                        kubernetes.io/service-account-token (the API server's pki/sa.key);
                                        without it the serviceaccount-token controller is disabled
  --clock-speed FACTOR                  run the controllers' clock FACTOR times faster (testing only)
  --log-level LEVEL                     (default info)
`;

/** Runs the controller manager until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const values = parseCommandLine('flotilla-controller-manager', USAGE, argv, {
    kubeconfig: { type: 'string' },
    controllers: { type: 'string', multiple: true },
    'concurrent-syncs': { type: 'string', default: '5' },
    ...leaderElectionOptions('kube-controller-manager'),
    'bind-address': { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '10257' },
    'node-monitor-grace-period': { type: 'string', default: '40s' },
    'terminated-pod-gc-threshold': { type: 'string', default: '12500' },
    'job-backoff-base': { type: 'string', default: '10s' },
    'cluster-cidr': { type: 'string', default: '' },
    'node-cidr-mask-size': { type: 'string', default: '24' },
    'horizontal-pod-autoscaler-sync-period': { type: 'string', default: '15s' },
    'resource-quota-sync-period': { type: 'string', default: '5m' },
    'root-ca-file': { type: 'string' },
    'service-account-private-key-file': { type: 'string' },
    'clock-speed': { type: 'string', default: '1' },
    'log-level': { type: 'string', default: 'info' },
  });
  if (!values) return;
  const config = checkFlags('flotilla-controller-manager', () => {
    const clockSpeed = Number(values['clock-speed']);
    if (!(clockSpeed > 0)) throw new FlagError(`--clock-speed must be a positive number, got "${values['clock-speed']}"`);
    const resourceQuotaSyncPeriodMs = durationFlag(values['resource-quota-sync-period']!, 'resource-quota-sync-period');
    if (!(resourceQuotaSyncPeriodMs > 0)) throw new FlagError(`--resource-quota-sync-period must be positive, got "${values['resource-quota-sync-period']}"`);
    return {
      client: loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      controllers: values.controllers ?? ['*'],
      leaderElection: leaderElectionFlags(values),
      bindAddress: values['bind-address']!,
      port: intFlag(values.port!, 'port', 0),
      clockSpeed,
      options: {
        workers: intFlag(values['concurrent-syncs']!, 'concurrent-syncs', 1),
        nodeMonitorGracePeriodMs: durationFlag(values['node-monitor-grace-period']!, 'node-monitor-grace-period'),
        terminatedPodGcThreshold: intFlag(values['terminated-pod-gc-threshold']!, 'terminated-pod-gc-threshold', 0),
        jobBackoffBaseMs: durationFlag(values['job-backoff-base']!, 'job-backoff-base'),
        clusterCidr: values['cluster-cidr']!,
        nodeCidrMaskSize: intFlag(values['node-cidr-mask-size']!, 'node-cidr-mask-size', 1),
        hpaSyncPeriodMs: durationFlag(values['horizontal-pod-autoscaler-sync-period']!, 'horizontal-pod-autoscaler-sync-period'),
        resourceQuotaSyncPeriodMs,
        ...(values['root-ca-file'] ? { rootCaPem: readRootCaFile(values['root-ca-file']) } : {}),
        ...(values['service-account-private-key-file'] ? { serviceAccountPrivateKey: readServiceAccountPrivateKey(values['service-account-private-key-file']) } : {}),
      },
    };
  });
  const logger = pino({ level: values['log-level'], base: { component: 'controller-manager' } }, pino.destination(2));
  await runUntilSignalled(logger, () => start(config, { logger }), (h) => `Flotilla controller manager running${h.metricsUrl ? `; metrics on ${h.metricsUrl}/metrics` : ''}`);
}
