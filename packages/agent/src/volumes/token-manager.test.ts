import { describe, expect, it } from 'vitest';
import { ServiceAccountTokenManager, type TokenRequester } from './token-manager.js';

const REQ = { expirationSeconds: 3600, podName: 'web', podUid: 'uid-1' };

function fakeApi(now: () => number) {
  const calls: { ns: string; sa: string; body: Record<string, unknown> }[] = [];
  let fail = false;
  const request: TokenRequester = async (ns, sa, body) => {
    calls.push({ ns, sa, body });
    if (fail) throw new Error('connection refused');
    const seconds = (body['spec'] as { expirationSeconds: number }).expirationSeconds;
    return { token: `token-${calls.length}`, expirationTimestamp: new Date(now() + seconds * 1000).toISOString() };
  };
  return { calls, request, setFail: (v: boolean) => (fail = v) };
}

describe('service account token manager', () => {
  it('asks for a token bound to the pod, with the audience and lifetime of the volume source', async () => {
    let t = 1_000_000;
    const api = fakeApi(() => t);
    const m = new ServiceAccountTokenManager(api.request, () => t);
    expect(await m.get('team', 'robot', { ...REQ, audience: 'vault' })).toBe('token-1');
    expect(api.calls).toEqual([
      {
        ns: 'team',
        sa: 'robot',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['vault'], expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'uid-1' } } },
      },
    ]);
    await m.get('team', 'robot', REQ);
    expect((api.calls[1]!.body['spec'] as Record<string, unknown>)['audiences']).toBeUndefined();
  });

  it('reuses a token until 80% of its lifetime has passed, then renews it', async () => {
    let t = 1_000_000;
    const api = fakeApi(() => t);
    const m = new ServiceAccountTokenManager(api.request, () => t);
    expect(await m.get('team', 'robot', REQ)).toBe('token-1');
    t += 2_879_000; // 79.97% of an hour
    expect(await m.get('team', 'robot', REQ)).toBe('token-1');
    t += 2_000;
    expect(await m.get('team', 'robot', REQ)).toBe('token-2');
    expect(api.calls).toHaveLength(2);
  });

  it('keeps a separate token per pod and per lifetime', async () => {
    const t = 1_000_000;
    const api = fakeApi(() => t);
    const m = new ServiceAccountTokenManager(api.request, () => t);
    await m.get('team', 'robot', REQ);
    await m.get('team', 'robot', { ...REQ, podUid: 'uid-2' });
    await m.get('team', 'robot', { ...REQ, expirationSeconds: 7200 });
    await m.get('team', 'robot', REQ);
    expect(api.calls).toHaveLength(3);
    expect(m.size).toBe(3);
  });

  it('serves the cached token while the API is unreachable, until it expires; then fails', async () => {
    let t = 1_000_000;
    const api = fakeApi(() => t);
    const m = new ServiceAccountTokenManager(api.request, () => t);
    await m.get('team', 'robot', REQ);
    api.setFail(true);
    t += 3_000_000; // due for renewal, still valid
    expect(await m.get('team', 'robot', REQ)).toBe('token-1');
    t += 700_000; // expired
    await expect(m.get('team', 'robot', REQ)).rejects.toThrow('connection refused');
    expect(m.size).toBe(0);
  });
});
