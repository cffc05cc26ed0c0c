import { describe, expect, it } from 'vitest';
import { authForImage, registryOf } from './pull-secrets.js';

function secret(auths: Record<string, unknown>) {
  return { metadata: { name: 's' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') } };
}

describe('image pull secrets', () => {
  it('finds the registry of an image', () => {
    expect(registryOf('busybox')).toBe('docker.io');
    expect(registryOf('library/busybox:1')).toBe('docker.io');
    expect(registryOf('registry.example:5000/team/app:1')).toBe('registry.example:5000');
    expect(registryOf('localhost/app')).toBe('localhost');
  });

  it('decodes auth and matches the longest key of the image registry', () => {
    const s = secret({
      'registry.example:5000': { auth: Buffer.from('alice:pw1').toString('base64') },
      'registry.example:5000/team': { username: 'bob', password: 'pw2' },
      'other.example': { username: 'carol', password: 'pw3' },
    });
    expect(authForImage('registry.example:5000/team/app:1', [s])).toMatchObject({ username: 'bob', password: 'pw2', serverAddress: 'registry.example:5000' });
    expect(authForImage('registry.example:5000/misc/app:1', [s])).toMatchObject({ username: 'alice', password: 'pw1' });
    expect(authForImage('third.example/app', [s])).toBeUndefined();
  });

  it('maps Docker Hub keys to docker.io images and ignores malformed secrets', () => {
    const hub = secret({ 'https://index.docker.io/v1/': { username: 'u', password: 'p' } });
    expect(authForImage('busybox:1.36', [hub])).toMatchObject({ username: 'u', serverAddress: 'https://index.docker.io/v1/' });
    expect(authForImage('busybox', [{ metadata: { name: 'bad' }, data: { '.dockerconfigjson': 'bm90IGpzb24=' } }])).toBeUndefined();
  });
});
