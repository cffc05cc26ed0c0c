import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('parses Go-style durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBe(1_500);
  });
  it('rejects what is not a duration', () => {
    for (const bad of ['', '5', 'm', '5x', '5m junk', ' 5m']) expect(parseDuration(bad)).toBeUndefined();
  });
});
