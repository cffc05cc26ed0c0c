import { describe, expect, it } from 'vitest';
import { ServiceAccountTokenManager, type TokenRequester } from './token-manager.js';
import type { ServiceAccountTokenRequest } from './volume-manager.js';

const REQ = { expirationSeconds: 3600, podName: 'web', podUid: 'uid-1' };

function fakeApi(now: () => number) {
  const calls: { ns: string; sa: string; request: ServiceAccountTokenRequest }[] = [];
  let fail = false;
  const request: TokenRequester = async (ns, sa, r) => {
    calls.push({ ns, sa, request: r });
    if (fail) throw new Error('connection refused');
    return { token: `token-${calls.length}`, expirationTimestamp: new Date(now() + r.expirationSeconds * 1000).toISOString() };
  };
  return { calls, request, setFail: (v: boolean) => (fail = v) };
}

describe('service account token manager', () => {
  it('asks for a token of the pod\'s account with the audience and lifetime of the volume source', async () => {
    const t = 1_000_000;
    const api = fakeApi(() => t);
    const m = new ServiceAccountTokenManager(api.request, () => t);
    expect(await m.get('team', 'robot', { ...REQ, audience: 'vault' })).toBe('token-1');
    expect(api.calls).toEqual([{ ns: 'team', sa: 'robot', request: { ...REQ, audience: 'vault' } }]);
    // Another audience is another token.
    expect(await m.get('team', 'robot', REQ)).toBe('token-2');
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
