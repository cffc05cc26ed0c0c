import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSelfSignedServingCertificate } from './self-signed-certificate.js';

describe('createSelfSignedServingCertificate', () => {
  it('makes a self-signed P-256 serving certificate for the hosts', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const { cert, key } = await createSelfSignedServingCertificate('node-a@agent', ['10.0.0.7', '127.0.0.1', 'localhost', 'node-a', 'fd00::1:2', '::ffff:192.168.1.2', 'node-a'], 365 * 24 * 3600_000, now);
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=node-a@agent');
    expect(x.issuer).toBe('CN=node-a@agent');
    expect(x.subjectAltName).toBe('IP Address:10.0.0.7, IP Address:127.0.0.1, DNS:localhost, DNS:node-a, IP Address:FD00:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:C0A8:102');
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(x.validFrom).toISOString()).toBe('2030-06-01T11:00:00.000Z');
    expect(new Date(x.validTo).toISOString()).toBe('2031-06-01T12:00:00.000Z');
    expect(x.serialNumber).toMatch(/^[0-7][0-9A-F]*$/);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkIP('10.0.0.7')).toBe('10.0.0.7');
    expect(x.checkHost('node-a')).toBe('node-a');
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('writes GeneralizedTime after 2049', async () => {
    const { cert } = await createSelfSignedServingCertificate('far', [], 10 * 365 * 24 * 3600_000, new Date('2045-01-01T00:00:00Z'));
    expect(new Date(new X509Certificate(cert).validTo).getUTCFullYear()).toBe(2054);
  });

  it('serves TLS that a client trusting it accepts', async () => {
    const tls = await createSelfSignedServingCertificate('agent', ['127.0.0.1', 'localhost']);
    const server = createServer(tls, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/', ca: tls.cert }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d)).on('end', () => resolve(text));
        });
        req.on('error', reject).end();
      });
      expect(body).toBe('ok');
      expect(createPublicKey(tls.cert).asymmetricKeyType).toBe('ec');
    } finally {
      server.close();
    }
  });
});
