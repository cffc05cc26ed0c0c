/**
 * `flotilla-apiserver`: flags (Kubernetes names where they exist), logging, signals.
 */
import { resolve } from 'node:path';
import pino from 'pino';
import { boolFlag, checkFlags, durationFlag, FlagError, intFlag, parseCommandLine, runUntilSignalled } from '@flotilla/client';
import { DEFAULT_SERVICE_ACCOUNT_ISSUER } from './auth/service-account-token.js';
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
  --service-account-issuer URL
                            issuer (iss) of service account tokens (repeatable: the first signs, all are
                            accepted; default ${DEFAULT_SERVICE_ACCOUNT_ISSUER})
  --api-audiences LIST      comma-separated audiences a token must name to authenticate to this server
                            (default: the service account issuers)
  --service-account-max-token-expiration DURATION
                            longest lifetime of a requested service account token, e.g. 48h (at least 1h;
                            default: no maximum)
  --service-account-extend-token-expiration BOOL
                            issue pod-bound tokens asked for the kubelet's default 3607s for a year, with
                            a warning time at the hour (default true)
  --commit-times-file FILE  diagnostics for benchmarks: append each committed batch of writes as a line
                            "LAST_REVISION MONOTONIC_MS" (when it became durable, on CLOCK_MONOTONIC)
  --log-level LEVEL         trace, debug, info, warn, error (default info)
  -h, --help                show this help
`;

/** Runs the API server with command-line flags until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const values = parseCommandLine('flotilla-apiserver', USAGE, argv, {
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
    'service-account-issuer': { type: 'string', multiple: true },
    'api-audiences': { type: 'string' },
    'service-account-max-token-expiration': { type: 'string' },
    'service-account-extend-token-expiration': { type: 'string', default: 'true' },
    'commit-times-file': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  });
  if (!values) return;
  const config = checkFlags('flotilla-apiserver', () => {
    const retention = durationFlag(values['etcd-compaction-interval']!, 'etcd-compaction-interval');
    if (retention < 1000) throw new FlagError(`--etcd-compaction-interval must be at least 1s, got ${values['etcd-compaction-interval']}`);
    for (const flag of ['service-cluster-ip-range', 'service-node-port-range'] as const) {
      try {
        if (flag === 'service-cluster-ip-range') parseServiceCidr(values[flag]!);
        else parsePortRange(values[flag]!);
      } catch (err) {
        throw new FlagError(`--${flag}: ${(err as Error).message}`);
      }
    }
    const issuers = values['service-account-issuer'] ?? [];
    for (const issuer of issuers) if (issuer === '' || (issuer.includes(':') && !URL.canParse(issuer))) throw new FlagError(`--service-account-issuer "${issuer}" must be a URL or a string without a colon`);
    const audiences = values['api-audiences'] ? values['api-audiences'].split(',').map((a) => a.trim()).filter((a) => a !== '') : [];
    let maxExpirationSeconds: number | undefined;
    if (values['service-account-max-token-expiration']) {
      maxExpirationSeconds = Math.floor(durationFlag(values['service-account-max-token-expiration'], 'service-account-max-token-expiration') / 1000);
      if (maxExpirationSeconds < 3600) throw new FlagError(`--service-account-max-token-expiration must be at least 1h, got ${values['service-account-max-token-expiration']}`);
    }
    return {
      dataDir: resolve(values['data-dir']!),
      bindAddress: values['bind-address']!,
      securePort: intFlag(values['secure-port']!, 'secure-port', 0, 65535),
      ...(values['advertise-address'] ? { advertiseAddress: values['advertise-address'] } : {}),
      ...(values['tls-san'] ? { tlsSans: values['tls-san'] } : {}),
      compactionRetentionMs: retention,
      serviceClusterIPRange: values['service-cluster-ip-range']!,
      serviceNodePortRange: values['service-node-port-range']!,
      defaultNotReadyTolerationSeconds: intFlag(values['default-not-ready-toleration-seconds']!, 'default-not-ready-toleration-seconds', 0),
      defaultUnreachableTolerationSeconds: intFlag(values['default-unreachable-toleration-seconds']!, 'default-unreachable-toleration-seconds', 0),
      ...(values['join-token-file'] ? { joinTokenFile: resolve(values['join-token-file']) } : {}),
      ...(issuers.length > 0 ? { serviceAccountIssuers: issuers } : {}),
      ...(audiences.length > 0 ? { apiAudiences: audiences } : {}),
      ...(maxExpirationSeconds !== undefined ? { serviceAccountMaxTokenExpirationSeconds: maxExpirationSeconds } : {}),
      serviceAccountExtendTokenExpiration: boolFlag(values['service-account-extend-token-expiration'], 'service-account-extend-token-expiration'),
      ...(values['commit-times-file'] ? { commitTimesFile: resolve(values['commit-times-file']) } : {}),
      ...(values['etcd-servers'] ? { etcdServers: values['etcd-servers'].split(',').map((u) => u.trim()).filter((u) => u !== '') } : {}),
    };
  });
  const logger = pino({ level: values['log-level'], base: { component: 'apiserver' } }, pino.destination(2));
  await runUntilSignalled(logger, () => start(config, { logger }), (h) => `Flotilla API server listening on ${h.url}\nAdmin kubeconfig: ${h.adminKubeconfig}`);
}
