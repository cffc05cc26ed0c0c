import { describe, expect, it } from 'vitest';
import { applyStrategicMergePatch, DEFINITIONS } from '@flotilla/api';
import { createThreeWayMergePatch } from './three-way-merge.js';

const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';
const schema = { defs: DEFINITIONS, node: DEFINITIONS[DEPLOYMENT] };

function deployment(env: { name: string; value: string }[], labels: Record<string, string>, replicas = 2) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels },
    spec: { replicas, template: { spec: { containers: [{ name: 'web', image: 'busybox', env }] } } },
  };
}

describe('client-side apply 3-way merge', () => {
  it('removes only what the last applied configuration had and the new one drops', () => {
    const original = deployment([{ name: 'A', value: '1' }, { name: 'B', value: '2' }], { app: 'web', stale: 'yes' });
    const modified = deployment([{ name: 'A', value: '9' }], { app: 'web' }, 3);
    const current = structuredClone(original) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    current['metadata'].labels.owner = 'ops'; // set by someone else: must survive
    current['metadata'].uid = 'u1';
    current['spec'].template.spec.containers[0].imagePullPolicy = 'IfNotPresent'; // defaulted by the server
    const patch = createThreeWayMergePatch(original, modified, current, schema);
    expect(patch).toEqual({
      metadata: { labels: { stale: null } },
      spec: {
        replicas: 3,
        template: {
          spec: {
            containers: [{ name: 'web', env: [{ name: 'A', value: '9' }, { name: 'B', $patch: 'delete' }], '$setElementOrder/env': [{ name: 'A' }] }],
            '$setElementOrder/containers': [{ name: 'web' }],
          },
        },
      },
    });
    const result = applyStrategicMergePatch(DEFINITIONS, DEPLOYMENT, current, patch) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(result['metadata'].labels).toEqual({ app: 'web', owner: 'ops' });
    expect(result['spec'].template.spec.containers[0]).toEqual({ name: 'web', image: 'busybox', env: [{ name: 'A', value: '9' }], imagePullPolicy: 'IfNotPresent' });
    expect(result['spec'].replicas).toBe(3);
  });

  it('is empty when nothing the user wrote changed', () => {
    const cfg = deployment([{ name: 'A', value: '1' }], { app: 'web' });
    const current = { ...structuredClone(cfg), status: { replicas: 2 } };
    expect(createThreeWayMergePatch(cfg, cfg, current, schema)).toEqual({});
  });

  it('falls back to merge-patch semantics without a schema (lists replaced)', () => {
    const original = { spec: { items: [1, 2], gone: 'x' } };
    const modified = { spec: { items: [1] } };
    expect(createThreeWayMergePatch(original, modified, original)).toEqual({ spec: { items: [1], gone: null } });
  });
});
