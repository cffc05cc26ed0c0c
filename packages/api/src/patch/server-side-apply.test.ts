import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-error.js';
import { DEFINITIONS } from '../schema/definitions.js';
import { fieldValuesOf, formatFieldPath, fromFieldsV1, toFieldsV1 } from './field-set.js';
import { serverSideApply, updateManagedFields } from './server-side-apply.js';

const DEP = 'io.k8s.api.apps.v1.Deployment';
const now = new Date('2024-01-01T00:00:00Z');
const config = (replicas: number, image: string, extraEnv = true) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', labels: { app: 'd' } },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'd' } },
    template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image, env: extraEnv ? [{ name: 'X', value: '1' }] : [] }] } },
  },
});
const apply = (live: unknown, applied: unknown, manager: string, force = false) => serverSideApply({ defs: DEFINITIONS, name: DEP, live, applied, manager, force, apiVersion: 'apps/v1', now });

describe('field sets', () => {
  it('names keyed list items and round-trips FieldsV1', () => {
    const values = fieldValuesOf(DEFINITIONS, DEP, config(2, 'i:1'));
    const paths = [...values.keys()].map(formatFieldPath);
    expect(paths).toContain('.spec.template.spec.containers[name="c"].image');
    expect(paths).toContain('.metadata.labels.app');
    expect(paths).not.toContain('.metadata.name');
    const v1 = toFieldsV1(values.keys());
    expect(v1['f:spec']).toBeDefined();
    expect(fromFieldsV1(v1)).toEqual(new Set(values.keys()));
  });
});

describe('server-side apply', () => {
  it('creates with the applier owning every applied field', () => {
    const r = apply(undefined, config(2, 'i:1'), 'alice');
    expect(r.managedFields).toHaveLength(1);
    expect(r.managedFields[0]).toMatchObject({ manager: 'alice', operation: 'Apply', apiVersion: 'apps/v1' });
  });

  it('removes fields the applier no longer applies', () => {
    const first = apply(undefined, config(2, 'i:1'), 'alice').object;
    const second = apply(first, config(2, 'i:1', false), 'alice').object as { spec: { template: { spec: { containers: { env?: unknown[] }[] } } } };
    expect(second.spec.template.spec.containers[0]!.env).toEqual([]);
    const withoutLabels = structuredClone(config(2, 'i:1'));
    delete (withoutLabels.metadata as { labels?: unknown }).labels;
    const third = apply(first, withoutLabels, 'alice').object as { metadata: { labels?: Record<string, string> } };
    expect(third.metadata.labels ?? {}).toEqual({});
  });

  it('conflicts with another manager that owns a changed field, unless forced', () => {
    const first = apply(undefined, config(2, 'i:1'), 'alice').object as Record<string, any>;
    // Someone else scales it with an ordinary update.
    const scaled = structuredClone(first);
    scaled.spec.replicas = 5;
    updateManagedFields({ defs: DEFINITIONS, name: DEP, old: first, obj: scaled, manager: 'kubectl-scale', apiVersion: 'apps/v1', now });
    try {
      apply(scaled, config(3, 'i:1'), 'alice');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      const e = err as ApiError;
      expect(e.code).toBe(409);
      expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas');
      expect(e.details?.causes).toEqual([{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-scale" using apps/v1', field: '.spec.replicas' }]);
    }
    // Applying the value the other manager set is not a conflict.
    expect(() => apply(scaled, config(5, 'i:1'), 'alice')).not.toThrow();
    const forced = apply(scaled, config(3, 'i:1'), 'alice', true);
    expect((forced.object as { spec: { replicas: number } }).spec.replicas).toBe(3);
    const scaleOwner = forced.managedFields.find((m) => m.manager === 'kubectl-scale');
    expect(scaleOwner).toBeUndefined();
  });

  it('keeps fields another applier set in keyed lists', () => {
    const first = apply(undefined, config(2, 'i:1'), 'alice').object;
    const bob = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'c', env: [{ name: 'Y', value: '2' }] }] } } } };
    const both = apply(first, bob, 'bob').object as { spec: { template: { spec: { containers: { env: { name: string }[]; image: string }[] } } } };
    expect(both.spec.template.spec.containers[0]!.env.map((e) => e.name)).toEqual(['X', 'Y']);
    expect(both.spec.template.spec.containers[0]!.image).toBe('i:1');
  });

  it('rejects managedFields in the applied configuration', () => {
    const bad = { ...config(1, 'x'), metadata: { name: 'd', managedFields: [] } };
    expect(() => apply(undefined, bad, 'alice')).toThrow(/managedFields must be nil/);
  });
});

describe('updateManagedFields', () => {
  it('gives changed fields to the writer and leaves no-op writes alone', () => {
    const created = structuredClone(config(1, 'i:1')) as Record<string, any>;
    updateManagedFields({ defs: DEFINITIONS, name: DEP, old: undefined, obj: created, manager: 'creator', apiVersion: 'apps/v1', now });
    expect(created.metadata.managedFields.map((m: { manager: string }) => m.manager)).toEqual(['creator']);
    const edited = structuredClone(created);
    edited.spec.template.spec.containers[0].image = 'i:2';
    updateManagedFields({ defs: DEFINITIONS, name: DEP, old: created, obj: edited, manager: 'editor', apiVersion: 'apps/v1', now });
    const owners = Object.fromEntries(edited.metadata.managedFields.map((m: { manager: string; fieldsV1: unknown }) => [m.manager, [...fromFieldsV1(m.fieldsV1)].map(formatFieldPath)]));
    expect(owners['editor']).toEqual(['.spec.template.spec.containers[name="c"].image']);
    expect(owners['creator']).not.toContain('.spec.template.spec.containers[name="c"].image');
    const same = structuredClone(edited);
    updateManagedFields({ defs: DEFINITIONS, name: DEP, old: edited, obj: same, manager: 'third', apiVersion: 'apps/v1', now: new Date() });
    expect(same.metadata.managedFields).toEqual(edited.metadata.managedFields);
  });
});

describe('first apply of an object created by ordinary writes', () => {
  it('attributes existing fields to before-first-apply and conflicts on them', () => {
    const live = { ...config(2, 'i:1'), metadata: { name: 'd', labels: { app: 'd' } } };
    expect(() => apply(live, config(3, 'i:1'), 'alice')).toThrow(/before-first-apply/);
    const r = apply(live, config(2, 'i:1'), 'alice');
    expect(r.managedFields.map((m) => m.manager).sort()).toEqual(['alice', 'before-first-apply']);
  });
});
