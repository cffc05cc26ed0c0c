/**
 * Joining a machine with a secure join token (`K10<sha256 of the CA certificate>::<id>.<secret>`,
 * k3s's format): fetch the server's CA bundle from `/cacerts` without trusting anything yet, check it
 * against the token's hash, then, trusting that CA only, send a CSR for `system:node:<name>` with the
 * bootstrap token and write a kubeconfig holding the signed client certificate. The bootstrap token
 * is never sent before the CA has been checked.
 */
import { request as httpsRequest } from 'node:https';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BOOTSTRAP_USER_PREFIX, formatBootstrapToken, parseJoinToken } from '@flotilla/api';
import { certificateSha256, createCertificateRequest } from '@flotilla/api/pki';
import { buildKubeconfig, writeFileAtomic } from '@flotilla/client';

/** Why joining failed, in words for the person running the command. */
export class JoinError extends Error {
  override name = 'JoinError';
}

/** What {@link joinCluster} needs. */
export interface JoinOptions {
  /** `https://host:port` of the API server. */
  server: string;
  /** The join token. */
  token: string;
  nodeName: string;
  /** Where the kubeconfig is written (mode 0600). */
  kubeconfigPath: string;
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number;
}

interface HttpResult {
  status: number;
  body: string;
}

function send(url: URL, options: { method: string; ca?: string; headers?: Record<string, string>; body?: string; timeoutMs: number }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: options.method,
        headers: { accept: 'application/json, */*', ...(options.headers ?? {}) },
        // Without a CA nothing is trusted yet: the answer is only used after its hash is checked.
        ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

function firstCertificate(pem: string): string | undefined {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  return m ? `${m[0]}\n` : undefined;
}

function statusMessage(body: string): string | undefined {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string };
    return s.kind === 'Status' ? s.message : undefined;
  } catch {
    return undefined;
  }
}

/** Obtains node credentials with the join token and writes the kubeconfig. Throws {@link JoinError}. */
export async function joinCluster(o: JoinOptions): Promise<void> {
  const token = parseJoinToken(o.token);
  if (!token) throw new JoinError('the token is not a join token (K10<ca hash>::<id>.<secret>)');
  if (!token.caHash) throw new JoinError('the token has no CA hash; use the full join token K10<ca hash>::<id>.<secret> (DATA_DIR/token on the server, or flctl token create)');
  let base: URL;
  try {
    base = new URL(o.server);
  } catch {
    throw new JoinError(`--server must be a URL like https://HOST:6443, got ${o.server}`);
  }
  if (base.protocol !== 'https:') throw new JoinError(`--server must be an https:// URL, got ${o.server}`);
  const timeoutMs = o.timeoutMs ?? 15_000;
  const at = (path: string) => new URL(path, base);

  // 1. The CA, untrusted until it matches the token.
  let cacerts: HttpResult;
  try {
    cacerts = await send(at('/cacerts'), { method: 'GET', timeoutMs });
  } catch (err) {
    throw new JoinError(`cannot reach the server at ${o.server}: ${(err as Error).message}`);
  }
  const caPem = cacerts.status === 200 ? firstCertificate(cacerts.body) : undefined;
  if (!caPem) throw new JoinError(`the server at ${o.server} did not serve its CA at /cacerts (HTTP ${cacerts.status})`);
  let hash: string;
  try {
    hash = certificateSha256(caPem);
  } catch {
    throw new JoinError(`the server at ${o.server} served an unreadable CA certificate`);
  }
  if (hash !== token.caHash) throw new JoinError(`the server's CA does not match the token (the server's CA hash is ${hash}); check --server and --token`);

  // 2. A key and a CSR; the bootstrap token is only sent over a connection verified with that CA.
  const { csr, key } = await createCertificateRequest(`system:node:${o.nodeName}`, ['system:nodes']);
  const body = JSON.stringify({ apiVersion: 'flotilla.io/v1', kind: 'NodeCredentialRequest', spec: { request: Buffer.from(csr).toString('base64') } });
  let res: HttpResult;
  try {
    res = await send(at('/apis/flotilla.io/v1/nodecredentials'), {
      method: 'POST',
      ca: caPem,
      headers: { authorization: `Bearer ${formatBootstrapToken(token)}`, 'content-type': 'application/json' },
      body,
      timeoutMs,
    });
  } catch (err) {
    throw new JoinError(`requesting node credentials from ${o.server} failed: ${(err as Error).message}`);
  }
  if (res.status === 401) throw new JoinError(`the server refused the token (401 Unauthorized): it is wrong, expired or was deleted (token id ${token.id}, user ${BOOTSTRAP_USER_PREFIX}${token.id})`);
  if (res.status !== 201 && res.status !== 200) throw new JoinError(`the server refused to issue node credentials (HTTP ${res.status}): ${statusMessage(res.body) ?? res.body.slice(0, 200)}`);
  let certPem: string;
  try {
    const answer = JSON.parse(res.body) as { status?: { certificate?: string } };
    certPem = Buffer.from(answer.status?.certificate ?? '', 'base64').toString('utf8');
  } catch {
    certPem = '';
  }
  if (!certPem.includes('BEGIN CERTIFICATE')) throw new JoinError('the server answered without a certificate');

  // 3. The kubeconfig, written atomically with mode 0600.
  await mkdir(dirname(o.kubeconfigPath), { recursive: true, mode: 0o700 });
  await writeFileAtomic(o.kubeconfigPath, buildKubeconfig({ server: base.origin, caPem, certPem, keyPem: key, userName: `system:node:${o.nodeName}` }), 0o600);
}
