/**
 * IPv4 prefixes as the pod network needs them: parse, contain, first host. Pure.
 */

/** A parsed IPv4 prefix; `network` is the masked address as a 32-bit unsigned number. */
export interface Ipv4Cidr {
  network: number;
  prefix: number;
}

/** An address or prefix that is not valid IPv4. */
export class CidrError extends Error {
  override readonly name = 'CidrError';
}

/** Parses a dotted-quad address into a 32-bit unsigned number; throws CidrError. */
export function parseIpv4(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new CidrError(`not an IPv4 address: ${ip}`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** Formats a 32-bit unsigned number as a dotted quad. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n` (host bits are masked off); throws CidrError. */
export function parseCidr(cidr: string): Ipv4Cidr {
  const [ip, len, ...rest] = cidr.split('/');
  const prefix = Number(len);
  if (rest.length > 0 || len === undefined || !/^\d{1,2}$/.test(len) || prefix > 32) throw new CidrError(`not an IPv4 CIDR: ${cidr}`);
  return { network: (parseIpv4(ip!) & mask(prefix)) >>> 0, prefix };
}

/** The canonical `a.b.c.d/n` form. */
export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** True when `ip` is inside `cidr`. */
export function cidrContains(cidr: Ipv4Cidr, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : parseIpv4(ip);
  return ((n & mask(cidr.prefix)) >>> 0) === cidr.network;
}

/** True when the two prefixes share any address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return cidrContains(a.prefix <= b.prefix ? a : b, a.prefix <= b.prefix ? b.network : a.network);
}

/** The first host address of the prefix (the pod bridge's gateway). */
export function firstHost(c: Ipv4Cidr): string {
  return formatIpv4(c.prefix >= 31 ? c.network : c.network + 1);
}
