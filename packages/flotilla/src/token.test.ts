import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, certificateSha256 } from '@flotilla/api/pki';
import { completeJoinToken, ensureJoinToken } from './token.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'flotilla-token-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the join token file', () => {
  it('is created as <id>.<secret> (0600), kept across calls and completed with the CA hash', async () => {
    const dir = fresh();
    const t = ensureJoinToken(dir);
    expect(`${t.id}.${t.secret}`).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    expect(ensureJoinToken(dir)).toEqual(t);
    const ca = await createCa();
    const full = completeJoinToken(dir, t, ca.cert);
    expect(full).toBe(`K10${certificateSha256(ca.cert)}::${t.id}.${t.secret}`);
    expect(readFileSync(join(dir, 'token'), 'utf8').trim()).toBe(full);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    expect(ensureJoinToken(dir)).toEqual(t);
  });

  it('converts the old 32-hex-digit token and refuses anything else', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'token'), '0123456789abcdef0123456789abcdef\n');
    expect(ensureJoinToken(dir)).toEqual({ id: '012345', secret: '6789abcdef012345' });
    expect(readFileSync(join(dir, 'token'), 'utf8').trim()).toBe('012345.6789abcdef012345');
    writeFileSync(join(dir, 'token'), 'garbage\n');
    expect(() => ensureJoinToken(dir)).toThrow(/does not hold a join token/);
  });
});
