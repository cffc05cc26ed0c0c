/**
 * The agent's HTTPS serving certificate: self-signed (as a kubelet without `--tls-cert-file`),
 * kept in DATA_DIR/pki/agent.{crt,key} and re-issued when it expires or misses a host.
 *
 * Reading one needs only Node's own X.509 parser. Making one uses @flotilla/api/pki (@peculiar/x509)
 * in a short-lived child process: that library stays resident once imported (~16 MiB, a quarter of
 * the agent's memory) for a certificate made once per node, so the agent never imports it itself.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { KeyPairPem } from '@flotilla/api/pki';
import { readFileIfExists, writeFileAtomic } from '@flotilla/client';

/** One IPv6 address as eight lower-case hex groups (`::ffff:1.2.3.4` → `0:0:0:0:0:ffff:102:304`). */
function expandIPv6(ip: string): string {
  let text = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** A host as compared against a certificate (IPv6 addresses in one spelling). */
export function canonicalHost(host: string): string {
  return isIPv6(host) ? expandIPv6(host) : host;
}

/** Hosts (DNS names and IPs) a certificate covers, read with Node's own X.509 parser. */
function coveredHosts(cert: X509Certificate): Set<string> {
  return new Set((cert.subjectAltName ?? '').split(', ').map((e) => canonicalHost(e.replace(/^(DNS|IP Address):/, ''))));
}

/** Makes a self-signed serving certificate with @flotilla/api/pki in a child Node process. */
async function issueInChildProcess(commonName: string, hosts: string[]): Promise<KeyPairPem> {
  // The built module (the package's `default` export), also when this code runs from source.
  const manifest = createRequire(import.meta.url).resolve('@flotilla/api/package.json');
  const exported = (JSON.parse(await readFile(manifest, 'utf8')) as { exports: Record<string, { default: string }> }).exports['./pki']!.default;
  const pki = pathToFileURL(join(dirname(manifest), exported)).href;
  const script = [
    `const { createSelfSignedCertificate } = await import(${JSON.stringify(pki)});`,
    'const [commonName, hosts] = JSON.parse(process.argv[1]);',
    'process.stdout.write(JSON.stringify(await createSelfSignedCertificate(commonName, hosts)));',
  ].join('\n');
  // child_process loads only when a certificate is made (not on a restart that reuses it).
  const { execFile } = await import('node:child_process');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, JSON.stringify([commonName, hosts])], { timeout: 60_000 });
  return JSON.parse(stdout) as KeyPairPem;
}

/** Loads or creates the serving certificate covering `hosts` (names and IPs). */
export async function ensureServingCertificate(dataDir: string, nodeName: string, hosts: string[]): Promise<KeyPairPem> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'agent.crt');
  const keyPath = join(dir, 'agent.key');
  const cert = await readFileIfExists(certPath);
  const key = await readFileIfExists(keyPath);
  if (cert && key) {
    const x509 = new X509Certificate(cert);
    const expiringSoon = Date.parse(x509.validTo) - Date.now() < 30 * 24 * 3600_000;
    const covered = coveredHosts(x509);
    if (!expiringSoon && hosts.every((h) => covered.has(canonicalHost(h)))) return { cert, key };
  }
  const issued = await issueInChildProcess(`${nodeName}@agent`, hosts);
  await writeFileAtomic(keyPath, issued.key, 0o600);
  await writeFileAtomic(certPath, issued.cert, 0o644);
  return issued;
}
