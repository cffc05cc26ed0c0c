import { describe, expect, it } from 'vitest';
import { CommandError, type CommandRunner } from './command-runner.js';
import { hostGwRules } from './host-gw-network.js';
import { syncRules } from './iptables-rules.js';

/** `iptables -w 5 -t T -S|-I|-D CHAIN ...` over in-memory chains, printing like iptables-nft. */
class FakeIptables {
  readonly commands: string[] = [];
  constructor(readonly chains: Record<string, string[]>) {}

  readonly run: CommandRunner = async (file, args) => {
    this.commands.push([file, ...args].join(' '));
    const [w, secs, t, table, op, chain, ...rest] = args;
    if (file !== 'iptables' || w !== '-w' || secs !== '5' || t !== '-t') throw new CommandError([file, ...args], 'unexpected', 2);
    const rules = this.chains[`${table} ${chain}`];
    if (!rules) throw new CommandError([file, ...args], `chain \`${chain}' in table \`${table}' is incompatible`, 1);
    if (op === '-S') return [`-P ${chain} ACCEPT`, ...rules.map((r) => `-A ${chain} ${r}`)].join('\n') + '\n';
    if (op === '-I') {
      rules.splice(Number(rest[0]) - 1, 0, rest.slice(1).join(' '));
      return '';
    }
    if (op === '-D') {
      const i = rules.indexOf(rest.join(' '));
      if (i < 0) throw new CommandError([file, ...args], 'Bad rule', 1);
      rules.splice(i, 1);
      return '';
    }
    throw new CommandError([file, ...args], 'unexpected', 2);
  };

  writes(): string[] {
    return this.commands.filter((c) => !c.includes(' -S '));
  }
}

const DOCKER_MASQ = '-s 10.42.1.0/24 ! -o flotilla0br -j MASQUERADE';
const OURS_NAT = '-s 10.42.1.0/24 -d 10.42.0.0/16 -m comment --comment flotilla-pod-network -j RETURN';
const OURS_FWD = '-d 10.42.1.0/24 -m comment --comment flotilla-pod-network -j ACCEPT';

describe('syncRules', () => {
  const rules = hostGwRules('10.42.1.0/24', '10.42.0.0/16', 'DOCKER-USER');

  it('inserts the masquerade exception above Docker\'s MASQUERADE and the forward accept, once', async () => {
    const ipt = new FakeIptables({ 'nat POSTROUTING': [DOCKER_MASQ, '-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'], 'filter DOCKER-USER': ['-j RETURN'] });
    expect(await syncRules(ipt.run, rules)).toBe(2);
    expect(ipt.chains).toEqual({ 'nat POSTROUTING': [OURS_NAT, DOCKER_MASQ, '-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'], 'filter DOCKER-USER': [OURS_FWD, '-j RETURN'] });
    ipt.commands.length = 0;
    expect(await syncRules(ipt.run, rules)).toBe(0);
    expect(ipt.writes()).toEqual([]);
  });

  it('moves its rule back on top when Docker inserted its MASQUERADE above it, and drops stale ones', async () => {
    const stale = '-s 10.42.9.0/24 -d 10.42.0.0/16 -m comment --comment flotilla-pod-network -j RETURN';
    const ipt = new FakeIptables({ 'nat POSTROUTING': [DOCKER_MASQ, OURS_NAT, stale, '-s 10.9.0.0/16 -j RETURN'], 'filter DOCKER-USER': [OURS_FWD, '-j RETURN'] });
    await syncRules(ipt.run, rules);
    expect(ipt.chains['nat POSTROUTING']).toEqual([OURS_NAT, DOCKER_MASQ, '-s 10.9.0.0/16 -j RETURN']);
    expect(ipt.writes()).toEqual([
      `iptables -w 5 -t nat -D POSTROUTING ${OURS_NAT}`,
      `iptables -w 5 -t nat -D POSTROUTING ${stale}`,
      `iptables -w 5 -t nat -I POSTROUTING 1 ${OURS_NAT}`,
    ]);
  });

  it('removes only its own rules when nothing is wanted', async () => {
    const ipt = new FakeIptables({ 'nat POSTROUTING': [OURS_NAT, DOCKER_MASQ], 'filter DOCKER-USER': [OURS_FWD, '-j RETURN'] });
    await syncRules(ipt.run, [], [{ table: 'nat', chain: 'POSTROUTING' }, { table: 'filter', chain: 'DOCKER-USER' }, { table: 'filter', chain: 'FORWARD' }]);
    expect(ipt.chains).toEqual({ 'nat POSTROUTING': [DOCKER_MASQ], 'filter DOCKER-USER': ['-j RETURN'] });
  });

  it('leaves out the masquerade exception without a cluster CIDR', () => {
    expect(hostGwRules('10.42.1.0/24', undefined, 'FORWARD')).toEqual([{ table: 'filter', chain: 'FORWARD', match: ['-d', '10.42.1.0/24'], target: 'ACCEPT' }]);
  });
});
