import { createSocket } from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { res } from '@flotilla/client';
import { FakeClient } from '@flotilla/client/testing';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Question } from 'dns-packet';
import pino from 'pino';
import { startFakeUpstream, type FakeUpstream } from '../../../../test/harness/fake-dns-upstream.js';
import { startDnsServer, type DnsServerHandle } from './dns-server.js';
import { parseNameservers } from './resolv-conf.js';
import { parseUpstream, UpstreamForwarder } from './upstream-forwarder.js';

const SERVICES = res('services');
const SLICES = res('endpointslices.discovery.k8s.io');
const logger = pino({ level: 'silent' });

async function query(port: number, q: Question, tcp = false, edns = false): Promise<DecodedPacket & { rcode?: string }> {
  const msg = dnsPacket.encode({ id: 4321, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [q], ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as never] } : {}) });
  const reply = dnsPacket.decode(await new UpstreamForwarder([{ address: '127.0.0.1', port }], { timeoutMs: 2000 }).forward(msg, { tcp }));
  expect(reply.id).toBe(4321);
  return reply;
}

describe('startDnsServer', () => {
  let client: FakeClient;
  let server: DnsServerHandle;
  let upstream: FakeUpstream;
  let abort: AbortController;

  beforeEach(async () => {
    upstream = await startFakeUpstream();
    client = new FakeClient([
      { resource: SERVICES, objects: [{ metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }] } }, { metadata: { namespace: 'default', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'db.example.test' } }] },
      { resource: SLICES, objects: [] },
    ]);
    abort = new AbortController();
    server = await startDnsServer({ client, domain: 'cluster.local', listen: [{ address: '127.0.0.1', port: 0 }], upstreams: [`127.0.0.1:${upstream.port}`], upstreamTimeoutMs: 500, logger, signal: abort.signal });
    await server.synced;
  });

  afterEach(async () => {
    abort?.abort();
    await server?.stop();
    await upstream?.close();
  });

  it('answers cluster names over UDP and TCP, authoritatively', async () => {
    const port = server.addresses[0]!.port;
    for (const tcp of [false, true]) {
      const r = await query(port, { name: 'web.default.svc.cluster.local', type: 'A' }, tcp);
      expect(r.rcode).toBe('NOERROR');
      expect(r.flag_aa).toBe(true);
      expect(r.answers).toEqual([expect.objectContaining({ type: 'A', name: 'web.default.svc.cluster.local', ttl: 5, data: '10.96.0.10' })]);
    }
    expect(upstream.queries).toEqual([]);
  });

  it('follows the informers: a new headless service with an EndpointSlice is answered', async () => {
    const port = server.addresses[0]!.port;
    expect((await query(port, { name: 'db.default.svc.cluster.local', type: 'A' })).rcode).toBe('NXDOMAIN');
    await client.create(SERVICES, 'default', { metadata: { name: 'db' }, spec: { clusterIP: 'None' } });
    await client.create(SLICES, 'default', { metadata: { name: 'db-x', labels: { 'kubernetes.io/service-name': 'db' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.5'], hostname: 'db-0', conditions: { ready: true } }] } as never);
    await expect.poll(async () => (await query(port, { name: 'db-0.db.default.svc.cluster.local', type: 'A' })).answers?.map((a) => a.data)).toEqual(['10.1.0.5']);
  });

  it('gives NXDOMAIN with the SOA for unknown cluster names, and answers EDNS with an OPT record', async () => {
    const r = await query(server.addresses[0]!.port, { name: 'nope.default.svc.cluster.local', type: 'A' }, false, true);
    expect(r.rcode).toBe('NXDOMAIN');
    expect(r.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: 'cluster.local' })]);
    expect(r.additionals?.map((a) => a.type)).toEqual(['OPT']);
  });

  it('forwards other names to the upstream, over the transport the client used', async () => {
    const port = server.addresses[0]!.port;
    expect((await query(port, { name: 'www.example.test', type: 'A' })).answers?.map((a) => a.data)).toEqual(['192.0.2.7']);
    expect((await query(port, { name: 'www.example.test', type: 'A' }, true)).answers?.map((a) => a.data)).toEqual(['192.0.2.7']);
    expect((await query(port, { name: 'missing.test', type: 'A' })).rcode).toBe('NXDOMAIN');
    expect(upstream.queries).toEqual(['udp www.example.test A', 'tcp www.example.test A', 'udp missing.test A']);
  });

  it('chases an ExternalName target through the upstream', async () => {
    const r = await query(server.addresses[0]!.port, { name: 'ext.default.svc.cluster.local', type: 'A' });
    expect(r.answers?.map((a) => [a.type, a.data])).toEqual([['CNAME', 'db.example.test'], ['A', '192.0.2.7']]);
  });

  it('answers SERVFAIL when no upstream answers in time', async () => {
    const dead = createSocket('udp4');
    await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r));
    const s = await startDnsServer({ client, domain: 'cluster.local', listen: [{ address: '127.0.0.1', port: 0 }], upstreams: [`127.0.0.1:${dead.address().port}`], upstreamTimeoutMs: 200, logger, signal: abort.signal });
    try {
      expect((await query(s.addresses[0]!.port, { name: 'www.example.test', type: 'A' })).rcode).toBe('SERVFAIL');
    } finally {
      await s.stop();
      dead.close();
    }
  });

  it('fails to start when the port is taken', async () => {
    await expect(startDnsServer({ client, domain: 'cluster.local', listen: [{ address: '127.0.0.1', port: server.addresses[0]!.port }], upstreams: [], logger, signal: abort.signal })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('UpstreamForwarder', () => {
  it('retries over TCP when the UDP answer is truncated', async () => {
    const upstream = await startFakeUpstream({ truncateUdp: true });
    try {
      const r = dnsPacket.decode(await new UpstreamForwarder([parseUpstream(`127.0.0.1:${upstream.port}`)]).forward(dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: 'a.example.test', type: 'A' }] })));
      expect(r.id).toBe(7);
      expect(r.answers?.map((a) => a.data)).toEqual(['192.0.2.7']);
      expect(upstream.queries).toEqual(['udp a.example.test A', 'tcp a.example.test A']);
    } finally {
      await upstream.close();
    }
  });

  it('parses upstream addresses', () => {
    expect(parseUpstream('10.0.0.1')).toEqual({ address: '10.0.0.1', port: 53 });
    expect(parseUpstream('10.0.0.1:5353')).toEqual({ address: '10.0.0.1', port: 5353 });
    expect(parseUpstream('[fd00::1]:54')).toEqual({ address: 'fd00::1', port: 54 });
    expect(parseUpstream('fd00::1')).toEqual({ address: 'fd00::1', port: 53 });
  });
});

describe('parseNameservers', () => {
  it('reads nameserver lines without the excluded ones', () => {
    expect(parseNameservers('# comment\nsearch example.com\nnameserver 172.17.0.1\nnameserver 8.8.8.8\nnameserver fe80::1%eth0\nnameserver 8.8.8.8\n', ['172.17.0.1'])).toEqual(['8.8.8.8', 'fe80::1']);
  });
});
