/**
 * `flotilla-hollow-nodes`: many simulated nodes in one process, for testing schedulers and
 * controllers at scale without machines.
 */
import { parseArgs } from 'node:util';
import { loadClientConfig, RestClient } from '@flotilla/client';
import pino from 'pino';
import { HollowNodes } from './hollow-nodes.js';
import { parseNodeLabels, parseTaints } from './node/node-flags.js';

const USAGE = `Usage: flotilla-hollow-nodes --kubeconfig FILE --count N [flags]

Registers N simulated nodes, keeps their leases and status fresh, and reports pods bound to them as
Running (no containers are started).

Flags:
  --kubeconfig FILE        kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --count N                number of nodes (default 10)
  --name-prefix PREFIX     node names are PREFIX0, PREFIX1, ... (default hollow-node-)
  --zones N                spread nodes over N zones (topology.kubernetes.io/zone=zone-I) (default 3)
  --cpu QUANTITY           CPU capacity per node (default 4)
  --memory QUANTITY        memory capacity per node (default 16Gi)
  --pods N                 pod capacity per node (default 110)
  --node-labels K=V,...    extra labels on every node
  --register-with-taints K=V:EFFECT,...  taints on every node
  --pod-start-delay MS     delay before a bound pod is reported Running (default 100)
  --lease-renew-interval MS (default 10000)
  --log-level LEVEL        (default info)
`;

/** Runs the fleet until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        count: { type: 'string', default: '10' },
        'name-prefix': { type: 'string', default: 'hollow-node-' },
        zones: { type: 'string', default: '3' },
        cpu: { type: 'string', default: '4' },
        memory: { type: 'string', default: '16Gi' },
        pods: { type: 'string', default: '110' },
        'node-labels': { type: 'string' },
        'register-with-taints': { type: 'string' },
        'pod-start-delay': { type: 'string', default: '100' },
        'lease-renew-interval': { type: 'string', default: '10000' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`flotilla-hollow-nodes: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const logger = pino({ level: values['log-level'], base: { component: 'hollow-nodes' } }, pino.destination(2));
  let labels: Record<string, string>;
  let taints: ReturnType<typeof parseTaints>;
  try {
    labels = parseNodeLabels(values['node-labels']);
    taints = parseTaints(values['register-with-taints']);
  } catch (err) {
    process.stderr.write(`flotilla-hollow-nodes: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const client = new RestClient(loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}), { userAgent: 'flotilla-hollow-nodes', connections: 64 });
  const stop = new AbortController();
  const fleet = new HollowNodes({
    client,
    logger,
    count: Number(values.count),
    namePrefix: values['name-prefix']!,
    zones: Number(values.zones),
    cpu: values.cpu!,
    memory: values.memory!,
    pods: Number(values.pods),
    labels,
    taints,
    podStartDelayMs: Number(values['pod-start-delay']),
    leaseRenewMs: Number(values['lease-renew-interval']),
  });
  const shutdown = () => {
    stop.abort();
    void client.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  try {
    const t0 = Date.now();
    await fleet.start(stop.signal);
    process.stdout.write(`${fleet.names().length} hollow nodes registered in ${Date.now() - t0} ms\n`);
  } catch (err) {
    logger.fatal({ err }, 'hollow nodes failed to start');
    process.exit(1);
  }
}
