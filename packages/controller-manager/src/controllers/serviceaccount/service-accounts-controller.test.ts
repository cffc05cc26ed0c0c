import { alreadyExists, ApiError, forbidden, internalError, type KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { ServiceAccountsController } from './service-accounts-controller.js';

const NAMESPACES = res('namespaces');
const SERVICEACCOUNTS = res('serviceaccounts');

function ns(name: string, phase: 'Active' | 'Terminating' = 'Active'): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `uid-${name}`, ...(phase === 'Terminating' ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) }, spec: { finalizers: ['kubernetes'] }, status: { phase } };
}

function sa(namespace: string, name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, uid: `uid-${namespace}-${name}` } };
}

/** The terminating-namespace refusal as the API server sends it. */
function terminating(namespace: string): ApiError {
  const err = forbidden({ qualifiedResource: 'serviceaccounts', name: 'default' }, `unable to create new content in namespace ${namespace} because it is being terminated`);
  err.details!.causes = [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }];
  return err;
}

describe('ServiceAccountsController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(namespaces: KubeObject[], accounts: KubeObject[] = []): Promise<ServiceAccountsController> {
    t = testContext([
      { resource: NAMESPACES, objects: namespaces },
      { resource: SERVICEACCOUNTS, objects: accounts },
    ]);
    const c = new ServiceAccountsController(t.ctx);
    await t.start();
    return c;
  }

  async function drain(c: ServiceAccountsController): Promise<string[]> {
    return (await drainQueue(c)).sort();
  }

  it('creates the default account in every active namespace, and nothing else', async () => {
    const c = await setup([ns('a'), ns('b'), ns('gone', 'Terminating')]);
    expect(await drain(c)).toEqual(['a', 'b', 'gone']);
    const writes = t.client.writes();
    expect(writes.map((w) => [w.verb, w.resource, w.namespace, w.name])).toEqual([
      ['create', 'serviceaccounts', 'a', 'default'],
      ['create', 'serviceaccounts', 'b', 'default'],
    ]);
    expect(writes[0]!.object).toMatchObject({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'a' } });
    expect(t.client.all(SERVICEACCOUNTS, 'gone')).toEqual([]);
  });

  it('leaves a namespace that has its default account, and other accounts, alone', async () => {
    const c = await setup([ns('a')], [sa('a', 'default'), sa('a', 'builder')]);
    await drain(c);
    expect(t.client.writes()).toEqual([]);
    // Deleting another account is no reason to act.
    await t.client.delete(SERVICEACCOUNTS, 'a', 'builder');
    await t.settle();
    expect(c.queue.len()).toBe(0);
  });

  it('recreates the default account when it is deleted', async () => {
    const c = await setup([ns('a')], [sa('a', 'default')]);
    await drain(c);
    await t.client.delete(SERVICEACCOUNTS, 'a', 'default');
    await t.settle();
    expect(await drain(c)).toEqual(['a']);
    expect(t.client.writes().filter((w) => w.verb === 'create').map((w) => `${w.namespace}/${w.name}`)).toEqual(['a/default']);
    expect(t.client.peek(SERVICEACCOUNTS, 'a', 'default')).toBeDefined();
  });

  it('creates the account in a namespace added later', async () => {
    const c = await setup([]);
    await t.client.create(NAMESPACES, '', ns('late'));
    await t.settle();
    expect(await drain(c)).toEqual(['late']);
    expect(t.client.peek(SERVICEACCOUNTS, 'late', 'default')).toBeDefined();
  });

  it('takes AlreadyExists (a lagging cache) and a namespace being deleted as done, and throws other errors to retry', async () => {
    const c = await setup([ns('a')]);
    t.client.failures.create = [alreadyExists({ qualifiedResource: 'serviceaccounts', name: 'default' })];
    await expect(c.sync('a')).resolves.toBeUndefined();
    t.client.failures.create = [terminating('a')];
    await expect(c.sync('a')).resolves.toBeUndefined();
    t.client.failures.create = [internalError('etcd is down')];
    await expect(c.sync('a')).rejects.toThrow('etcd is down');
    await expect(c.sync('a')).resolves.toBeUndefined();
    expect(t.client.peek(SERVICEACCOUNTS, 'a', 'default')).toBeDefined();
  });

  it('does nothing for a namespace it does not know', async () => {
    const c = await setup([]);
    await c.sync('nowhere');
    expect(t.client.writes()).toEqual([]);
  });
});
