/**
 * Serving certificates of the Ingress proxy, chosen by SNI: the `kubernetes.io/tls` Secret an
 * Ingress names in `spec.tls[].secretName` (in its own namespace) for the hosts listed with it
 * (exact, or `*.domain` for one extra label); any other server name gets the self-signed default
 * certificate. TLS contexts are rebuilt only when a Secret's resourceVersion changes.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Ingress, Secret } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { normalizeHost } from './routing-table.js';

/** Where a host's certificate comes from. */
export interface TlsSource {
  namespace: string;
  secretName: string;
}

/** A certificate and key, PEM. */
export interface CertificatePem {
  cert: string;
  key: string;
}

/**
 * The Secret serving each TLS host of the Ingresses; for a host listed by several, the oldest
 * Ingress (the caller passes them oldest first) wins.
 */
export function tlsSourcesByHost(ingresses: readonly Readonly<Ingress>[]): Map<string, TlsSource> {
  const out = new Map<string, TlsSource>();
  for (const ing of ingresses) {
    const namespace = ing.metadata.namespace ?? 'default';
    for (const t of ing.spec?.tls ?? []) {
      if (!t.secretName) continue;
      for (const h of t.hosts ?? []) {
        const host = normalizeHost(h);
        if (host && !out.has(host)) out.set(host, { namespace, secretName: t.secretName });
      }
    }
  }
  return out;
}

/** Decodes a kubernetes.io/tls Secret, or explains why it cannot be used. */
export function certificateFromSecret(secret: Readonly<Secret> | undefined): CertificatePem | string {
  if (!secret) return 'secret not found';
  if (secret.type !== 'kubernetes.io/tls') return `secret type is ${secret.type ?? 'Opaque'}, not kubernetes.io/tls`;
  const cert = secret.data?.['tls.crt'];
  const key = secret.data?.['tls.key'];
  if (!cert || !key) return 'secret lacks tls.crt or tls.key';
  return { cert: Buffer.from(cert, 'base64').toString('utf8'), key: Buffer.from(key, 'base64').toString('utf8') };
}

interface Entry {
  version: string;
  pem: CertificatePem;
  /** Built by createSecureContext, which also checks that the key belongs to the certificate. */
  context: SecureContext;
}

/** SNI certificate selection for the HTTPS listener. */
export class CertificateStore {
  private byHost = new Map<string, Entry>();
  /** Built contexts by `namespace/name`, kept while the Secret's resourceVersion is unchanged. */
  private cache = new Map<string, Entry>();
  private readonly defaultContext: SecureContext;

  constructor(
    readonly defaultCertificate: CertificatePem,
    private readonly log: Logger,
  ) {
    this.defaultContext = createSecureContext(defaultCertificate);
  }

  /** Replaces the host -> certificate map (`getSecret` reads the Secret cache). */
  update(sources: ReadonlyMap<string, TlsSource>, getSecret: (namespace: string, name: string) => Readonly<Secret> | undefined): void {
    const byHost = new Map<string, Entry>();
    const cache = new Map<string, Entry>();
    for (const [host, src] of sources) {
      const id = `${src.namespace}/${src.secretName}`;
      let entry = cache.get(id);
      if (!entry) {
        const secret = getSecret(src.namespace, src.secretName);
        const version = secret?.metadata.resourceVersion ?? '';
        const old = this.cache.get(id);
        if (old && secret && old.version === version) {
          entry = old;
        } else {
          const pem = certificateFromSecret(secret);
          if (typeof pem === 'string') {
            this.log.warn({ secret: id, host, reason: pem }, 'ingress TLS secret unusable; serving the default certificate');
            continue;
          }
          try {
            entry = { version, pem, context: createSecureContext(pem) };
          } catch (err) {
            this.log.warn({ secret: id, host, err }, 'ingress TLS secret unusable; serving the default certificate');
            continue;
          }
        }
        cache.set(id, entry);
      }
      byHost.set(host, entry);
    }
    this.byHost = byHost;
    this.cache = cache;
  }

  /** A server name's Secret certificate: exact host, then `*.parent`; undefined: the default certificate. */
  private lookup(servername: string | undefined): Entry | undefined {
    const h = normalizeHost(servername);
    if (!h) return undefined;
    const exact = this.byHost.get(h);
    if (exact) return exact;
    const dot = h.indexOf('.');
    return dot > 0 ? this.byHost.get(`*.${h.slice(dot + 1)}`) : undefined;
  }

  /** The context for a server name (see `lookup`). */
  contextFor(servername: string | undefined): SecureContext {
    return this.lookup(servername)?.context ?? this.defaultContext;
  }

  /** The certificate for a server name (`*.domain` names the wildcard itself), or the default one. */
  pemFor(servername: string | undefined): CertificatePem {
    return this.lookup(servername)?.pem ?? this.defaultCertificate;
  }

  /** The hosts (exact, or `*.domain`) that have a Secret certificate. */
  hosts(): string[] {
    return [...this.byHost.keys()];
  }

  /** For `tls.createServer({ SNICallback })`. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(servername));
  };
}
