import { describe, expect, it } from 'vitest';
import { IpCommandError, VipInterface, type IpCommand } from './vip-interface.js';

/** A recording `ip` whose answers come from `reply` (throw an IpCommandError to fail). */
function fakeIp(reply: (args: string) => string): { ip: IpCommand; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    ip: async (args) => {
      calls.push(args.join(' '));
      return reply(args.join(' '));
    },
  };
}

const fail = (args: string, stderr: string): never => {
  throw new IpCommandError(args.split(' '), stderr);
};

describe('VipInterface', () => {
  it('creates a dummy link when missing and brings it up', async () => {
    const f = fakeIp((a) => (a.startsWith('link show') ? fail(a, 'Device "flotilla0" does not exist.') : ''));
    const vi = new VipInterface('flotilla0', f.ip);
    await vi.ensure();
    expect(f.calls).toEqual(['link show dev flotilla0', 'link add flotilla0 type dummy', 'link set dev flotilla0 up']);
    expect(vi.created).toBe(true);
  });

  it('falls back to a port-less bridge when the kernel has no dummy driver', async () => {
    const f = fakeIp((a) => (a.startsWith('link show') ? fail(a, 'does not exist') : a.endsWith('type dummy') ? fail(a, 'Error: Unknown device type.') : ''));
    await new VipInterface('flotilla0', f.ip).ensure();
    expect(f.calls).toContain('link add flotilla0 type bridge');
  });

  it('reuses an existing link', async () => {
    const f = fakeIp(() => '');
    const vi = new VipInterface('flotilla0', f.ip);
    await vi.ensure();
    expect(f.calls).toEqual(['link show dev flotilla0', 'link set dev flotilla0 up']);
    expect(vi.created).toBe(false);
  });

  it('lists, adds and removes /32 addresses, tolerating ones already there or gone', async () => {
    const f = fakeIp((a) => {
      if (a.startsWith('-o')) return '9: flotilla0    inet 10.43.0.10/32 scope global flotilla0\\       valid_lft forever\n9: flotilla0    inet 10.43.7.1/32 scope global flotilla0\\ x\n';
      if (a.startsWith('addr add')) fail(a, 'RTNETLINK answers: File exists');
      if (a.startsWith('addr del')) fail(a, 'RTNETLINK answers: Cannot assign requested address');
      return '';
    });
    const vi = new VipInterface('flotilla0', f.ip);
    expect(await vi.list()).toEqual(['10.43.0.10', '10.43.7.1']);
    await vi.add('10.43.0.10');
    await vi.remove('10.43.0.11');
    expect(f.calls.slice(1)).toEqual(['addr add 10.43.0.10/32 dev flotilla0', 'addr del 10.43.0.11/32 dev flotilla0']);
  });

  it('reports other failures with the command and its stderr', async () => {
    const f = fakeIp((a) => fail(a, 'RTNETLINK answers: Operation not permitted'));
    await expect(new VipInterface('flotilla0', f.ip).add('10.43.0.1')).rejects.toThrow('ip addr add 10.43.0.1/32 dev flotilla0 failed: RTNETLINK answers: Operation not permitted');
  });
});
