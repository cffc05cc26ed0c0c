import { describe, expect, it } from 'vitest';
import { CidrError, CidrSet, formatIPv4Cidr, parseIPv4Cidr } from './cidr-set.js';

describe('CidrSet', () => {
  it('parses and formats IPv4 CIDRs, clearing host bits', () => {
    expect(parseIPv4Cidr('10.42.3.7/16')).toEqual({ base: 10 * 2 ** 24 + 42 * 2 ** 16, prefix: 16 });
    expect(formatIPv4Cidr(parseIPv4Cidr('192.168.1.0/24').base, 24)).toBe('192.168.1.0/24');
    expect(formatIPv4Cidr(parseIPv4Cidr('255.255.255.255/32').base, 32)).toBe('255.255.255.255/32');
    expect(() => parseIPv4Cidr('10.0.0.0')).toThrow(CidrError);
    expect(() => parseIPv4Cidr('10.0.0.256/8')).toThrow(CidrError);
    expect(() => parseIPv4Cidr('fd00::/64')).toThrow(CidrError);
  });

  it('allocates subnets in order and wraps around to freed ones', () => {
    const s = new CidrSet('10.42.0.0/22', 24);
    expect(s.size).toBe(4);
    expect([s.allocate(), s.allocate(), s.allocate(), s.allocate()]).toEqual(['10.42.0.0/24', '10.42.1.0/24', '10.42.2.0/24', '10.42.3.0/24']);
    expect(s.allocate()).toBeUndefined();
    s.release('10.42.1.0/24');
    expect(s.usedCount).toBe(3);
    expect(s.allocate()).toBe('10.42.1.0/24');
  });

  it('occupies what nodes already have, whatever its size', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    expect(s.occupy('10.42.0.0/23')).toBe(true);
    expect(s.occupy('10.42.2.128/25')).toBe(true);
    expect(s.occupy('10.43.0.0/24')).toBe(false);
    expect(s.usedCount).toBe(3);
    expect(s.allocate()).toBe('10.42.3.0/24');
  });

  it('refuses mask sizes that do not fit', () => {
    expect(() => new CidrSet('10.42.0.0/16', 8)).toThrow(CidrError);
    expect(() => new CidrSet('10.0.0.0/8', 30)).toThrow(/at most 16 bits/);
    expect(new CidrSet('10.0.0.0/8', 24).size).toBe(65536);
  });
});
