/**
 * The node's Ingress routing table as an nginx configuration (the `nginx` Ingress proxy): the same
 * decisions as `RoutingTable.match`, made by nginx's own server and location selection.
 *
 * - Server blocks: one per exact host (`server_name a.test`), one per wildcard (`*.a.test` as the
 *   regular expression `~^[^.]+\.a\.test$`: one extra label, as Ingress wildcards mean; nginx's own
 *   `*.` would match several) and the default server for every other host. nginx tries exact names
 *   before regular expressions, as the table tries exact hosts before wildcards. A host that has a
 *   block only for its TLS certificate serves the routes the table would pick for it (its wildcard
 *   group, else the rules without a host).
 * - Locations: an `Exact` path is `location = /p`; a `Prefix` path `/p` (by path elements) is
 *   `location = /p` plus `location /p/`; `/` is `location /`. nginx takes an exact location first,
 *   then the longest prefix, which is the table's order (longest rule path first). Where two routes
 *   produce the same location, the one the table tries first keeps it. Requests matching no rule
 *   get the group's default backend or `404 default backend - 404`.
 * - HTTPS listeners offer HTTP/2 (ALPN), as ingress-nginx's do; the pods are spoken to in HTTP/1.1.
 * - Backends: an `upstream` per Service port with its ready pods (round robin, a refused connection
 *   tried on the next pod for idempotent requests, as `proxy_next_upstream` does by default), or
 *   `503` when it has none. Hop-by-hop headers are nginx's; `Upgrade` is passed through.
 *
 * Pure: no I/O. The caller writes the certificates where `certificateFile` says.
 */
import type { CertificatePem } from './certificate-store.js';
import { upstreamKey, type Upstream } from './backend-endpoints.js';
import { backendKey, type BackendRef, type HostRoutes, type RouteMatch, type RoutingTable } from './routing-table.js';

/** What the configuration is made from. */
export interface NginxConfigInput {
  /** The directory nginx runs in (`-p`): pid file and temporary files. */
  prefix: string;
  /** Listen addresses and ports; an undefined port is not opened. */
  addresses: readonly string[];
  httpPort: number | undefined;
  httpsPort: number | undefined;
  table: RoutingTable;
  /** The ready pods of a backend. */
  upstreams(ref: BackendRef): readonly Upstream[];
  /** Hosts (exact or `*.domain`) that have a certificate of their own. */
  certificateHosts: readonly string[];
  /** The certificate for a server name (exact host or `*.domain`), the default one when it has none. */
  certificate(servername: string | undefined): CertificatePem;
  /** The file the configuration names for a certificate (the caller writes it: certificate, then key). */
  certificateFile(pem: CertificatePem): string;
  /** nginx worker processes (default 1: the node's cores are the pods'). */
  workerProcesses?: number;
}

/** A string as one nginx configuration token (quoted, `"` and `\` escaped). */
export function nginxQuote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function listenAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** `~^[^.]+\.a\.test$`: one DNS label, then the wildcard's domain. */
function wildcardServerName(domain: string): string {
  return `~^[^.]+\\.${domain.replace(/\./g, '\\.')}$`;
}

const NOT_FOUND = 'return 404 "default backend - 404\\n";';
const NO_ENDPOINTS = 'return 503 "service unavailable: no ready endpoints\\n";';

/** Renders the whole nginx.conf. */
export function renderNginxConfig(input: NginxConfigInput): string {
  const upstreamNames = new Map<string, string>();
  const upstreamBlocks: string[] = [];
  const backendTarget = (match: RouteMatch | undefined): string => {
    if (!match) return NOT_FOUND;
    const key = backendKey(match.backend);
    let name = upstreamNames.get(key);
    if (name === undefined) {
      const pods = input.upstreams(match.backend);
      name = pods.length === 0 ? '' : `backend_${upstreamNames.size}`;
      upstreamNames.set(key, name);
      if (name) {
        upstreamBlocks.push([
          `  # ${key}`,
          `  upstream ${name} {`,
          ...pods.map((u) => `    server ${upstreamKey(u)} max_fails=0;`),
          '    keepalive 32;',
          '  }',
        ].join('\n'));
      }
    }
    return name ? `proxy_pass http://${name};` : NO_ENDPOINTS;
  };

  const locations = (group: HostRoutes): string[] => {
    const seen = new Map<string, string>();
    const add = (spec: string, body: string) => {
      if (!seen.has(spec)) seen.set(spec, body);
    };
    for (const r of group.routes) {
      const body = backendTarget(r.match);
      if (r.exact) add(`= ${nginxQuote(r.path)}`, body);
      else if (r.elements.length === 0) add(nginxQuote('/'), body);
      else {
        const p = `/${r.elements.join('/')}`;
        add(`= ${nginxQuote(p)}`, body);
        add(nginxQuote(`${p}/`), body);
      }
    }
    add(nginxQuote('/'), backendTarget(group.fallback));
    return [...seen].map(([spec, body]) => `    location ${spec} { ${body} }`);
  };

  const listens = (defaultServer: boolean): string[] => {
    const out: string[] = [];
    const flag = defaultServer ? ' default_server' : '';
    for (const a of input.addresses) {
      if (input.httpPort !== undefined) out.push(`    listen ${listenAddress(a, input.httpPort)}${flag};`);
      if (input.httpsPort !== undefined) out.push(`    listen ${listenAddress(a, input.httpsPort)} ssl http2${flag};`);
    }
    return out;
  };

  // A certificate file is named (and so written by the caller) only when there is an HTTPS listener.
  const tls = (certName: string | undefined): string[] => {
    if (input.httpsPort === undefined) return [];
    const file = nginxQuote(input.certificateFile(input.certificate(certName)));
    return [`    ssl_certificate ${file};`, `    ssl_certificate_key ${file};`];
  };
  const server = (serverName: string, certName: string | undefined, group: HostRoutes, defaultServer: boolean): string => {
    return [
      '  server {',
      ...listens(defaultServer),
      `    server_name ${serverName};`,
      ...tls(certName),
      ...locations(group),
      '  }',
    ].join('\n');
  };

  const { exact, wildcard, any } = input.table.hostGroups();
  const certHosts = input.httpsPort !== undefined ? input.certificateHosts : [];
  const exactHosts = new Set([...exact.keys(), ...certHosts.filter((h) => !h.startsWith('*.'))]);
  const wildcardDomains = new Set([...wildcard.keys(), ...certHosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(2))]);
  const parentGroup = (host: string): HostRoutes | undefined => {
    const dot = host.indexOf('.');
    return dot > 0 ? wildcard.get(host.slice(dot + 1)) : undefined;
  };
  const servers = [
    server('_', undefined, any, true),
    ...[...exactHosts].sort().map((h) => server(h, h, exact.get(h) ?? parentGroup(h) ?? any, false)),
    ...[...wildcardDomains].sort().map((d) => server(wildcardServerName(d), `*.${d}`, wildcard.get(d) ?? any, false)),
  ];

  const p = (name: string) => nginxQuote(`${input.prefix}/${name}`);
  return [
    '# Written by the Flotilla agent from the cluster\'s Ingresses; rewritten on every change.',
    `worker_processes ${input.workerProcesses ?? 1};`,
    'daemon off;',
    // A worker left by a reload closes its remaining connections (WebSockets, long responses) after
    // this; with at most one reload a second, at most 30 such workers linger.
    'worker_shutdown_timeout 30s;',
    `pid ${p('nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    '  default_type text/plain;',
    '  server_names_hash_bucket_size 256;',
    '  server_names_hash_max_size 4096;',
    `  client_body_temp_path ${p('client_body')};`,
    `  proxy_temp_path ${p('proxy')};`,
    `  fastcgi_temp_path ${p('fastcgi')};`,
    `  uwsgi_temp_path ${p('uwsgi')};`,
    `  scgi_temp_path ${p('scgi')};`,
    '  client_max_body_size 0;',
    ...(input.httpsPort !== undefined ? ['  ssl_protocols TLSv1.2 TLSv1.3;'] : []),
    '  proxy_http_version 1.1;',
    '  proxy_buffering off;',
    '  proxy_request_buffering off;',
    '  proxy_connect_timeout 5s;',
    '  proxy_read_timeout 60s;',
    '  proxy_send_timeout 60s;',
    '  proxy_next_upstream error timeout;',
    '  proxy_next_upstream_tries 3;',
    '  map $http_upgrade $connection_upgrade { default upgrade; "" ""; }',
    '  proxy_set_header Host $http_host;',
    '  proxy_set_header Upgrade $http_upgrade;',
    '  proxy_set_header Connection $connection_upgrade;',
    '  proxy_set_header X-Forwarded-For $remote_addr;',
    '  proxy_set_header X-Real-IP $remote_addr;',
    '  proxy_set_header X-Forwarded-Proto $scheme;',
    '  proxy_set_header X-Forwarded-Host $http_host;',
    '  proxy_set_header X-Forwarded-Port $server_port;',
    ...servers,
    ...upstreamBlocks,
    '}',
    '',
  ].join('\n');
}
