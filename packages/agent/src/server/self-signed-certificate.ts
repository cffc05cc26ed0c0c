/**
 * A self-signed ECDSA P-256 serving certificate made with node:crypto and a few lines of DER, the
 * same certificate `createSelfSignedCertificate` of @flotilla/api/pki issues (CN, SANs, critical
 * basicConstraints CA:false and keyUsage digitalSignature+keyEncipherment, extKeyUsage serverAuth),
 * without loading an X.509 library: @peculiar/x509 and its ASN.1 schema stack stay in a process's
 * memory once imported (~16 MiB of the agent's), for a certificate made once per node.
 */
import { generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { promisify } from 'node:util';

/** A certificate and its private key (PKCS#8), both PEM. */
export interface CertificatePem {
  cert: string;
  key: string;
}

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

// ---- DER ----

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: `tag`, then the length of `content`, then `content`. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octetString = (b: Buffer) => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0) => tlv(0x03, Buffer.from([unusedBits]), b);
const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

/** A positive INTEGER from big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && bytes[i + 1]! < 0x80) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, b[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

/** The 16 bytes of an IPv6 address (`::` and a trailing dotted IPv4 part allowed). */
function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    text = `${text.slice(0, v4.index)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** A SubjectAlternativeName entry: iPAddress [7] or dNSName [2]. */
function generalName(host: string): Buffer {
  if (isIPv4(host)) return tlv(0x87, Buffer.from(host.split('.').map(Number)));
  if (isIPv6(host)) return tlv(0x87, ipv6Bytes(host));
  return tlv(0x82, Buffer.from(host, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [TRUE] : []), octetString(value));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---- the certificate ----

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/** The DER of a certificate for `publicKey`, signed with `privateKey`. */
function signedCertificate(commonName: string, hosts: string[], publicKey: KeyObject, privateKey: KeyObject, now: Date, validityMs: number): Buffer {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8String(commonName))));
  const extensions = [
    extension('2.5.29.19', true, sequence()), // basicConstraints: CA false
    extension('2.5.29.15', true, bitString(Buffer.from([0xa0]), 5)), // keyUsage: digitalSignature, keyEncipherment
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
    ...(hosts.length > 0 ? [extension('2.5.29.17', false, sequence(...[...new Set(hosts)].map(generalName)))] : []),
  ];
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(new Date(now.getTime() - 3600_000)), time(new Date(now.getTime() + validityMs))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  return sequence(tbs, ECDSA_WITH_SHA256, bitString(sign('sha256', tbs, privateKey)));
}

/** Creates a self-signed serving certificate for `hosts` (DNS names and IPs) with a fresh P-256 key. */
export async function createSelfSignedServingCertificate(commonName: string, hosts: string[], validityMs = ONE_YEAR_MS, now = new Date()): Promise<CertificatePem> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' });
  const der = signedCertificate(commonName, hosts, publicKey, privateKey, now, validityMs);
  return { cert: pem('CERTIFICATE', der), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
