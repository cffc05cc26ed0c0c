import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alreadyExists, forbidden, notFound, type KubeObject } from '@flotilla/api';
import { createCa } from '@flotilla/api/pki';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCaBundle, readRootCaFile } from '../../root-ca-file.js';
import { drainQueue, testContext, type TestContext } from '../../testing/test-context.js';
import { DESCRIPTION_ANNOTATION, ROOT_CA_CONFIGMAP_NAME, ROOT_CA_DESCRIPTION, RootCaCertPublisher } from './root-ca-cert-publisher.js';

const NAMESPACES = res('namespaces');
const CONFIGMAPS = res('configmaps');
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

interface ConfigMapView extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

function ns(name: string, phase: 'Active' | 'Terminating' = 'Active'): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `uid-${name}` }, status: { phase } };
}

function cm(namespace: string, name: string, data: Record<string, string>, annotations?: Record<string, string>): ConfigMapView {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, data };
}

const published = (namespace: string) => cm(namespace, ROOT_CA_CONFIGMAP_NAME, { 'ca.crt': CA }, { [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION });

describe('RootCaCertPublisher', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(namespaces: KubeObject[], configMaps: KubeObject[] = []): Promise<RootCaCertPublisher> {
    t = testContext([
      { resource: NAMESPACES, objects: namespaces },
      { resource: CONFIGMAPS, objects: configMaps },
    ]);
    const c = new RootCaCertPublisher(t.ctx, CA);
    await t.start();
    return c;
  }

  async function drain(c: RootCaCertPublisher): Promise<string[]> {
    return (await drainQueue(c)).sort();
  }

  it('publishes kube-root-ca.crt with the CA and Kubernetes description in every namespace', async () => {
    const c = await setup([ns('a'), ns('b')], [cm('a', 'unrelated', { x: 'y' })]);
    expect(await drain(c)).toEqual(['a', 'b']);
    const writes = t.client.writes();
    expect(writes.map((w) => [w.verb, w.resource, w.namespace, w.name])).toEqual([
      ['create', 'configmaps', 'a', 'kube-root-ca.crt'],
      ['create', 'configmaps', 'b', 'kube-root-ca.crt'],
    ]);
    const got = t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', 'kube-root-ca.crt')!;
    expect(got.data).toEqual({ 'ca.crt': CA });
    expect(got.metadata.annotations).toEqual({
      'kubernetes.io/description':
        'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
    });
    expect(t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', 'unrelated')?.data).toEqual({ x: 'y' });
  });

  it('writes nothing when the ConfigMap is as published', async () => {
    const c = await setup([ns('a')], [published('a')]);
    await drain(c);
    expect(t.client.writes()).toEqual([]);
  });

  it('recreates a deleted ConfigMap', async () => {
    const c = await setup([ns('a')], [published('a')]);
    await drain(c);
    await t.client.delete(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME);
    await t.settle();
    expect(await drain(c)).toEqual(['a']);
    expect(t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)?.data).toEqual({ 'ca.crt': CA });
  });

  it('restores edited data (a changed CA, an added key) and a removed description, keeping other metadata', async () => {
    const c = await setup([ns('a')], [published('a')]);
    await drain(c);
    const cur = t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)!;
    await t.client.update(CONFIGMAPS, { ...cur, metadata: { ...cur.metadata, labels: { team: 'x' } }, data: { 'ca.crt': 'forged', extra: '1' } });
    await t.settle();
    expect(await drain(c)).toEqual(['a']);
    let after = t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)!;
    expect(after.data).toEqual({ 'ca.crt': CA });
    expect(after.metadata.labels).toEqual({ team: 'x' });
    expect(after.metadata.annotations?.[DESCRIPTION_ANNOTATION]).toBe(ROOT_CA_DESCRIPTION);

    // Only a key added, the CA intact: still restored.
    await t.client.update(CONFIGMAPS, { ...after, data: { 'ca.crt': CA, extra: '2' } });
    await t.settle();
    await drain(c);
    after = t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)!;
    expect(after.data).toEqual({ 'ca.crt': CA });

    await t.client.update(CONFIGMAPS, { ...after, metadata: { ...after.metadata, annotations: { other: 'kept' } } });
    await t.settle();
    await drain(c);
    after = t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)!;
    expect(after.metadata.annotations).toEqual({ other: 'kept', [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION });
    // Each edit (three by the test) was answered by exactly one restoring update.
    expect(t.client.writes().filter((w) => w.verb === 'update').length).toBe(6);

    // A different, non-empty description is left alone, as Kubernetes only checks it is present.
    await t.client.update(CONFIGMAPS, { ...after, metadata: { ...after.metadata, annotations: { [DESCRIPTION_ANNOTATION]: 'ours' } } });
    await t.settle();
    await drain(c);
    expect(t.client.peek<ConfigMapView>(CONFIGMAPS, 'a', ROOT_CA_CONFIGMAP_NAME)?.metadata.annotations).toEqual({ [DESCRIPTION_ANNOTATION]: 'ours' });
  });

  it('gives up on a namespace that is gone or being deleted, and retries other create failures', async () => {
    const c = await setup([ns('a')]);
    const terminating = forbidden({ qualifiedResource: 'configmaps', name: ROOT_CA_CONFIGMAP_NAME }, 'unable to create new content in namespace a because it is being terminated');
    terminating.details!.causes = [{ reason: 'NamespaceTerminating', message: 'namespace a is being terminated', field: 'metadata.namespace' }];
    t.client.failures.create = [terminating, notFound({ qualifiedResource: 'namespaces', name: 'a' }), alreadyExists({ qualifiedResource: 'configmaps', name: ROOT_CA_CONFIGMAP_NAME })];
    await expect(c.sync('a')).resolves.toBeUndefined();
    await expect(c.sync('a')).resolves.toBeUndefined();
    await expect(c.sync('a')).rejects.toThrow(/already exists/);
  });

  it('does not queue a namespace update once the namespace is terminating', async () => {
    const c = await setup([ns('a')]);
    await drain(c);
    const cur = t.client.peek(NAMESPACES, '', 'a')!;
    await t.client.updateStatus(NAMESPACES, { ...cur, status: { phase: 'Terminating' } });
    await t.settle();
    expect(c.queue.len()).toBe(0);
    await t.client.updateStatus(NAMESPACES, { ...t.client.peek(NAMESPACES, '', 'a')!, status: { phase: 'Active' } });
    await t.settle();
    expect(c.queue.len()).toBe(1);
  });
});

describe('readRootCaFile', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('returns a bundle of valid certificates unchanged and rejects anything else with the flag named', async () => {
    dir = mkdtempSync(join(tmpdir(), 'root-ca-'));
    const a = await createCa('one');
    const b = await createCa('two');
    const bundle = `${a.cert}${b.cert}`;
    writeFileSync(join(dir, 'ca.crt'), bundle);
    expect(readRootCaFile(join(dir, 'ca.crt'))).toBe(bundle);

    writeFileSync(join(dir, 'empty.crt'), 'not a certificate\n');
    expect(() => readRootCaFile(join(dir!, 'empty.crt'))).toThrow(`error parsing root-ca-file at ${join(dir, 'empty.crt')}: data does not contain any valid RSA or ECDSA certificates`);
    expect(() => checkCaBundle(CA)).toThrow();
    expect(() => readRootCaFile(join(dir!, 'missing.crt'))).toThrow(/^error parsing root-ca-file at .*missing\.crt: /);
  });
});
