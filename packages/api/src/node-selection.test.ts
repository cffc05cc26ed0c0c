import { describe, expect, it } from 'vitest';
import { isTolerated, nodeSelectorTermMatches, requirementMatches, tolerates } from './node-selection.js';

describe('node selection', () => {
  it('evaluates requirements like Kubernetes', () => {
    expect(requirementMatches({ key: 'k', operator: 'In', values: ['a'] }, 'a')).toBe(true);
    expect(requirementMatches({ key: 'k', operator: 'NotIn', values: ['a'] }, undefined)).toBe(true);
    expect(requirementMatches({ key: 'k', operator: 'Gt', values: ['5'] }, '6')).toBe(true);
    expect(requirementMatches({ key: 'k', operator: 'Lt', values: ['5'] }, 'x')).toBe(false);
    expect(requirementMatches({ key: 'k', operator: 'Exists' }, undefined)).toBe(false);
  });
  it('ANDs a term, matches fields on the node name, and an empty term matches nothing', () => {
    const term = { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] };
    expect(nodeSelectorTermMatches(term, { zone: 'a' }, 'n1')).toBe(true);
    expect(nodeSelectorTermMatches(term, { zone: 'a' }, 'n2')).toBe(false);
    expect(nodeSelectorTermMatches({}, { zone: 'a' }, 'n1')).toBe(false);
  });
  it('tolerates taints by key, value, effect and Exists', () => {
    const taint = { key: 'gpu', value: 'true', effect: 'NoSchedule' };
    expect(tolerates({ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }, taint)).toBe(true);
    expect(tolerates({ key: 'gpu', operator: 'Equal', value: 'false' }, taint)).toBe(false);
    expect(tolerates({ operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ key: 'gpu', operator: 'Exists', effect: 'NoExecute' }, taint)).toBe(false);
    expect(isTolerated(undefined, taint)).toBe(false);
  });
});
