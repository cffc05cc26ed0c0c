import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { podStrategy } from './pods.js';

const strategy = podStrategy('io.k8s.api.core.v1.Pod');
const section = strategy.sections!['ephemeralcontainers']!;
const CTX = {} as never;

function pod(ephemeralContainers?: Record<string, unknown>[], annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'ns', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'main', image: 'app:1' }], initContainers: [{ name: 'setup', image: 'app:1' }], volumes: [{ name: 'data', emptyDir: {} }], ...(ephemeralContainers ? { ephemeralContainers } : {}) },
  } as KubeObject;
}

/** The stored object after a write through the subresource, and its field errors. */
function write(old: KubeObject, desired: KubeObject) {
  const obj = structuredClone(old);
  section.take(desired, obj);
  return { obj, errors: section.validate(obj, old, CTX).map((e) => `${e.field}: ${e.type}: ${e.message}`) };
}

describe('pods/ephemeralcontainers', () => {
  it('adds a container with its defaults and keeps every other change out', () => {
    const old = pod();
    const desired = pod([{ name: 'debugger', image: 'busybox:1.36', targetContainerName: 'main', stdin: true }]);
    (desired['spec'] as { containers: { image: string }[] }).containers[0]!.image = 'app:2';
    desired.metadata.labels = { sneaky: 'yes' };
    const { obj, errors } = write(old, desired);
    expect(errors).toEqual([]);
    const spec = obj['spec'] as { containers: { image: string }[]; ephemeralContainers: Record<string, unknown>[] };
    expect(spec.containers[0]!.image).toBe('app:1');
    expect(obj.metadata.labels).toBeUndefined();
    expect(spec.ephemeralContainers).toEqual([{ name: 'debugger', image: 'busybox:1.36', targetContainerName: 'main', stdin: true, imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' }]);
  });

  it('refuses removing or changing an existing one', () => {
    const old = pod([{ name: 'debugger', image: 'busybox:1.36', imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' }]);
    expect(write(old, pod([])).errors).toEqual(['spec.ephemeralContainers: FieldValueForbidden: existing ephemeral containers "debugger" may not be removed\n']);
    expect(write(old, pod([{ name: 'debugger', image: 'busybox:1.37' }])).errors).toEqual(['spec.ephemeralContainers: FieldValueForbidden: existing ephemeral containers "debugger" may not be changed\n']);
  });

  it('applies the ephemeral container rules', () => {
    const { errors } = write(
      pod(),
      pod([
        { name: 'main', image: 'x' },
        { name: 'probe', image: 'x', ports: [{ containerPort: 80 }], readinessProbe: { exec: { command: ['true'] } }, resources: { limits: { cpu: '1' } }, targetContainerName: 'ghost' },
        { name: 'mounts', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/d', subPath: 'a' }] },
        { name: 'noimage' },
      ]),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        'spec.ephemeralContainers[0].name: FieldValueDuplicate: "main"',
        'spec.ephemeralContainers[1].targetContainerName: FieldValueNotFound: "ghost"',
        'spec.ephemeralContainers[1].ports: FieldValueForbidden: cannot be set for an Ephemeral Container',
        'spec.ephemeralContainers[1].readinessProbe: FieldValueForbidden: cannot be set for an Ephemeral Container',
        'spec.ephemeralContainers[1].resources: FieldValueForbidden: cannot be set for an Ephemeral Container',
        'spec.ephemeralContainers[2].volumeMounts[0].subPath: FieldValueForbidden: cannot be set for an Ephemeral Container',
      ]),
    );
    expect(errors.some((e) => e.startsWith('spec.ephemeralContainers[3].image: FieldValueRequired'))).toBe(true);
    // An init container is a valid target.
    expect(write(pod(), pod([{ name: 'd', image: 'x', targetContainerName: 'setup' }])).errors).toEqual([]);
  });

  it('static pods get none, and a pod cannot be created with one', () => {
    const mirror = pod(undefined, { 'kubernetes.io/config.mirror': 'abc' });
    expect(write(mirror, pod([{ name: 'd', image: 'x' }])).errors).toEqual([': FieldValueForbidden: static pods do not support ephemeral containers']);
    const created = pod([{ name: 'd', image: 'x' }]);
    expect(strategy.validate(created, CTX).map((e) => `${e.field}: ${e.message}`)).toContain('spec.ephemeralContainers: cannot be set on create');
  });

  it('an ordinary update cannot change them', () => {
    const old = pod([{ name: 'd', image: 'x' }]);
    const next = pod([{ name: 'd', image: 'y' }]);
    expect(strategy.validateUpdate(next, old, CTX).some((e) => e.field === 'spec' && e.message.startsWith('pod updates may not change fields'))).toBe(true);
  });
});
