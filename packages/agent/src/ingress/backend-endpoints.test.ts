import { describe, expect, it } from 'vitest';
import type { EndpointSlice, Service } from '@flotilla/api';
import { readyUpstreams, RoundRobin } from './backend-endpoints.js';

const service: Service = {
  metadata: { name: 'web', namespace: 'ns' },
  spec: { ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'metrics', port: 9090 }] },
};

function slice(endpoints: { ip: string; ready?: boolean }[], ports: { name?: string; port: number }[]): EndpointSlice {
  return { metadata: { name: 's', namespace: 'ns' }, addressType: 'IPv4', ports, endpoints: endpoints.map((e) => ({ addresses: [e.ip], ...(e.ready !== undefined ? { conditions: { ready: e.ready } } : {}) })) };
}

describe('readyUpstreams', () => {
  const slices = [slice([{ ip: '10.0.0.2' }, { ip: '10.0.0.1', ready: true }, { ip: '10.0.0.3', ready: false }], [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9100 }])];

  it('resolves the Service port by number or name to the slice port of the same name, ready endpoints only', () => {
    expect(readyUpstreams({ namespace: 'ns', service: 'web', port: { number: 80 } }, service, slices)).toEqual([{ ip: '10.0.0.1', port: 8080 }, { ip: '10.0.0.2', port: 8080 }]);
    expect(readyUpstreams({ namespace: 'ns', service: 'web', port: { name: 'metrics' } }, service, slices)).toEqual([{ ip: '10.0.0.1', port: 9100 }, { ip: '10.0.0.2', port: 9100 }]);
  });

  it('is empty for a missing Service, an unknown port or an ExternalName Service', () => {
    expect(readyUpstreams({ namespace: 'ns', service: 'web', port: { number: 81 } }, service, slices)).toEqual([]);
    expect(readyUpstreams({ namespace: 'ns', service: 'web', port: { number: 80 } }, undefined, slices)).toEqual([]);
    expect(readyUpstreams({ namespace: 'ns', service: 'web', port: { number: 80 } }, { ...service, spec: { ...service.spec, type: 'ExternalName' } }, slices)).toEqual([]);
  });

  it('round-robins, keeps its position across updates and skips tried upstreams', () => {
    const rr = new RoundRobin();
    expect(rr.pick()).toBeUndefined();
    rr.set([{ ip: 'a', port: 1 }, { ip: 'b', port: 1 }, { ip: 'c', port: 1 }]);
    expect([rr.pick()!.ip, rr.pick()!.ip, rr.pick()!.ip, rr.pick()!.ip]).toEqual(['a', 'b', 'c', 'a']);
    rr.set([{ ip: 'a', port: 1 }, { ip: 'b', port: 1 }]);
    expect(rr.pick()!.ip).toBe('b');
    expect(rr.pick(new Set(['a:1']))!.ip).toBe('b');
    expect(rr.pick(new Set(['a:1', 'b:1']))).toBeUndefined();
  });
});
