/**
 * Reading `--service-account-private-key-file`: a PEM private key (PKCS#1 or PKCS#8) the tokens
 * controller signs legacy service account tokens with. It must be RSA, as the API server verifies
 * RS256; kube-apiserver's `pki/sa.key` is one.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { legacyTokenSigningKey } from './controllers/serviceaccount/tokens-controller.js';

/** The key in `path`; throws (with Kubernetes' "error reading key for service account token controller" prefix) when unreadable, not a private key, or not RSA. */
export function readServiceAccountPrivateKey(path: string): KeyObject {
  try {
    const key = createPrivateKey(readFileSync(path, 'utf8'));
    legacyTokenSigningKey(key);
    return key;
  } catch (err) {
    throw new Error(`error reading key for service account token controller: ${(err as Error).message}`, { cause: err });
  }
}
