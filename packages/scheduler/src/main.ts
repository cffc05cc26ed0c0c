/**
 * `flotilla-scheduler`: flags (kube-scheduler's names), logging, signals.
 */
import { parseArgs } from 'node:util';
import { loadClientConfig } from '@flotilla/client';
import pino from 'pino';
import { start } from './start.js';

const USAGE = `Usage: flotilla-scheduler --kubeconfig FILE [flags]

Assigns pending pods to nodes through the API server.

Flags:
  --kubeconfig FILE                 kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --scheduler-name NAME             pods with this spec.schedulerName are scheduled (default default-scheduler)
  --leader-elect BOOL               elect a leader among schedulers on a Lease (default true)
  --leader-elect-lease-duration S   seconds a leader's lease is valid (default 15)
  --leader-elect-renew-deadline S   seconds a leader tries to renew before giving up (default 10)
  --leader-elect-retry-period S     seconds between attempts (default 2)
  --leader-elect-resource-namespace NAMESPACE (default kube-system)
  --leader-elect-resource-name NAME (default kube-scheduler)
  --bind-address ADDR               address of /healthz and /metrics (default 127.0.0.1)
  --port PORT                       port of /healthz and /metrics (default 10251; 0 picks one)
  --percentage-of-nodes-to-score N  share of nodes to find feasible before scoring (default: adaptive)
  --log-level LEVEL                 (default info)
`;

function bool(v: string | undefined, name: string): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`--${name} must be true or false`);
}

/** Runs the scheduler until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        'scheduler-name': { type: 'string', default: 'default-scheduler' },
        'leader-elect': { type: 'string', default: 'true' },
        'leader-elect-lease-duration': { type: 'string', default: '15' },
        'leader-elect-renew-deadline': { type: 'string', default: '10' },
        'leader-elect-retry-period': { type: 'string', default: '2' },
        'leader-elect-resource-namespace': { type: 'string', default: 'kube-system' },
        'leader-elect-resource-name': { type: 'string', default: 'kube-scheduler' },
        'bind-address': { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '10251' },
        'percentage-of-nodes-to-score': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`flotilla-scheduler: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const logger = pino({ level: values['log-level'], base: { component: 'scheduler' } }, pino.destination(2));
  try {
    const handle = await start(
      {
        client: loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
        schedulerName: values['scheduler-name']!,
        leaderElect: bool(values['leader-elect'], 'leader-elect'),
        leaseNamespace: values['leader-elect-resource-namespace']!,
        leaseName: values['leader-elect-resource-name']!,
        leaseDurationSeconds: Number(values['leader-elect-lease-duration']),
        renewDeadlineMs: Number(values['leader-elect-renew-deadline']) * 1000,
        retryPeriodMs: Number(values['leader-elect-retry-period']) * 1000,
        bindAddress: values['bind-address']!,
        port: Number(values.port),
        ...(values['percentage-of-nodes-to-score'] ? { percentageOfNodesToScore: Number(values['percentage-of-nodes-to-score']) } : {}),
      },
      { logger },
    );
    process.stdout.write(`Flotilla scheduler running${handle.metricsUrl ? `; metrics on ${handle.metricsUrl}/metrics` : ''}\n`);
    const shutdown = () => handle.stop().then(() => process.exit(0), () => process.exit(1));
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}
