import type { KubeObject } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { BootstrapTokenAuthenticator } from './bootstrap-token-authenticator.js';

function secret(data: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject {
  const b64 = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: `bootstrap-token-${data['token-id']}`, namespace: 'kube-system' }, type: 'bootstrap.kubernetes.io/token', data: b64, ...extra };
}

const NOW = new Date('2030-01-01T00:00:00Z');
const secrets = new Map<string, KubeObject>();
const auth = new BootstrapTokenAuthenticator((ns, name) => secrets.get(`${ns}/${name}`), () => NOW);
const put = (s: KubeObject) => secrets.set(`kube-system/${s.metadata.name}`, s);
const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, socket: undefined });

put(secret({ 'token-id': 'abcdef', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', 'auth-extra-groups': 'system:bootstrappers:extra,system:masters' }));
put(secret({ 'token-id': 'expird', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', expiration: '2029-12-31T23:59:59Z' }));
put(secret({ 'token-id': 'future', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true', expiration: '2030-01-01T00:00:01Z' }));
put(secret({ 'token-id': 'nouse0', 'token-secret': '0123456789abcdef' }));
put(secret({ 'token-id': 'opaque', 'token-secret': '0123456789abcdef', 'usage-bootstrap-authentication': 'true' }, { type: 'Opaque' }));

describe('BootstrapTokenAuthenticator', () => {
  it('authenticates a valid token as system:bootstrap:<id>; extra groups only under system:bootstrappers:', () => {
    expect(auth.authenticate(bearer('abcdef.0123456789abcdef'))).toEqual({ name: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:bootstrappers:extra'] });
    expect(auth.authenticate(bearer('future.0123456789abcdef'))?.name).toBe('system:bootstrap:future');
  });

  it('refuses wrong secrets, unknown ids, expired tokens, tokens not for authentication and non-token Secrets', () => {
    for (const t of ['abcdef.0123456789abcdee', 'zzzzzz.0123456789abcdef', 'expird.0123456789abcdef', 'nouse0.0123456789abcdef', 'opaque.0123456789abcdef']) {
      expect(auth.authenticate(bearer(t)), t).toBeUndefined();
    }
  });

  it('leaves other bearers and requests without one to the next authenticator', () => {
    expect(auth.authenticate(bearer('some-static-token'))).toBeUndefined();
    expect(auth.authenticate({ headers: {}, socket: undefined })).toBeUndefined();
  });
});
