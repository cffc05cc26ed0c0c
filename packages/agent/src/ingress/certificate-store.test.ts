import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { Ingress } from '@flotilla/api';
import { createSelfSignedCertificate } from '@flotilla/api/pki';
import { CertificateStore, certificateFromSecret, tlsSourcesByHost } from './certificate-store.js';

describe('CertificateStore', () => {
  it('maps TLS hosts to Secrets (oldest first), picks exact then wildcard then the default certificate', async () => {
    const ings: Ingress[] = [
      { metadata: { name: 'a', namespace: 'ns1' }, spec: { tls: [{ hosts: ['a.test', '*.wild.test'], secretName: 'a-tls' }] } },
      { metadata: { name: 'b', namespace: 'ns2' }, spec: { tls: [{ hosts: ['a.test', 'b.test'], secretName: 'b-tls' }, { hosts: ['c.test'] }] } },
    ];
    const sources = tlsSourcesByHost(ings);
    expect([...sources]).toEqual([
      ['a.test', { namespace: 'ns1', secretName: 'a-tls' }],
      ['*.wild.test', { namespace: 'ns1', secretName: 'a-tls' }],
      ['b.test', { namespace: 'ns2', secretName: 'b-tls' }],
    ]);
    const pair = await createSelfSignedCertificate('a', ['a.test']);
    const def = await createSelfSignedCertificate('default', ['ingress.local']);
    const tlsSecret = { metadata: { name: 'a-tls', namespace: 'ns1', resourceVersion: '1' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') } };
    const store = new CertificateStore(def, pino({ level: 'silent' }));
    store.update(sources, (ns, name) => (ns === 'ns1' && name === 'a-tls' ? tlsSecret : undefined));
    const dflt = store.contextFor('nothing.test');
    expect(store.contextFor('a.test')).not.toBe(dflt);
    expect(store.contextFor('x.wild.test')).toBe(store.contextFor('a.test'));
    expect(store.contextFor('y.x.wild.test')).toBe(dflt);
    expect(store.contextFor('b.test')).toBe(dflt);
    expect(certificateFromSecret({ metadata: { name: 'o' }, type: 'Opaque' })).toMatch(/not kubernetes.io\/tls/);
  });
});
