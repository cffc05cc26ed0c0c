import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conflict, internalError, serviceAccountKeyId, type KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTROLLERS } from '../../controllers.js';
import { readServiceAccountPrivateKey } from '../../service-account-private-key.js';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { legacyTokenSigningKey, TokensController, type LegacyTokenSigningKey } from './tokens-controller.js';

const SERVICEACCOUNTS = res('serviceaccounts');
const SECRETS = res('secrets');
const TYPE = 'kubernetes.io/service-account-token';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

interface SecretView extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

let privateKey: KeyObject;
let key: LegacyTokenSigningKey;
let dir: string;

beforeAll(() => {
  privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  key = legacyTokenSigningKey(privateKey);
  dir = mkdtempSync(join(tmpdir(), 'sa-token-key-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

function sa(namespace: string, name: string, uid = `uid-${namespace}-${name}`): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, uid } };
}

function secret(namespace: string, name: string, account: string | undefined, o: { uid?: string; data?: Record<string, string>; type?: string } = {}): SecretView {
  const annotations: Record<string, string> = {};
  if (account !== undefined) annotations['kubernetes.io/service-account.name'] = account;
  if (o.uid !== undefined) annotations['kubernetes.io/service-account.uid'] = o.uid;
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, uid: `secret-uid-${name}`, annotations }, type: o.type ?? TYPE, ...(o.data ? { data: o.data } : {}) };
}

describe('TokensController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(accounts: KubeObject[], secrets: KubeObject[], rootCa = CA): Promise<TokensController> {
    t = testContext([
      { resource: SERVICEACCOUNTS, objects: accounts },
      { resource: SECRETS, objects: secrets },
    ]);
    const c = new TokensController(t.ctx, key, rootCa);
    await t.start();
    return c;
  }

  /** Syncs until the queue is empty (our own updates bring keys back once); the distinct keys synced. */
  async function drain(c: TokensController): Promise<string[]> {
    return [...new Set(await drainQueue(c, () => t.settle()))].sort();
  }

  it('fills a token Secret with a legacy token, the CA and the namespace, and records the account uid', async () => {
    const c = await setup([sa('ns', 'build-robot')], [secret('ns', 'build-robot-secret', 'build-robot', { data: { extra: b64('kept') } }), secret('ns', 'opaque', undefined, { type: 'Opaque' })]);
    expect(await drain(c)).toEqual(['ns/build-robot-secret']);
    expect(t.client.writes().map((w) => [w.verb, w.resource, w.namespace, w.name])).toEqual([['update', 'secrets', 'ns', 'build-robot-secret']]);
    const got = t.client.peek<SecretView>(SECRETS, 'ns', 'build-robot-secret')!;
    expect(Object.keys(got.data ?? {}).sort()).toEqual(['ca.crt', 'extra', 'namespace', 'token']);
    expect(unb64(got.data?.['ca.crt'])).toBe(CA);
    expect(unb64(got.data?.['namespace'])).toBe('ns');
    expect(unb64(got.data?.['extra'])).toBe('kept');
    expect(got.metadata.annotations).toEqual({ 'kubernetes.io/service-account.name': 'build-robot', 'kubernetes.io/service-account.uid': 'uid-ns-build-robot' });

    const token = unb64(got.data?.['token']);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: serviceAccountKeyId(createPublicKey(privateKey)) });
    const { payload } = await jwtVerify(token, createPublicKey(privateKey), { algorithms: ['RS256'] });
    expect(payload).toEqual({
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:ns:build-robot',
      'kubernetes.io/serviceaccount/namespace': 'ns',
      'kubernetes.io/serviceaccount/secret.name': 'build-robot-secret',
      'kubernetes.io/serviceaccount/service-account.name': 'build-robot',
      'kubernetes.io/serviceaccount/service-account.uid': 'uid-ns-build-robot',
    });
  });

  it('leaves a filled Secret alone, never replaces a token, and restores a changed CA', async () => {
    const filled = secret('ns', 'tok', 'robot', { uid: 'uid-ns-robot', data: { token: b64('existing'), 'ca.crt': b64(CA), namespace: b64('ns') } });
    const c = await setup([sa('ns', 'robot')], [filled]);
    await drain(c);
    expect(t.client.writes()).toEqual([]);

    const cur = t.client.peek<SecretView>(SECRETS, 'ns', 'tok')!;
    await t.client.update(SECRETS, { ...cur, data: { ...cur.data, 'ca.crt': b64('forged') } });
    await t.settle();
    expect(await drain(c)).toEqual(['ns/tok']);
    const after = t.client.peek<SecretView>(SECRETS, 'ns', 'tok')!;
    expect(unb64(after.data?.['ca.crt'])).toBe(CA);
    expect(unb64(after.data?.['token'])).toBe('existing');
  });

  it('without a root CA leaves ca.crt as it is', async () => {
    const c = await setup([sa('ns', 'robot')], [secret('ns', 'tok', 'robot', { data: { token: b64('existing'), namespace: b64('ns') } })], '');
    await drain(c);
    expect(t.client.writes()).toEqual([]);
  });

  it('deletes, with a uid precondition, a token Secret whose account is missing or has another uid', async () => {
    const c = await setup([sa('ns', 'robot')], [secret('ns', 'orphan', 'nobody'), secret('ns', 'stale', 'robot', { uid: 'old-uid' }), secret('other', 'elsewhere', 'robot')]);
    expect(await drain(c)).toEqual(['ns/orphan', 'ns/stale', 'other/elsewhere']);
    const writes = t.client.writes();
    expect(writes.map((w) => [w.verb, w.namespace, w.name, w.object])).toEqual([
      ['delete', 'ns', 'orphan', { preconditions: { uid: 'secret-uid-orphan' } }],
      ['delete', 'ns', 'stale', { preconditions: { uid: 'secret-uid-stale' } }],
      ['delete', 'other', 'elsewhere', { preconditions: { uid: 'secret-uid-elsewhere' } }],
    ]);
    // The API server was asked before each deletion, as the cache may lag behind a new account.
    expect(t.client.actions.filter((a) => a.verb === 'get' && a.resource === 'serviceaccounts').map((a) => `${a.namespace}/${a.name}`)).toEqual(['ns/nobody', 'ns/robot', 'other/robot']);
    expect(t.client.all(SECRETS)).toEqual([]);
  });

  it('fills a Secret whose account the cache does not have yet but the API server has', async () => {
    const c = await setup([], [secret('ns', 'tok', 'robot')]);
    await t.client.create(SERVICEACCOUNTS, 'ns', sa('ns', 'robot'));
    // Straight to sync, before the informer has seen the account.
    await c.sync('ns/tok');
    const got = t.client.peek<SecretView>(SECRETS, 'ns', 'tok')!;
    expect(got.data?.['token']).toBeDefined();
    expect(t.client.writes().filter((w) => w.resource === 'secrets').map((w) => w.verb)).toEqual(['update']);
  });

  it('deletes the token Secrets of a deleted account, and only those', async () => {
    const c = await setup(
      [sa('ns', 'robot'), sa('ns', 'other')],
      [secret('ns', 'tok-a', 'robot'), secret('ns', 'tok-b', 'robot'), secret('ns', 'other-tok', 'other'), secret('ns', 'opaque', 'robot', { type: 'Opaque' })],
    );
    await drain(c);
    const before = t.client.writes().length;
    await t.client.delete(SERVICEACCOUNTS, 'ns', 'robot');
    await t.settle();
    expect(await drain(c)).toEqual(['ns/tok-a', 'ns/tok-b']);
    expect(t.client.writes().slice(before + 1).map((w) => [w.verb, w.name])).toEqual([
      ['delete', 'tok-a'],
      ['delete', 'tok-b'],
    ]);
    expect(t.client.all(SECRETS, 'ns').map((s) => s.metadata.name).sort()).toEqual(['opaque', 'other-tok']);
  });

  it('ignores other Secret types and token Secrets naming no account', async () => {
    const c = await setup([sa('ns', 'robot')], [secret('ns', 'opaque', 'robot', { type: 'Opaque' }), secret('ns', 'unnamed', undefined)]);
    expect(await drain(c)).toEqual(['ns/unnamed']);
    expect(t.client.writes()).toEqual([]);
  });

  it('does not fill from a cache that is behind the Secret, and fills once the cache catches up', async () => {
    const c = await setup([sa('ns', 'robot')], [secret('ns', 'tok', 'robot')]);
    const cur = t.client.peek<SecretView>(SECRETS, 'ns', 'tok')!;
    await t.client.update(SECRETS, { ...cur, metadata: { ...cur.metadata, labels: { edited: 'yes' } } });
    // Before the informer has seen the edit: the live Secret is newer than the cached one.
    await c.sync('ns/tok');
    expect(t.client.writes().map((w) => w.verb)).toEqual(['update']);
    await t.settle();
    expect(await drain(c)).toEqual(['ns/tok']);
    const got = t.client.peek<SecretView>(SECRETS, 'ns', 'tok')!;
    expect(got.metadata.labels).toEqual({ edited: 'yes' });
    expect(got.data?.['token']).toBeDefined();
  });

  it('takes a conflicting update as done and retries other failures', async () => {
    const c = await setup([sa('ns', 'robot')], [secret('ns', 'tok', 'robot')]);
    t.client.failures.update = [conflict({ qualifiedResource: 'secrets', name: 'tok' }), internalError('etcd is down')];
    await expect(c.sync('ns/tok')).resolves.toBeUndefined();
    await expect(c.sync('ns/tok')).rejects.toThrow('etcd is down');
    await c.sync('ns/tok');
    expect(t.client.peek<SecretView>(SECRETS, 'ns', 'tok')?.data?.['token']).toBeDefined();
  });
});

describe('the serviceaccount-token controller', () => {
  it('runs only with a private key', async () => {
    const without = testContext();
    expect(CONTROLLERS['serviceaccount-token']!(without.ctx)).toBeUndefined();
    const withKey = testContext([], { serviceAccountPrivateKey: privateKey });
    expect(CONTROLLERS['serviceaccount-token']!(withKey.ctx)).toBeInstanceOf(TokensController);
    await without.stop();
    await withKey.stop();
  });
});

describe('the signing key', () => {
  it('must be an RSA private key, read from --service-account-private-key-file', () => {
    const file = join(dir, 'sa.key');
    writeFileSync(file, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    expect(legacyTokenSigningKey(readServiceAccountPrivateKey(file)).keyId).toBe(key.keyId);

    const ec = join(dir, 'ec.key');
    writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(() => readServiceAccountPrivateKey(ec)).toThrow('error reading key for service account token controller: the service account key must be an RSA private key (RS256), got ec');
    const garbage = join(dir, 'garbage.key');
    writeFileSync(garbage, 'not a key\n');
    expect(() => readServiceAccountPrivateKey(garbage)).toThrow(/^error reading key for service account token controller: /);
    expect(() => readServiceAccountPrivateKey(join(dir, 'missing.key'))).toThrow(/^error reading key for service account token controller: .*ENOENT/);
  });
});
