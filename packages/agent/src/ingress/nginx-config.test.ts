import { describe, expect, it } from 'vitest';
import type { HTTPIngressPath, Ingress, IngressRule } from '@flotilla/api';
import type { CertificatePem } from './certificate-store.js';
import { nginxQuote, renderNginxConfig, type NginxConfigInput } from './nginx-config.js';
import { RoutingTable, type BackendRef } from './routing-table.js';

function path(p: string, svc: string, pathType: HTTPIngressPath['pathType'] = 'Prefix'): HTTPIngressPath {
  return { path: p, pathType, backend: { service: { name: svc, port: { number: 80 } } } };
}

function ingress(name: string, rules: IngressRule[], extra: Partial<NonNullable<Ingress['spec']>> = {}): Ingress {
  return { metadata: { name, namespace: 'ns', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { rules, ...extra } };
}

const DEFAULT_PEM: CertificatePem = { cert: 'default-cert', key: 'default-key' };
const A_PEM: CertificatePem = { cert: 'a-cert', key: 'a-key' };

function render(ingresses: Ingress[], over: Partial<NginxConfigInput> = {}): string {
  return renderNginxConfig({
    prefix: '/run/ingress',
    addresses: ['127.0.0.1', '::1'],
    httpPort: 80,
    httpsPort: 443,
    table: RoutingTable.build(ingresses),
    upstreams: (ref: BackendRef) => (ref.service === 'empty' ? [] : [{ ip: '10.0.0.1', port: 8080 }, { ip: 'fd00::1', port: 8080 }]),
    certificateHosts: ['a.test', '*.w.test'],
    certificate: (h) => (h === 'a.test' || h === '*.w.test' ? A_PEM : DEFAULT_PEM),
    certificateFile: (pem) => `/run/ingress/certs/${pem.cert}.pem`,
    ...over,
  });
}

/** The text of the server block whose server_name is `name`. */
function serverBlock(conf: string, name: string): string {
  const blocks = conf.split('\n  server {').slice(1).map((b) => b.slice(0, b.indexOf('\n  }')));
  const found = blocks.find((b) => b.includes(`server_name ${name};`));
  if (!found) throw new Error(`no server ${name} in\n${conf}`);
  return found;
}

describe('renderNginxConfig', () => {
  it('turns Exact and Prefix paths into exact and prefix locations, keeping the route the table tries first', () => {
    const conf = render([ingress('i', [{ host: 'h.test', http: { paths: [path('/foo', 'prefix'), path('/foo', 'exact', 'Exact'), path('/bar/', 'bar'), path('/', 'root')] } }])]);
    const h = serverBlock(conf, 'h.test');
    expect(h).toContain('location = "/foo" { proxy_pass http://backend_');
    expect(h).toContain('location "/foo/" {');
    expect(h).toContain('location = "/bar" {');
    expect(h).toContain('location "/bar/" {');
    expect(h).toContain('location "/" {');
    // Exact /foo beats Prefix /foo for `= "/foo"`: one location each, the exact one first in the table's order.
    expect(h.match(/location = "\/foo"/g)).toHaveLength(1);
    const upstreamOf = (svc: string) => new RegExp(`# ns/${svc}:80\\n  upstream (\\w+)`).exec(conf)![1];
    expect(h).toContain(`location = "/foo" { proxy_pass http://${upstreamOf('exact')}; }`);
    expect(h).toContain(`location "/foo/" { proxy_pass http://${upstreamOf('prefix')}; }`);
    expect(h).toContain(`location "/" { proxy_pass http://${upstreamOf('root')}; }`);
  });

  it('serves a wildcard host as one extra label, hosts without rules from the default server, and 404 or the default backend elsewhere', () => {
    const conf = render([
      ingress('w', [{ host: '*.w.test', http: { paths: [path('/', 'wild')] } }]),
      ingress('any', [{ http: { paths: [path('/any', 'any')] } }], { defaultBackend: { service: { name: 'fallback', port: { number: 80 } } } }),
    ]);
    expect(conf).toContain('server_name ~^[^.]+\\.w\\.test$;');
    const def = serverBlock(conf, '_');
    expect(def).toContain('listen 127.0.0.1:80 default_server;');
    expect(def).toContain('listen [::1]:443 ssl http2 default_server;');
    expect(def).toContain('location = "/any"');
    expect(def).toMatch(/location "\/" \{ proxy_pass http:\/\/backend_\d+; \}/);
    expect(conf).toContain('# ns/fallback:80');
    // A host with a certificate but no rules serves the routes the table picks for it (here: the rules without a host).
    expect(serverBlock(conf, 'a.test')).toContain('location = "/any"');
    expect(serverBlock(conf, 'a.test')).toContain('ssl_certificate "/run/ingress/certs/a-cert.pem";');
    expect(def).toContain('ssl_certificate "/run/ingress/certs/default-cert.pem";');
    expect(conf).toContain('server [fd00::1]:8080 max_fails=0;');
  });

  it('answers 503 for a backend without ready pods and 404 where nothing matches', () => {
    const conf = render([ingress('i', [{ host: 'h.test', http: { paths: [path('/e', 'empty')] } }])]);
    const h = serverBlock(conf, 'h.test');
    expect(h).toContain('location = "/e" { return 503 "service unavailable: no ready endpoints\\n"; }');
    expect(h).toContain('location "/" { return 404 "default backend - 404\\n"; }');
    expect(conf).not.toContain('ns/empty');
  });

  it('leaves out the HTTPS listener and certificates when no HTTPS port is set', () => {
    const files: CertificatePem[] = [];
    const conf = render([ingress('i', [{ host: 'h.test', http: { paths: [path('/', 'x')] } }])], { httpsPort: undefined, certificateFile: (pem) => (files.push(pem), '/unused') });
    expect(conf).not.toContain('ssl');
    expect(conf).not.toContain('a.test');
    // No certificate (nor its key) is named for the caller to write.
    expect(files).toEqual([]);
  });

  it('quotes tokens so a path cannot end a directive', () => {
    expect(nginxQuote('/a b";} x\\')).toBe('"/a b\\";} x\\\\"');
    const conf = render([ingress('i', [{ host: 'h.test', http: { paths: [path('/a"; }', 'x', 'Exact')] } }])]);
    expect(conf).toContain('location = "/a\\"; }" {');
  });
});
