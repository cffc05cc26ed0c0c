/**
 * Reading `--root-ca-file`: the PEM bundle must hold at least one certificate and every certificate
 * in it must parse, as kube-controller-manager checks before it publishes the bundle.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Checks a PEM CA bundle; throws when it holds no certificate or one that does not parse. */
export function checkCaBundle(pem: string): void {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('data does not contain any valid RSA or ECDSA certificates');
  for (const b of blocks) new X509Certificate(b);
}

/** The bundle in `path`, unchanged; throws (with Kubernetes' "error parsing root-ca-file at" prefix) when unreadable or invalid. */
export function readRootCaFile(path: string): string {
  try {
    const pem = readFileSync(path, 'utf8');
    checkCaBundle(pem);
    return pem;
  } catch (err) {
    throw new Error(`error parsing root-ca-file at ${path}: ${(err as Error).message}`, { cause: err });
  }
}
