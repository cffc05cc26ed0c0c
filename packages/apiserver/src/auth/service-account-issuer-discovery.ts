/**
 * Service account issuer discovery, as kube-apiserver serves it: `GET /.well-known/openid-configuration`
 * (issuer, jwks_uri, RS256) and `GET /openid/v1/jwks` (the public keys that sign service account
 * tokens), so a relying party outside the cluster can verify tokens with stock OIDC libraries. Served
 * only when the issuer is an https URL (OIDC requires it). Like Kubernetes, the documents need an
 * authenticated caller whom the authorizer allows the paths (`system:service-account-issuer-discovery`).
 */
import type { FastifyInstance } from 'fastify';
import { JWKS_PATH, jwksOf, OPENID_CONFIGURATION_PATH, openIdConfiguration, type ServiceAccountKey } from './service-account-token.js';

/** What discovery publishes. */
export interface ServiceAccountIssuerDiscovery {
  /** The issuer tokens are signed as. */
  issuer: string;
  /** Keys whose public halves are published. */
  keys: readonly ServiceAccountKey[];
  /** `jwks_uri` (`--service-account-jwks-uri`); by default this server's JWKS path at its advertised address. */
  jwksUri?: string;
}

/** True when `issuer` is an https URL without query or fragment, as OIDC discovery requires. */
export function isDiscoverableIssuer(issuer: string): boolean {
  try {
    const u = new URL(issuer);
    return u.protocol === 'https:' && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}

/** Registers the two documents (nothing when the issuer is not discoverable). */
export async function registerServiceAccountIssuerDiscovery(app: FastifyInstance, d: ServiceAccountIssuerDiscovery, advertiseAddress: () => string): Promise<void> {
  if (!isDiscoverableIssuer(d.issuer)) return;
  const jwks = JSON.stringify(await jwksOf(d.keys));
  app.get(OPENID_CONFIGURATION_PATH, async (_req, reply) => {
    const jwksUri = d.jwksUri ?? `https://${advertiseAddress()}${JWKS_PATH}`;
    reply.header('Cache-Control', 'public, max-age=3600');
    return reply.type('application/json').send(JSON.stringify(openIdConfiguration(d.issuer, jwksUri)));
  });
  app.get(JWKS_PATH, async (_req, reply) => {
    reply.header('Cache-Control', 'public, max-age=3600');
    return reply.type('application/jwk-set+json').send(jwks);
  });
}
