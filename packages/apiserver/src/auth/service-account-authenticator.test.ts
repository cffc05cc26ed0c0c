import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, LEGACY_CLAIM_SERVICE_ACCOUNT_UID, legacyServiceAccountClaims, type KubeObject } from '@flotilla/api';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnionAuthenticator, type AuthRequest } from './authenticator.js';
import { InvalidServiceAccountTokenError, ServiceAccountTokenAuthenticator } from './service-account-authenticator.js';
import { DEFAULT_SERVICE_ACCOUNT_ISSUER as ISSUER, ensureServiceAccountKey, jwksOf, keyIdOf, serviceAccountClaims, signServiceAccountToken, type ServiceAccountKey } from './service-account-token.js';

const NOW = new Date('2030-01-01T00:00:00Z');
let dir: string;
let key: ServiceAccountKey;

const obj = (name: string, uid: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({ metadata: { name, namespace: 'ns', uid, ...extra } });
const accounts = new Map<string, KubeObject>();
const pods = new Map<string, KubeObject>();
const secrets = new Map<string, KubeObject>();
const nodes = new Map<string, KubeObject>();
let clock = NOW;
const authenticator = () =>
  new ServiceAccountTokenAuthenticator({
    issuers: [ISSUER],
    publicKeys: [key.publicKey],
    apiAudiences: [ISSUER],
    objects: {
      getServiceAccount: (ns, n) => accounts.get(`${ns}/${n}`),
      getPod: (ns, n) => pods.get(`${ns}/${n}`),
      getSecret: (ns, n) => secrets.get(`${ns}/${n}`),
      getNode: (n) => nodes.get(n),
    },
    now: () => clock,
  });
const bearer = (t: string): AuthRequest => ({ headers: { authorization: `Bearer ${t}` }, socket: undefined });

async function token(o: Partial<Parameters<typeof serviceAccountClaims>[0]> = {}, signWith: ServiceAccountKey = key): Promise<string> {
  return signServiceAccountToken(signWith, serviceAccountClaims({ issuer: ISSUER, namespace: 'ns', serviceAccount: { name: 'robot', uid: 'sa-uid' }, audiences: [ISSUER], expirationSeconds: 3600, now: NOW, ...o }));
}

async function refusal(t: string): Promise<string> {
  try {
    await authenticator().verify(t);
  } catch (err) {
    if (err instanceof InvalidServiceAccountTokenError) return err.message;
    throw err;
  }
  throw new Error('the token was accepted');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sa-key-'));
  key = await ensureServiceAccountKey(join(dir, 'pki'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function reset(): void {
  clock = NOW;
  accounts.clear();
  pods.clear();
  secrets.clear();
  nodes.clear();
  accounts.set('ns/robot', obj('robot', 'sa-uid'));
}

describe('service account signing key', () => {
  it('is generated once (0600 private, 0644 public) and the same key is loaded afterwards', async () => {
    expect((await stat(join(dir, 'pki', 'sa.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'pki', 'sa.pub'))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, 'pki', 'sa.key'), 'utf8')).toContain('BEGIN RSA PRIVATE KEY');
    const again = await ensureServiceAccountKey(join(dir, 'pki'));
    expect(again.keyId).toBe(key.keyId);
    expect(key.keyId).toBe(keyIdOf(key.publicKey));
  });

  it('publishes the public key as a JWKS entry with the tokens kid', async () => {
    const jwks = await jwksOf([key]);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: key.keyId, e: 'AQAB' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });
});

describe('service account token claims', () => {
  it('carries the claims of Kubernetes tokens, signed RS256 with the key id', async () => {
    const t = await token({ pod: { name: 'p', uid: 'pod-uid' }, node: { name: 'n1', uid: 'node-uid' }, jti: 'the-id' });
    expect(decodeProtectedHeader(t)).toEqual({ alg: 'RS256', kid: key.keyId });
    const now = NOW.getTime() / 1000;
    expect(decodeJwt(t)).toEqual({
      iss: ISSUER,
      sub: 'system:serviceaccount:ns:robot',
      aud: [ISSUER],
      exp: now + 3600,
      iat: now,
      nbf: now,
      jti: 'the-id',
      'kubernetes.io': { namespace: 'ns', serviceaccount: { name: 'robot', uid: 'sa-uid' }, pod: { name: 'p', uid: 'pod-uid' }, node: { name: 'n1', uid: 'node-uid' } },
    });
  });

  it('writes warnafter for extended tokens, a random jti otherwise, and refuses two bindings', () => {
    const c = serviceAccountClaims({ issuer: ISSUER, namespace: 'ns', serviceAccount: { name: 'robot', uid: 'u' }, audiences: ['a'], expirationSeconds: 100, warnAfterSeconds: 10, now: NOW });
    expect(c['kubernetes.io'].warnafter).toBe(NOW.getTime() / 1000 + 10);
    expect(c.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => serviceAccountClaims({ issuer: ISSUER, namespace: 'ns', serviceAccount: { name: 'r', uid: 'u' }, audiences: [], expirationSeconds: 1, secret: { name: 's', uid: 'x' }, pod: { name: 'p', uid: 'y' }, now: NOW })).toThrow(/one object/);
  });
});

describe('ServiceAccountTokenAuthenticator', () => {
  it('authenticates the account with its groups, uid and extra', async () => {
    reset();
    pods.set('ns/p', obj('p', 'pod-uid'));
    const user = await authenticator().authenticate(bearer(await token({ pod: { name: 'p', uid: 'pod-uid' }, node: { name: 'n1', uid: 'node-uid' }, jti: 'j1' })));
    expect(user).toEqual({
      name: 'system:serviceaccount:ns:robot',
      uid: 'sa-uid',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:ns'],
      extra: {
        'authentication.kubernetes.io/pod-name': ['p'],
        'authentication.kubernetes.io/pod-uid': ['pod-uid'],
        'authentication.kubernetes.io/node-name': ['n1'],
        'authentication.kubernetes.io/node-uid': ['node-uid'],
        'authentication.kubernetes.io/credential-id': ['JTI=j1'],
      },
    });
    const union = await new UnionAuthenticator([authenticator()]).authenticate(bearer(await token()));
    expect(union?.groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:ns', 'system:authenticated']);
  });

  it('leaves bearers that are not our JWTs to the next authenticator', async () => {
    reset();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const foreign = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256' }).setIssuer('https://elsewhere').setExpirationTime('1h').sign(other);
    for (const t of ['static-token', 'abcdef.0123456789abcdef', 'a.b.c', foreign]) expect(await authenticator().authenticate(bearer(t)), t).toBeUndefined();
    expect(await authenticator().authenticate({ headers: {}, socket: undefined })).toBeUndefined();
  });

  it('answers an invalid token of our issuer with 401', async () => {
    reset();
    clock = new Date(NOW.getTime() + 2 * 3600_000);
    const err = await authenticator().authenticate(bearer(await token())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(401);
    expect((err as ApiError).reason).toBe('Unauthorized');
  });

  it('refuses expired tokens after a minute of leeway, and tokens not valid yet', async () => {
    reset();
    const t = await token({ expirationSeconds: 600 });
    clock = new Date(NOW.getTime() + 650_000);
    await expect(authenticator().verify(t)).resolves.toBeDefined();
    clock = new Date(NOW.getTime() + 661_000);
    expect(await refusal(t)).toBe('service account token has expired');
    clock = new Date(NOW.getTime() - 120_000);
    expect(await refusal(t)).toBe('service account token is not valid yet');
  });

  it('refuses a wrong audience, a tampered payload or signature, and another key', async () => {
    reset();
    expect(await refusal(await token({ audiences: ['vault'] }))).toBe('token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]');
    const t = await token();
    const [h, p, s] = t.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${s}`;
    expect(await refusal(forged)).toBe('invalid signature');
    expect(await refusal(`${h}.${p}.${s.slice(0, -4)}AAAA`)).toBe('invalid signature');
    const otherKey = await ensureServiceAccountKey(join(dir, 'other-pki'));
    expect(await refusal(await token({}, otherKey))).toBe('invalid signature');
  });

  it('refuses tokens of deleted accounts and of an account recreated with another uid', async () => {
    reset();
    const t = await token();
    accounts.delete('ns/robot');
    expect(await refusal(t)).toBe('serviceaccounts "robot" not found');
    accounts.set('ns/robot', obj('robot', 'new-uid'));
    expect(await refusal(t)).toBe('service account UID (new-uid) does not match claim (sa-uid)');
    accounts.set('ns/robot', obj('robot', 'sa-uid', { deletionTimestamp: '2029-12-31T23:58:00Z' }));
    expect(await refusal(t)).toBe('service account ns/robot has been deleted');
    accounts.set('ns/robot', obj('robot', 'sa-uid', { deletionTimestamp: '2029-12-31T23:59:30Z' }));
    await expect(authenticator().verify(t)).resolves.toBeDefined();
  });

  it('refuses tokens whose bound pod, secret or node is gone or replaced', async () => {
    reset();
    const podToken = await token({ pod: { name: 'p', uid: 'pod-uid' }, node: { name: 'gone-node' } });
    pods.set('ns/p', obj('p', 'pod-uid'));
    // A pod-bound token does not depend on the node it names.
    await expect(authenticator().verify(podToken)).resolves.toBeDefined();
    pods.set('ns/p', obj('p', 'pod-uid', { deletionTimestamp: '2029-12-31T23:58:00Z' }));
    expect(await refusal(podToken)).toBe('service account token has been invalidated');
    pods.delete('ns/p');
    expect(await refusal(podToken)).toBe('service account token has been invalidated');
    pods.set('ns/p', obj('p', 'other-uid'));
    expect(await refusal(podToken)).toBe('pod UID (other-uid) does not match service account pod ref claim (pod-uid)');

    const secretToken = await token({ secret: { name: 's', uid: 'secret-uid' } });
    expect(await refusal(secretToken)).toBe('service account token has been invalidated');
    secrets.set('ns/s', obj('s', 'secret-uid'));
    await expect(authenticator().verify(secretToken)).resolves.toBeDefined();

    const nodeToken = await token({ node: { name: 'n1', uid: 'node-uid' } });
    expect(await refusal(nodeToken)).toBe('service account token has been invalidated');
    nodes.set('n1', { metadata: { name: 'n1', uid: 'node-uid' } });
    expect((await authenticator().verify(nodeToken)).extra?.['authentication.kubernetes.io/node-name']).toEqual(['n1']);
  });
});

describe('legacy (Secret-based) service account tokens', () => {
  /** A legacy token as the controller manager signs it (iss kubernetes/serviceaccount, no exp). */
  async function legacyToken(claims: Record<string, unknown> = legacyServiceAccountClaims({ namespace: 'ns', name: 'robot', uid: 'sa-uid' }, 'robot-token'), signWith: ServiceAccountKey = key): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signWith.keyId }).sign(signWith.privateKey);
  }
  const tokenSecret = (t: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({ ...obj('robot-token', 'secret-uid', extra), type: 'kubernetes.io/service-account-token', data: { token: Buffer.from(t).toString('base64') } });

  it('authenticates the account (uid, groups, no extra) while its Secret holds the token, long after issue', async () => {
    reset();
    const t = await legacyToken();
    expect(decodeJwt(t)).toEqual({
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:ns:robot',
      'kubernetes.io/serviceaccount/namespace': 'ns',
      'kubernetes.io/serviceaccount/secret.name': 'robot-token',
      'kubernetes.io/serviceaccount/service-account.name': 'robot',
      'kubernetes.io/serviceaccount/service-account.uid': 'sa-uid',
    });
    secrets.set('ns/robot-token', tokenSecret(t));
    clock = new Date(NOW.getTime() + 10 * 365 * 24 * 3600_000);
    expect(await authenticator().authenticate(bearer(t))).toEqual({ name: 'system:serviceaccount:ns:robot', uid: 'sa-uid', groups: ['system:serviceaccounts', 'system:serviceaccounts:ns'] });
  });

  it('answers 401 once the Secret is deleted, being deleted, changed or marked invalid', async () => {
    reset();
    const t = await legacyToken();
    const err = await authenticator().authenticate(bearer(t)).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe(401);
    expect(await refusal(t)).toBe('Token has been invalidated');
    secrets.set('ns/robot-token', tokenSecret(t, { deletionTimestamp: '2029-12-31T23:59:59Z' }));
    expect(await refusal(t)).toBe('Token has been invalidated');
    secrets.set('ns/robot-token', tokenSecret(`${t}x`));
    expect(await refusal(t)).toBe("Token does not match server's copy");
    secrets.set('ns/robot-token', { ...obj('robot-token', 'secret-uid'), data: {} });
    expect(await refusal(t)).toBe("Token does not match server's copy");
    secrets.set('ns/robot-token', tokenSecret(t, { labels: { 'kubernetes.io/legacy-token-invalid-since': '2029-01-01' } }));
    expect(await refusal(t)).toBe(
      "the token in secret ns/robot-token for service account ns/robot has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
    );
  });

  it('refuses the token of a deleted or recreated account', async () => {
    reset();
    const t = await legacyToken();
    secrets.set('ns/robot-token', tokenSecret(t));
    accounts.delete('ns/robot');
    expect(await refusal(t)).toBe('serviceaccounts "robot" not found');
    accounts.set('ns/robot', obj('robot', 'sa-uid', { deletionTimestamp: '2029-12-31T23:59:59Z' }));
    expect(await refusal(t)).toBe('ServiceAccount ns/robot has been deleted');
    accounts.set('ns/robot', obj('robot', 'new-uid'));
    expect(await refusal(t)).toBe('ServiceAccount UID (new-uid) does not match claim (sa-uid)');
  });

  it('refuses missing claims, a mismatched subject, another key and an audience not ours', async () => {
    reset();
    const good = legacyServiceAccountClaims({ namespace: 'ns', name: 'robot', uid: 'sa-uid' }, 'robot-token');
    const { [LEGACY_CLAIM_SERVICE_ACCOUNT_UID]: _uid, ...noUid } = good;
    expect(await refusal(await legacyToken(noUid))).toBe('serviceAccountUID claim is missing');
    expect(await refusal(await legacyToken({ ...good, 'kubernetes.io/serviceaccount/secret.name': '' }))).toBe('secretName claim is missing');
    expect(await refusal(await legacyToken({ ...good, sub: 'system:serviceaccount:kube-system:robot' }))).toBe('sub claim is invalid');
    const otherKey = await ensureServiceAccountKey(join(dir, 'other-pki'));
    expect(await refusal(await legacyToken(good, otherKey))).toBe('invalid signature');
    expect(await refusal(await legacyToken({ ...good, aud: ['vault'] }))).toMatch(/^token audiences \["vault"\] is invalid/);
  });
});
