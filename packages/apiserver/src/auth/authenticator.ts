/**
 * Authentication: who is calling. Bearer tokens from the static token file (`tokens.csv`, the
 * Kubernetes `--token-auth-file` format) and client certificates signed by the cluster CA (CN = user,
 * O = groups). Further authenticators (bootstrap tokens, service account tokens) plug in as a chain.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import { writeFileAtomic } from '@flotilla/client';

/** The authenticated caller. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  /** Further facts about the user (Kubernetes' user.Info extra), e.g. the pod a service account token is bound to. */
  extra?: Record<string, string[]>;
}

/** What an authenticator sees of a request. */
export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: unknown;
}

/** One way to recognise a caller; `undefined` = not mine (try the next one). */
export interface Authenticator {
  authenticate(req: AuthRequest): Promise<UserInfo | undefined> | UserInfo | undefined;
}

/** The token of an `Authorization: Bearer TOKEN` header, if the request has one. */
export function bearerToken(req: AuthRequest): string | undefined {
  const h = req.headers['authorization'];
  const value = Array.isArray(h) ? h[0] : h;
  if (!value || !/^bearer /i.test(value)) return undefined;
  return value.slice(7).trim();
}

/** Everyone authenticated gets this group, as in Kubernetes. */
export const AUTHENTICATED_GROUP = 'system:authenticated';

/** Group of cluster administrators. */
export const MASTERS_GROUP = 'system:masters';

/** One line of the token file. */
export interface TokenEntry {
  token: string;
  user: string;
  uid: string;
  groups: string[];
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parses `token,user,uid,"group1,group2"` lines; blank lines and `#` comments are skipped. */
export function parseTokenFile(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [token, user, uid, groups] = parseCsvLine(line);
    if (!token || !user) continue;
    entries.push({ token, user, uid: uid ?? '', groups: groups ? groups.split(',').map((g) => g.trim()).filter((g) => g !== '') : [] });
  }
  return entries;
}

function formatTokenFile(entries: TokenEntry[]): string {
  return entries.map((e) => `${e.token},${e.user},${e.uid},"${e.groups.join(',')}"`).join('\n') + '\n';
}

/** A fresh random bearer token (URL-safe, 256 bits). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Loads the token file at `path`, creating it with an admin token (user `admin`, group
 * `system:masters`) when it does not exist. Returns the entries and the admin token.
 */
export async function ensureTokenFile(path: string): Promise<{ entries: TokenEntry[]; adminToken: string }> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let entries = text === undefined ? [] : parseTokenFile(text);
  let admin = entries.find((e) => e.user === 'admin');
  if (!admin) {
    admin = { token: generateToken(), user: 'admin', uid: 'admin', groups: [MASTERS_GROUP] };
    entries = [...entries, admin];
    await writeFileAtomic(path, formatTokenFile(entries));
  }
  return { entries, adminToken: admin.token };
}

/** Bearer tokens from a fixed table. */
export class TokenAuthenticator implements Authenticator {
  private readonly byToken = new Map<string, UserInfo>();

  constructor(entries: readonly TokenEntry[]) {
    for (const e of entries) this.byToken.set(e.token, { name: e.user, uid: e.uid, groups: e.groups });
  }

  authenticate(req: AuthRequest): UserInfo | undefined {
    const token = bearerToken(req);
    return token === undefined ? undefined : this.byToken.get(token);
  }
}

/** Client certificates the TLS layer verified against the cluster CA. */
export class ClientCertAuthenticator implements Authenticator {
  authenticate(req: AuthRequest): UserInfo | undefined {
    const socket = req.socket as Partial<TLSSocket> | undefined;
    if (!socket || typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || !cert.subject) return undefined;
    const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
    const cn = subject['CN'];
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (!name) return undefined;
    const o = subject['O'];
    return { name, groups: o === undefined ? [] : Array.isArray(o) ? [...o] : [o] };
  }
}

/** Tries each authenticator in order; adds `system:authenticated` to whoever is recognised. */
export class UnionAuthenticator implements Authenticator {
  constructor(private readonly chain: readonly Authenticator[]) {}

  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    for (const a of this.chain) {
      const u = await a.authenticate(req);
      if (u) return u.groups.includes(AUTHENTICATED_GROUP) ? u : { ...u, groups: [...u.groups, AUTHENTICATED_GROUP] };
    }
    return undefined;
  }
}
