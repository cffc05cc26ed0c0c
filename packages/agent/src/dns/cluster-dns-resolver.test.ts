import { describe, expect, it } from 'vitest';
import type { Question, RecordType } from 'dns-packet';
import { ClusterDnsResolver, dashedIP, type ClusterDnsSource, type DnsEndpointSlice, type DnsService, type ResolveResult } from './cluster-dns-resolver.js';

function source(services: DnsService[], slices: DnsEndpointSlice[]): ClusterDnsSource {
  return {
    getService: (ns, name) => services.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
    endpointSlicesOf: (ns, name) => slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === name),
    servicesWithClusterIP: (ip) => services.filter((s) => s.spec?.clusterIP === ip || s.spec?.clusterIPs?.includes(ip)),
  };
}

const services: DnsService[] = [
  { metadata: { namespace: 'default', name: 'web' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] } },
  { metadata: { namespace: 'apps', name: 'db' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] } },
  { metadata: { namespace: 'apps', name: 'empty' }, spec: { clusterIP: 'None' } },
  { metadata: { namespace: 'apps', name: 'eager' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true } },
  { metadata: { namespace: 'apps', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'db.example.com.' } },
  { metadata: { namespace: 'apps', name: 'alias' }, spec: { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' } },
  { metadata: { namespace: 'dual', name: 'v6' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00::20'] } },
];
const slices: DnsEndpointSlice[] = [
  {
    metadata: { namespace: 'apps', name: 'db-abc', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.0.0.1'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.0.0.2'], hostname: 'db-1', conditions: { ready: true } },
      { addresses: ['10.0.0.3'], conditions: {} },
      { addresses: ['10.0.0.4'], hostname: 'db-3', conditions: { ready: false } },
    ],
    ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
  },
  { metadata: { namespace: 'apps', name: 'empty-abc', labels: { 'kubernetes.io/service-name': 'empty' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.1.1'], conditions: { ready: false } }] },
  { metadata: { namespace: 'apps', name: 'eager-abc', labels: { 'kubernetes.io/service-name': 'eager' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.2.1'], conditions: { ready: false } }] },
];

const resolver = new ClusterDnsResolver({ source: source(services, slices), domain: 'cluster.local', serial: 42 });

function ask(name: string, type: RecordType | 'ANY' = 'A'): ResolveResult {
  return resolver.resolve({ name, type, class: 'IN' } as Question);
}

function data(r: ResolveResult): unknown[] {
  if (r.kind !== 'answer') throw new Error('forwarded');
  return r.answers.map((a) => (a as { data: unknown }).data);
}

describe('ClusterDnsResolver', () => {
  it('answers a ClusterIP service with its ClusterIP, TTL 5 s, keeping the asked case', () => {
    const r = ask('Web.Default.svc.cluster.local');
    expect(r).toMatchObject({ kind: 'answer', rcode: 'NOERROR', answers: [{ type: 'A', name: 'Web.Default.svc.cluster.local', ttl: 5, data: '10.96.0.10' }] });
  });

  it('accepts a trailing dot and a domain given with one', () => {
    const r = new ClusterDnsResolver({ source: source(services, slices), domain: 'cluster.local.' }).resolve({ name: 'web.default.svc.cluster.local.', type: 'A' });
    expect(data(r)).toEqual(['10.96.0.10']);
  });

  it('gives NODATA with the SOA for AAAA of an IPv4-only service, and AAAA of a dual-stack one', () => {
    const r = ask('web.default.svc.cluster.local', 'AAAA');
    expect(r).toMatchObject({ kind: 'answer', rcode: 'NOERROR', answers: [], authorities: [{ type: 'SOA', name: 'cluster.local', data: { mname: 'ns.dns.cluster.local', serial: 42, minimum: 5 } }] });
    expect(data(ask('v6.dual.svc.cluster.local', 'AAAA'))).toEqual(['fd00::20']);
    expect(data(ask('v6.dual.svc.cluster.local', 'A'))).toEqual(['10.96.0.20']);
  });

  it('answers a headless service with its ready endpoints only', () => {
    expect(data(ask('db.apps.svc.cluster.local'))).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('publishes not-ready endpoints when the service asks to, and NXDOMAIN for a headless service without ready ones', () => {
    expect(data(ask('eager.apps.svc.cluster.local'))).toEqual(['10.0.2.1']);
    expect(ask('empty.apps.svc.cluster.local')).toMatchObject({ rcode: 'NXDOMAIN', authorities: [{ type: 'SOA' }] });
  });

  it('answers endpoint names by hostname or dashed IP', () => {
    expect(data(ask('db-0.db.apps.svc.cluster.local'))).toEqual(['10.0.0.1']);
    expect(data(ask('10-0-0-3.db.apps.svc.cluster.local'))).toEqual(['10.0.0.3']);
    expect(ask('db-3.db.apps.svc.cluster.local')).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(ask('db-9.db.apps.svc.cluster.local')).toMatchObject({ rcode: 'NXDOMAIN' });
  });

  it('answers SRV of a named port: the service name for a ClusterIP service, glue in additionals', () => {
    const r = ask('_http._tcp.web.default.svc.cluster.local', 'SRV');
    expect(r).toMatchObject({
      rcode: 'NOERROR',
      answers: [{ type: 'SRV', name: '_http._tcp.web.default.svc.cluster.local', data: { port: 80, target: 'web.default.svc.cluster.local', priority: 0, weight: 100 } }],
      additionals: [{ type: 'A', name: 'web.default.svc.cluster.local', data: '10.96.0.10' }],
    });
    expect(data(ask('_dns._udp.web.default.svc.cluster.local', 'SRV'))).toEqual([{ priority: 0, weight: 100, port: 53, target: 'web.default.svc.cluster.local' }]);
    expect(ask('_dns._tcp.web.default.svc.cluster.local', 'SRV')).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(ask('_http._tcp.web.default.svc.cluster.local', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [] });
  });

  it('answers SRV of a headless service per ready endpoint, targets named by hostname or dashed IP', () => {
    const r = ask('_pg._tcp.db.apps.svc.cluster.local', 'SRV');
    if (r.kind !== 'answer') throw new Error('forwarded');
    expect(r.answers.map((a) => (a as { data: { target: string; port: number } }).data)).toEqual([
      { priority: 0, weight: 100, port: 5432, target: 'db-0.db.apps.svc.cluster.local' },
      { priority: 0, weight: 100, port: 5432, target: 'db-1.db.apps.svc.cluster.local' },
      { priority: 0, weight: 100, port: 5432, target: '10-0-0-3.db.apps.svc.cluster.local' },
    ]);
    expect(r.additionals.map((a) => [a.name, (a as { data: string }).data])).toEqual([
      ['db-0.db.apps.svc.cluster.local', '10.0.0.1'],
      ['db-1.db.apps.svc.cluster.local', '10.0.0.2'],
      ['10-0-0-3.db.apps.svc.cluster.local', '10.0.0.3'],
    ]);
  });

  it('lists every port for a plain SRV query of a service', () => {
    expect(data(ask('web.default.svc.cluster.local', 'SRV'))).toHaveLength(2);
  });

  it('answers an ExternalName service with a CNAME and asks to chase an outside target', () => {
    expect(ask('ext.apps.svc.cluster.local')).toMatchObject({ rcode: 'NOERROR', answers: [{ type: 'CNAME', data: 'db.example.com' }], chase: { name: 'db.example.com', type: 'A' } });
    const inZone = ask('alias.apps.svc.cluster.local');
    expect(inZone).toMatchObject({ answers: [{ type: 'CNAME', data: 'web.default.svc.cluster.local' }] });
    expect((inZone as { chase?: unknown }).chase).toBeUndefined();
  });

  it('answers pod names from their dashed IP', () => {
    expect(data(ask('10-244-1-7.apps.pod.cluster.local'))).toEqual(['10.244.1.7']);
    expect(ask('10-244-1-7.apps.pod.cluster.local', 'AAAA')).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(ask('not-an-ip.apps.pod.cluster.local')).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(dashedIP('fd00::1')).toBe('fd00--1');
  });

  it('gives NXDOMAIN with the SOA for unknown names in the zone, NODATA for its empty non-terminals', () => {
    for (const name of ['nope.default.svc.cluster.local', 'foo.cluster.local', 'a.b.c.d.e.svc.cluster.local', 'web.default.svc.cluster.local.default.svc.cluster.local']) {
      expect(ask(name), name).toMatchObject({ kind: 'answer', rcode: 'NXDOMAIN', answers: [], authorities: [{ type: 'SOA', name: 'cluster.local' }] });
    }
    for (const name of ['cluster.local', 'svc.cluster.local', 'default.svc.cluster.local', 'pod.cluster.local']) {
      expect(ask(name), name).toMatchObject({ rcode: 'NOERROR', answers: [], authorities: [{ type: 'SOA' }] });
    }
  });

  it('answers the apex SOA and NS and dns-version', () => {
    expect(ask('cluster.local', 'SOA')).toMatchObject({ answers: [{ type: 'SOA', name: 'cluster.local' }] });
    expect(data(ask('cluster.local', 'NS'))).toEqual(['ns.dns.cluster.local']);
    expect(data(ask('dns-version.cluster.local', 'TXT'))).toEqual(['1.1.0']);
  });

  it('answers PTR for ClusterIPs and forwards other reverse names', () => {
    expect(data(ask('10.0.96.10.in-addr.arpa', 'PTR'))).toEqual(['web.default.svc.cluster.local']);
    expect(ask('4.3.2.1.in-addr.arpa', 'PTR')).toEqual({ kind: 'forward' });
  });

  it('forwards names outside the cluster domain', () => {
    expect(ask('example.com')).toEqual({ kind: 'forward' });
    expect(ask('notcluster.local')).toEqual({ kind: 'forward' });
  });
});
