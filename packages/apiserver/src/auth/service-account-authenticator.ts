/**
 * Bearer service account tokens (auth/service-account-token.ts), checked as Kubernetes'
 * JWTTokenAuthenticator and its validator do:
 *
 * - a bearer that is not a JWT, or a JWT from another issuer, is not ours: the next authenticator
 *   decides (undefined);
 * - a JWT with our issuer must carry a valid RS256 signature by one of our keys, an audience among
 *   the API audiences (`--api-audiences`, default the issuer), and be within exp/nbf/iat with a
 *   minute of leeway; otherwise the request is 401;
 * - the ServiceAccount must still exist with the token's uid, and so must the Pod, Secret or Node the
 *   token is bound to (an object deleted more than the leeway ago counts as gone). They are read from
 *   the API server's object cache: deleting the account or the bound pod revokes the token.
 *
 * Long-lived ("legacy") tokens, which the controller manager's tokens controller keeps in Secrets
 * of type `kubernetes.io/service-account-token`, are always accepted as well, as Kubernetes'
 * legacy validator does: issuer `kubernetes/serviceaccount`, signed by one of our keys, no expiry,
 * the implicit API audiences; the Secret named in the token must exist, not be deleted, not be marked
 * invalid, and hold exactly this token, and the account must exist, not be deleted, with the token's
 * uid. Deleting the Secret (or the account, whose Secrets the controller deletes) revokes the token.
 *
 * The user is `system:serviceaccount:NS:NAME` with the account's uid, groups `system:serviceaccounts`
 * and `system:serviceaccounts:NS`, and extra `authentication.kubernetes.io/credential-id`
 * (`JTI=<jti>`), `.../pod-name`, `.../pod-uid`, `.../node-name`, `.../node-uid` as Kubernetes sets them
 * (a legacy token has none of these).
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  ApiError,
  LEGACY_CLAIM_NAMESPACE,
  LEGACY_CLAIM_SECRET_NAME,
  LEGACY_CLAIM_SERVICE_ACCOUNT_NAME,
  LEGACY_CLAIM_SERVICE_ACCOUNT_UID,
  LEGACY_SERVICE_ACCOUNT_ISSUER,
  SERVICE_ACCOUNT_TOKEN_KEY,
  type KubeObject,
} from '@flotilla/api';
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import { bearerToken, type AuthRequest, type Authenticator, type UserInfo } from './authenticator.js';
import {
  EXTRA_CREDENTIAL_ID,
  EXTRA_NODE_NAME,
  EXTRA_NODE_UID,
  EXTRA_POD_NAME,
  EXTRA_POD_UID,
  serviceAccountGroups,
  serviceAccountUserName,
  TOKEN_LEEWAY_SECONDS,
  type KubernetesClaim,
} from './service-account-token.js';

/** Reads the objects a token refers to (from the object cache); undefined when one does not exist. */
export interface ServiceAccountTokenObjects {
  getServiceAccount(namespace: string, name: string): KubeObject | undefined;
  getPod(namespace: string, name: string): KubeObject | undefined;
  getSecret(namespace: string, name: string): KubeObject | undefined;
  getNode(name: string): KubeObject | undefined;
}

/** Configuration of the authenticator. */
export interface ServiceAccountAuthenticatorOptions {
  /** Accepted issuers (`--service-account-issuer`, the first one signs). */
  issuers: readonly string[];
  /** Keys whose signatures are accepted. */
  publicKeys: readonly KeyObject[];
  /** The API server's audiences: a token must name one of them. */
  apiAudiences: readonly string[];
  objects: ServiceAccountTokenObjects;
  logger?: Logger;
  now?: () => Date;
}

/** Label marking a legacy token Secret as no longer usable (set by Kubernetes' legacy token cleaner, or by hand). */
export const LEGACY_TOKEN_INVALID_SINCE_LABEL = 'kubernetes.io/legacy-token-invalid-since';

/** Why a token with our issuer was refused; logged, never sent (the client gets a plain 401). */
export class InvalidServiceAccountTokenError extends Error {
  override readonly name = 'InvalidServiceAccountTokenError';
}

/** True when a Secret's base64 `data.token` decodes to exactly `token`. */
function holdsToken(secret: KubeObject, token: string): boolean {
  const stored = (secret['data'] as Record<string, string> | undefined)?.[SERVICE_ACCOUNT_TOKEN_KEY];
  if (typeof stored !== 'string') return false;
  const a = Buffer.from(stored, 'base64');
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isRef(v: unknown): v is { name: string; uid?: string } {
  return v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string';
}

/** Service account tokens; see the file comment. */
export class ServiceAccountTokenAuthenticator implements Authenticator {
  private readonly now: () => Date;

  constructor(private readonly options: ServiceAccountAuthenticatorOptions) {
    if (options.issuers.length === 0) throw new Error('at least one service account issuer is required');
    this.now = options.now ?? (() => new Date());
  }

  /** The token's user; undefined when the bearer is not one of our tokens; 401 when it is ours and invalid. */
  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    const token = bearerToken(req);
    if (token === undefined || !this.isOurs(token)) return undefined;
    try {
      return await this.verify(token);
    } catch (err) {
      if (!(err instanceof InvalidServiceAccountTokenError)) throw err;
      this.options.logger?.info({ reason: err.message }, 'refused a service account token');
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    }
  }

  /** True when the token is a JWT naming one of our issuers or the legacy issuer (signature not checked yet). */
  isOurs(token: string): boolean {
    return this.issuerOf(token) !== undefined;
  }

  /** The token's issuer when it is one we accept. */
  private issuerOf(token: string): string | undefined {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    if (typeof iss !== 'string') return undefined;
    return this.options.issuers.includes(iss) || iss === LEGACY_SERVICE_ACCOUNT_ISSUER ? iss : undefined;
  }

  /** Verifies one of our tokens; throws InvalidServiceAccountTokenError with the reason. */
  async verify(token: string): Promise<UserInfo> {
    const now = this.now();
    const legacy = this.issuerOf(token) === LEGACY_SERVICE_ACCOUNT_ISSUER && !this.options.issuers.includes(LEGACY_SERVICE_ACCOUNT_ISSUER);
    const payload = await this.verifySignature(token, now, legacy);
    const nowSeconds = now.getTime() / 1000;
    if (typeof payload.iat === 'number' && payload.iat > nowSeconds + TOKEN_LEEWAY_SECONDS) throw new InvalidServiceAccountTokenError('service account token is issued in the future');

    const audiences = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const apiAudiences = this.options.apiAudiences;
    const tokenAudiences = audiences.length === 0 ? apiAudiences : audiences;
    if (!tokenAudiences.some((a) => apiAudiences.includes(a))) {
      throw new InvalidServiceAccountTokenError(`token audiences ${JSON.stringify(tokenAudiences)} is invalid for the target audiences ${JSON.stringify(apiAudiences)}`);
    }
    if (legacy) return this.verifyLegacy(token, payload);

    const k = payload['kubernetes.io'] as Partial<KubernetesClaim> | undefined;
    if (!k || typeof k.namespace !== 'string' || !isRef(k.serviceaccount)) throw new InvalidServiceAccountTokenError('service account token has no kubernetes.io claim');
    const namespace = k.namespace;
    const sa = k.serviceaccount;
    if (payload.sub !== serviceAccountUserName(namespace, sa.name)) throw new InvalidServiceAccountTokenError('service account token subject does not match its kubernetes.io claim');
    // Objects deleted before this instant are gone (a graceful deletion within the leeway still counts).
    const deletedBefore = now.getTime() - TOKEN_LEEWAY_SECONDS * 1000;
    const isDeleted = (o: KubeObject) => o.metadata.deletionTimestamp !== undefined && Date.parse(o.metadata.deletionTimestamp) < deletedBefore;
    const objects = this.options.objects;

    const account = objects.getServiceAccount(namespace, sa.name);
    if (!account) throw new InvalidServiceAccountTokenError(`serviceaccounts "${sa.name}" not found`);
    if (account.metadata.uid !== sa.uid) throw new InvalidServiceAccountTokenError(`service account UID (${account.metadata.uid ?? ''}) does not match claim (${sa.uid ?? ''})`);
    if (isDeleted(account)) throw new InvalidServiceAccountTokenError(`service account ${namespace}/${sa.name} has been deleted`);

    const checkBound = (kind: string, o: KubeObject | undefined, ref: { uid?: string }) => {
      if (!o) throw new InvalidServiceAccountTokenError('service account token has been invalidated');
      if (o.metadata.uid !== ref.uid) throw new InvalidServiceAccountTokenError(`${kind} UID (${o.metadata.uid ?? ''}) does not match service account ${kind} ref claim (${ref.uid ?? ''})`);
      if (isDeleted(o)) throw new InvalidServiceAccountTokenError('service account token has been invalidated');
    };
    if (k.secret !== undefined) {
      if (!isRef(k.secret)) throw new InvalidServiceAccountTokenError('malformed secret claim');
      checkBound('secret', objects.getSecret(namespace, k.secret.name), k.secret);
    }
    const extra: Record<string, string[]> = {};
    if (k.pod !== undefined) {
      if (!isRef(k.pod)) throw new InvalidServiceAccountTokenError('malformed pod claim');
      checkBound('pod', objects.getPod(namespace, k.pod.name), k.pod);
      extra[EXTRA_POD_NAME] = [k.pod.name];
      extra[EXTRA_POD_UID] = [k.pod.uid ?? ''];
    }
    if (k.node !== undefined) {
      if (!isRef(k.node)) throw new InvalidServiceAccountTokenError('malformed node claim');
      // A pod-bound token names the pod's node for information; a node-bound one depends on the node.
      if (k.pod === undefined) checkBound('node', objects.getNode(k.node.name), k.node);
      extra[EXTRA_NODE_NAME] = [k.node.name];
      if (k.node.uid) extra[EXTRA_NODE_UID] = [k.node.uid];
    }
    if (typeof payload.jti === 'string' && payload.jti !== '') extra[EXTRA_CREDENTIAL_ID] = [`JTI=${payload.jti}`];
    if (typeof k.warnafter === 'number' && nowSeconds > k.warnafter) {
      this.options.logger?.debug({ subject: payload.sub, secondsAfterWarning: Math.floor(nowSeconds - k.warnafter) }, 'stale service account token');
    }
    const user: UserInfo = { name: serviceAccountUserName(namespace, sa.name), groups: serviceAccountGroups(namespace) };
    if (sa.uid) user.uid = sa.uid;
    if (Object.keys(extra).length > 0) user.extra = extra;
    return user;
  }

  /** The checks of Kubernetes' legacy validator (claims, Secret, account); see the file comment. */
  private verifyLegacy(token: string, payload: JWTPayload): UserInfo {
    const claim = (name: string): string => (typeof payload[name] === 'string' ? (payload[name] as string) : '');
    if (!payload.sub) throw new InvalidServiceAccountTokenError('sub claim is missing');
    const namespace = claim(LEGACY_CLAIM_NAMESPACE);
    if (!namespace) throw new InvalidServiceAccountTokenError('namespace claim is missing');
    const secretName = claim(LEGACY_CLAIM_SECRET_NAME);
    if (!secretName) throw new InvalidServiceAccountTokenError('secretName claim is missing');
    const name = claim(LEGACY_CLAIM_SERVICE_ACCOUNT_NAME);
    if (!name) throw new InvalidServiceAccountTokenError('serviceAccountName claim is missing');
    const uid = claim(LEGACY_CLAIM_SERVICE_ACCOUNT_UID);
    if (!uid) throw new InvalidServiceAccountTokenError('serviceAccountUID claim is missing');
    if (payload.sub !== serviceAccountUserName(namespace, name)) throw new InvalidServiceAccountTokenError('sub claim is invalid');

    const objects = this.options.objects;
    const secret = objects.getSecret(namespace, secretName);
    if (!secret || secret.metadata.deletionTimestamp !== undefined) throw new InvalidServiceAccountTokenError('Token has been invalidated');
    if (!holdsToken(secret, token)) throw new InvalidServiceAccountTokenError("Token does not match server's copy");
    const account = objects.getServiceAccount(namespace, name);
    if (!account) throw new InvalidServiceAccountTokenError(`serviceaccounts "${name}" not found`);
    if (account.metadata.deletionTimestamp !== undefined) throw new InvalidServiceAccountTokenError(`ServiceAccount ${namespace}/${name} has been deleted`);
    if (account.metadata.uid !== uid) throw new InvalidServiceAccountTokenError(`ServiceAccount UID (${account.metadata.uid ?? ''}) does not match claim (${uid})`);
    if (secret.metadata.labels?.[LEGACY_TOKEN_INVALID_SINCE_LABEL]) {
      throw new InvalidServiceAccountTokenError(
        `the token in secret ${namespace}/${secretName} for service account ${namespace}/${name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '${LEGACY_TOKEN_INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token`,
      );
    }
    return { name: serviceAccountUserName(namespace, name), uid, groups: serviceAccountGroups(namespace) };
  }

  /** Checks the signature (any of our keys), the issuer and exp/nbf with the leeway; a legacy token has no exp. */
  private async verifySignature(token: string, now: Date, legacy: boolean): Promise<JWTPayload> {
    let lastError: unknown;
    for (const key of this.options.publicKeys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['RS256'],
          issuer: legacy ? LEGACY_SERVICE_ACCOUNT_ISSUER : [...this.options.issuers],
          requiredClaims: legacy ? [] : ['exp'],
          clockTolerance: TOKEN_LEEWAY_SECONDS,
          currentDate: now,
        });
        return payload;
      } catch (err) {
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
          lastError = err;
          continue;
        }
        if (err instanceof joseErrors.JWTExpired) throw new InvalidServiceAccountTokenError('service account token has expired');
        if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') throw new InvalidServiceAccountTokenError('service account token is not valid yet');
        if (err instanceof joseErrors.JOSEError) throw new InvalidServiceAccountTokenError(`service account token could not be verified: ${err.message}`);
        throw err;
      }
    }
    throw new InvalidServiceAccountTokenError(lastError ? 'invalid signature' : 'no service account key to verify the token with');
  }
}
