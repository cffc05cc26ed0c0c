/**
 * `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`: an authentication.k8s.io/v1 TokenRequest
 * answered with a signed service account token (201), as Kubernetes' TokenREST
 * (`pkg/registry/core/serviceaccount/storage/token.go`); nothing is stored.
 *
 * - The account must exist (404 `serviceaccounts "NAME" not found`); metadata.name/namespace in the
 *   body, when given, must match the URL (422).
 * - spec.audiences defaults to the API audiences, spec.expirationSeconds to 3600; less than 600 s or
 *   more than 2^32 s is a 422; the server's maximum (`--service-account-max-token-expiration`)
 *   shortens a longer request with a warning.
 * - spec.boundObjectRef may name a Pod (which must run as this account; its node goes into the token
 *   too), a Secret or a Node of the namespace; it must exist (404) and match a given uid (409).
 * - A node (`system:node:NAME`) must bind the token to a pod scheduled on itself, with its uid
 *   (Kubernetes' NodeRestriction admission; 403 otherwise).
 * - A pod-bound token asked for 3607 s for the API audiences is issued for a year with a `warnafter`
 *   at the hour when expiration extension is on (the kubelet's default projected token), as
 *   kube-apiserver's `--service-account-extend-token-expiration`; status.expirationTimestamp stays the
 *   requested one, so clients still renew it in time.
 */
import { ApiError, badRequest, conflict, forbidden, formatTime, invalid, type FieldError, type KubeObject, type ResourceInfo } from '@flotilla/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UserInfo } from '../auth/authenticator.js';
import { NODE_USER_PREFIX, NODES_GROUP } from '../auth/node-authorizer.js';
import {
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  EXPIRATION_EXTENSION_SECONDS,
  MAX_TOKEN_EXPIRATION_SECONDS,
  MIN_TOKEN_EXPIRATION_SECONDS,
  serviceAccountClaims,
  signServiceAccountToken,
  WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS,
  type ClaimRef,
  type ServiceAccountKey,
} from '../auth/service-account-token.js';
import { decodeObjectBody } from '../http/body.js';
import { fieldValidationOf } from '../http/negotiation.js';
import { requestTarget, type RequestInfo } from '../http/request-info.js';
import type { FieldValidation, KindCodec } from './codec.js';
import { decodeObject } from './generic-store.js';

/** The TokenRequest kind, for decoding. */
const TOKEN_REQUEST: ResourceInfo = {
  group: 'authentication.k8s.io',
  version: 'v1',
  kind: 'TokenRequest',
  listKind: 'TokenRequestList',
  plural: 'tokenrequests',
  singular: 'tokenrequest',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: ['create'],
  subresources: [],
};

/** Schema definition of the TokenRequest kind. */
export const TOKEN_REQUEST_DEFINITION = 'io.k8s.api.authentication.v1.TokenRequest';

/** Reads objects for a TokenRequest; `get` throws Kubernetes' NotFound (`pods "p" not found`). */
export interface TokenRequestObjects {
  get(resource: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string, name: string): KubeObject;
}

/** What the TokenRequest endpoint needs. */
export interface TokenRequestOptions {
  key: ServiceAccountKey;
  /** The issuer written into tokens (the first `--service-account-issuer`). */
  issuer: string;
  /** The API server's audiences: the default audiences of a token. */
  apiAudiences: readonly string[];
  /** `--service-account-max-token-expiration` in seconds; 0 or unset = no maximum. */
  maxExpirationSeconds?: number;
  /** `--service-account-extend-token-expiration` (default true). */
  extendExpiration?: boolean;
  objects: TokenRequestObjects;
  /** Decoder of TokenRequest bodies (the schema codec of {@link TOKEN_REQUEST_DEFINITION}). */
  codec: KindCodec;
  now?: () => Date;
}

interface BoundObjectReference {
  kind?: string;
  apiVersion?: string;
  name?: string;
  uid?: string;
}

interface TokenRequestBody extends KubeObject {
  spec?: { audiences?: string[] | null; expirationSeconds?: number | null; boundObjectRef?: BoundObjectReference | null };
}

/** The answer of a TokenRequest: the TokenRequest with its status, and warnings for the client. */
export interface IssuedTokenRequest {
  tokenRequest: Record<string, unknown>;
  warnings: string[];
}

function invalidTokenRequest(name: string, errors: FieldError[]): ApiError {
  const err = invalid(`${TOKEN_REQUEST.kind}.${TOKEN_REQUEST.group}`, name, TOKEN_REQUEST.group, errors);
  err.details!.kind = TOKEN_REQUEST.kind;
  return err;
}

function isNode(user: UserInfo): boolean {
  return user.name.startsWith(NODE_USER_PREFIX) && user.groups.includes(NODES_GROUP);
}

/** Issues service account tokens for TokenRequests; see the file comment. */
export class TokenRequestService {
  private readonly now: () => Date;

  constructor(private readonly options: TokenRequestOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Handles one TokenRequest for the account `namespace/name` by `user`. */
  async create(namespace: string, name: string, body: unknown, user: UserInfo, fieldValidation: FieldValidation = 'Warn'): Promise<IssuedTokenRequest> {
    const o = this.options;
    const warnings: string[] = [];
    const req = decodeObject(o.codec, TOKEN_REQUEST, body, fieldValidation, warnings) as TokenRequestBody;
    if (req.metadata.name && req.metadata.name !== name) {
      throw invalidTokenRequest(name, [{ type: 'FieldValueInvalid', field: 'metadata.name', message: `${JSON.stringify(req.metadata.name)}: must match the service account name if specified` }]);
    }
    if (req.metadata.namespace && req.metadata.namespace !== namespace) {
      throw invalidTokenRequest(name, [{ type: 'FieldValueInvalid', field: 'metadata.namespace', message: `${JSON.stringify(req.metadata.namespace)}: must match the service account namespace if specified` }]);
    }
    const account = o.objects.get('serviceaccounts', namespace, name);
    const spec = req.spec ?? {};
    const audiences = spec.audiences && spec.audiences.length > 0 ? [...spec.audiences] : [...o.apiAudiences];
    let expirationSeconds = spec.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS;
    const ref = spec.boundObjectRef ?? undefined;
    const now = this.now();

    const errors: FieldError[] = [];
    if (expirationSeconds < MIN_TOKEN_EXPIRATION_SECONDS) errors.push({ type: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `${expirationSeconds}: may not specify a duration less than 10 minutes` });
    if (expirationSeconds > MAX_TOKEN_EXPIRATION_SECONDS) errors.push({ type: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `${expirationSeconds}: may not specify a duration larger than 2^32 seconds` });
    if (errors.length > 0) throw invalidTokenRequest('', errors);

    if (isNode(user)) this.admitNodeRequest(user.name.slice(NODE_USER_PREFIX.length), namespace, name, ref);

    let pod: ClaimRef | undefined;
    let secret: ClaimRef | undefined;
    let node: { name: string; uid?: string } | undefined;
    if (ref) {
      const group = ref.apiVersion?.includes('/') ? ref.apiVersion.slice(0, ref.apiVersion.indexOf('/')) : '';
      const refName = ref.name ?? '';
      let uid: string;
      if (group === '' && ref.kind === 'Pod') {
        const p = o.objects.get('pods', namespace, refName) as KubeObject & { spec?: { serviceAccountName?: string; nodeName?: string } };
        if ((p.spec?.serviceAccountName ?? '') !== name) throw badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with different serviceaccount name.`);
        uid = p.metadata.uid ?? '';
        pod = { name: p.metadata.name ?? refName, uid };
        const nodeName = p.spec?.nodeName;
        if (nodeName) {
          let nodeUid: string | undefined;
          try {
            nodeUid = o.objects.get('nodes', '', nodeName).metadata.uid;
          } catch (err) {
            // A missing Node still names the node in the token (without uid), as Kubernetes does.
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
          node = nodeUid ? { name: nodeName, uid: nodeUid } : { name: nodeName };
        }
      } else if (group === '' && ref.kind === 'Node') {
        const n = o.objects.get('nodes', '', refName);
        uid = n.metadata.uid ?? '';
        node = { name: n.metadata.name ?? refName, uid };
      } else if (group === '' && ref.kind === 'Secret') {
        const s = o.objects.get('secrets', namespace, refName);
        uid = s.metadata.uid ?? '';
        secret = { name: s.metadata.name ?? refName, uid };
      } else {
        // Go's GroupVersionKind.String(): `/v1, Kind=ConfigMap`, `apps/v1, Kind=Deployment`.
        const version = ref.apiVersion?.includes('/') ? ref.apiVersion.slice(ref.apiVersion.indexOf('/') + 1) : (ref.apiVersion ?? '');
        throw badRequest(`cannot bind token to object of type ${group}/${version}, Kind=${ref.kind ?? ''}`);
      }
      if (ref.uid && ref.uid !== uid) {
        throw conflict({ qualifiedResource: ref.kind ?? '', name: refName }, `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
      }
    }

    if (o.maxExpirationSeconds && o.maxExpirationSeconds > 0 && expirationSeconds > o.maxExpirationSeconds) {
      warnings.push(`requested expiration of ${expirationSeconds} seconds shortened to ${o.maxExpirationSeconds} seconds`);
      expirationSeconds = o.maxExpirationSeconds;
    }
    let lifetime = expirationSeconds;
    let warnAfterSeconds: number | undefined;
    if ((o.extendExpiration ?? true) && pod && expirationSeconds === WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS && audiences.every((a) => o.apiAudiences.includes(a))) {
      warnAfterSeconds = expirationSeconds;
      lifetime = EXPIRATION_EXTENSION_SECONDS;
    }

    const claims = serviceAccountClaims({
      issuer: o.issuer,
      namespace,
      serviceAccount: { name, uid: account.metadata.uid ?? '' },
      audiences,
      expirationSeconds: lifetime,
      ...(warnAfterSeconds !== undefined ? { warnAfterSeconds } : {}),
      ...(pod ? { pod } : {}),
      ...(secret ? { secret } : {}),
      ...(node ? { node } : {}),
      now,
    });
    const token = await signServiceAccountToken(o.key, claims);
    const outSpec: Record<string, unknown> = { audiences, expirationSeconds };
    if (ref) outSpec['boundObjectRef'] = ref;
    return {
      tokenRequest: {
        kind: TOKEN_REQUEST.kind,
        apiVersion: `${TOKEN_REQUEST.group}/${TOKEN_REQUEST.version}`,
        metadata: { name, namespace, creationTimestamp: formatTime(now) },
        spec: outSpec,
        status: { token, expirationTimestamp: formatTime(new Date(now.getTime() + expirationSeconds * 1000)) },
      },
      warnings,
    };
  }

  /** Kubernetes' NodeRestriction for TokenRequests: a node's token must be bound to one of its pods, by uid. */
  private admitNodeRequest(nodeName: string, namespace: string, name: string, ref: BoundObjectReference | undefined): void {
    const refuse = (why: string) => forbidden({ qualifiedResource: 'serviceaccounts', name }, why);
    if (!ref || ref.apiVersion !== 'v1' || ref.kind !== 'Pod' || !ref.name) throw refuse('node requested token not bound to a pod');
    if (!ref.uid) throw refuse('node requested token with a pod binding without a uid');
    const p = this.options.objects.get('pods', namespace, ref.name) as KubeObject & { spec?: { nodeName?: string } };
    if (ref.uid !== p.metadata.uid) throw refuse(`the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    if (p.spec?.nodeName !== nodeName) throw refuse('node requested token bound to a pod scheduled on a different node');
  }

  /** The handler of the `token` subresource (`POST serviceaccounts/NAME/token`) for the resource handler. */
  handler(): (req: FastifyRequest, reply: FastifyReply, info: RequestInfo) => Promise<void> {
    return async (req, reply, info) => {
      if (info.resource?.plural !== 'serviceaccounts' || info.resource.group !== '') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
      if (info.verb !== 'create') throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
      const { query } = requestTarget(req);
      const user = req.user ?? { name: 'system:anonymous', groups: [] };
      const { tokenRequest, warnings } = await this.create(info.namespace, info.name, body, user, fieldValidationOf(query));
      if (warnings.length > 0) reply.header('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '));
      await reply.code(201).type('application/json').send(JSON.stringify(tokenRequest));
    };
  }
}
