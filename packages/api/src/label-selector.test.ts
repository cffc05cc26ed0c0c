import { describe, expect, it } from 'vitest';
import { ApiError } from './api-error.js';
import { labelSelectorFromObject, parseLabelSelector } from './label-selector.js';

describe('parseLabelSelector', () => {
  const labels = { app: 'web', tier: 'front', n: '5' };
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=db', false],
    ['app in (web,x)', true],
    ['app in (x)', false],
    ['app notin (x,y)', true],
    ['app notin (web)', false],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app=web,tier=front', true],
    ['app=web, tier=back', false],
    ['n>3', true],
    ['n<3', false],
    ['app in (web),tier notin (back)', true],
    ['inx=y', false],
  ])('%s -> %s', (sel, want) => {
    expect(parseLabelSelector(sel).matches(labels)).toBe(want);
  });

  it('round-trips to a canonical string', () => {
    expect(parseLabelSelector('app in (x, web),!b , c!=d').toString()).toBe('app in (web,x),!b,c!=d');
  });

  it.each(['app in web', 'app in (', '=x', 'a b', 'app=web,', 'app in ()', 'a=-bad-'])('rejects %s with 400', (sel) => {
    try {
      parseLabelSelector(sel);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe(400);
    }
  });
});

describe('labelSelectorFromObject', () => {
  it('treats a missing selector as matching nothing and {} as everything', () => {
    expect(labelSelectorFromObject(undefined).matches({ a: 'b' })).toBe(false);
    expect(labelSelectorFromObject({}).matches({ a: 'b' })).toBe(true);
  });
  it('combines matchLabels and matchExpressions', () => {
    const s = labelSelectorFromObject({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] });
    expect(s.matches({ app: 'web', tier: 'a' })).toBe(true);
    expect(s.matches({ app: 'web', tier: 'c' })).toBe(false);
    expect(s.toString()).toBe('app=web,tier in (a,b)');
  });
});
