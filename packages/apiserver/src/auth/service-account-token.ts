/**
 * Service account tokens as Kubernetes issues them (`pkg/serviceaccount/claims.go`, `jwt.go`): JWTs
 * signed RS256 with the API server's service account key, carrying `iss`, `sub`
 * (`system:serviceaccount:NS:NAME`), `aud`, `exp`, `iat`, `nbf`, `jti` and the private claim
 * `kubernetes.io` (namespace, service account, and the pod, secret or node the token is bound to).
 *
 * The key is an RSA key generated once into the data directory's `pki/` (`sa.key`, 0600, and its
 * public half `sa.pub`, as kubeadm names them) and reused afterwards, so tokens survive restarts and
 * API servers sharing `pki/` accept each other's tokens. The public key is published as a JWKS
 * (`/openid/v1/jwks`) with an OpenID discovery document (`/.well-known/openid-configuration`).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { serviceAccountKeyId, serviceAccountUserName } from '@flotilla/api';
import { readFileIfExists, writeFileAtomic } from '@flotilla/client';

export { SERVICE_ACCOUNT_USER_PREFIX, serviceAccountUserName } from '@flotilla/api';

/** `--service-account-issuer` default (kube-apiserver's recommended in-cluster issuer). */
export const DEFAULT_SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** The group of every service account. */
export const SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';
/** Lifetime of a TokenRequest without spec.expirationSeconds. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;
/** Shortest lifetime a TokenRequest may ask for (10 minutes). */
export const MIN_TOKEN_EXPIRATION_SECONDS = 600;
/** Longest lifetime a TokenRequest may ask for (2^32 seconds). */
export const MAX_TOKEN_EXPIRATION_SECONDS = 2 ** 32;
/**
 * The lifetime the kubelet's projected token volumes ask for by default (1 h + 7 s): such a pod-bound
 * token is issued for a year with a `warnafter` at the requested hour when expiration extension is on
 * (kube-apiserver's `--service-account-extend-token-expiration`, default true).
 */
export const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
/** The extended lifetime of such tokens. */
export const EXPIRATION_EXTENSION_SECONDS = 365 * 24 * 3600;
/** Clock skew tolerated on exp/nbf/iat and on deletions (go-jose's DefaultLeeway). */
export const TOKEN_LEEWAY_SECONDS = 60;
/** Where the JWKS is served. */
export const JWKS_PATH = '/openid/v1/jwks';
/** Where the OpenID discovery document is served. */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

/** UserInfo extra keys a service account token adds (Kubernetes' serviceaccount.UserInfo). */
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';
export const EXTRA_NODE_NAME = 'authentication.kubernetes.io/node-name';
export const EXTRA_NODE_UID = 'authentication.kubernetes.io/node-uid';
export const EXTRA_CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';

/** The service account signing key. */
export interface ServiceAccountKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** `kid` of the tokens: base64url SHA-256 of the public key's DER (Kubernetes' keyIDFromPublicKey). */
  keyId: string;
}

/** The groups of a service account: `system:serviceaccounts`, `system:serviceaccounts:NS`. */
export function serviceAccountGroups(namespace: string): string[] {
  return [SERVICE_ACCOUNTS_GROUP, `${SERVICE_ACCOUNTS_GROUP}:${namespace}`];
}

/** The key id Kubernetes derives from a public key (shared with the controller manager, which signs legacy tokens). */
export const keyIdOf = serviceAccountKeyId;

/** Loads `sa.key` from `pkiDir`, generating an RSA 2048 key on the first start; writes `sa.pub` when missing. */
export async function ensureServiceAccountKey(pkiDir: string): Promise<ServiceAccountKey> {
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  const keyPath = join(pkiDir, 'sa.key');
  const pubPath = join(pkiDir, 'sa.pub');
  let pem = await readFileIfExists(keyPath);
  if (!pem) {
    const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    pem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    await writeFileAtomic(keyPath, pem);
    await writeFileAtomic(pubPath, createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string, 0o644);
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error(`${keyPath}: the service account key must be an RSA key (RS256)`);
  const publicKey = createPublicKey(privateKey);
  if (!(await readFileIfExists(pubPath))) await writeFileAtomic(pubPath, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** A name and uid in the `kubernetes.io` claim. */
export interface ClaimRef {
  name: string;
  uid: string;
}

/** The private claim of a service account token. */
export interface KubernetesClaim {
  namespace: string;
  serviceaccount: ClaimRef;
  pod?: ClaimRef;
  secret?: ClaimRef;
  node?: { name: string; uid?: string };
  /** Seconds since the epoch after which use of an extended token is reported as stale. */
  warnafter?: number;
}

/** The claims of a service account token. */
export interface ServiceAccountClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': KubernetesClaim;
}

/** What a token is issued for. */
export interface ClaimsInput {
  issuer: string;
  namespace: string;
  serviceAccount: ClaimRef;
  audiences: string[];
  /** Lifetime of the token (exp - iat). */
  expirationSeconds: number;
  /** Seconds after issue at which the token counts as stale (extended tokens only). */
  warnAfterSeconds?: number;
  /** Bound to a pod (and, then, the pod's node)... */
  pod?: ClaimRef;
  /** ...or to a secret... */
  secret?: ClaimRef;
  /** ...or to a node; with a pod, the node the pod runs on (uid absent when the Node object is missing). */
  node?: { name: string; uid?: string };
  now: Date;
  /** The token's unique id; a random UUID by default. */
  jti?: string;
}

/** Builds the claims of a token, as Kubernetes' serviceaccount.Claims. */
export function serviceAccountClaims(input: ClaimsInput): ServiceAccountClaims {
  if (input.secret && (input.pod || input.node)) throw new Error('a token can only be bound to one object');
  const now = Math.floor(input.now.getTime() / 1000);
  const k: KubernetesClaim = { namespace: input.namespace, serviceaccount: { name: input.serviceAccount.name, uid: input.serviceAccount.uid } };
  if (input.pod) k.pod = { name: input.pod.name, uid: input.pod.uid };
  if (input.secret) k.secret = { name: input.secret.name, uid: input.secret.uid };
  if (input.node) k.node = input.node.uid ? { name: input.node.name, uid: input.node.uid } : { name: input.node.name };
  if (input.warnAfterSeconds) k.warnafter = now + input.warnAfterSeconds;
  return {
    iss: input.issuer,
    sub: serviceAccountUserName(input.namespace, input.serviceAccount.name),
    aud: [...input.audiences],
    exp: now + input.expirationSeconds,
    iat: now,
    nbf: now,
    jti: input.jti ?? randomUUID(),
    'kubernetes.io': k,
  };
}

/** Signs claims into a compact JWT (RS256, with the key's `kid`). */
export async function signServiceAccountToken(key: ServiceAccountKey, claims: ServiceAccountClaims): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: key.keyId }).sign(key.privateKey);
}

/** The JWKS of the public keys (`/openid/v1/jwks`). */
export async function jwksOf(keys: readonly ServiceAccountKey[]): Promise<{ keys: JWK[] }> {
  const out: JWK[] = [];
  for (const k of keys) out.push({ use: 'sig', ...(await exportJWK(k.publicKey)), kid: k.keyId, alg: 'RS256' });
  return { keys: out };
}

/** The OpenID discovery document (`/.well-known/openid-configuration`), as kube-apiserver serves it. */
export function openIdConfiguration(issuer: string, jwksUri: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}
