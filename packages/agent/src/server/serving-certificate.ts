/**
 * The agent's HTTPS serving certificate: self-signed (as a kubelet without `--tls-cert-file`),
 * kept in DATA_DIR/pki/agent.{crt,key} and re-issued when it expires or misses a host.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from '@flotilla/client';
import { createSelfSignedServingCertificate, type CertificatePem } from './self-signed-certificate.js';

/** Hosts (DNS names and IPs) a certificate covers, read with Node's own X.509 parser. */
function coveredHosts(cert: X509Certificate): Set<string> {
  return new Set((cert.subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '')));
}

/** Loads or creates the serving certificate covering `hosts` (names and IPs). */
export async function ensureServingCertificate(dataDir: string, nodeName: string, hosts: string[]): Promise<CertificatePem> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'agent.crt');
  const keyPath = join(dir, 'agent.key');
  const cert = await readFileIfExists(certPath);
  const key = await readFileIfExists(keyPath);
  if (cert && key) {
    // Node's own X.509 parser reads it; making one needs no X.509 library either (self-signed-certificate.ts).
    const x509 = new X509Certificate(cert);
    const expiringSoon = Date.parse(x509.validTo) - Date.now() < 30 * 24 * 3600_000;
    const covered = coveredHosts(x509);
    if (!expiringSoon && hosts.every((h) => covered.has(h))) return { cert, key };
  }
  const issued = await createSelfSignedServingCertificate(`${nodeName}@agent`, hosts);
  await writeFileAtomic(keyPath, issued.key, 0o600);
  await writeFileAtomic(certPath, issued.cert, 0o644);
  return issued;
}
