import { describe, expect, it } from 'vitest';
import { formatQuantity, isValidQuantity, parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['100m', 100n, 1n],
    ['1', 1000n, 1n],
    ['0.5', 500n, 1n],
    ['1.5', 1500n, 2n],
    ['2k', 2_000_000n, 2000n],
    ['1Ki', 1_024_000n, 1024n],
    ['1Gi', 1_073_741_824_000n, 1_073_741_824n],
    ['128Mi', 134_217_728_000n, 134_217_728n],
    ['1e3', 1_000_000n, 1000n],
    ['1E-3', 1n, 1n],
    ['10u', 1n, 1n],
    ['.5', 500n, 1n],
    ['-2', -2000n, -2n],
    ['1n', 1n, 1n],
  ])('%s -> %s milli, %s units', (s, milli, units) => {
    const q = parseQuantity(s);
    expect(q.toMilli()).toBe(milli);
    expect(q.value()).toBe(units);
  });

  it('adds exactly', () => {
    expect(parseQuantity('0.1').add(parseQuantity('0.2')).toString()).toBe('300m');
    expect(parseQuantity('1Gi').add(parseQuantity('1Gi')).toString()).toBe('2Gi');
  });

  it('compares across formats', () => {
    expect(parseQuantity('1024').cmp(parseQuantity('1Ki'))).toBe(0);
    expect(parseQuantity('1k').cmp(parseQuantity('1Ki'))).toBe(-1);
    expect(parseQuantity('500m').cmp(parseQuantity('0.5'))).toBe(0);
  });

  it('accepts numbers', () => {
    expect(parseQuantity(2).value()).toBe(2n);
    expect(parseQuantity(0.25).toMilli()).toBe(250n);
  });

  it.each(['', 'abc', '1Xi', '1.2.3', '--1', '1 Gi', 'Gi', '1KiB'])('rejects %j', (s) => {
    expect(isValidQuantity(s)).toBe(false);
  });

  it('prints canonically', () => {
    expect(formatQuantity(parseQuantity('1536Mi').nano, 'BinarySI')).toBe('1536Mi');
    expect(formatQuantity(parseQuantity('2048Mi').nano, 'BinarySI')).toBe('2Gi');
    expect(formatQuantity(parseQuantity('1500m').nano)).toBe('1500m');
    expect(formatQuantity(parseQuantity('2000m').nano)).toBe('2');
    expect(formatQuantity(0n)).toBe('0');
  });
});
