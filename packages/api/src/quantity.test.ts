import { describe, expect, it } from 'vitest';
import { compareQuantities, formatBytes, formatMilli, formatQuantity, isValidQuantity, parseQuantity, Quantity, quantityFromMilli, quantityFromValue } from './quantity.js';

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

describe('quantity helpers', () => {
  it('reads memory as bytes and cpu as millicores', () => {
    expect(parseQuantity('128Mi').toBytes()).toBe(134_217_728n);
    expect(parseQuantity('1.5G').toBytes()).toBe(1_500_000_000n);
    expect(parseQuantity('2.5').toMilli()).toBe(2500n);
    expect(parseQuantity('1m').toBytes()).toBe(1n);
  });

  it('keeps exponents and tiny values exact', () => {
    expect(parseQuantity('1.5e3').value()).toBe(1500n);
    expect(parseQuantity('12E+2').value()).toBe(1200n);
    expect(parseQuantity('5e-3').toMilli()).toBe(5n);
    expect(parseQuantity(1.5e-12).nano).toBe(1n);
    expect(parseQuantity('1e3').toString()).toBe('1e3');
  });

  it('canonicalizes binary quantities like Kubernetes', () => {
    expect(parseQuantity('1.5Gi').toString()).toBe('1536Mi');
    expect(parseQuantity('0.5Ki').toString()).toBe('512');
    expect(parseQuantity('1.5Ki').toString()).toBe('1536');
    expect(parseQuantity('0.1Ki').toString()).toBe('102400m');
    expect(parseQuantity('-1Mi').toString()).toBe('-1Mi');
    expect(parseQuantity('1000').toString()).toBe('1k');
  });

  it('builds and prints quantities', () => {
    expect(quantityFromMilli(250).toString()).toBe('250m');
    expect(quantityFromMilli(3000n).toString()).toBe('3');
    expect(quantityFromValue(1n << 30n, 'BinarySI').toString()).toBe('1Gi');
    expect(formatMilli(1500)).toBe('1500m');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64Mi');
    expect(formatBytes(1000)).toBe('1k');
  });

  it('compares, negates and multiplies', () => {
    expect(compareQuantities('1Gi', '1024Mi')).toBe(0);
    expect(compareQuantities('1G', '1Gi')).toBe(-1);
    expect(compareQuantities(new Quantity(5n), '4n')).toBe(1);
    expect(parseQuantity('100m').mul(3).equals(parseQuantity('300m'))).toBe(true);
    expect(parseQuantity('2').neg().sign()).toBe(-1);
    expect(parseQuantity('0Mi').isZero()).toBe(true);
    expect(() => compareQuantities('x', '1')).toThrow(/quantities must match/);
  });
});
