/**
 * The cluster's certificate authority, the API server's serving certificate and its client
 * certificate for agents (`apiserver-kubelet-client`), generated on the first start into the data
 * directory and reused afterwards (so kubeconfigs stay valid across restarts). The X.509 work is in
 * `@flotilla/api/pki`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, isExpiringSoon, issueCertificate, publicKeyHash, subjectAltNames, type KeyPairPem, type LeafOptions } from '@flotilla/api/pki';
import { readFileIfExists, writeFileAtomic } from '@flotilla/client';

export { createCa, issueCertificate, publicKeyHash, signPublicKey, subjectAltNames, userFromCertificate, type KeyPairPem, type LeafOptions } from '@flotilla/api/pki';

/** Common name of the API server's client certificate towards agents (what agents authorize). */
export const KUBELET_CLIENT_COMMON_NAME = 'flotilla-apiserver';
const MASTERS_GROUP = 'system:masters';

/** The cluster CA, the API server's serving certificate and its client certificate for agents. */
export interface ServerPki {
  ca: KeyPairPem;
  serving: KeyPairPem;
  /** Presented to agents for logs, exec, attach and port-forward. */
  kubeletClient: KeyPairPem;
  /** `sha256:<hex>` of the CA certificate's SubjectPublicKeyInfo, as kubeadm join tokens pin it. */
  caHash: string;
}

/**
 * Loads the CA and serving certificate from `dir`, creating what is missing. The serving certificate
 * is re-issued when it does not cover every host in `hosts` (e.g. a new --bind-address).
 */
export async function ensureServerPki(dir: string, hosts: string[]): Promise<ServerPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caCertPath = join(dir, 'ca.crt');
  const caKeyPath = join(dir, 'ca.key');
  let caCert = await readFileIfExists(caCertPath);
  let caKey = await readFileIfExists(caKeyPath);
  if (!caCert || !caKey) {
    const ca = await createCa();
    caCert = ca.cert;
    caKey = ca.key;
    await writeFileAtomic(caKeyPath, caKey);
    await writeFileAtomic(caCertPath, caCert, 0o644);
  }
  const ca = { cert: caCert, key: caKey };
  const servingCertPath = join(dir, 'apiserver.crt');
  const servingKeyPath = join(dir, 'apiserver.key');
  let cert = await readFileIfExists(servingCertPath);
  let key = await readFileIfExists(servingKeyPath);
  const wanted = [...new Set(hosts)];
  const covered = cert ? new Set(subjectAltNames(cert)) : new Set<string>();
  if (!cert || !key || !wanted.every((h) => covered.has(h)) || isExpiringSoon(cert)) {
    const issued = await issueCertificate(ca, { commonName: 'flotilla-apiserver', hosts: [...new Set([...covered, ...wanted])], usage: 'server' });
    cert = issued.cert;
    key = issued.key;
    await writeFileAtomic(servingKeyPath, key);
    await writeFileAtomic(servingCertPath, cert, 0o644);
  }
  const kubeletClient = await ensureLeaf(join(dir, 'apiserver-kubelet-client'), ca, { commonName: KUBELET_CLIENT_COMMON_NAME, organizations: [MASTERS_GROUP], usage: 'client' });
  return { ca, serving: { cert, key }, kubeletClient, caHash: publicKeyHash(ca.cert) };
}

/** Loads `BASE.crt`/`BASE.key`, issuing a fresh pair when missing or expiring. */
async function ensureLeaf(base: string, ca: KeyPairPem, options: LeafOptions): Promise<KeyPairPem> {
  let cert = await readFileIfExists(`${base}.crt`);
  let key = await readFileIfExists(`${base}.key`);
  if (!cert || !key || isExpiringSoon(cert)) {
    ({ cert, key } = await issueCertificate(ca, options));
    await writeFileAtomic(`${base}.key`, key);
    await writeFileAtomic(`${base}.crt`, cert, 0o644);
  }
  return { cert, key };
}
