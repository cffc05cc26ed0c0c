import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.js';
import { DEFINITIONS } from '../schema/definitions.js';
import { applyJsonPatch, applyMergePatch, createMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';

const POD = 'io.k8s.api.core.v1.Pod';
const pod = {
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x/one'] },
  spec: {
    containers: [
      { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }] },
      { name: 'side', image: 'side:1' },
    ],
    volumes: [{ name: 'v', emptyDir: {} }],
    tolerations: [{ key: 't', operator: 'Exists' }],
  },
};
const smp = (patch: Record<string, unknown>) => applyStrategicMergePatch(DEFINITIONS, POD, pod, patch) as typeof pod & Record<string, any>;

describe('strategic merge patch', () => {
  it('merges containers by name and their env by name', () => {
    const r = smp({ spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: 'b' }, { name: 'C', value: '3' }] }] } });
    expect(r.spec.containers.map((c: { name: string; image: string }) => `${c.name}=${c.image}`)).toEqual(['app=app:2', 'side=side:1']);
    expect(r.spec.containers[0].env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: 'b' }, { name: 'C', value: '3' }]);
    expect(r.spec.containers[0].ports).toEqual([{ containerPort: 80 }]);
  });

  it('deletes list items with $patch: delete and fields with null', () => {
    const r = smp({ metadata: { labels: { a: null } }, spec: { containers: [{ name: 'side', $patch: 'delete' }] } });
    expect(r.metadata.labels).toEqual({ b: '2' });
    expect(r.spec.containers.map((c: { name: string }) => c.name)).toEqual(['app']);
  });

  it('replaces lists without a merge strategy and unions merged primitive lists', () => {
    const r = smp({ metadata: { finalizers: ['x/two', 'x/one'] }, spec: { tolerations: [{ key: 'u', operator: 'Exists' }] } });
    expect(r.metadata.finalizers).toEqual(['x/one', 'x/two']);
    expect(r.spec.tolerations).toEqual([{ key: 'u', operator: 'Exists' }]);
  });

  it('honours $deleteFromPrimitiveList, $setElementOrder, $retainKeys and $patch: replace', () => {
    expect(smp({ metadata: { '$deleteFromPrimitiveList/finalizers': ['x/one'] } }).metadata.finalizers).toEqual([]);
    const ordered = smp({ spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }] } });
    expect(ordered.spec.containers.map((c: { name: string }) => c.name)).toEqual(['side', 'app']);
    const retained = smp({ spec: { volumes: [{ name: 'v', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/x' } }] } });
    expect(retained.spec.volumes).toEqual([{ name: 'v', hostPath: { path: '/x' } }]);
    const replaced = smp({ spec: { containers: [{ name: 'only', image: 'o' }, { $patch: 'replace' }] } });
    expect(replaced.spec.containers).toEqual([{ name: 'only', image: 'o' }]);
    const mapReplace = smp({ metadata: { labels: { $patch: 'replace', z: '9' } } });
    expect(mapReplace.metadata.labels).toEqual({ z: '9' });
  });

  it('rejects list items without their merge key', () => {
    expect(() => smp({ spec: { containers: [{ image: 'no-name' }] } })).toThrow(ApiError);
    try {
      smp({ spec: { containers: [{ image: 'no-name' }] } });
    } catch (err) {
      expect((err as ApiError).code).toBe(400);
      expect((err as ApiError).message).toContain('does not contain declared merge key: name');
    }
  });

  it('does not modify its inputs', () => {
    const copy = structuredClone(pod);
    smp({ spec: { containers: [{ name: 'app', image: 'z' }] } });
    expect(pod).toEqual(copy);
  });
});

describe('JSON merge patch and JSON patch', () => {
  it('merge patches per RFC 7386 and creates minimal patches', () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] })).toEqual({ a: 1, b: { d: 3, e: 4 }, f: [1] });
    expect(createMergePatch({ a: 1, b: { c: 2 } }, { a: 1, b: { c: 3 }, d: 4 })).toEqual({ b: { c: 3 }, d: 4 });
  });

  it('applies JSON patches and maps failures to Kubernetes errors', () => {
    expect(applyJsonPatch({ a: [1] }, [{ op: 'add', path: '/a/-', value: 2 }, { op: 'add', path: '/b', value: 3 }, { op: 'replace', path: '/b', value: 4 }])).toEqual({ a: [1, 2], b: 4 });
    const code = (f: () => unknown) => {
      try {
        f();
        return 0;
      } catch (e) {
        return (e as ApiError).code;
      }
    };
    expect(code(() => applyJsonPatch({}, { op: 'add' }))).toBe(400);
    expect(code(() => applyJsonPatch({}, [{ op: 'bogus', path: '/a' }]))).toBe(400);
    expect(code(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]))).toBe(422);
    expect(code(() => applyJsonPatch({}, [{ op: 'remove', path: '/missing' }]))).toBe(422);
  });
});
