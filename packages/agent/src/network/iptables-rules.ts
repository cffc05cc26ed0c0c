/**
 * iptables rules the agent owns, marked with a comment (`-m comment --comment RULE_COMMENT`) so only
 * they are ever deleted. Owned rules are kept at the top of their chain: Docker inserts its own
 * rules (the bridge's MASQUERADE) at the top of POSTROUTING whenever it (re)creates a network, and
 * an exception below its MASQUERADE would never match.
 */
import type { CommandRunner } from './command-runner.js';

/** The comment that marks the agent's rules. */
export const RULE_COMMENT = 'flotilla-pod-network';

/** One rule: `iptables -t TABLE -A CHAIN ...match -m comment --comment RULE_COMMENT -j target`. */
export interface IptablesRule {
  table: 'nat' | 'filter';
  chain: string;
  /** Matches, in the order `iptables -S` prints them (`-s`, `-d`, `-i`, `-o` first). */
  match: string[];
  target: string;
}

/** The rule as `iptables -S` prints it. */
export function formatRule(r: IptablesRule): string {
  return ['-A', r.chain, ...r.match, '-m', 'comment', '--comment', RULE_COMMENT, '-j', r.target].join(' ');
}

function isOwned(line: string): boolean {
  return line.split(' ').some((w, i, all) => w === RULE_COMMENT && all[i - 1] === '--comment');
}

/** The rules of one chain as `-A ...` lines (none when the chain does not exist). */
async function chainRules(run: CommandRunner, table: string, chain: string): Promise<string[] | undefined> {
  let out: string;
  try {
    out = await run('iptables', ['-w', '5', '-t', table, '-S', chain]);
  } catch {
    return undefined;
  }
  return out.split('\n').filter((l) => l.startsWith('-A '));
}

/** True when the chain exists in the table. */
export async function hasChain(run: CommandRunner, table: string, chain: string): Promise<boolean> {
  return (await chainRules(run, table, chain)) !== undefined;
}

/**
 * Makes the owned rules of each chain named in `rules` (plus `chains`) exactly `rules`, in order, at
 * the top of the chain: deletes owned rules that are not wanted or not at the top, inserts the
 * missing ones. Rules without the comment are never touched. Returns the commands' count.
 */
export async function syncRules(run: CommandRunner, rules: readonly IptablesRule[], chains: readonly { table: string; chain: string }[] = []): Promise<number> {
  const groups = new Map<string, { table: string; chain: string; want: IptablesRule[] }>();
  for (const c of [...chains, ...rules]) {
    const k = `${c.table} ${c.chain}`;
    if (!groups.has(k)) groups.set(k, { table: c.table, chain: c.chain, want: [] });
  }
  for (const r of rules) groups.get(`${r.table} ${r.chain}`)!.want.push(r);
  let commands = 0;
  for (const { table, chain, want } of groups.values()) {
    const lines = await chainRules(run, table, chain);
    if (lines === undefined) {
      if (want.length > 0) throw new Error(`iptables chain ${table}/${chain} does not exist`);
      continue;
    }
    const wanted = want.map(formatRule);
    // In place when the chain starts with exactly the wanted rules; otherwise rebuilt.
    if (wanted.every((w, i) => lines[i] === w) && lines.slice(wanted.length).every((l) => !isOwned(l))) continue;
    for (const line of lines.filter(isOwned)) {
      await run('iptables', ['-w', '5', '-t', table, '-D', ...line.split(' ').slice(1)]);
      commands++;
    }
    for (let i = want.length - 1; i >= 0; i--) {
      const r = want[i]!;
      await run('iptables', ['-w', '5', '-t', table, '-I', chain, '1', ...formatRule(r).split(' ').slice(2)]);
      commands++;
    }
  }
  return commands;
}
