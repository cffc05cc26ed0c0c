/**
 * The cluster join token in `DATA_DIR/token`. Created (mode 0600) as a bootstrap token `<id>.<secret>`
 * before the API server starts (which creates its Secret, `--join-token-file`); once the cluster CA
 * exists the file holds the full secure form `K10<sha256 of the CA certificate>::<id>.<secret>` that
 * `flotilla agent --token` takes. A token of the old 32-hex-digit form is converted in place.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBootstrapToken, formatJoinToken, generateBootstrapToken, parseJoinToken, type BootstrapToken } from '@flotilla/api';
import { certificateSha256 } from '@flotilla/api/pki';
import { writeFileAtomicSync } from '@flotilla/client';

/** Path of the token file in a data directory. */
export function joinTokenPath(dataDir: string): string {
  return join(dataDir, 'token');
}

function writeToken(path: string, text: string): void {
  writeFileAtomicSync(path, `${text}\n`, 0o600);
}

/** Reads `dataDir/token`, creating it with a fresh bootstrap token first if it does not exist. */
export function ensureJoinToken(dataDir: string): BootstrapToken {
  const path = joinTokenPath(dataDir);
  try {
    writeFileSync(path, `${formatBootstrapToken(generateBootstrapToken())}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const text = readFileSync(path, 'utf8').trim();
  const parsed = parseJoinToken(text);
  if (parsed) return { id: parsed.id, secret: parsed.secret };
  if (/^[0-9a-f]{32}$/.test(text)) {
    // The launcher's first token format: keep the same secret material, as a bootstrap token.
    const token = { id: text.slice(0, 6), secret: text.slice(6, 22) };
    writeToken(path, formatBootstrapToken(token));
    return token;
  }
  throw new Error(`${path} does not hold a join token; delete it to have a new token created`);
}

/** Writes the secure form `K10<hash of caPem>::<id>.<secret>` into `dataDir/token` (if not there yet) and returns it. */
export function completeJoinToken(dataDir: string, token: BootstrapToken, caPem: string): string {
  const full = formatJoinToken({ ...token, caHash: certificateSha256(caPem) });
  const path = joinTokenPath(dataDir);
  if (readFileSync(path, 'utf8').trim() !== full) writeToken(path, full);
  return full;
}
