import { describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule } from '@flotilla/api';
import { normalizeHost, requestPath, RoutingTable } from './routing-table.js';

function path(p: string | undefined, svc: string, pathType: HTTPIngressPath['pathType'] = 'Prefix', port: { number?: number; name?: string } = { number: 80 }): HTTPIngressPath {
  return { ...(p !== undefined ? { path: p } : {}), pathType, backend: { service: { name: svc, port } } };
}

function ingress(name: string, rules: IngressRule[], extra: Partial<NonNullable<Ingress['spec']>> = {}, created = '2024-01-01T00:00:00Z', namespace = 'ns'): Ingress {
  return { metadata: { name, namespace, creationTimestamp: created }, spec: { rules, ...extra } };
}

function rule(host: string | undefined, ...paths: HTTPIngressPath[]): IngressRule {
  return { ...(host !== undefined ? { host } : {}), http: { paths } };
}

/** The service a request is routed to, or undefined. */
function svc(t: RoutingTable, host: string | undefined, p: string): string | undefined {
  return t.match(host, p)?.backend.service;
}

describe('RoutingTable', () => {
  it('routes by exact host and path prefix', () => {
    const t = RoutingTable.build([ingress('web', [rule('a.test', path('/app', 'svc1'), path('/other', 'svc2')), rule('b.test', path('/', 'svc2'))])]);
    expect(svc(t, 'a.test', '/app')).toBe('svc1');
    expect(svc(t, 'a.test', '/app/x/y')).toBe('svc1');
    expect(svc(t, 'a.test', '/other')).toBe('svc2');
    expect(svc(t, 'b.test', '/anything')).toBe('svc2');
    expect(svc(t, 'c.test', '/')).toBeUndefined();
    expect(svc(t, 'a.test', '/')).toBeUndefined();
    expect(t.match('a.test', '/app')).toEqual({ backend: { namespace: 'ns', service: 'svc1', port: { number: 80 } }, ingress: 'ns/web', path: '/app' });
  });

  it('matches Prefix paths by element, ignoring a trailing slash', () => {
    const t = RoutingTable.build([ingress('i', [rule('h', path('/foo', 'foo'), path('/aaa/bbb/', 'ab'), path('/', 'root'))])]);
    expect(svc(t, 'h', '/foo')).toBe('foo');
    expect(svc(t, 'h', '/foo/')).toBe('foo');
    expect(svc(t, 'h', '/foo/bar')).toBe('foo');
    expect(svc(t, 'h', '/foobar')).toBe('root');
    expect(svc(t, 'h', '/aaa/bbb')).toBe('ab');
    expect(svc(t, 'h', '/aaa/bbbxyz')).toBe('root');
    expect(svc(t, 'h', '/aaa/bbb/ccc')).toBe('ab');
    expect(svc(t, 'h', '/')).toBe('root');
  });

  it('matches Exact paths only exactly, and prefers Exact over Prefix of the same path', () => {
    const t = RoutingTable.build([ingress('i', [rule('h', path('/foo', 'prefix'), path('/foo', 'exact', 'Exact'), path('/bar', 'bar-exact', 'Exact'))])]);
    expect(svc(t, 'h', '/foo')).toBe('exact');
    expect(svc(t, 'h', '/foo/')).toBe('prefix');
    expect(svc(t, 'h', '/foo/x')).toBe('prefix');
    expect(svc(t, 'h', '/bar')).toBe('bar-exact');
    expect(svc(t, 'h', '/bar/')).toBeUndefined();
  });

  it('prefers the longest matching path, whatever the order of the rules', () => {
    const t = RoutingTable.build([ingress('i', [rule('h', path('/', 'root'), path('/a', 'a'), path('/a/b/c', 'abc'), path('/a/b', 'ab'))])]);
    expect(svc(t, 'h', '/a/b/c/d')).toBe('abc');
    expect(svc(t, 'h', '/a/b/x')).toBe('ab');
    expect(svc(t, 'h', '/a/x')).toBe('a');
    expect(svc(t, 'h', '/x')).toBe('root');
  });

  it('treats ImplementationSpecific as Prefix and an empty path as /', () => {
    const t = RoutingTable.build([ingress('i', [rule('h', path('/impl', 'impl', 'ImplementationSpecific'), path(undefined, 'root', 'ImplementationSpecific'))])]);
    expect(svc(t, 'h', '/impl/x')).toBe('impl');
    expect(svc(t, 'h', '/implx')).toBe('root');
  });

  it('matches wildcard hosts on exactly one label, below exact hosts and above host-less rules', () => {
    const t = RoutingTable.build([
      ingress('i', [rule('*.foo.test', path('/', 'wild')), rule('exact.foo.test', path('/', 'exact')), rule(undefined, path('/', 'any'))]),
    ]);
    expect(svc(t, 'bar.foo.test', '/')).toBe('wild');
    expect(svc(t, 'exact.foo.test', '/')).toBe('exact');
    expect(svc(t, 'foo.test', '/')).toBe('any');
    expect(svc(t, 'baz.bar.foo.test', '/')).toBe('any');
    expect(svc(t, 'other.test', '/')).toBe('any');
    expect(svc(t, undefined, '/')).toBe('any');
  });

  it('searches only the most specific host group (a host with rules does not fall through to host-less rules)', () => {
    const t = RoutingTable.build([ingress('i', [rule('a.test', path('/app', 'app')), rule(undefined, path('/', 'any'))])]);
    expect(svc(t, 'a.test', '/app')).toBe('app');
    expect(svc(t, 'a.test', '/elsewhere')).toBeUndefined();
    expect(svc(t, 'b.test', '/elsewhere')).toBe('any');
  });

  it('normalizes the Host header: case, port, trailing dot, IPv6 literals', () => {
    const t = RoutingTable.build([ingress('i', [rule('a.test', path('/', 'a'))])]);
    expect(svc(t, 'A.Test:8443', '/')).toBe('a');
    expect(svc(t, 'a.test.', '/')).toBe('a');
    expect(normalizeHost('[::1]:80')).toBe('::1');
    expect(normalizeHost('::1')).toBe('::1');
    expect(requestPath('/a/b?x=/c')).toBe('/a/b');
    expect(requestPath('http://a.test/p?q')).toBe('/p');
    expect(requestPath(undefined)).toBe('/');
  });

  it('uses the defaultBackend of the host’s Ingress, then any, when no path matches', () => {
    const t = RoutingTable.build([
      ingress('global', [], { defaultBackend: { service: { name: 'global-default', port: { number: 80 } } } }, '2024-01-01T00:00:00Z'),
      ingress('a', [rule('a.test', path('/app', 'app'))], { defaultBackend: { service: { name: 'a-default', port: { name: 'http' } } } }, '2024-01-02T00:00:00Z'),
    ]);
    expect(svc(t, 'a.test', '/app')).toBe('app');
    expect(svc(t, 'a.test', '/x')).toBe('a-default');
    expect(t.match('a.test', '/x')?.backend.port).toEqual({ name: 'http' });
    expect(svc(t, 'unknown.test', '/x')).toBe('global-default');
    expect(t.backends().map((b) => b.service).sort()).toEqual(['a-default', 'app', 'global-default']);
  });

  it('lets the older Ingress win a conflict on the same host and path, across namespaces', () => {
    const newer = ingress('newer', [rule('h', path('/p', 'new'))], {}, '2024-02-01T00:00:00Z', 'ns1');
    const older = ingress('older', [rule('h', path('/p', 'old'))], {}, '2024-01-01T00:00:00Z', 'ns2');
    expect(RoutingTable.build([newer, older]).match('h', '/p')).toMatchObject({ backend: { namespace: 'ns2', service: 'old' }, ingress: 'ns2/older' });
    expect(RoutingTable.build([older, newer]).match('h', '/p')?.backend.service).toBe('old');
    // A longer path of the newer Ingress still wins over a shorter one of the older.
    const longer = ingress('longer', [rule('h', path('/p/q', 'longer'))], {}, '2024-03-01T00:00:00Z');
    expect(svc(RoutingTable.build([older, longer]), 'h', '/p/q')).toBe('longer');
  });

  it('skips resource backends', () => {
    const t = RoutingTable.build([ingress('i', [rule('h', { path: '/r', pathType: 'Prefix', backend: { resource: { kind: 'Bucket', name: 'b' } } }, path('/', 'root'))])]);
    expect(svc(t, 'h', '/r')).toBe('root');
  });
});
