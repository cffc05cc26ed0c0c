import { findResource, type KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { indexerFor } from './registry.js';

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
