import { describe, expect, it } from 'vitest';
import { ApiError } from '@flotilla/api';
import { dryRunOf, fieldValidationOf, negotiateView, parseQuery } from './negotiation.js';

describe('negotiateView', () => {
  it.each([
    [undefined, 'object'],
    ['application/json', 'object'],
    ['*/*', 'object'],
    ['application/vnd.kubernetes.protobuf, */*', 'object'],
    ['application/vnd.kubernetes.protobuf,application/json', 'object'],
    ['application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json', 'table'],
    ['application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json', 'partial'],
    ['application/json;as=Table;v=v9;g=meta.k8s.io,application/json', 'object'],
  ])('%s -> %s', (accept, view) => {
    expect(negotiateView(accept)).toBe(view);
  });

  it('refuses protobuf-only clients with 406', () => {
    expect(() => negotiateView('application/vnd.kubernetes.protobuf')).toThrow(ApiError);
  });
});

describe('query parameters', () => {
  it('decodes form encoding, where + is a space', () => {
    const q = parseQuery('labelSelector=app+in+%28web%2Cx%29&command=sh&command=-c');
    expect(q['labelSelector']).toBe('app in (web,x)');
    expect(q['command']).toEqual(['sh', '-c']);
  });

  it('validates fieldValidation and dryRun', () => {
    expect(fieldValidationOf({})).toBe('Warn');
    expect(fieldValidationOf({ fieldValidation: 'Strict' })).toBe('Strict');
    expect(() => fieldValidationOf({ fieldValidation: 'strict' })).toThrow(ApiError);
    expect(dryRunOf({ dryRun: 'All' })).toBe(true);
    expect(dryRunOf({})).toBe(false);
    expect(() => dryRunOf({ dryRun: 'yes' })).toThrow(ApiError);
  });
});
