/**
 * `flotilla-agent`: flags (the kubelet's names where they exist), logging, signals.
 */
import { hostname } from 'node:os';
import { boolFlag, checkFlags, durationFlag, enumFlag, FlagError, intFlag, loadClientConfig, parseCommandLine, runUntilSignalled } from '@flotilla/client';
import pino from 'pino';
import { startAgent, type AgentConfig } from './agent.js';
import { findExecutable } from './find-executable.js';
import { parseNodeLabels, parseTaints } from './node/node-flags.js';
import { relaxForDataPlane } from './v8-settings.js';

const USAGE = `Usage: flotilla-agent --kubeconfig FILE [flags]

Registers this machine as a Node and runs the pods bound to it as Docker containers.

Flags:
  --kubeconfig FILE            kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --node-name NAME             name of the Node (default: the hostname)
  --data-dir DIR               pod volumes and agent state (default ./agent-data)
  --docker-socket PATH         Docker Engine API socket (default /var/run/docker.sock)
  --pod-infra-image IMAGE      image of pod sandboxes (default flotilla/pause:1; must exist locally or be pullable)
  --node-ip IP                 the node's InternalIP (default: first non-loopback IPv4 address)
  --node-labels K=V,...        extra labels of the Node
  --register-with-taints K=V:EFFECT,...  taints of the Node
  --local-path-dir DIR         where local-path volumes are created (default DATA_DIR/storage)
  --max-pods N                 pod capacity (default 110)
  --cluster-dns IP,...         nameservers of pods with dnsPolicy ClusterFirst (default: the engine's)
  --cluster-domain DOMAIN      cluster DNS domain (default cluster.local)
  --enable-dns true|false      serve cluster DNS from the agent; pods use it unless --cluster-dns is given (default: true as root)
  --dns-bind-address ADDR      its address, port 53 (default: the Docker bridge gateway)
  --dns-upstreams IP[:PORT],...  resolvers of other names (default: those of /etc/resolv.conf)
  --bind-address ADDR          address of the agent's endpoint (logs, exec, port-forward for the API server;
                               /healthz, /metrics) (default 0.0.0.0, like the kubelet)
  --port PORT                  their port (default 10250; 0 picks one)
  --proxy-mode MODE            service proxy: userspace (VIPs on a local link, NodePorts, LoadBalancer),
                               iptables (the same, by kernel DNAT in the nat table) or none
                               (default iptables when running as root — userspace, with a log line, when
                               iptables does not work — none otherwise)
  --proxy-interface NAME       link holding the service VIPs (default flotilla0)
  --metrics-interval DURATION  resource metrics resolution for /stats/summary, e.g. 10s, 500ms (default 10s)
  --ingress-http-port PORT     HTTP port of the Ingress proxy (default 80; 0 disables; auto picks a free one)
  --ingress-https-port PORT    HTTPS port of the Ingress proxy (default 443; 0 disables; auto picks a free one)
  --ingress-bind-address ADDR,...  addresses of the Ingress proxy (default: the node IP and 127.0.0.1 — not
                               0.0.0.0, which would take ports 80/443 from Service VIPs)
  --ingress-proxy KIND         what moves Ingress traffic: nginx (started and reconfigured by the agent),
                               node (a Node.js proxy inside the agent) or auto (default: nginx when an nginx
                               binary is on PATH, else node)
  --pod-network MODE           docker (the engine's default bridge) or host-gw (pod IPs from the Node's podCIDR,
                               routes to other nodes' pod CIDRs via their InternalIPs) (default docker)
  --cluster-cidr CIDR          the cluster's pod range; host-gw does not masquerade traffic to it
  --log-level LEVEL            (default info)
`;

/** The nginx binary `--ingress-proxy` asks for (`auto`: if one is on PATH); throws when `nginx` finds none. */
function ingressNginx(kind: 'auto' | 'nginx' | 'node'): { nginx?: string } {
  if (kind === 'node') return {};
  const binary = findExecutable('nginx');
  if (!binary && kind === 'nginx') throw new FlagError('--ingress-proxy nginx: no nginx binary on PATH');
  return binary ? { nginx: binary } : {};
}

/** Runs the agent until SIGTERM/SIGINT. */
export async function main(argv: string[]): Promise<void> {
  const values = parseCommandLine('flotilla-agent', USAGE, argv, {
    kubeconfig: { type: 'string' },
    'node-name': { type: 'string' },
    'data-dir': { type: 'string', default: './agent-data' },
    'docker-socket': { type: 'string', default: '/var/run/docker.sock' },
    'pod-infra-image': { type: 'string', default: 'flotilla/pause:1' },
    'node-ip': { type: 'string' },
    'node-labels': { type: 'string' },
    'register-with-taints': { type: 'string' },
    'max-pods': { type: 'string', default: '110' },
    'local-path-dir': { type: 'string' },
    'cluster-dns': { type: 'string' },
    'cluster-domain': { type: 'string', default: 'cluster.local' },
    'enable-dns': { type: 'string' },
    'dns-bind-address': { type: 'string' },
    'dns-upstreams': { type: 'string' },
    'bind-address': { type: 'string', default: '0.0.0.0' },
    port: { type: 'string', default: '10250' },
    'container-labels': { type: 'string' },
    'proxy-mode': { type: 'string' },
    'proxy-interface': { type: 'string' },
    'metrics-interval': { type: 'string', default: '10s' },
    'ingress-http-port': { type: 'string', default: '80' },
    'ingress-https-port': { type: 'string', default: '443' },
    'ingress-bind-address': { type: 'string', default: '' },
    'ingress-proxy': { type: 'string', default: 'auto' },
    'pod-network': { type: 'string', default: 'docker' },
    'cluster-cidr': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  });
  if (!values) return;
  const root = process.getuid?.() === 0;
  const config = checkFlags('flotilla-agent', () => {
    const ingressPort = (flag: 'ingress-http-port' | 'ingress-https-port'): number | undefined => {
      const v = values[flag]!;
      if (v === 'auto') return 0;
      if (v === '0') return undefined;
      return intFlag(v, flag, 1, 65535);
    };
    const metricsIntervalMs = durationFlag(values['metrics-interval']!, 'metrics-interval');
    if (metricsIntervalMs <= 0) throw new FlagError('--metrics-interval must be more than 0');
    const extra = parseNodeLabels(values['container-labels']);
    const config: AgentConfig = {
      client: loadClientConfig(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
      nodeName: values['node-name'] ?? hostname().toLowerCase(),
      dataDir: values['data-dir']!,
      dockerSocket: values['docker-socket']!,
      podInfraImage: values['pod-infra-image']!,
      ...(values['node-ip'] ? { nodeIP: values['node-ip'] } : {}),
      nodeLabels: parseNodeLabels(values['node-labels']),
      taints: parseTaints(values['register-with-taints']),
      maxPods: intFlag(values['max-pods']!, 'max-pods', 1),
      ...(values['local-path-dir'] ? { localPathDir: values['local-path-dir'] } : {}),
      ...(values['cluster-dns'] ? { clusterDns: { servers: values['cluster-dns'].split(','), domain: values['cluster-domain']! } } : {}),
      ...(boolFlag(values['enable-dns'] ?? String(root), 'enable-dns')
        ? { dnsServer: { domain: values['cluster-domain']!, ...(values['dns-bind-address'] ? { bindAddress: values['dns-bind-address'] } : {}), ...(values['dns-upstreams'] ? { upstreams: values['dns-upstreams'].split(',') } : {}) } }
        : {}),
      bindAddress: values['bind-address']!,
      port: intFlag(values.port!, 'port', 0, 65535),
      ...(Object.keys(extra).length > 0 ? { extraContainerLabels: extra } : {}),
      podNetwork: enumFlag(values['pod-network']!, 'pod-network', ['docker', 'host-gw'] as const),
      ...(values['cluster-cidr'] ? { clusterCIDR: values['cluster-cidr'] } : {}),
      proxyMode: enumFlag(values['proxy-mode'] ?? (root ? 'iptables' : 'none'), 'proxy-mode', ['userspace', 'iptables', 'none'] as const),
      ...(values['proxy-interface'] ? { proxyInterface: values['proxy-interface'] } : {}),
      metricsIntervalMs,
      ingress: { httpPort: ingressPort('ingress-http-port'), httpsPort: ingressPort('ingress-https-port'), bindAddress: values['ingress-bind-address']!, ...ingressNginx(enumFlag(values['ingress-proxy']!, 'ingress-proxy', ['auto', 'nginx', 'node'] as const)) },
    };
    return config;
  });
  // The Node.js Ingress proxy and the userspace service proxy move traffic through JavaScript: V8's
  // JIT and young generation back at their defaults (v8-settings.ts). (An iptables proxy that falls
  // back to userspace at start keeps the small settings: slower, not wrong.)
  const nodeIngress = !config.ingress?.nginx && (config.ingress?.httpPort !== undefined || config.ingress?.httpsPort !== undefined);
  if (nodeIngress || config.proxyMode === 'userspace') relaxForDataPlane();
  const logger = pino({ level: values['log-level'], base: { component: 'agent' } }, pino.destination(2));
  await runUntilSignalled(
    logger,
    () => startAgent(config, { logger }),
    (h) => `${h.ingress ? `ingress listening on ${h.ingress.httpUrl ?? 'http:-'} ${h.ingress.httpsUrl ?? 'https:-'}\n` : ''}Flotilla agent running${h.url ? ` on ${h.url}` : ''}`,
  );
}
