/**
 * Parsing of the node flags the agent and hollow nodes share: `--node-labels k=v,...` and
 * `--register-with-taints key[=value]:Effect,...` (the kubelet's syntax).
 */
import type { NodeFacts } from './node-object.js';

/** Parses `k=v,k2=v2`; throws with the offending item. */
export function parseNodeLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const kv of (text ?? '').split(',').filter((x) => x)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--node-labels wants key=value pairs, got ${kv}`);
    labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return labels;
}

/** Parses `key[=value]:Effect,...`; throws with the offending item. */
export function parseTaints(text: string | undefined): NonNullable<NodeFacts['taints']> {
  const taints: NonNullable<NodeFacts['taints']> = [];
  for (const t of (text ?? '').split(',').filter((x) => x)) {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw new Error(`--register-with-taints wants key[=value]:Effect, got ${t}`);
    taints.push({ key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3] as 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' });
  }
  return taints;
}
