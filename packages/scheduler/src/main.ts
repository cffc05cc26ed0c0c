/**
 * `flotilla-scheduler`: flags (kube-scheduler's names), logging, signals.
 */
import { checkFlags, intFlag, leaderElectionFlags, leaderElectionOptions, loadClientConfig, parseCommandLine, runUntilSignalled } from '@flotilla/client';
import pino from 'pino';
import { start } from './start.js';

const USAGE = `Usage: flotilla-scheduler --kubeconfig FILE [flags]

Assigns pending pods to nodes through the API server.

Flags:
  --kubeconfig FILE                 kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --scheduler-name NAME             pods with this spec.schedulerName are scheduled (default default-scheduler)
  --leader-elect BOOL               elect a leader among schedulers on a Lease (default true)
  --leader-elect-lease-duration DURATION  how long a leader's lease is valid (default 15s)
  --leader-elect-renew-deadline DURATION  how long a leader tries to renew before giving up (default 10s)
  --leader-elect-retry-period DURATION    time between attempts (default 2s)
  --leader-elect-resource-namespace NAMESPACE (default kube-system)
  --leader-elect-resource-name NAME (default kube-scheduler)
  --bind-address ADDR               address of /healthz and /metrics (default 127.0.0.1)
  --port PORT                       port of /healthz and /metrics (default 10251; 0 picks one)
  --percentage-of-nodes-to-score N  share of nodes to find feasible before scoring (default: adaptive)
  --log-level LEVEL                 (default info)
`;

/** Runs the scheduler until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const values = parseCommandLine('flotilla-scheduler', USAGE, argv, {
    kubeconfig: { type: 'string' },
    'scheduler-name': { type: 'string', default: 'default-scheduler' },
    ...leaderElectionOptions('kube-scheduler'),
    'bind-address': { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '10251' },
    'percentage-of-nodes-to-score': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  });
  if (!values) return;
  const config = checkFlags('flotilla-scheduler', () => ({
    client: loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    schedulerName: values['scheduler-name']!,
    leaderElection: leaderElectionFlags(values),
    bindAddress: values['bind-address']!,
    port: intFlag(values.port!, 'port', 0, 65535),
    ...(values['percentage-of-nodes-to-score'] ? { percentageOfNodesToScore: intFlag(values['percentage-of-nodes-to-score'], 'percentage-of-nodes-to-score', 0, 100) } : {}),
  }));
  const logger = pino({ level: values['log-level'], base: { component: 'scheduler' } }, pino.destination(2));
  await runUntilSignalled(logger, () => start(config, { logger }), (h) => `Flotilla scheduler running${h.metricsUrl ? `; metrics on ${h.metricsUrl}/metrics` : ''}`);
}
