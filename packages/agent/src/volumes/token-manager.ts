/**
 * Service account tokens for projected `serviceAccountToken` volume sources, as the kubelet's token
 * manager keeps them: one TokenRequest per pod, account, audience and lifetime, bound to the pod, and
 * cached until 80% of its lifetime has passed (or it is a day old), so the file a pod reads is
 * renewed well before it expires. Entries of expired tokens are dropped (a deleted pod's within its
 * token's lifetime).
 */
import type { ServiceAccountTokenRequest } from './volume-manager.js';

/** What the API answers to a TokenRequest (status part). */
export interface IssuedToken {
  token: string;
  /** RFC 3339. */
  expirationTimestamp: string;
}

/** Posts a TokenRequest (authentication.k8s.io/v1) for `namespace/serviceAccount`, bound to the request's pod. */
export type TokenRequester = (namespace: string, serviceAccount: string, request: ServiceAccountTokenRequest) => Promise<IssuedToken>;

/** A token older than this is renewed whatever its lifetime (the kubelet's maxTTL). */
const MAX_AGE_MS = 24 * 3600_000;

interface Entry {
  token: string;
  issuedAt: number;
  expiresAt: number;
  ttlMs: number;
}

/** Caches and renews bound service account tokens. */
export class ServiceAccountTokenManager {
  private readonly cache = new Map<string, Entry>();

  constructor(
    private readonly request: TokenRequester,
    private readonly now: () => number = Date.now,
  ) {}

  /** A valid token for the request, from the cache unless it is due for renewal. */
  async get(namespace: string, serviceAccount: string, r: ServiceAccountTokenRequest): Promise<string> {
    const key = JSON.stringify([r.podUid, namespace, serviceAccount, r.audience ?? '', r.expirationSeconds]);
    const now = this.now();
    this.dropExpired(now);
    const cached = this.cache.get(key);
    if (cached && !this.dueForRenewal(cached, now)) return cached.token;
    try {
      const issued = await this.request(namespace, serviceAccount, r);
      const expiresAt = Date.parse(issued.expirationTimestamp);
      if (!issued.token || Number.isNaN(expiresAt)) throw new Error('the TokenRequest answer has no token or expiration');
      this.cache.set(key, { token: issued.token, issuedAt: now, expiresAt, ttlMs: Math.min(r.expirationSeconds * 1000, expiresAt - now) });
      return issued.token;
    } catch (err) {
      // A token still valid is better than none while the API server is away (the kubelet does the same).
      if (cached && cached.expiresAt > now) return cached.token;
      throw err;
    }
  }

  /** Number of cached tokens. */
  get size(): number {
    return this.cache.size;
  }

  private dueForRenewal(e: Entry, now: number): boolean {
    return now - e.issuedAt >= MAX_AGE_MS || now >= e.expiresAt - e.ttlMs * 0.2;
  }

  private dropExpired(now: number): void {
    for (const [key, e] of this.cache) if (e.expiresAt <= now) this.cache.delete(key);
  }
}
