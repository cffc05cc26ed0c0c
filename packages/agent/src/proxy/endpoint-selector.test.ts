import { describe, expect, it } from 'vitest';
import { FakeClock } from '@flotilla/client/testing';
import { EndpointSelector, endpointKey, usableEndpoints, type ProxyEndpoint } from './endpoint-selector.js';

function ep(ip: string, extra: Partial<ProxyEndpoint> = {}): ProxyEndpoint {
  return { ip, port: 80, ready: true, serving: true, terminating: false, nodeName: 'node-a', ...extra };
}

const keys = (eps: readonly ProxyEndpoint[]) => eps.map(endpointKey);

describe('usableEndpoints', () => {
  it('keeps ready endpoints, sorted by address', () => {
    const all = [ep('10.0.0.10'), ep('10.0.0.9'), ep('10.0.0.2', { ready: false, serving: false })];
    expect(keys(usableEndpoints(all, 'Cluster', 'node-a'))).toEqual(['10.0.0.9:80', '10.0.0.10:80']);
  });

  it('falls back to serving terminating endpoints only when none is ready', () => {
    const terminating = ep('10.0.0.3', { ready: false, serving: true, terminating: true });
    const notServing = ep('10.0.0.4', { ready: false, serving: false, terminating: true });
    const notReady = ep('10.0.0.5', { ready: false, serving: false });
    expect(keys(usableEndpoints([terminating, notServing, notReady, ep('10.0.0.1')], 'Cluster', 'node-a'))).toEqual(['10.0.0.1:80']);
    expect(keys(usableEndpoints([terminating, notServing, notReady], 'Cluster', 'node-a'))).toEqual(['10.0.0.3:80']);
    expect(usableEndpoints([notServing, notReady], 'Cluster', 'node-a')).toEqual([]);
  });

  it('keeps to this node under the Local policy, without falling back to other nodes', () => {
    const all = [ep('10.0.0.1', { nodeName: 'node-a' }), ep('10.0.0.2', { nodeName: 'node-b' }), ep('10.0.0.3', { nodeName: 'node-b' })];
    expect(keys(usableEndpoints(all, 'Local', 'node-a'))).toEqual(['10.0.0.1:80']);
    expect(keys(usableEndpoints(all, 'Local', 'node-b'))).toEqual(['10.0.0.2:80', '10.0.0.3:80']);
    expect(usableEndpoints(all, 'Local', 'node-c')).toEqual([]);
    expect(keys(usableEndpoints(all, 'Cluster', 'node-c'))).toHaveLength(3);
  });

  it('applies the terminating fallback among local endpoints only', () => {
    const all = [ep('10.0.0.1', { nodeName: 'node-a', ready: false, serving: true, terminating: true }), ep('10.0.0.2', { nodeName: 'node-b' })];
    expect(keys(usableEndpoints(all, 'Local', 'node-a'))).toEqual(['10.0.0.1:80']);
  });

  it('lists an address twice only once', () => {
    expect(usableEndpoints([ep('10.0.0.1'), ep('10.0.0.1')], 'Cluster', 'node-a')).toHaveLength(1);
  });
});

describe('EndpointSelector', () => {
  it('rotates round robin and keeps its position when endpoints change', () => {
    const s = new EndpointSelector();
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]);
    expect([1, 2, 3, 4].map(() => s.pick('c')!.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.3')]);
    expect([1, 2, 3].map(() => s.pick('c')!.ip)).toEqual(['10.0.0.3', '10.0.0.1', '10.0.0.3']);
  });

  it('returns undefined with no endpoints', () => {
    expect(new EndpointSelector().pick('c')).toBeUndefined();
  });

  it('skips endpoints already tried for a connection, then gives up', () => {
    const s = new EndpointSelector();
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.2')]);
    const tried = new Set<string>();
    const first = s.pick('c', tried)!;
    tried.add(endpointKey(first));
    const second = s.pick('c', tried)!;
    expect(second.ip).not.toBe(first.ip);
    tried.add(endpointKey(second));
    expect(s.pick('c', tried)).toBeUndefined();
  });

  it('sends a client to the same endpoint under ClientIP affinity until the timeout passes', async () => {
    const clock = new FakeClock();
    const s = new EndpointSelector({ affinityTimeoutMs: 10_000, clock });
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]);
    const a = s.pick('192.168.0.1')!.ip;
    const b = s.pick('192.168.0.2')!.ip;
    expect(b).not.toBe(a);
    for (let i = 0; i < 5; i++) {
      expect(s.pick('192.168.0.1')!.ip).toBe(a);
      await clock.advance(9_000);
    }
    await clock.advance(10_001);
    // Expired: round robin again, continuing after b.
    expect(s.pick('192.168.0.1')!.ip).not.toBe(b);
  });

  it('drops affinity to an endpoint that left, or after a failure', () => {
    const s = new EndpointSelector({ affinityTimeoutMs: 60_000 });
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.2')]);
    expect(s.pick('c')!.ip).toBe('10.0.0.1');
    s.setEndpoints([ep('10.0.0.2'), ep('10.0.0.3')]);
    const moved = s.pick('c')!.ip;
    expect(moved).not.toBe('10.0.0.1');
    expect(s.pick('c')!.ip).toBe(moved);
    s.forget('c');
    expect(s.pick('c')!.ip).not.toBe(moved);
  });

  it('lets a tried endpoint override affinity', () => {
    const s = new EndpointSelector({ affinityTimeoutMs: 60_000 });
    s.setEndpoints([ep('10.0.0.1'), ep('10.0.0.2')]);
    const a = s.pick('c')!;
    expect(s.pick('c', new Set([endpointKey(a)]))!.ip).not.toBe(a.ip);
  });
});
