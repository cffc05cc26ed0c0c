/**
 * Registry credentials from a pod's imagePullSecrets (`kubernetes.io/dockerconfigjson` and the older
 * `kubernetes.io/dockercfg`), matched to an image's registry the way the kubelet's keyring does:
 * the longest matching registry key wins; Docker Hub images match `docker.io`, `index.docker.io`
 * and `https://index.docker.io/v1/`.
 */
import type { KubeObject } from '@flotilla/api/core';
import type { ImageAuth } from '../runtime/runtime.js';

interface DockerAuthEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The registry host of an image reference (`docker.io` for Docker Hub names). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  if (!image.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) return 'docker.io';
  return first;
}

function normalizeKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (k === 'index.docker.io/v1' || k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

function entriesOf(secret: KubeObject): Record<string, DockerAuthEntry> {
  const data = (secret['data'] ?? {}) as Record<string, string>;
  const decode = (v: string | undefined) => (v ? Buffer.from(v, 'base64').toString('utf8') : undefined);
  try {
    const json = decode(data['.dockerconfigjson']);
    if (json) return ((JSON.parse(json) as { auths?: Record<string, DockerAuthEntry> }).auths ?? {});
    const cfg = decode(data['.dockercfg']);
    if (cfg) return JSON.parse(cfg) as Record<string, DockerAuthEntry>;
  } catch {
    // A malformed secret provides no credentials (as the kubelet treats it).
  }
  return {};
}

/** Credentials for `image` from the given pull secrets, if any matches its registry. */
export function authForImage(image: string, secrets: readonly KubeObject[]): ImageAuth | undefined {
  const registry = registryOf(image);
  const path = image.replace(/[:@][^/]*$/, '');
  let best: { len: number; auth: ImageAuth } | undefined;
  for (const s of secrets) {
    for (const [rawKey, e] of Object.entries(entriesOf(s))) {
      const key = normalizeKey(rawKey);
      const keyHost = key.split('/')[0]!;
      if (keyHost !== registry) continue;
      // A key with a path (`registry/team`) only matches images under it.
      const keyPath = key.slice(keyHost.length);
      const imagePath = registry === 'docker.io' && !path.startsWith('docker.io') ? `/${path}` : path.slice(registry.length);
      if (keyPath && !imagePath.startsWith(keyPath)) continue;
      if (best && best.len >= key.length) continue;
      let username = e.username;
      let password = e.password;
      if ((!username || !password) && e.auth) {
        const plain = Buffer.from(e.auth, 'base64').toString('utf8');
        const i = plain.indexOf(':');
        if (i > 0) {
          username = plain.slice(0, i);
          password = plain.slice(i + 1);
        }
      }
      best = {
        len: key.length,
        auth: { serverAddress: registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry, ...(username ? { username } : {}), ...(password ? { password } : {}), ...(e.identitytoken ? { identityToken: e.identitytoken } : {}), ...(e.registrytoken ? { registryToken: e.registrytoken } : {}) },
      };
    }
  }
  return best?.auth;
}
