import { ApiError, conflict } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { CidrError } from './cidr-set.js';
import { NodeIpamController } from './node-ipam-controller.js';

const NODES = res('nodes');
const EVENTS = res('events');

function node(name: string, podCIDR?: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `uid-${name}` }, spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {} };
}

describe('NodeIpamController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  const specOf = (name: string) => (t.client.peek(NODES, '', name) as { spec?: { podCIDR?: string; podCIDRs?: string[] } } | undefined)?.spec;
  const patches = () => t.client.writes().filter((w) => w.verb === 'patch' && w.resource === 'nodes');

  async function setUp(nodes: Record<string, unknown>[], clusterCidr = '10.42.0.0/16', nodeCidrMaskSize = 24): Promise<NodeIpamController> {
    t = testContext([{ resource: NODES, objects: nodes as never[] }], { clusterCidr, nodeCidrMaskSize });
    const c = new NodeIpamController(t.ctx);
    await t.start();
    return c;
  }

  it('assigns free subnets, skipping those nodes already have', async () => {
    const c = await setUp([node('a'), node('b', '10.42.0.0/24'), node('c')]);
    await c.sync('a');
    await c.sync('b');
    await c.sync('c');
    expect(specOf('a')).toEqual({ podCIDR: '10.42.1.0/24', podCIDRs: ['10.42.1.0/24'] });
    expect(specOf('b')?.podCIDR).toBe('10.42.0.0/24');
    expect(specOf('c')).toEqual({ podCIDR: '10.42.2.0/24', podCIDRs: ['10.42.2.0/24'] });
    expect(patches().map((p) => p.name)).toEqual(['a', 'c']);
    // Syncing again changes nothing.
    await t.settle();
    await c.sync('a');
    expect(patches()).toHaveLength(2);
  });

  it('uses the configured mask size', async () => {
    const c = await setUp([node('a'), node('b')], '10.0.0.0/8', 16);
    await c.sync('a');
    await c.sync('b');
    expect([specOf('a')?.podCIDR, specOf('b')?.podCIDR]).toEqual(['10.0.0.0/16', '10.1.0.0/16']);
  });

  it('reports a full range and reuses a deleted node\'s CIDR', async () => {
    const c = await setUp([node('a'), node('b'), node('c')], '10.42.0.0/23');
    await c.sync('a');
    await c.sync('b');
    await expect(c.sync('c')).rejects.toThrow(CidrError);
    expect(specOf('c')?.podCIDR).toBeUndefined();
    await t.ctx.recorder('node-ipam-controller').flush();
    expect(t.client.all(EVENTS)).toContainEqual(expect.objectContaining({ reason: 'CIDRNotAvailable', involvedObject: expect.objectContaining({ kind: 'Node', name: 'c' }) }));

    await t.client.delete(NODES, '', 'a');
    await t.settle();
    await c.sync('a');
    expect(c.queue.len()).toBeGreaterThan(0);
    await c.sync('c');
    expect(specOf('c')?.podCIDR).toBe('10.42.0.0/24');
  });

  it('frees the CIDR when the patch fails, keeps it on Conflict', async () => {
    const c = await setUp([node('a'), node('b')]);
    t.client.failures.patch = [new ApiError(500, 'InternalError', 'boom')];
    await expect(c.sync('a')).rejects.toThrow('boom');
    await c.sync('b');
    expect(specOf('b')?.podCIDR).toBe('10.42.1.0/24');
    t.client.failures.patch = [conflict({ qualifiedResource: 'nodes', name: 'a' })];
    await expect(c.sync('a')).rejects.toThrow();
    await c.sync('a');
    // Round-robin: the freed 10.42.0.0/24 comes last; a keeps its 10.42.2.0/24 across the Conflict.
    expect(specOf('a')?.podCIDR).toBe('10.42.2.0/24');
  });

  it('does nothing without a cluster CIDR', async () => {
    const c = await setUp([node('a')], '');
    await c.sync('a');
    await c.run(new AbortController().signal);
    expect(t.client.writes()).toEqual([]);
  });

  it('refuses IPv6 and dual-stack cluster CIDRs', () => {
    t = testContext([], { clusterCidr: 'fd00::/48' });
    expect(() => new NodeIpamController(t.ctx)).toThrow(CidrError);
    t = testContext([], { clusterCidr: '10.42.0.0/16,fd00::/48' });
    expect(() => new NodeIpamController(t.ctx)).toThrow(CidrError);
  });

  it('runs: rebuilds the used set before allocating, then follows new nodes', async () => {
    const c = await setUp([node('a'), node('b', '10.42.0.0/24')]);
    const abort = new AbortController();
    const running = c.run(abort.signal);
    await t.settle();
    expect(specOf('a')?.podCIDR).toBe('10.42.1.0/24');
    await t.client.create(NODES, '', node('d') as never);
    await t.settle();
    expect(specOf('d')?.podCIDR).toBe('10.42.2.0/24');
    abort.abort();
    await running;
  });
});
