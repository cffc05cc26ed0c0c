/**
 * Cluster DNS served by the agent (the role of CoreDNS's kubernetes plugin): UDP and TCP listeners
 * answer names in the cluster domain from Service and EndpointSlice informers
 * (`ClusterDnsResolver`) and forward everything else to the node's resolvers.
 *
 * `startDnsServer` binds every listen address (UDP and TCP on the same port) before it resolves, so
 * a taken port fails at once; names in the cluster domain get SERVFAIL until both informers synced.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { KubeObject } from '@flotilla/api/core';
import { res, SharedInformer, type KubeClient } from '@flotilla/client';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import type { Logger } from 'pino';
import { ClusterDnsResolver, type ClusterDnsSource, type DnsEndpointSlice, type DnsService } from './cluster-dns-resolver.js';
import { readNameservers } from './resolv-conf.js';
import { parseUpstream, UpstreamForwarder } from './upstream-forwarder.js';

const SERVICES = res('services');
const ENDPOINT_SLICES = res('endpointslices.discovery.k8s.io');

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** The largest UDP answer we send to an EDNS client (the DNS flag day 2020 value). */
const EDNS_PAYLOAD = 1232;

/** An address the server listens on (UDP and TCP); port 0 picks one, the same for both. */
export interface DnsListenAddress {
  address: string;
  port: number;
}

/** Options of `startDnsServer`. */
export interface DnsServerOptions {
  client: KubeClient;
  /** The cluster domain, e.g. `cluster.local`. */
  domain: string;
  listen: DnsListenAddress[];
  /** Resolvers for other names (`IP` or `IP:PORT`); default: /etc/resolv.conf without the listen addresses. */
  upstreams?: string[];
  /** Per-upstream timeout (ms, default 2000). */
  upstreamTimeoutMs?: number;
  /** TTL of cluster records (s, default 5). */
  ttl?: number;
  logger: Logger;
  /** Aborting it stops the server (like `stop()`). */
  signal: AbortSignal;
}

/** A running DNS server. */
export interface DnsServerHandle {
  /** The bound addresses, with the ports actually chosen. */
  addresses: DnsListenAddress[];
  /** Resolves once the informers synced (cluster names are answered from then on). */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** Dependencies of `DnsQueryHandler`. */
export interface DnsQueryHandlerDeps {
  resolver: ClusterDnsResolver;
  forwarder: Pick<UpstreamForwarder, 'forward'>;
  /** False until the caches are complete: cluster names get SERVFAIL so that clients retry. */
  isSynced(): boolean;
  logger: Logger;
}

/** Turns one DNS query message into its response message (transport-independent). */
export class DnsQueryHandler {
  constructor(private readonly deps: DnsQueryHandlerDeps) {}

  /** The response to `query`, or undefined when it deserves none (not a query, unparseable header). */
  async handle(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (query.length < 12) return undefined;
    let req: DecodedPacket & { opcode?: string };
    try {
      req = dnsPacket.decode(query);
    } catch {
      return errorResponse(query.readUInt16BE(0), RCODE.FORMERR, undefined);
    }
    if (req.type !== 'query') return undefined;
    const id = req.id ?? 0;
    if (req.opcode !== 'QUERY') return errorResponse(id, RCODE.NOTIMP, req);
    const q = req.questions?.length === 1 ? req.questions[0]! : undefined;
    if (!q) return errorResponse(id, RCODE.FORMERR, req);
    const result = q.class === undefined || q.class === 'IN' || q.class === 'ANY' ? this.deps.resolver.resolve(q) : { kind: 'forward' as const };
    if (result.kind === 'forward') {
      try {
        return await this.deps.forwarder.forward(query, { tcp: transport === 'tcp' });
      } catch (err) {
        this.deps.logger.debug({ err, name: q.name, type: q.type }, 'forwarding failed');
        return errorResponse(id, RCODE.SERVFAIL, req);
      }
    }
    if (!this.deps.isSynced()) return errorResponse(id, RCODE.SERVFAIL, req);
    const answers = [...result.answers];
    if (result.chase) answers.push(...(await this.chase(result.chase.name, result.chase.type)));
    const response: Packet = {
      id,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | (req.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | RCODE[result.rcode],
      questions: [q],
      answers,
      authorities: result.authorities,
      additionals: [...result.additionals, ...ednsReply(req)],
    };
    return encodeFitting(response, transport === 'udp' ? udpLimit(req) : 65535);
  }

  /** A and AAAA records of an out-of-zone CNAME target, from upstream ([] if that fails). */
  private async chase(name: string, type: 'A' | 'AAAA'): Promise<Answer[]> {
    try {
      const query = dnsPacket.encode({ id: 0, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
      const reply = dnsPacket.decode(await this.deps.forwarder.forward(query));
      return (reply.answers ?? []).filter((a) => a.type === 'CNAME' || a.type === type);
    } catch (err) {
      this.deps.logger.debug({ err, name }, 'resolving an ExternalName target failed');
      return [];
    }
  }
}

function ednsReply(req: Packet): Answer[] {
  return req.additionals?.some((a) => a.type === 'OPT') ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as Answer] : [];
}

function udpLimit(req: Packet): number {
  const opt = req.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return opt?.udpPayloadSize ? Math.max(512, Math.min(opt.udpPayloadSize, EDNS_PAYLOAD)) : 512;
}

/** Encodes `p`; over `limit` drops the additionals, then sets TC with no records (the client retries over TCP). */
function encodeFitting(p: Packet, limit: number): Buffer {
  let buf = dnsPacket.encode(p);
  if (buf.length <= limit) return buf;
  const opt = (p.additionals ?? []).filter((a) => a.type === 'OPT');
  buf = dnsPacket.encode({ ...p, additionals: opt });
  if (buf.length <= limit) return buf;
  return dnsPacket.encode({ ...p, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
}

function errorResponse(id: number, rcode: number, req: (Packet & { flag_rd?: boolean }) | undefined): Buffer {
  return dnsPacket.encode({
    id,
    type: 'response',
    flags: dnsPacket.RECURSION_AVAILABLE | (req?.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode,
    questions: req?.questions?.slice(0, 1) ?? [],
    additionals: req ? ednsReply(req) : [],
  });
}

/** A `ClusterDnsSource` over Service and EndpointSlice informers (indexes added here). */
export function informerDnsSource(services: SharedInformer<KubeObject>, slices: SharedInformer<KubeObject>): ClusterDnsSource {
  services.addIndexer('clusterIP', (s) => {
    const spec = (s as DnsService).spec;
    return [...new Set([...(spec?.clusterIPs ?? []), ...(spec?.clusterIP ? [spec.clusterIP] : [])])].filter((ip) => ip !== 'None');
  });
  slices.addIndexer('service', (s) => {
    const name = s.metadata.labels?.['kubernetes.io/service-name'];
    return name ? [`${s.metadata.namespace ?? ''}/${name}`] : [];
  });
  return {
    getService: (ns, name) => services.lister.get(ns, name) as Readonly<DnsService> | undefined,
    endpointSlicesOf: (ns, name) => slices.lister.byIndex('service', `${ns}/${name}`) as readonly Readonly<DnsEndpointSlice>[],
    servicesWithClusterIP: (ip) => services.lister.byIndex('clusterIP', ip) as readonly Readonly<DnsService>[],
  };
}

/** Starts the DNS server; resolves once every listen address is bound. */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServerHandle> {
  const log = options.logger.child({ component: 'dns' });
  const stopper = new AbortController();
  const onAbort = () => stopper.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const services = new SharedInformer<KubeObject>(options.client, { resource: SERVICES, logger: log });
  const slices = new SharedInformer<KubeObject>(options.client, { resource: ENDPOINT_SLICES, logger: log });
  const resolver = new ClusterDnsResolver({ source: informerDnsSource(services, slices), domain: options.domain, ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) });
  const upstreams = options.upstreams ?? readNameservers(options.listen.map((l) => l.address));
  const forwarder = new UpstreamForwarder(upstreams.map(parseUpstream), { ...(options.upstreamTimeoutMs ? { timeoutMs: options.upstreamTimeoutMs } : {}) });
  const handler = new DnsQueryHandler({ resolver, forwarder, isSynced: () => services.hasSynced() && slices.hasSynced(), logger: log });

  const udpSockets: UdpSocket[] = [];
  const tcpServers: Server[] = [];
  const connections = new Set<Socket>();
  const addresses: DnsListenAddress[] = [];
  const close = async () => {
    for (const c of connections) c.destroy();
    await Promise.all([
      ...udpSockets.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...tcpServers.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
    udpSockets.length = 0;
    tcpServers.length = 0;
  };
  try {
    for (const l of options.listen) {
      const { udp, tcp, port } = await bindBoth(l, handler, connections, log);
      udpSockets.push(udp);
      tcpServers.push(tcp);
      addresses.push({ address: l.address, port });
    }
  } catch (err) {
    await close();
    options.signal.removeEventListener('abort', onAbort);
    throw err;
  }

  void services.run(stopper.signal);
  void slices.run(stopper.signal);
  const synced = Promise.all([services.waitForSync(stopper.signal), slices.waitForSync(stopper.signal)]).then(() => undefined);
  synced.catch(() => undefined);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!stopping) {
      stopping = close();
      options.signal.removeEventListener('abort', onAbort);
      stopper.abort();
    }
    return stopping;
  };
  stopper.signal.addEventListener('abort', () => void stop(), { once: true });
  log.info({ addresses, domain: options.domain, upstreams }, 'dns server listening');
  return { addresses, synced, stop };
}

/** Binds UDP then TCP on the same port; with port 0 retries a few times if TCP finds UDP's port taken. */
async function bindBoth(l: DnsListenAddress, handler: DnsQueryHandler, connections: Set<Socket>, log: Logger): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(l, handler, log);
    const port = udp.address().port;
    try {
      const tcp = await bindTcp({ address: l.address, port }, handler, connections, log);
      return { udp, tcp, port };
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (l.port !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

function bindUdp(l: DnsListenAddress, handler: DnsQueryHandler, log: Logger): Promise<UdpSocket> {
  const socket = createSocket(isIPv6(l.address) ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => {
    handler.handle(msg, 'udp').then(
      (reply) => {
        if (!reply) return;
        try {
          socket.send(reply, rinfo.port, rinfo.address);
        } catch {
          // The server stopped while the query was being answered.
        }
      },
      (err: unknown) => log.warn({ err }, 'dns query failed'),
    );
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(l.port, l.address, () => {
      socket.off('error', reject);
      socket.on('error', (err) => log.warn({ err }, 'dns udp socket error'));
      resolve(socket);
    });
  });
}

function bindTcp(l: DnsListenAddress, handler: DnsQueryHandler, connections: Set<Socket>, log: Logger): Promise<Server> {
  const server = createServer((conn) => {
    connections.add(conn);
    conn.setTimeout(30_000, () => conn.destroy());
    conn.on('close', () => connections.delete(conn));
    conn.on('error', () => conn.destroy());
    let buffered = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + msg.length);
        handler.handle(msg, 'tcp').then(
          (reply) => {
            if (!reply || conn.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            conn.write(Buffer.concat([len, reply]));
          },
          (err: unknown) => log.warn({ err }, 'dns query failed'),
        );
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(l.port, l.address, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
