import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, notFound, type KubeObject } from '@flotilla/api';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserInfo } from '../auth/authenticator.js';
import { authorizeNode, podReferenceGraph } from '../auth/node-authorizer.js';
import { ServiceAccountTokenAuthenticator } from '../auth/service-account-authenticator.js';
import { DEFAULT_SERVICE_ACCOUNT_ISSUER as ISSUER, ensureServiceAccountKey, type ServiceAccountKey } from '../auth/service-account-token.js';
import { schemaCodecs } from './schema-codecs.js';
import { TOKEN_REQUEST_DEFINITION, TokenRequestService, type TokenRequestOptions } from './token-request.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const ADMIN: UserInfo = { name: 'admin', groups: ['system:masters'] };
const NODE: UserInfo = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
let dir: string;
let key: ServiceAccountKey;

const objects = new Map<string, KubeObject>();
function put(resource: string, ns: string, o: KubeObject): void {
  objects.set(`${resource}/${ns}/${o.metadata.name}`, o);
}
function service(o: Partial<TokenRequestOptions> = {}): TokenRequestService {
  return new TokenRequestService({
    key,
    issuer: ISSUER,
    apiAudiences: [ISSUER],
    objects: {
      get: (resource, ns, name) => {
        const found = objects.get(`${resource}/${ns}/${name}`);
        if (!found) throw notFound({ qualifiedResource: resource, name });
        return structuredClone(found);
      },
    },
    codec: schemaCodecs()(TOKEN_REQUEST_DEFINITION),
    now: () => NOW,
    ...o,
  });
}
const request = (spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec, ...extra });

async function failure(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'token-request-'));
  key = await ensureServiceAccountKey(dir);
  put('serviceaccounts', 'ns', { metadata: { name: 'robot', namespace: 'ns', uid: 'sa-uid' } });
  put('serviceaccounts', 'ns', { metadata: { name: 'other', namespace: 'ns', uid: 'other-uid' } });
  put('pods', 'ns', { metadata: { name: 'mine', namespace: 'ns', uid: 'mine-uid' }, spec: { serviceAccountName: 'robot', nodeName: 'n1' } } as KubeObject);
  put('pods', 'ns', { metadata: { name: 'theirs', namespace: 'ns', uid: 'theirs-uid' }, spec: { serviceAccountName: 'robot', nodeName: 'n2' } } as KubeObject);
  put('pods', 'ns', { metadata: { name: 'unscheduled', namespace: 'ns', uid: 'u-uid' }, spec: { serviceAccountName: 'robot' } } as KubeObject);
  put('nodes', '', { metadata: { name: 'n1', uid: 'n1-uid' } });
  put('secrets', 'ns', { metadata: { name: 's', namespace: 'ns', uid: 's-uid' } });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('TokenRequest', () => {
  it('issues a token for the API audiences and an hour by default, with the TokenRequest as Kubernetes answers it', async () => {
    const { tokenRequest, warnings } = await service().create('ns', 'robot', request(), ADMIN);
    expect(warnings).toEqual([]);
    const status = tokenRequest['status'] as { token: string; expirationTimestamp: string };
    expect(tokenRequest).toMatchObject({
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: 'robot', namespace: 'ns', creationTimestamp: '2030-01-01T00:00:00Z' },
      spec: { audiences: [ISSUER], expirationSeconds: 3600 },
      status: { expirationTimestamp: '2030-01-01T01:00:00Z' },
    });
    const claims = decodeJwt(status.token);
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'system:serviceaccount:ns:robot', aud: [ISSUER], exp: NOW.getTime() / 1000 + 3600, 'kubernetes.io': { namespace: 'ns', serviceaccount: { name: 'robot', uid: 'sa-uid' } } });
    expect(claims['kubernetes.io']).not.toHaveProperty('pod');
  });

  it('binds to a pod (and its node), a secret or a node, checking existence, the account and the uid', async () => {
    const podBound = await service().create('ns', 'robot', request({ audiences: ['vault'], expirationSeconds: 7200, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'mine-uid' } }), ADMIN);
    const claims = decodeJwt((podBound.tokenRequest['status'] as { token: string }).token);
    expect(claims.aud).toEqual(['vault']);
    expect(claims.exp).toBe(NOW.getTime() / 1000 + 7200);
    expect(claims['kubernetes.io']).toMatchObject({ pod: { name: 'mine', uid: 'mine-uid' }, node: { name: 'n1', uid: 'n1-uid' } });
    expect((podBound.tokenRequest['spec'] as Record<string, unknown>)['boundObjectRef']).toEqual({ apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'mine-uid' });
    // The node of a pod on a node without a Node object is named without uid.
    const theirs = await service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'theirs' } }), ADMIN);
    expect(decodeJwt((theirs.tokenRequest['status'] as { token: string }).token)['kubernetes.io']).toMatchObject({ node: { name: 'n2' } });

    const secretBound = await service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: 's' } }), ADMIN);
    expect(decodeJwt((secretBound.tokenRequest['status'] as { token: string }).token)['kubernetes.io']).toMatchObject({ secret: { name: 's', uid: 's-uid' } });
    const nodeBound = await service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Node', name: 'n1' } }), ADMIN);
    expect(decodeJwt((nodeBound.tokenRequest['status'] as { token: string }).token)['kubernetes.io']).toMatchObject({ node: { name: 'n1', uid: 'n1-uid' } });

    const missing = await failure(service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'nope' } }), ADMIN));
    expect([missing.code, missing.message]).toEqual([404, 'pods "nope" not found']);
    const stale = await failure(service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'old' } }), ADMIN));
    expect([stale.code, stale.reason, stale.message]).toEqual([409, 'Conflict', 'Operation cannot be fulfilled on Pod "mine": the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated']);
    const wrongAccount = await failure(service().create('ns', 'other', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine' } }), ADMIN));
    expect([wrongAccount.code, wrongAccount.message]).toEqual([400, 'cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.']);
    const wrongKind = await failure(service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'ConfigMap', name: 'c' } }), ADMIN));
    expect([wrongKind.code, wrongKind.message]).toEqual([400, 'cannot bind token to object of type /v1, Kind=ConfigMap']);
  });

  it('needs the account and validates the lifetime and the names as Kubernetes', async () => {
    const missing = await failure(service().create('ns', 'missing', request(), ADMIN));
    expect([missing.code, missing.reason, missing.message]).toEqual([404, 'NotFound', 'serviceaccounts "missing" not found']);
    const short = await failure(service().create('ns', 'robot', request({ expirationSeconds: 599 }), ADMIN));
    expect([short.code, short.reason, short.message]).toEqual([422, 'Invalid', 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes']);
    expect(short.details).toMatchObject({ kind: 'TokenRequest', group: 'authentication.k8s.io', causes: [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds' }] });
    const long = await failure(service().create('ns', 'robot', request({ expirationSeconds: 2 ** 32 + 1 }), ADMIN));
    expect(long.message).toBe('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds');
    const name = await failure(service().create('ns', 'robot', request({}, { metadata: { name: 'other' } }), ADMIN));
    expect([name.code, name.message]).toEqual([422, 'TokenRequest.authentication.k8s.io "robot" is invalid: metadata.name: Invalid value: "other": must match the service account name if specified']);
    const kind = await failure(service().create('ns', 'robot', { apiVersion: 'v1', kind: 'Pod' }, ADMIN));
    expect(kind.code).toBe(400);
    const typed = await failure(service().create('ns', 'robot', request({ expirationSeconds: 'long' }), ADMIN));
    expect(typed.code).toBe(400);
    const strict = await failure(service().create('ns', 'robot', request({ lifetime: 3 }), ADMIN, 'Strict'));
    expect([strict.code, strict.message]).toEqual([400, 'strict decoding error: unknown field "spec.lifetime"']);
  });

  it('shortens a lifetime over the maximum with a warning, and extends the kubelet default for bound pods', async () => {
    const capped = await service({ maxExpirationSeconds: 7200 }).create('ns', 'robot', request({ expirationSeconds: 86400 }), ADMIN);
    expect(capped.warnings).toEqual(['requested expiration of 86400 seconds shortened to 7200 seconds']);
    expect(capped.tokenRequest).toMatchObject({ spec: { expirationSeconds: 7200 }, status: { expirationTimestamp: '2030-01-01T02:00:00Z' } });

    const kubelet = request({ expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine', uid: 'mine-uid' } });
    const extended = await service().create('ns', 'robot', kubelet, ADMIN);
    const claims = decodeJwt((extended.tokenRequest['status'] as { token: string }).token);
    expect(claims.exp! - claims.iat!).toBe(365 * 24 * 3600);
    expect((claims['kubernetes.io'] as { warnafter: number }).warnafter).toBe(claims.iat! + 3607);
    expect(extended.tokenRequest).toMatchObject({ status: { expirationTimestamp: '2030-01-01T01:00:07Z' } });
    const plain = decodeJwt(((await service({ extendExpiration: false }).create('ns', 'robot', kubelet, ADMIN)).tokenRequest['status'] as { token: string }).token);
    expect(plain.exp! - plain.iat!).toBe(3607);
  });

  it('issues tokens the authenticator accepts', async () => {
    const { tokenRequest } = await service().create('ns', 'robot', request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'mine' } }), ADMIN);
    const get = (resource: string, ns: string, name: string) => objects.get(`${resource}/${ns}/${name}`);
    const auth = new ServiceAccountTokenAuthenticator({
      issuers: [ISSUER],
      publicKeys: [key.publicKey],
      apiAudiences: [ISSUER],
      objects: { getServiceAccount: (ns, n) => get('serviceaccounts', ns, n), getPod: (ns, n) => get('pods', ns, n), getSecret: (ns, n) => get('secrets', ns, n), getNode: (n) => get('nodes', '', n) },
      now: () => NOW,
    });
    const user = await auth.verify((tokenRequest['status'] as { token: string }).token);
    expect(user.name).toBe('system:serviceaccount:ns:robot');
    expect(user.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['mine']);
  });
});

describe('TokenRequest by a node', () => {
  const bound = (name: string, uid?: string) => request({ boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, ...(uid ? { uid } : {}) } });

  it('may bind a token only to one of its own pods, by uid (NodeRestriction)', async () => {
    await expect(service().create('ns', 'robot', bound('mine', 'mine-uid'), NODE)).resolves.toBeDefined();
    const cases: [unknown, string][] = [
      [request(), 'node requested token not bound to a pod'],
      [request({ boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: 's' } }), 'node requested token not bound to a pod'],
      [bound('mine'), 'node requested token with a pod binding without a uid'],
      [bound('mine', 'stale'), 'the UID in the bound object reference (stale) does not match the UID in record. The object might have been deleted and then recreated'],
      [bound('theirs', 'theirs-uid'), 'node requested token bound to a pod scheduled on a different node'],
    ];
    for (const [body, why] of cases) {
      const err = await failure(service().create('ns', 'robot', body, NODE));
      expect([err.code, err.reason, err.message]).toEqual([403, 'Forbidden', `serviceaccounts "robot" is forbidden: ${why}`]);
    }
  });

  it('is authorized to create serviceaccounts/token only for the accounts of pods bound to it', () => {
    const pods = [...objects.entries()].filter(([k]) => k.startsWith('pods/')).map(([, o]) => o);
    const graph = podReferenceGraph({
      getPod: (ns, name) => objects.get(`pods/${ns}/${name}`),
      podsOnNode: (node, ns) => pods.filter((p) => p.metadata.namespace === ns && (p as { spec?: { nodeName?: string } }).spec?.nodeName === node),
      getPersistentVolume: () => undefined,
    });
    const attrs = (user: UserInfo, name: string, verb = 'create') => ({
      user,
      verb,
      path: `/api/v1/namespaces/ns/serviceaccounts/${name}/token`,
      resource: { group: '', version: 'v1', resource: 'serviceaccounts', subresource: 'token', namespace: 'ns', name },
    });
    expect(authorizeNode(attrs(NODE, 'robot'), graph)).toEqual({ allowed: true });
    expect(authorizeNode(attrs(NODE, 'other'), graph)).toEqual({ allowed: false, reason: "no relationship found between node 'n1' and this object" });
    expect(authorizeNode(attrs({ name: 'system:node:n3', groups: ['system:nodes'] }, 'robot'), graph).allowed).toBe(false);
    expect(authorizeNode(attrs(NODE, 'robot', 'get'), graph).allowed).toBe(false);
  });
});
