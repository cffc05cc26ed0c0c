import { describe, expect, it } from 'vitest';
import { buildIptablesRestore, cleanupIptables, endpointChain, iptablesChains, IptablesProxier, servicePortChain, type IptablesServicePort, type RunCommand } from './iptables-rules.js';

const NODE = 'node-a';
const c = iptablesChains(NODE);
const web: IptablesServicePort = {
  id: 'ns/web/http/TCP/internal',
  protocol: 'TCP',
  affinitySeconds: 0,
  endpoints: [{ ip: '172.17.0.2', port: 80 }, { ip: '172.17.0.3', port: 80 }, { ip: '172.17.0.4', port: 80 }],
  destinations: [{ kind: 'address', ip: '10.43.0.10', port: 8080 }],
};

describe('iptables rule generation', () => {
  it('names chains per node, within 28 characters', () => {
    const other = iptablesChains('node-b');
    expect(c.services).not.toBe(other.services);
    for (const n of [c.services, c.nodePorts, c.mark, c.post, c.forward, servicePortChain(c, web.id), endpointChain(c, web.id, web.endpoints[0]!)]) expect(n.length).toBeLessThanOrEqual(28);
  });

  it('DNATs a VIP port to every endpoint with 1/(n-i) probabilities, marking loopback and non-local sources for masquerade', () => {
    const { text, chains } = buildIptablesRestore(NODE, [web]);
    const s = servicePortChain(c, web.id);
    const e = web.endpoints.map((ep) => endpointChain(c, web.id, ep));
    const lines = text.split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines).toContain(`-A ${c.services} -d 10.43.0.10/32 -p tcp -m tcp --dport 8080 -m comment --comment ns/web/http/TCP/internal -j ${s}`);
    expect(lines).toContain(`-A ${s} -s 127.0.0.0/8 -j ${c.mark}`);
    expect(lines).toContain(`-A ${s} -m addrtype ! --src-type LOCAL -j ${c.mark}`);
    expect(lines).toContain(`-A ${s} -m statistic --mode random --probability 0.3333333333 -j ${e[0]}`);
    expect(lines).toContain(`-A ${s} -m statistic --mode random --probability 0.5000000000 -j ${e[1]}`);
    expect(lines).toContain(`-A ${s} -j ${e[2]}`);
    expect(lines).toContain(`-A ${e[1]} -p tcp -j DNAT --to-destination 172.17.0.3:80`);
    expect(lines).toContain(`-A ${c.services} -m addrtype --dst-type LOCAL -j ${c.nodePorts}`);
    expect(lines).toContain(`-A ${c.post} -m comment --comment flotilla-proxy:node-a -j MASQUERADE`);
    expect(chains).toEqual(expect.arrayContaining([c.services, c.nodePorts, s, ...e]));
    expect(text.trimEnd().endsWith('COMMIT')).toBe(true);
  });

  it('programs NodePorts in the node-port chain and UDP with udp matches', () => {
    const { text } = buildIptablesRestore(NODE, [{ ...web, id: 'ns/dns/dns/UDP/external', protocol: 'UDP', destinations: [{ kind: 'nodePort', port: 30053 }, { kind: 'address', ip: '192.168.1.5', port: 53 }] }]);
    const s = servicePortChain(c, 'ns/dns/dns/UDP/external');
    expect(text).toContain(`-A ${c.nodePorts} -p udp -m udp --dport 30053 -m comment --comment ns/dns/dns/UDP/external -j ${s}`);
    expect(text).toContain(`-A ${c.services} -d 192.168.1.5/32 -p udp -m udp --dport 53`);
    expect(text).toContain('-p udp -j DNAT --to-destination 172.17.0.2:80');
  });

  it('uses recent for ClientIP affinity', () => {
    const { text } = buildIptablesRestore(NODE, [{ ...web, affinitySeconds: 600 }]);
    const e0 = endpointChain(c, web.id, web.endpoints[0]!);
    expect(text).toContain(`-m recent --name ${e0} --rcheck --seconds 600 --reap -j ${e0}`);
    expect(text).toContain(`-A ${e0} -p tcp -m recent --name ${e0} --set --rsource -j DNAT --to-destination 172.17.0.2:80`);
  });

  it('writes no rule for a port without endpoints and deletes chains no longer used', () => {
    const first = buildIptablesRestore(NODE, [web]);
    const { text, chains } = buildIptablesRestore(NODE, [{ ...web, endpoints: [] }], [...first.chains, 'DOCKER', 'FLO-S-OTHERNOD-ABC']);
    expect(text).not.toContain('10.43.0.10');
    const s = servicePortChain(c, web.id);
    expect(text).toContain(`:${s} - [0:0]`);
    expect(text).toContain(`-X ${s}`);
    expect(text).not.toContain('-X DOCKER');
    expect(text).not.toContain('OTHERNOD');
    expect(chains).not.toContain(s);
  });
});

describe('IptablesProxier', () => {
  it('restores with --noflush and inserts the jumps once', async () => {
    const calls: string[] = [];
    const run: RunCommand = async (file, args) => {
      calls.push(`${file} ${args.join(' ')}`);
      if (args.includes('-C')) throw new Error('no such rule');
      return '';
    };
    const p = new IptablesProxier(NODE, run);
    await p.apply([web]);
    await p.apply([web]);
    expect(calls.filter((x) => x.startsWith('iptables-restore'))).toEqual(['iptables-restore -w --noflush']);
    expect(calls).toContain(`iptables -w -t nat -I PREROUTING 1 -m comment --comment flotilla-proxy:node-a -j ${c.services}`);
    expect(calls.filter((x) => x.includes(' -I '))).toHaveLength(4);
  });

  it('cleanup removes only this node\'s jumps and chains', async () => {
    const inputs: string[] = [];
    let deletes = 0;
    const run: RunCommand = async (file, args, stdin) => {
      if (file === 'iptables-restore') inputs.push(stdin ?? '');
      if (args.includes('-D')) {
        if (deletes++ % 2 === 1) throw new Error('gone');
        return '';
      }
      if (args.includes('-S')) return `-N DOCKER\n-N ${c.services}\n-N FLO-SVC-00000000\n-N ${servicePortChain(c, 'x')}\n`;
      return '';
    };
    await cleanupIptables(NODE, run);
    expect(inputs).toHaveLength(1);
    expect(inputs[0]).toContain(`-X ${c.services}`);
    expect(inputs[0]).toContain(`-X ${servicePortChain(c, 'x')}`);
    expect(inputs[0]).not.toContain('DOCKER');
    expect(inputs[0]).not.toContain('FLO-SVC-00000000');
  });
});
