/**
 * `flotilla-hollow-nodes`: many simulated nodes in one process, for testing schedulers and
 * controllers at scale without machines.
 */
import { checkFlags, componentAbortController, durationFlag, intFlag, loadClientConfig, parseCommandLine, RestClient, runUntilSignalled } from '@flotilla/client';
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
  --pod-start-delay DURATION  delay before a bound pod is reported Running, e.g. 100ms (a bare number: ms) (default 100)
  --lease-renew-interval DURATION  (a bare number: ms) (default 10000)
  --log-level LEVEL        (default info)
`;

/** Runs the fleet until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const values = parseCommandLine('flotilla-hollow-nodes', USAGE, argv, {
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
  });
  if (!values) return;
  const settings = checkFlags('flotilla-hollow-nodes', () => ({
    count: intFlag(values.count!, 'count', 0),
    namePrefix: values['name-prefix']!,
    zones: intFlag(values.zones!, 'zones', 1),
    cpu: values.cpu!,
    memory: values.memory!,
    pods: intFlag(values.pods!, 'pods', 0),
    labels: parseNodeLabels(values['node-labels']),
    taints: parseTaints(values['register-with-taints']),
    podStartDelayMs: durationFlag(values['pod-start-delay']!, 'pod-start-delay', 'ms'),
    leaseRenewMs: durationFlag(values['lease-renew-interval']!, 'lease-renew-interval', 'ms'),
  }));
  const logger = pino({ level: values['log-level'], base: { component: 'hollow-nodes' } }, pino.destination(2));
  const client = new RestClient(loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}), { userAgent: 'flotilla-hollow-nodes', connections: 64 });
  const stop = componentAbortController();
  const fleet = new HollowNodes({ client, logger, ...settings });
  await runUntilSignalled(
    logger,
    async () => {
      const t0 = Date.now();
      await fleet.start(stop.signal);
      return {
        elapsedMs: Date.now() - t0,
        stop: async () => {
          stop.abort();
          await client.close();
        },
      };
    },
    (h) => `${fleet.names().length} hollow nodes registered in ${h.elapsedMs} ms`,
  );
}
