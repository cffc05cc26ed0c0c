/**
 * Every kind's strategy, keyed by `group/plural`.
 */
import { kindDefinitionName } from '@flotilla/api';
import type { Strategy } from '../strategy.js';
import { resourceKey } from '../registry.js';
import { coreStrategies } from './core.js';
import { podStrategy } from './pods.js';
import { workloadStrategies } from './workloads.js';
import { clusterStrategies } from './cluster.js';

/** `io.k8s.api.<package>.<version>.<Kind>`: the schema definition name of a kind. */
export function definitionNameOf(group: string, version: string, kind: string): string {
  const name = kindDefinitionName(group, version, kind);
  if (name === undefined) throw new Error(`no schema package for group ${group}`);
  return name;
}

/** Builds the strategy table. */
export function buildStrategies(): Map<string, Strategy> {
  const core = (kind: string) => definitionNameOf('', 'v1', kind);
  const all: Strategy[] = [podStrategy(core('Pod')), ...coreStrategies(core), ...workloadStrategies(definitionNameOf), ...clusterStrategies(definitionNameOf)];
  const map = new Map<string, Strategy>();
  for (const s of all) map.set(resourceKey(s.resource), s);
  return map;
}
