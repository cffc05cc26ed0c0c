/**
 * The service account tokens controller (Kubernetes' `serviceaccount-token`, `tokens_controller.go`):
 * a Secret of type `kubernetes.io/service-account-token` whose annotation
 * `kubernetes.io/service-account.name` names a ServiceAccount gets `data.token` (a long-lived
 * "legacy" JWT signed with `--service-account-private-key-file`), `data.ca.crt` (the root CA: the
 * `--root-ca-file`, else the kubeconfig's CA; restored when it differs), `data.namespace`, and the
 * annotation `kubernetes.io/service-account.uid`. A token Secret whose account does not exist, or
 * exists with another uid than its uid annotation, is deleted (uid precondition), so deleting an
 * account deletes its token Secrets. A token already present is never replaced.
 *
 * Left out, as rarely needed today: removing a deleted Secret from the account's `secrets` list, and
 * Kubernetes' legacy token tracking and cleaning (last-used and invalid-since labels).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  isConflict,
  isNotFound,
  legacyServiceAccountClaims,
  SERVICE_ACCOUNT_NAME_ANNOTATION,
  SERVICE_ACCOUNT_NAMESPACE_KEY,
  SERVICE_ACCOUNT_ROOT_CA_KEY,
  SERVICE_ACCOUNT_TOKEN_KEY,
  SERVICE_ACCOUNT_TOKEN_SECRET_TYPE,
  SERVICE_ACCOUNT_UID_ANNOTATION,
  serviceAccountKeyId,
  type KubeObject,
  type LegacyServiceAccountClaims,
} from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import { SignJWT } from 'jose';
import type { Controller, ControllerContext } from '../../controller-context.js';

const SERVICEACCOUNTS = res('serviceaccounts');
const SECRETS = res('secrets');
/** Index of token Secrets by `namespace/account name`. */
const BY_ACCOUNT_INDEX = 'serviceaccount-token/account';

interface SecretView extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The key legacy tokens are signed with: an RSA private key (RS256, what the API server verifies) and its `kid`. */
export interface LegacyTokenSigningKey {
  privateKey: KeyObject;
  keyId: string;
}

/** The signing key of a private key (`--service-account-private-key-file`); throws unless it is RSA. */
export function legacyTokenSigningKey(privateKey: KeyObject): LegacyTokenSigningKey {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') throw new Error(`the service account key must be an RSA private key (RS256), got ${privateKey.asymmetricKeyType ?? privateKey.type}`);
  return { privateKey, keyId: serviceAccountKeyId(createPublicKey(privateKey)) };
}

/** Signs a legacy token's claims into a compact JWT, RS256 with the key's `kid`, as Kubernetes' JWTTokenGenerator. */
export async function signLegacyServiceAccountToken(key: LegacyTokenSigningKey, claims: LegacyServiceAccountClaims): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: key.keyId }).sign(key.privateKey);
}

/** Decoded `data[k]` of a Secret ('' when absent). */
function dataOf(secret: SecretView, k: string): string {
  const v = secret.data?.[k];
  return v ? Buffer.from(v, 'base64').toString('utf8') : '';
}

const encode = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Fills and garbage-collects service account token Secrets. */
export class TokensController implements Controller {
  readonly name = 'serviceaccount-token-controller';
  /** Keys of token Secrets (`namespace/name`). */
  readonly queue: WorkQueue<string>;
  private readonly serviceAccounts: SharedInformer<KubeObject>;
  private readonly secrets: SharedInformer<SecretView>;

  /** `rootCa` is the PEM bundle put in `ca.crt` ('' leaves `ca.crt` alone, as Kubernetes without a CA). */
  constructor(
    private readonly ctx: ControllerContext,
    private readonly key: LegacyTokenSigningKey,
    private readonly rootCa: string,
  ) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.serviceAccounts = ctx.informers.informerFor(SERVICEACCOUNTS);
    this.secrets = ctx.informers.informerFor<SecretView>(SECRETS);
    this.secrets.addIndexer(BY_ACCOUNT_INDEX, (s) => {
      const account = s.type === SERVICE_ACCOUNT_TOKEN_SECRET_TYPE ? s.metadata.annotations?.[SERVICE_ACCOUNT_NAME_ANNOTATION] : undefined;
      return account ? [`${s.metadata.namespace ?? ''}/${account}`] : [];
    });
    const consider = (s: SecretView) => {
      if (s.type === SERVICE_ACCOUNT_TOKEN_SECRET_TYPE) this.queue.add(`${s.metadata.namespace ?? ''}/${s.metadata.name ?? ''}`);
    };
    this.secrets.addEventHandler({ onAdd: consider, onUpdate: (_old, s) => consider(s) });
    // An account gone (or replaced): its token Secrets are re-checked, and deleted.
    this.serviceAccounts.addEventHandler({
      onDelete: (sa) => {
        const o = deletedObject(sa);
        for (const s of this.secrets.lister.byIndex(BY_ACCOUNT_INDEX, `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`)) consider(s);
      },
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.serviceAccounts.waitForSync(signal), this.secrets.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Deletes the token Secret `namespace/name` when its account is gone, else fills what it lacks. */
  async sync(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const secret = this.secrets.lister.get(namespace, name);
    if (!secret || secret.type !== SERVICE_ACCOUNT_TOKEN_SECRET_TYPE) return;
    const accountName = secret.metadata.annotations?.[SERVICE_ACCOUNT_NAME_ANNOTATION] ?? '';
    if (accountName === '') return;
    const account = await this.serviceAccount(namespace, accountName, secret.metadata.annotations?.[SERVICE_ACCOUNT_UID_ANNOTATION] ?? '');
    if (!account) {
      await this.deleteToken(secret);
      return;
    }
    await this.fillIfNeeded(account, secret);
  }

  /** The account with that name (and uid, when given): the cache first, then the API server, as the cache may lag. */
  private async serviceAccount(namespace: string, name: string, uid: string): Promise<KubeObject | undefined> {
    const matches = (sa: KubeObject | undefined) => sa !== undefined && (uid === '' || sa.metadata.uid === uid);
    const cached = this.serviceAccounts.lister.get(namespace, name);
    if (matches(cached)) return cached;
    try {
      const live = await this.ctx.client.get(SERVICEACCOUNTS, namespace, name);
      return matches(live) ? live : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async deleteToken(secret: SecretView): Promise<void> {
    const { namespace = '', name = '', uid } = secret.metadata;
    try {
      // The uid precondition spares a Secret recreated under the same name meanwhile.
      await this.ctx.client.delete(SECRETS, namespace, name, uid ? { preconditions: { uid } } : {});
      this.ctx.logger.info({ namespace, secret: name, serviceAccount: secret.metadata.annotations?.[SERVICE_ACCOUNT_NAME_ANNOTATION] }, 'deleted token secret of a missing service account');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** What a Secret lacks: the CA (or a different one), the namespace, the token. */
  private needs(secret: SecretView): { ca: boolean; namespace: boolean; token: boolean } {
    return {
      ca: this.rootCa !== '' && dataOf(secret, SERVICE_ACCOUNT_ROOT_CA_KEY) !== this.rootCa,
      namespace: !secret.data?.[SERVICE_ACCOUNT_NAMESPACE_KEY],
      token: !secret.data?.[SERVICE_ACCOUNT_TOKEN_KEY],
    };
  }

  private async fillIfNeeded(account: KubeObject, cached: SecretView): Promise<void> {
    const wanted = this.needs(cached);
    if (!wanted.ca && !wanted.namespace && !wanted.token) return;
    // Work on a fresh copy; if the cache is behind, the update event to come brings the key back.
    let live: SecretView;
    try {
      live = await this.ctx.client.get<SecretView>(SECRETS, cached.metadata.namespace ?? '', cached.metadata.name ?? '');
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (live.metadata.resourceVersion !== cached.metadata.resourceVersion) return;
    const needs = this.needs(live);
    if (!needs.ca && !needs.namespace && !needs.token) return;
    const namespace = live.metadata.namespace ?? '';
    const data = { ...(live.data ?? {}) };
    if (needs.ca) data[SERVICE_ACCOUNT_ROOT_CA_KEY] = encode(this.rootCa);
    if (needs.namespace) data[SERVICE_ACCOUNT_NAMESPACE_KEY] = encode(namespace);
    if (needs.token) {
      const claims = legacyServiceAccountClaims({ namespace, name: account.metadata.name ?? '', uid: account.metadata.uid ?? '' }, live.metadata.name ?? '');
      data[SERVICE_ACCOUNT_TOKEN_KEY] = encode(await signLegacyServiceAccountToken(this.key, claims));
    }
    const next: SecretView = {
      ...live,
      metadata: { ...live.metadata, annotations: { ...(live.metadata.annotations ?? {}), [SERVICE_ACCOUNT_NAME_ANNOTATION]: account.metadata.name ?? '', [SERVICE_ACCOUNT_UID_ANNOTATION]: account.metadata.uid ?? '' } },
      data,
    };
    try {
      await this.ctx.client.update(SECRETS, next);
      this.ctx.logger.debug({ namespace, secret: live.metadata.name, token: needs.token, ca: needs.ca }, 'populated service account token secret');
    } catch (err) {
      // Changed meanwhile (its update event re-queues it) or gone: nothing to do now.
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
}
