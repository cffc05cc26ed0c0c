/**
 * Bootstrap tokens as Kubernetes defines them (`<id>.<secret>`, stored in Secrets
 * `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`) and k3s's secure join
 * token, which pins the cluster CA: `K10<sha256 hex of the CA certificate (DER)>::<id>.<secret>`.
 * Pure functions: no I/O.
 */
import { randomInt } from 'node:crypto';
import { formatTime } from './meta.js';

/** Type of the Secrets holding bootstrap tokens. */
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
/** Namespace of those Secrets. */
export const BOOTSTRAP_TOKEN_NAMESPACE = 'kube-system';
/** Prefix of their names (`bootstrap-token-<id>`). */
export const BOOTSTRAP_TOKEN_SECRET_PREFIX = 'bootstrap-token-';
/** Group every bootstrap token's user is in. */
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
/** Prefix of a bootstrap token's user name (`system:bootstrap:<id>`). */
export const BOOTSTRAP_USER_PREFIX = 'system:bootstrap:';

const ID_RE = /^[a-z0-9]{6}$/;
const SECRET_RE = /^[a-z0-9]{16}$/;
const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const SECURE_RE = /^K10([0-9a-f]{64})::(.+)$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A bootstrap token's two parts. */
export interface BootstrapToken {
  /** 6 characters of [a-z0-9]; public (it names the Secret). */
  id: string;
  /** 16 characters of [a-z0-9]. */
  secret: string;
}

/** A join token: the bootstrap token and, in the secure form, the CA's hash it pins. */
export interface JoinToken extends BootstrapToken {
  /** sha256 hex (lowercase) of the cluster CA certificate's DER; absent for a bare `<id>.<secret>`. */
  caHash?: string;
}

/** Parses `<id>.<secret>`; undefined when it is not one. */
export function parseBootstrapToken(text: string): BootstrapToken | undefined {
  const m = TOKEN_RE.exec(text.trim());
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Parses `K10<hash>::<id>.<secret>` or a bare `<id>.<secret>`; undefined when it is neither. */
export function parseJoinToken(text: string): JoinToken | undefined {
  const t = text.trim();
  const m = SECURE_RE.exec(t);
  const token = parseBootstrapToken(m ? m[2]! : t);
  if (!token) return undefined;
  return m ? { ...token, caHash: m[1]! } : token;
}

/** `<id>.<secret>`. */
export function formatBootstrapToken(t: BootstrapToken): string {
  return `${t.id}.${t.secret}`;
}

/** `K10<caHash>::<id>.<secret>` (or the bare form when no hash is given). */
export function formatJoinToken(t: JoinToken): string {
  return t.caHash ? `K10${t.caHash}::${formatBootstrapToken(t)}` : formatBootstrapToken(t);
}

/** True when `id` is a valid token id. */
export function isBootstrapTokenId(id: string): boolean {
  return ID_RE.test(id);
}

/** True when `secret` is a valid token secret. */
export function isBootstrapTokenSecret(secret: string): boolean {
  return SECRET_RE.test(secret);
}

function randomString(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** A fresh random bootstrap token. */
export function generateBootstrapToken(): BootstrapToken {
  return { id: randomString(6), secret: randomString(16) };
}

/** Options of {@link bootstrapTokenSecret}. */
export interface BootstrapTokenSecretOptions {
  /** When the token stops working; never when absent. */
  expiration?: Date;
  description?: string;
  /** Extra groups; each must start with `system:bootstrappers:`. */
  extraGroups?: string[];
}

/** The Secret storing a bootstrap token (string values in `stringData`). */
export function bootstrapTokenSecret(t: BootstrapToken, o: BootstrapTokenSecretOptions = {}): {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string };
  type: string;
  stringData: Record<string, string>;
} {
  const stringData: Record<string, string> = { 'token-id': t.id, 'token-secret': t.secret, 'usage-bootstrap-authentication': 'true' };
  if (o.expiration) stringData['expiration'] = formatTime(o.expiration);
  if (o.description) stringData['description'] = o.description;
  if (o.extraGroups && o.extraGroups.length > 0) stringData['auth-extra-groups'] = o.extraGroups.join(',');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${BOOTSTRAP_TOKEN_SECRET_PREFIX}${t.id}`, namespace: BOOTSTRAP_TOKEN_NAMESPACE },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    stringData,
  };
}
