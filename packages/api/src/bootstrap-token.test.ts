import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bootstrapTokenSecret, formatJoinToken, generateBootstrapToken, parseBootstrapToken, parseJoinToken } from './bootstrap-token.js';
import { certificateSha256, createCa, createCertificateRequest, issueCertificate, verifyCertificateRequest } from './pki.js';

const HASH = 'a'.repeat(64);

describe('bootstrap tokens', () => {
  it('parses <id>.<secret> and nothing else', () => {
    expect(parseBootstrapToken('abcdef.0123456789abcdef')).toEqual({ id: 'abcdef', secret: '0123456789abcdef' });
    for (const bad of ['abcdef.0123456789abcde', 'ABCDEF.0123456789abcdef', 'abcdefg.0123456789abcdef', 'abcdef0123456789abcdef', 'abcdef.0123456789abcdeF', '']) {
      expect(parseBootstrapToken(bad), bad).toBeUndefined();
    }
  });

  it('parses the secure join token K10<hash>::<id>.<secret> and the bare form', () => {
    expect(parseJoinToken(`K10${HASH}::abcdef.0123456789abcdef\n`)).toEqual({ id: 'abcdef', secret: '0123456789abcdef', caHash: HASH });
    expect(parseJoinToken('abcdef.0123456789abcdef')).toEqual({ id: 'abcdef', secret: '0123456789abcdef' });
    expect(parseJoinToken(`K10${HASH.slice(1)}::abcdef.0123456789abcdef`)).toBeUndefined();
    expect(parseJoinToken(`K10${HASH.toUpperCase()}::abcdef.0123456789abcdef`)).toBeUndefined();
    expect(parseJoinToken(`K10${HASH}::server:abcdef.0123456789abcdef`)).toBeUndefined();
    expect(formatJoinToken({ id: 'abcdef', secret: '0123456789abcdef', caHash: HASH })).toBe(`K10${HASH}::abcdef.0123456789abcdef`);
  });

  it('generates valid random tokens', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const t = generateBootstrapToken();
      expect(`${t.id}.${t.secret}`).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      seen.add(t.secret);
    }
    expect(seen.size).toBe(50);
  });

  it('stores a token as Kubernetes does', () => {
    const s = bootstrapTokenSecret({ id: 'abcdef', secret: '0123456789abcdef' }, { expiration: new Date('2030-01-02T03:04:05.678Z'), description: 'd', extraGroups: ['system:bootstrappers:x'] });
    expect(s).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: { 'token-id': 'abcdef', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', expiration: '2030-01-02T03:04:05Z', description: 'd', 'auth-extra-groups': 'system:bootstrappers:x' },
    });
  });
});

describe('CA hash and CSRs', () => {
  it('hashes the CA certificate DER with sha256', async () => {
    const ca = await createCa();
    const der = new X509Certificate(ca.cert).raw;
    expect(certificateSha256(ca.cert)).toBe(createHash('sha256').update(der).digest('hex'));
    expect(certificateSha256(ca.cert)).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateSha256((await createCa()).cert)).not.toBe(certificateSha256(ca.cert));
  });

  it('creates and verifies a CSR; a CSR with a swapped key fails', async () => {
    const { csr, key } = await createCertificateRequest('system:node:n1', ['system:nodes']);
    expect(key).toContain('PRIVATE KEY');
    const info = await verifyCertificateRequest(csr);
    expect(info.commonName).toBe('system:node:n1');
    expect(info.organizations).toEqual(['system:nodes']);
    // Same subject, but the signature no longer matches: flip a byte inside the signature.
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(verifyCertificateRequest(tampered)).rejects.toThrow();
    await expect(verifyCertificateRequest('not a csr')).rejects.toThrow();
    // Sanity: a certificate is not a CSR.
    const ca = await createCa();
    await expect(verifyCertificateRequest((await issueCertificate(ca, { commonName: 'x', usage: 'client' })).cert)).rejects.toThrow();
  });
});
