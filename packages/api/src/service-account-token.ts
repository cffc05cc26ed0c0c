/**
 * What the controller manager (which signs) and the API server (which verifies) must agree on about
 * service account tokens: the user name of an account, the key id of a signing key, and Kubernetes'
 * long-lived ("legacy") tokens kept in Secrets of type `kubernetes.io/service-account-token`
 * (`pkg/serviceaccount/legacy.go`): issuer `kubernetes/serviceaccount`, subject
 * `system:serviceaccount:NS:NAME`, four private claims naming the namespace, the account (name and
 * uid) and the Secret, and no expiry, audience or issue time. Pure functions, no JOSE: each side
 * signs or verifies with its own library.
 */
import { createHash, type KeyObject } from 'node:crypto';

/** Type of the Secrets holding long-lived service account tokens. */
export const SERVICE_ACCOUNT_TOKEN_SECRET_TYPE = 'kubernetes.io/service-account-token';
/** Annotation naming the ServiceAccount a token Secret is for (set by its author). */
export const SERVICE_ACCOUNT_NAME_ANNOTATION = 'kubernetes.io/service-account.name';
/** Annotation holding that account's uid (set by the tokens controller). */
export const SERVICE_ACCOUNT_UID_ANNOTATION = 'kubernetes.io/service-account.uid';
/** Key of the token in a token Secret's data. */
export const SERVICE_ACCOUNT_TOKEN_KEY = 'token';
/** Key of the cluster CA bundle in a token Secret's data. */
export const SERVICE_ACCOUNT_ROOT_CA_KEY = 'ca.crt';
/** Key of the namespace in a token Secret's data. */
export const SERVICE_ACCOUNT_NAMESPACE_KEY = 'namespace';

/** Issuer of legacy tokens, accepted by the API server alongside its configured issuers. */
export const LEGACY_SERVICE_ACCOUNT_ISSUER = 'kubernetes/serviceaccount';
/** The legacy token's private claims, named as Kubernetes names them. */
export const LEGACY_CLAIM_NAMESPACE = 'kubernetes.io/serviceaccount/namespace';
export const LEGACY_CLAIM_SECRET_NAME = 'kubernetes.io/serviceaccount/secret.name';
export const LEGACY_CLAIM_SERVICE_ACCOUNT_NAME = 'kubernetes.io/serviceaccount/service-account.name';
export const LEGACY_CLAIM_SERVICE_ACCOUNT_UID = 'kubernetes.io/serviceaccount/service-account.uid';

/** Prefix of a service account's user name. */
export const SERVICE_ACCOUNT_USER_PREFIX = 'system:serviceaccount:';

/** `system:serviceaccount:NS:NAME`. */
export function serviceAccountUserName(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_USER_PREFIX}${namespace}:${name}`;
}

/** The `kid` of tokens signed with a key: base64url SHA-256 of the public key's DER (Kubernetes' keyIDFromPublicKey). */
export function serviceAccountKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url');
}

/** The claims of a legacy token. */
export interface LegacyServiceAccountClaims {
  iss: typeof LEGACY_SERVICE_ACCOUNT_ISSUER;
  sub: string;
  [LEGACY_CLAIM_NAMESPACE]: string;
  [LEGACY_CLAIM_SECRET_NAME]: string;
  [LEGACY_CLAIM_SERVICE_ACCOUNT_NAME]: string;
  [LEGACY_CLAIM_SERVICE_ACCOUNT_UID]: string;
}

/** The claims of the legacy token for `account` kept in the Secret `secretName` (Kubernetes' LegacyClaims). */
export function legacyServiceAccountClaims(account: { namespace: string; name: string; uid: string }, secretName: string): LegacyServiceAccountClaims {
  return {
    iss: LEGACY_SERVICE_ACCOUNT_ISSUER,
    sub: serviceAccountUserName(account.namespace, account.name),
    [LEGACY_CLAIM_NAMESPACE]: account.namespace,
    [LEGACY_CLAIM_SECRET_NAME]: secretName,
    [LEGACY_CLAIM_SERVICE_ACCOUNT_NAME]: account.name,
    [LEGACY_CLAIM_SERVICE_ACCOUNT_UID]: account.uid,
  };
}

/** The parts of a Secret that make it a service account token. */
export interface TokenSecretView {
  type?: string;
  metadata: { annotations?: Readonly<Record<string, string>> };
}

/**
 * True when `secret` is a token Secret of the account `name` with uid `uid`: its type, its name
 * annotation equal to the account's name, and its uid annotation, when set, equal to the account's
 * uid (Kubernetes' IsServiceAccountToken).
 */
export function isServiceAccountTokenSecret(secret: TokenSecretView, account: { name?: string; uid?: string }): boolean {
  if (secret.type !== SERVICE_ACCOUNT_TOKEN_SECRET_TYPE) return false;
  const annotations = secret.metadata.annotations ?? {};
  if ((annotations[SERVICE_ACCOUNT_NAME_ANNOTATION] ?? '') !== (account.name ?? '')) return false;
  const uid = annotations[SERVICE_ACCOUNT_UID_ANNOTATION] ?? '';
  return uid === '' || uid === (account.uid ?? '');
}
