import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalHost, ensureServingCertificate } from './serving-certificate.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('canonicalHost', () => {
  it('spells IPv6 addresses one way and leaves names and IPv4 alone', () => {
    expect(canonicalHost('fd00::1:2')).toBe('fd00:0:0:0:0:0:1:2');
    expect(canonicalHost('FD00:0:0:0:0:0:1:2')).toBe('fd00:0:0:0:0:0:1:2');
    expect(canonicalHost('::ffff:192.168.1.2')).toBe('0:0:0:0:0:ffff:c0a8:102');
    expect(canonicalHost('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(canonicalHost('10.0.0.7')).toBe('10.0.0.7');
    expect(canonicalHost('node-a')).toBe('node-a');
  });
});

describe('ensureServingCertificate', () => {
  it('issues a self-signed certificate for the hosts once, and keeps it while it covers them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-serving-cert-'));
    dirs.push(dir);
    const hosts = ['10.0.0.7', '127.0.0.1', 'localhost', 'node-a', 'fd00::1:2'];
    const first = await ensureServingCertificate(dir, 'node-a', hosts);
    const x = new X509Certificate(first.cert);
    expect(x.subject).toBe('CN=node-a@agent');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(x.checkHost('node-a')).toBe('node-a');
    expect(readFileSync(join(dir, 'pki', 'agent.crt'), 'utf8')).toBe(first.cert);
    expect(statSync(join(dir, 'pki', 'agent.key')).mode & 0o777).toBe(0o600);

    // Same hosts (an IPv6 address spelled differently too): the stored certificate is kept.
    const again = await ensureServingCertificate(dir, 'node-a', ['FD00:0:0:0:0:0:1:2', ...hosts.slice(0, 4)]);
    expect(again.cert).toBe(first.cert);

    // A new host: re-issued.
    const more = await ensureServingCertificate(dir, 'node-a', [...hosts, '10.0.0.8']);
    expect(more.cert).not.toBe(first.cert);
    expect(new X509Certificate(more.cert).checkIP('10.0.0.8')).toBe('10.0.0.8');
  });
});
