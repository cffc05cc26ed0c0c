/**
 * `flotilla-apiserver`: flags (Kubernetes names where they exist), logging, signals.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import pino from 'pino';
import { parseDuration } from '@flotilla/api';
import { parsePortRange, parseServiceCidr } from './registry/service-allocator.js';
import { DEFAULT_SERVICE_CLUSTER_IP_RANGE, DEFAULT_SERVICE_NODE_PORT_RANGE, start } from './start.js';

const USAGE = `Usage: flotilla-apiserver [flags]

The Flotilla API server: the Kubernetes API over HTTPS, stored in an embedded LevelDB.

Flags:
  --data-dir DIR            where the database, certificates, tokens and admin.kubeconfig live (default ./data)
  --bind-address ADDR       address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --secure-port PORT        HTTPS port (default 6443; 0 picks a free port and prints it)
  --advertise-address ADDR  address written into kubeconfigs (default: the bind address)
  --tls-san NAME            extra DNS name or IP for the serving certificate (repeatable)
  --etcd-servers URLS       comma-separated etcd client URLs; store state in etcd instead of the embedded
                            LevelDB (several API servers can then share one cluster state)
  --etcd-compaction-interval DURATION
                            how long watch history is kept before compaction, e.g. 5m, 30s (default 5m)
  --service-cluster-ip-range CIDR
                            IPv4 range Service ClusterIPs are allocated from; its first address is the
                            kubernetes Service's (default ${DEFAULT_SERVICE_CLUSTER_IP_RANGE})
  --service-node-port-range MIN-MAX
                            ports NodePort and LoadBalancer Services get node ports from (default ${DEFAULT_SERVICE_NODE_PORT_RANGE})
  --default-not-ready-toleration-seconds N
                            tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added
                            to every pod without one (default 300)
  --default-unreachable-toleration-seconds N
                            tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration added
                            to every pod without one (default 300)
  --join-token-file FILE    file holding the cluster join token (K10<ca hash>::<id>.<secret> or <id>.<secret>);
                            its bootstrap token Secret kube-system/bootstrap-token-<id> is created at start
  --log-level LEVEL         trace, debug, info, warn, error (default info)
  -h, --help                show this help
`;

/** Runs the API server with command-line flags until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string', default: './data' },
        'bind-address': { type: 'string', default: '127.0.0.1' },
        'secure-port': { type: 'string', default: '6443' },
        'advertise-address': { type: 'string' },
        'tls-san': { type: 'string', multiple: true },
        'etcd-compaction-interval': { type: 'string', default: '5m' },
        'etcd-servers': { type: 'string' },
        'service-cluster-ip-range': { type: 'string', default: DEFAULT_SERVICE_CLUSTER_IP_RANGE },
        'service-node-port-range': { type: 'string', default: DEFAULT_SERVICE_NODE_PORT_RANGE },
        'default-not-ready-toleration-seconds': { type: 'string', default: '300' },
        'default-unreachable-toleration-seconds': { type: 'string', default: '300' },
        'join-token-file': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`flotilla-apiserver: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = Number(values['secure-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`flotilla-apiserver: --secure-port must be a port number, got ${values['secure-port']}\n`);
    process.exit(2);
  }
  const retention = parseDuration(values['etcd-compaction-interval']!);
  if (retention === undefined || retention < 1000) {
    process.stderr.write(`flotilla-apiserver: --etcd-compaction-interval must be a duration of at least 1s (e.g. 5m, 30s), got ${values['etcd-compaction-interval']}\n`);
    process.exit(2);
  }
  for (const flag of ['service-cluster-ip-range', 'service-node-port-range'] as const) {
    try {
      if (flag === 'service-cluster-ip-range') parseServiceCidr(values[flag]!);
      else parsePortRange(values[flag]!);
    } catch (err) {
      process.stderr.write(`flotilla-apiserver: --${flag}: ${(err as Error).message}\n`);
      process.exit(2);
    }
  }
  const tolerationSeconds: Record<string, number> = {};
  for (const flag of ['default-not-ready-toleration-seconds', 'default-unreachable-toleration-seconds'] as const) {
    const n = Number(values[flag]);
    if (!/^\d+$/.test(values[flag]!) || !Number.isSafeInteger(n)) {
      process.stderr.write(`flotilla-apiserver: --${flag} must be a whole number of seconds, got ${values[flag]}\n`);
      process.exit(2);
    }
    tolerationSeconds[flag] = n;
  }
  const logger = pino({ level: values['log-level'], base: { component: 'apiserver' } }, pino.destination(2));
  const controller = new AbortController();
  try {
    const handle = await start(
      {
        dataDir: resolve(values['data-dir']!),
        bindAddress: values['bind-address']!,
        securePort: port,
        ...(values['advertise-address'] ? { advertiseAddress: values['advertise-address'] } : {}),
        ...(values['tls-san'] ? { tlsSans: values['tls-san'] } : {}),
        compactionRetentionMs: retention,
        serviceClusterIPRange: values['service-cluster-ip-range']!,
        serviceNodePortRange: values['service-node-port-range']!,
        defaultNotReadyTolerationSeconds: tolerationSeconds['default-not-ready-toleration-seconds']!,
        defaultUnreachableTolerationSeconds: tolerationSeconds['default-unreachable-toleration-seconds']!,
        ...(values['join-token-file'] ? { joinTokenFile: resolve(values['join-token-file']) } : {}),
        ...(values['etcd-servers'] ? { etcdServers: values['etcd-servers'].split(',').map((u) => u.trim()).filter((u) => u !== '') } : {}),
      },
      { logger, signal: controller.signal },
    );
    process.stdout.write(`Flotilla API server listening on ${handle.url}\nAdmin kubeconfig: ${handle.adminKubeconfig}\n`);
    const shutdown = (sig: string) => {
      logger.info({ signal: sig }, 'shutting down');
      handle.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}
