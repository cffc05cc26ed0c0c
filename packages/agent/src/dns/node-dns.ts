/**
 * The agent's cluster DNS: where it listens by default (the Docker bridge's gateway, which pods
 * reach and the node owns) and what pods are told (`clusterDns` for their resolv.conf).
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import type { DockerClient } from '../runtime/docker-client.js';
import { startDnsServer, type DnsServerHandle } from './dns-server.js';

/** How the agent serves cluster DNS. */
export interface NodeDnsConfig {
  /** The cluster domain, e.g. `cluster.local`. */
  domain: string;
  /** Listen address (default: the gateway of Docker's `bridge` network). */
  bindAddress?: string;
  /** Listen port (default 53; pods' resolv.conf can only name port 53). */
  port?: number;
  /** Resolvers of other names (`IP[:PORT]`; default: the node's /etc/resolv.conf). */
  upstreams?: string[];
}

/** The running node DNS and the settings pods get from it. */
export interface NodeDns {
  handle: DnsServerHandle;
  clusterDns: { servers: string[]; domain: string };
}

/**
 * The IPv4 gateway of Docker's default `bridge` network: the IPAM config's Gateway, else the
 * address of the bridge interface on this machine, else the subnet's first address.
 */
export async function dockerBridgeGateway(docker: Pick<DockerClient, 'inspectNetwork'>): Promise<string | undefined> {
  const net = await docker.inspectNetwork('bridge');
  const configs = (net.IPAM?.Config ?? []).filter((c) => c.Subnet && isIPv4(c.Subnet.split('/')[0]!));
  const gateway = configs.find((c) => c.Gateway && isIPv4(c.Gateway))?.Gateway;
  if (gateway) return gateway;
  const ifname = net.Options?.['com.docker.network.bridge.name'];
  const local = ifname ? networkInterfaces()[ifname]?.find((a) => a.family === 'IPv4')?.address : undefined;
  if (local) return local;
  const subnet = configs[0]?.Subnet?.split('/')[0];
  if (!subnet) return undefined;
  const parts = subnet.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}

/**
 * Starts the agent's DNS server. A failure (no bridge network, address not on this machine, port
 * taken by another DNS server) is logged and yields undefined: pods then keep the engine's DNS.
 */
export async function startNodeDns(deps: { docker: Pick<DockerClient, 'inspectNetwork'>; client: KubeClient; config: NodeDnsConfig; logger: Logger; signal: AbortSignal }): Promise<NodeDns | undefined> {
  const { config, logger } = deps;
  let address: string | undefined;
  try {
    address = config.bindAddress ?? (await dockerBridgeGateway(deps.docker));
    if (!address) throw new Error('the bridge network has no IPv4 subnet');
    const handle = await startDnsServer({ client: deps.client, domain: config.domain, listen: [{ address, port: config.port ?? 53 }], ...(config.upstreams ? { upstreams: config.upstreams } : {}), logger, signal: deps.signal });
    return { handle, clusterDns: { servers: [address], domain: config.domain } };
  } catch (err) {
    logger.warn({ err, address }, 'cluster dns not started; pods use the engine default resolver');
    return undefined;
  }
}
