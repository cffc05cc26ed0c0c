/**
 * Bearer `<id>.<secret>` bootstrap tokens, checked against the Secrets `kube-system/bootstrap-token-<id>`
 * of type `bootstrap.kubernetes.io/token` the way Kubernetes' bootstrap authenticator does: the
 * secret is compared in constant time, an expired token or one without
 * `usage-bootstrap-authentication: "true"` is refused (401). The user is `system:bootstrap:<id>` in
 * `system:bootstrappers` plus the token's `auth-extra-groups`.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_PREFIX,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  BOOTSTRAP_USER_PREFIX,
  BOOTSTRAPPERS_GROUP,
  parseBootstrapToken,
  type KubeObject,
} from '@flotilla/api';
import { bearerToken, type AuthRequest, type Authenticator, type UserInfo } from './authenticator.js';

/** Reads one Secret (from the object cache); undefined when it does not exist. */
export type SecretLookup = (namespace: string, name: string) => KubeObject | undefined;

function dataOf(secret: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** Bootstrap tokens; a bearer that is not `<id>.<secret>` is left to the next authenticator. */
export class BootstrapTokenAuthenticator implements Authenticator {
  constructor(
    private readonly lookup: SecretLookup,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The token's user; undefined when the token is unknown, wrong, expired or not for authentication. */
  authenticate(req: AuthRequest): UserInfo | undefined {
    const bearer = bearerToken(req);
    const token = bearer === undefined ? undefined : parseBootstrapToken(bearer);
    if (!token) return undefined;
    const secret = this.lookup(BOOTSTRAP_TOKEN_NAMESPACE, `${BOOTSTRAP_TOKEN_SECRET_PREFIX}${token.id}`);
    if (!secret || (secret as { type?: string }).type !== BOOTSTRAP_TOKEN_SECRET_TYPE || secret.metadata.deletionTimestamp) return undefined;
    const data = dataOf(secret);
    if (data['token-id'] !== token.id || data['usage-bootstrap-authentication'] !== 'true') return undefined;
    const want = Buffer.from(data['token-secret'] ?? '');
    const got = Buffer.from(token.secret);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    if (data['expiration']) {
      const at = Date.parse(data['expiration']);
      if (Number.isNaN(at) || at <= this.now().getTime()) return undefined;
    }
    const extra = (data['auth-extra-groups'] ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g.startsWith(`${BOOTSTRAPPERS_GROUP}:`));
    return { name: `${BOOTSTRAP_USER_PREFIX}${token.id}`, groups: [BOOTSTRAPPERS_GROUP, ...extra] };
  }
}
