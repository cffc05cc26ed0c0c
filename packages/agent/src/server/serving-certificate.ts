/**
 * The agent's HTTPS serving certificate: self-signed (as a kubelet without `--tls-cert-file`),
 * kept in DATA_DIR/pki/agent.{crt,key} and re-issued when it expires or misses a host.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSelfSignedCertificate, isExpiringSoon, subjectAltNames, type KeyPairPem } from '@flotilla/api/pki';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/** Loads or creates the serving certificate covering `hosts` (names and IPs). */
export async function ensureServingCertificate(dataDir: string, nodeName: string, hosts: string[]): Promise<KeyPairPem> {
  const dir = join(dataDir, 'pki');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'agent.crt');
  const keyPath = join(dir, 'agent.key');
  const cert = await readIfExists(certPath);
  const key = await readIfExists(keyPath);
  if (cert && key && !isExpiringSoon(cert)) {
    const covered = new Set(subjectAltNames(cert));
    if (hosts.every((h) => covered.has(h))) return { cert, key };
  }
  const issued = await createSelfSignedCertificate(`${nodeName}@agent`, hosts);
  await writeAtomic(keyPath, issued.key, 0o600);
  await writeAtomic(certPath, issued.cert, 0o644);
  return issued;
}
