/**
 * An IPv4 range carved into equal subnets (upstream pkg/controller/nodeipam/ipam/cidrset): allocate
 * the next free one round-robin, occupy the ones already in use, release. IPv4 only.
 */

/** Subnets of a cluster CIDR beyond this many (2^16) are refused, as upstream does. */
const MAX_SUBNET_BITS = 16;

/** A malformed or unsupported CIDR (or mask size). */
export class CidrError extends Error {
  override readonly name = 'CidrError';
}

/** Parses `a.b.c.d/p` to the network address (as an unsigned 32-bit number) and the prefix length. */
export function parseIPv4Cidr(cidr: string): { base: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new CidrError(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new CidrError(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  // The network address: the host bits cleared (as net.ParseCIDR does).
  return { base: addr - (addr % size), prefix };
}

/** Formats an unsigned 32-bit address and a prefix as a CIDR. */
export function formatIPv4Cidr(base: number, prefix: number): string {
  return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/${prefix}`;
}

/** The subnets of one cluster CIDR and which are in use. */
export class CidrSet {
  readonly base: number;
  readonly prefix: number;
  readonly maskSize: number;
  /** Number of subnets. */
  readonly size: number;
  private readonly used: Uint8Array;
  private allocated = 0;
  private next = 0;

  /** Throws CidrError when the CIDR is malformed or the mask size does not fit. */
  constructor(clusterCidr: string, maskSize: number) {
    const { base, prefix } = parseIPv4Cidr(clusterCidr);
    if (!Number.isInteger(maskSize) || maskSize < prefix || maskSize > 32) throw new CidrError(`node CIDR mask size ${maskSize} does not fit in cluster CIDR ${clusterCidr}`);
    if (maskSize - prefix > MAX_SUBNET_BITS) throw new CidrError(`node CIDR mask size ${maskSize} is too large for cluster CIDR ${clusterCidr}: at most ${MAX_SUBNET_BITS} bits of subnets`);
    this.base = base;
    this.prefix = prefix;
    this.maskSize = maskSize;
    this.size = 2 ** (maskSize - prefix);
    this.used = new Uint8Array(this.size);
  }

  /** Subnets in use. */
  get usedCount(): number {
    return this.allocated;
  }

  /** Takes the next free subnet, or undefined when all are in use. */
  allocate(): string | undefined {
    for (let i = 0; i < this.size; i++) {
      const idx = (this.next + i) % this.size;
      if (this.used[idx]) continue;
      this.used[idx] = 1;
      this.allocated++;
      this.next = (idx + 1) % this.size;
      return formatIPv4Cidr(this.base + idx * 2 ** (32 - this.maskSize), this.maskSize);
    }
    return undefined;
  }

  /** The subnet indexes a CIDR overlaps (empty when it is outside the cluster CIDR). */
  private indexesOf(cidr: string): [number, number] | undefined {
    const { base, prefix } = parseIPv4Cidr(cidr);
    const clusterEnd = this.base + 2 ** (32 - this.prefix);
    const end = base + 2 ** (32 - prefix);
    if (end <= this.base || base >= clusterEnd) return undefined;
    const from = Math.max(base, this.base);
    const to = Math.min(end, clusterEnd);
    const step = 2 ** (32 - this.maskSize);
    return [Math.floor((from - this.base) / step), Math.ceil((to - this.base) / step)];
  }

  /** Marks every subnet a CIDR overlaps as used; false when it lies outside the cluster CIDR. */
  occupy(cidr: string): boolean {
    const r = this.indexesOf(cidr);
    if (!r) return false;
    for (let i = r[0]; i < r[1]; i++) {
      if (!this.used[i]) this.allocated++;
      this.used[i] = 1;
    }
    return true;
  }

  /** Frees every subnet a CIDR overlaps. */
  release(cidr: string): void {
    const r = this.indexesOf(cidr);
    if (!r) return;
    for (let i = r[0]; i < r[1]; i++) {
      if (this.used[i]) this.allocated--;
      this.used[i] = 0;
    }
  }
}
