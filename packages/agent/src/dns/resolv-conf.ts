/**
 * The node's own resolvers, read from resolv.conf: where names outside the cluster domain go.
 */
import { readFileSync } from 'node:fs';

/** The `nameserver` lines of `text`, in order, without the ones in `exclude`. */
export function parseNameservers(text: string, exclude: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // A zone index (fe80::1%eth0) cannot be passed to a socket as an address with a port.
    const ip = m?.[1]?.replace(/%.*$/, '');
    if (ip && !exclude.includes(ip) && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** The nameservers of `path` (default /etc/resolv.conf) without `exclude`; [] if it cannot be read. */
export function readNameservers(exclude: readonly string[] = [], path = '/etc/resolv.conf'): string[] {
  try {
    return parseNameservers(readFileSync(path, 'utf8'), exclude);
  } catch {
    return [];
  }
}
