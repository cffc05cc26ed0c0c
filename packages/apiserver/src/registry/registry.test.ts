import { findResource, type KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { defaultIngressClassAdmission, defaultStorageClassAdmission, indexerFor, newestDefault } from './registry.js';

const pods = findResource('', 'v1', 'pods')!;
const index = indexerFor({ resource: pods, selectableFields: { 'spec.nodeName': (o: KubeObject) => (o['spec'] as { nodeName?: string } | undefined)?.nodeName } });

describe('indexerFor', () => {
  const pod = { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p', namespace: 'ns', labels: { app: 'web' } }, spec: { nodeName: 'n1' } } as KubeObject;
  const json = JSON.stringify(pod);

  it('builds the same entry from the written object as from its JSON', () => {
    expect(index(json, 7, pod)).toEqual(index(json, 7));
    expect(index(json, 7)).toMatchObject({ id: 'ns/p', namespace: 'ns', name: 'p', json, revision: 7, labels: { app: 'web' }, fields: { 'metadata.name': 'p', 'metadata.namespace': 'ns', 'spec.nodeName': 'n1' } });
  });

  it('keeps its own copy of the labels of a written object', () => {
    const source = structuredClone(pod);
    const entry = index(JSON.stringify(source), 1, source);
    source.metadata.labels!['app'] = 'changed';
    expect(entry.labels).toEqual({ app: 'web' });
  });
});

describe('default class admission', () => {
  const cls = (name: string, created: string, annotation?: string) => ({ metadata: { name, creationTimestamp: created, ...(annotation ? { annotations: { [annotation]: 'true' } } : {}) } });
  const ING = 'ingressclass.kubernetes.io/is-default-class';
  const SC = 'storageclass.kubernetes.io/is-default-class';
  const SC_BETA = 'storageclass.beta.kubernetes.io/is-default-class';

  it('picks the newest default class, then the greatest name', () => {
    expect(newestDefault([cls('a', '2026-01-01T00:00:00Z', ING), cls('b', '2026-02-01T00:00:00Z', ING), cls('c', '2026-03-01T00:00:00Z')], [ING])).toBe('b');
    expect(newestDefault([cls('a', '2026-01-01T00:00:00Z', ING), cls('b', '2026-01-01T00:00:00Z', ING)], [ING])).toBe('b');
    expect(newestDefault([cls('a', '2026-01-01T00:00:00Z')], [ING])).toBeUndefined();
  });

  it('gives a class-less Ingress the default IngressClass, and leaves named or annotated ones alone', () => {
    const admit = defaultIngressClassAdmission(() => [cls('flotilla', '2026-01-01T00:00:00Z', ING), cls('other', '2026-01-02T00:00:00Z')]);
    const ing = (spec: Record<string, unknown>, annotations?: Record<string, string>) => ({ metadata: { name: 'i', ...(annotations ? { annotations } : {}) }, spec }) as KubeObject;
    const plain = ing({});
    admit(plain);
    expect(plain['spec']).toEqual({ ingressClassName: 'flotilla' });
    const named = ing({ ingressClassName: 'other' });
    admit(named);
    expect(named['spec']).toEqual({ ingressClassName: 'other' });
    const legacy = ing({}, { 'kubernetes.io/ingress.class': 'nginx' });
    admit(legacy);
    expect(legacy['spec']).toEqual({});
    const none = ing({});
    defaultIngressClassAdmission(() => [])(none);
    expect(none['spec']).toEqual({});
  });

  it('gives a claim without storageClassName the default StorageClass (beta annotation too), but keeps an explicit ""', () => {
    const admit = defaultStorageClassAdmission(() => [cls('local-path', '2026-01-01T00:00:00Z', SC_BETA), cls('slow', '2026-01-02T00:00:00Z')]);
    const claim = (spec: Record<string, unknown>) => ({ metadata: { name: 'c' }, spec }) as KubeObject;
    const plain = claim({ accessModes: ['ReadWriteOnce'] });
    admit(plain);
    expect(plain['spec']).toMatchObject({ storageClassName: 'local-path' });
    const none = claim({ storageClassName: '' });
    admit(none);
    expect(none['spec']).toEqual({ storageClassName: '' });
    expect(newestDefault([cls('x', '2026-01-01T00:00:00Z', SC)], [SC, SC_BETA])).toBe('x');
  });
});
