/** The cluster join token in `DATA_DIR/token`: 32 hex characters, created (mode 0600) if missing. */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Reads `dataDir/token`, creating it with a fresh random token first if it does not exist. */
export function ensureJoinToken(dataDir: string): string {
  const path = join(dataDir, 'token');
  try {
    writeFileSync(path, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const token = readFileSync(path, 'utf8').trim();
  if (token === '') throw new Error(`${path} is empty; delete it to have a new token created`);
  return token;
}
