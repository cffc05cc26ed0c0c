import { describe, expect, it } from 'vitest';
import { desiredLoadBalancerIngress, isSameLoadBalancerIngress } from './ingress-status.js';

describe('desiredLoadBalancerIngress', () => {
  it('adds this node, keeps other nodes, drops unknown addresses, sorted', () => {
    const nodes = new Set(['10.0.0.9', '10.0.0.10', '192.168.1.5']);
    const want = desiredLoadBalancerIngress([{ ip: '10.0.0.10' }, { ip: '172.16.0.1' }], ['10.0.0.9'], nodes, true);
    expect(want).toEqual([{ ip: '10.0.0.9' }, { ip: '10.0.0.10' }]);
    expect(isSameLoadBalancerIngress(want, desiredLoadBalancerIngress(want, ['10.0.0.9'], nodes, true))).toBe(true);
    expect(desiredLoadBalancerIngress(want, ['10.0.0.9'], nodes, false)).toEqual([{ ip: '10.0.0.10' }]);
    expect(isSameLoadBalancerIngress(undefined, [])).toBe(true);
  });
});
