/**
 * X.509 for the cluster: a CA, leaf certificates it signs (serving, client) and self-signed serving
 * certificates. ECDSA P-256 keys, signed with @peculiar/x509 on Node's WebCrypto. Pure computation,
 * no files: the API server and the agent decide where the results live.
 */
import { webcrypto, X509Certificate as NodeX509Certificate, randomBytes, createHash } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  cert: string;
  key: string;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

/** Creates a self-signed CA valid for ten years. */
export async function createCa(commonName = 'flotilla-ca'): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKeyPem(keys.privateKey) };
}

/** What a leaf certificate is for. */
export interface LeafOptions {
  commonName: string;
  /** Subject O= entries (Kubernetes groups for client certificates). */
  organizations?: string[];
  /** DNS names and IP addresses for serving certificates. */
  hosts?: string[];
  usage: 'server' | 'client' | 'both';
  validityMs?: number;
}

/** Issues a leaf certificate signed by the CA, with a fresh key. */
export async function issueCertificate(ca: KeyPairPem, options: LeafOptions): Promise<KeyPairPem> {
  const keys = await generateKeys();
  return { cert: await signPublicKey(ca, keys.publicKey, options), key: await exportKeyPem(keys.privateKey) };
}

/** Signs a given public key (e.g. from a node's CSR) with the CA. Returns the certificate PEM. */
export async function signPublicKey(ca: KeyPairPem, publicKey: CryptoKey, options: LeafOptions): Promise<string> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKeyPem(ca.key);
  const now = new Date();
  const subject = [`CN=${escapeDn(options.commonName)}`, ...(options.organizations ?? []).map((o) => `O=${escapeDn(o)}`)].join(', ');
  const usages: string[] = [];
  if (options.usage !== 'client') usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.usage !== 'server') usages.push(x509.ExtendedKeyUsage.clientAuth);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (options.hosts && options.hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(options.hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + (options.validityMs ?? ONE_YEAR_MS)),
    publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return cert.toString('pem');
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** `sha256:<hex>` of the certificate's SubjectPublicKeyInfo (what `--discovery-token-ca-cert-hash` pins). */
export function publicKeyHash(certPem: string): string {
  const c = new NodeX509Certificate(certPem);
  const spki = c.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** The DNS names and IPs in a certificate's SAN. */
export function subjectAltNames(certPem: string): string[] {
  const c = new NodeX509Certificate(certPem);
  return (c.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^(DNS|IP Address):/, '')).filter((s) => s !== '');
}


/** Creates a self-signed serving certificate for `hosts` (DNS names and IPs), as a kubelet does without a CA. */
export async function createSelfSignedCertificate(commonName: string, hosts: string[], validityMs = ONE_YEAR_MS): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(commonName)}`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + validityMs),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([...new Set(hosts)].map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKeyPem(keys.privateKey) };
}

/** True when the certificate expires within `withinMs` (default 30 days). */
export function isExpiringSoon(certPem: string, withinMs = 30 * 24 * 3600 * 1000): boolean {
  const c = new NodeX509Certificate(certPem);
  return new Date(c.validTo).getTime() - Date.now() < withinMs;
}

/** Subject fields of a verified client certificate, as Kubernetes maps them to a user. */
export function userFromCertificate(subject: Record<string, string | string[] | undefined>): { name: string; groups: string[] } | undefined {
  const cn = subject['CN'];
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return undefined;
  const o = subject['O'];
  const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { name, groups };
}

/** sha256 hex of a certificate's DER encoding (what a `K10<hash>::…` join token pins). */
export function certificateSha256(certPem: string): string {
  return createHash('sha256').update(new NodeX509Certificate(certPem).raw).digest('hex');
}

/** A PKCS#10 certificate signing request and its fresh private key, both PEM. */
export interface CertificateRequestPem {
  csr: string;
  key: string;
}

/** Creates a key pair and a CSR for `CN=<commonName>, O=<organizations…>`, signed with that key. */
export async function createCertificateRequest(commonName: string, organizations: string[] = []): Promise<CertificateRequestPem> {
  const keys = await generateKeys();
  const name = [`CN=${escapeDn(commonName)}`, ...organizations.map((o) => `O=${escapeDn(o)}`)].join(', ');
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: ALG });
  return { csr: csr.toString('pem'), key: await exportKeyPem(keys.privateKey) };
}

/** What a verified CSR asks for. */
export interface CertificateRequestInfo {
  commonName: string;
  organizations: string[];
  publicKey: CryptoKey;
}

/**
 * Parses a PEM CSR and checks its self-signature (proof that the requester holds the key). Throws
 * on malformed input or a bad signature. Only ECDSA P-256 keys are accepted.
 */
export async function verifyCertificateRequest(pem: string): Promise<CertificateRequestInfo> {
  const csr = new x509.Pkcs10CertificateRequest(pem);
  if (!(await csr.verify())) throw new Error('the certificate request is not signed by its key');
  const cn = csr.subjectName.getField('CN');
  if (cn.length !== 1) throw new Error('the certificate request must have exactly one CN');
  let publicKey: CryptoKey;
  try {
    publicKey = await csr.publicKey.export(ALG, ['verify']);
  } catch {
    throw new Error('the certificate request must use an ECDSA P-256 key');
  }
  return { commonName: cn[0]!, organizations: csr.subjectName.getField('O'), publicKey };
}
