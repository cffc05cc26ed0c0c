/**
 * The service proxy's iptables mode (kube-proxy's iptables mode, simplified): kernel DNAT in the nat
 * table instead of copying bytes through the agent. This file holds the pure rule generation
 * (services/endpoints -> iptables-restore text) and the few commands that apply it (execFile, no
 * shell; iptables-restore `--noflush` reads the text on stdin, so only our chains change, atomically).
 *
 * Every chain carries a hash of the node name (`FLO-SVC-<h>`, `FLO-S-<h>-<x>`...), so two agents on
 * one machine (tests) never touch each other's rules. Layout (nat table):
 *   PREROUTING, OUTPUT -> FLO-SVC-<h>: per service port `-d VIP/32 -p P --dport N -j FLO-S-<h>-<x>` (and
 *     each LoadBalancer node IP at the service port), last `-m addrtype --dst-type LOCAL -j FLO-NP-<h>`.
 *   FLO-NP-<h>: per NodePort `-p P --dport NP -j FLO-S-<h>-<x>`.
 *   FLO-S-<h>-<x> (service port): mark for masquerade, then (ClientIP affinity: `-m recent --rcheck`
 *     per endpoint) one rule per endpoint `-m statistic --probability 1/(n-i)` -> FLO-E-<h>-<y>.
 *   FLO-E-<h>-<y> (endpoint): `-m recent --set` (affinity) and `-j DNAT --to-destination IP:PORT`.
 *   POSTROUTING -> FLO-POST-<h>: packets marked 0x4000 are masqueraded.
 Every DNATed connection whose source is not a local address of the host is marked: Docker's
 * bridge has no br_netfilter guarantee, so a pod talking to a pod on the same bridge through a VIP
 * (and a pod to itself, hairpin) must see replies come back through the host; so is every one from
 * 127.0.0.0/8 (127.0.0.1:NodePort, with route_localnet). The host's own connections keep their source
 * (masquerading them cost ~30% throughput in the benchmark: source-port reallocation). Filter table: FORWARD -> FLO-FWD-<h> accepts marked packets (Docker's
 * FORWARD policy is DROP). A service port without usable endpoints gets no rule: its VIP is a local
 * address on the proxy link, so the host refuses the connection.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';

/** Mark of connections to masquerade (kube-proxy's). */
export const MASQ_MARK = '0x4000';

/** Where a service port is reached. */
export type IptablesDestination = { kind: 'address'; ip: string; port: number } | { kind: 'nodePort'; port: number };

/** One service port (one endpoint set) to program. */
export interface IptablesServicePort {
  /** Unique and stable, e.g. `ns/name/http/TCP/internal`. */
  id: string;
  protocol: 'TCP' | 'UDP';
  /** ClientIP affinity timeout in seconds; 0 for none. */
  affinitySeconds: number;
  endpoints: readonly { ip: string; port: number }[];
  destinations: readonly IptablesDestination[];
}

/** The node-wide chains of an agent. */
export interface IptablesChains {
  hash: string;
  comment: string;
  services: string;
  nodePorts: string;
  mark: string;
  post: string;
  forward: string;
}

function shortHash(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n).toUpperCase();
}

/** The chain names of the agent of `nodeName` (all ≤ 28 characters). */
export function iptablesChains(nodeName: string): IptablesChains {
  const hash = shortHash(nodeName, 8);
  return {
    hash,
    comment: `flotilla-proxy:${nodeName}`.slice(0, 200),
    services: `FLO-SVC-${hash}`,
    nodePorts: `FLO-NP-${hash}`,
    mark: `FLO-MARK-${hash}`,
    post: `FLO-POST-${hash}`,
    forward: `FLO-FWD-${hash}`,
  };
}

/** Chain of a service port. */
export function servicePortChain(chains: IptablesChains, id: string): string {
  return `FLO-S-${chains.hash}-${shortHash(id, 12)}`;
}

/** Chain of an endpoint of a service port. */
export function endpointChain(chains: IptablesChains, id: string, ep: { ip: string; port: number }): string {
  return `FLO-E-${chains.hash}-${shortHash(`${id}|${ep.ip}:${ep.port}`, 12)}`;
}

/** True for a chain of the agent with this hash. */
export function isOwnChain(chains: IptablesChains, name: string): boolean {
  return name.startsWith('FLO-') && (name.endsWith(`-${chains.hash}`) || name.includes(`-${chains.hash}-`));
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./:=-]+$/.test(s) ? s : `"${s.replace(/["\\]/g, '')}"`;
}

/**
 * The iptables-restore text (for `--noflush`) programming `ports`; `previous` are the chains of the
 * last successful restore (those no longer wanted are flushed and deleted). Returns the text and the
 * nat chains it leaves.
 */
export function buildIptablesRestore(nodeName: string, ports: readonly IptablesServicePort[], previous: readonly string[] = []): { text: string; chains: string[] } {
  const c = iptablesChains(nodeName);
  const natChains = [c.services, c.nodePorts, c.mark, c.post];
  const rules: string[] = [];
  const proto = (p: string) => p.toLowerCase();
  rules.push(`-A ${c.mark} -j MARK --or-mark ${MASQ_MARK}`);
  rules.push(`-A ${c.post} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  rules.push(`-A ${c.post} -j MARK --xor-mark ${MASQ_MARK}`);
  rules.push(`-A ${c.post} -m comment --comment ${quote(c.comment)} -j MASQUERADE`);
  const svcRules: string[] = [];
  const npRules: string[] = [];
  const sorted = [...ports].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const sp of sorted) {
    const eps = [...new Map(sp.endpoints.map((e) => [`${e.ip}:${e.port}`, e])).values()];
    if (eps.length === 0 || sp.destinations.length === 0) continue;
    const chain = servicePortChain(c, sp.id);
    natChains.push(chain);
    const p = proto(sp.protocol);
    for (const d of sp.destinations) {
      if (d.kind === 'address') svcRules.push(`-A ${c.services} -d ${d.ip}/32 -p ${p} -m ${p} --dport ${d.port} -m comment --comment ${quote(sp.id)} -j ${chain}`);
      else npRules.push(`-A ${c.nodePorts} -p ${p} -m ${p} --dport ${d.port} -m comment --comment ${quote(sp.id)} -j ${chain}`);
    }
    // Masquerade what cannot get its replies back otherwise: loopback sources, and anything not from
    // this host (pods on the bridge, hairpin, other machines). The host's own connections keep their
    // local source address: replies come back to the host and conntrack un-DNATs them.
    rules.push(`-A ${chain} -s 127.0.0.0/8 -j ${c.mark}`);
    rules.push(`-A ${chain} -m addrtype ! --src-type LOCAL -j ${c.mark}`);
    const epChains = eps.map((e) => endpointChain(c, sp.id, e));
    if (sp.affinitySeconds > 0) {
      for (const ec of epChains) rules.push(`-A ${chain} -m recent --name ${ec} --rcheck --seconds ${sp.affinitySeconds} --reap -j ${ec}`);
    }
    eps.forEach((_e, i) => {
      const left = eps.length - i;
      const ec = epChains[i]!;
      rules.push(left > 1 ? `-A ${chain} -m statistic --mode random --probability ${(1 / left).toFixed(10)} -j ${ec}` : `-A ${chain} -j ${ec}`);
    });
    eps.forEach((e, i) => {
      const ec = epChains[i]!;
      natChains.push(ec);
      const recent = sp.affinitySeconds > 0 ? ` -m recent --name ${ec} --set --rsource` : '';
      rules.push(`-A ${ec} -p ${p}${recent} -j DNAT --to-destination ${e.ip}:${e.port}`);
    });
  }
  svcRules.push(`-A ${c.services} -m addrtype --dst-type LOCAL -j ${c.nodePorts}`);
  const wanted = new Set(natChains);
  const stale = [...new Set(previous)].filter((ch) => !wanted.has(ch) && isOwnChain(c, ch));
  const lines = [
    '*filter',
    `:${c.forward} - [0:0]`,
    `-A ${c.forward} -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -m comment --comment ${quote(c.comment)} -j ACCEPT`,
    'COMMIT',
    '*nat',
    ...natChains.map((ch) => `:${ch} - [0:0]`),
    ...stale.map((ch) => `:${ch} - [0:0]`),
    ...svcRules,
    ...npRules,
    ...rules,
    ...stale.map((ch) => `-X ${ch}`),
    'COMMIT',
    '',
  ];
  return { text: lines.join('\n'), chains: natChains };
}

/** Runs a command; resolves stdout, rejects with stderr in the message. */
export type RunCommand = (file: string, args: readonly string[], stdin?: string) => Promise<string>;

export const execCommand: RunCommand = (file, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { timeout: 20_000, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve(stdout);
    });
    // A command that exits without reading stdin must not crash the agent with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });

/** The jumps from built-in chains into ours: [table, chain, target]. */
function jumps(c: IptablesChains): [string, string, string][] {
  return [
    ['nat', 'PREROUTING', c.services],
    ['nat', 'OUTPUT', c.services],
    ['nat', 'POSTROUTING', c.post],
    ['filter', 'FORWARD', c.forward],
  ];
}

function jumpSpec(c: IptablesChains, chain: string, target: string): string[] {
  return [chain, '-m', 'comment', '--comment', c.comment, '-j', target];
}

/** Applies rule sets for one node; calls are serialized by the caller. */
export class IptablesProxier {
  readonly chains: IptablesChains;
  private current: string[] = [];
  private jumpsInstalled = false;
  private lastText = '';

  constructor(
    readonly nodeName: string,
    private readonly run: RunCommand = execCommand,
  ) {
    this.chains = iptablesChains(nodeName);
  }

  /** Checks that iptables works and enables route_localnet (for 127.0.0.1:NodePort). */
  async init(): Promise<void> {
    await this.run('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']);
    await writeFile('/proc/sys/net/ipv4/conf/all/route_localnet', '1');
    // Our chains as the last run left them (a restart takes them over).
    this.current = await ownNatChains(this.chains, this.run);
  }

  /** Rewrites our chains to program `ports` (no-op when nothing changed). */
  async apply(ports: readonly IptablesServicePort[]): Promise<void> {
    const { text, chains } = buildIptablesRestore(this.nodeName, ports, this.current);
    if (text !== this.lastText || !this.jumpsInstalled) {
      await this.run('iptables-restore', ['-w', '--noflush'], text);
      this.current = chains;
      this.lastText = text;
    }
    if (!this.jumpsInstalled) {
      for (const [table, chain, target] of jumps(this.chains)) {
        const spec = jumpSpec(this.chains, chain, target);
        const has = await this.run('iptables', ['-w', '-t', table, '-C', ...spec]).then(() => true, () => false);
        if (!has) await this.run('iptables', ['-w', '-t', table, '-I', chain, '1', ...spec.slice(1)]);
      }
      this.jumpsInstalled = true;
    }
    await this.ensureHairpin(ports.flatMap((p) => p.endpoints.map((e) => e.ip)));
  }

  /** endpoint IP -> the bridge it is reached through ('' for none). */
  private bridgeOf = new Map<string, string>();

  /**
   * Hairpin (a pod reaching itself through a VIP): with br_netfilter the DNATed frame is bridged back
   * out of the port it came in on, which a bridge port refuses unless hairpin_mode is on — kubelet's
   * `hairpin-veth`, and what Docker itself does without its userland proxy. Turned on for the ports of
   * the bridges our endpoints sit behind.
   */
  private async ensureHairpin(ips: readonly string[]): Promise<void> {
    const bridges = new Set<string>();
    for (const ip of new Set(ips)) {
      let br = this.bridgeOf.get(ip);
      if (br === undefined) {
        const dev = /\bdev (\S+)/.exec(await this.run('ip', ['-o', 'route', 'get', ip]).catch(() => ''))?.[1] ?? '';
        br = dev && (await readdir(`/sys/class/net/${dev}/brif`).then(() => true, () => false)) ? dev : '';
        this.bridgeOf.set(ip, br);
      }
      if (br) bridges.add(br);
    }
    for (const br of bridges) {
      for (const port of await readdir(`/sys/class/net/${br}/brif`).catch(() => [] as string[])) {
        const file = `/sys/class/net/${br}/brif/${port}/hairpin_mode`;
        if ((await readFile(file, 'utf8').catch(() => '1')).trim() === '0') await writeFile(file, '1').catch(() => undefined);
      }
    }
  }
}

async function ownNatChains(c: IptablesChains, run: RunCommand): Promise<string[]> {
  const out = await run('iptables', ['-w', '-t', 'nat', '-S']);
  return [...out.matchAll(/^-N (\S+)$/gm)].map((m) => m[1]!).filter((n) => isOwnChain(c, n));
}

/** Removes the jumps and chains of the agent of `nodeName` (only those: matched by comment and name). */
export async function cleanupIptables(nodeName: string, run: RunCommand = execCommand): Promise<void> {
  const c = iptablesChains(nodeName);
  for (const [table, chain, target] of jumps(c)) {
    for (let i = 0; i < 10; i++) {
      const ok = await run('iptables', ['-w', '-t', table, '-D', ...jumpSpec(c, chain, target)]).then(() => true, () => false);
      if (!ok) break;
    }
  }
  const nat = await ownNatChains(c, run).catch(() => [] as string[]);
  const filter = await run('iptables', ['-w', '-t', 'filter', '-S'])
    .then((out) => [...out.matchAll(/^-N (\S+)$/gm)].map((m) => m[1]!).filter((n) => isOwnChain(c, n)))
    .catch(() => [] as string[]);
  const block = (table: string, chains: string[]) => (chains.length ? [`*${table}`, ...chains.map((ch) => `:${ch} - [0:0]`), ...chains.map((ch) => `-X ${ch}`), 'COMMIT'] : []);
  const text = [...block('filter', filter), ...block('nat', nat), ''].join('\n');
  if (text.trim()) await run('iptables-restore', ['-w', '--noflush'], text);
}
