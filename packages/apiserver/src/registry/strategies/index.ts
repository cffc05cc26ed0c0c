/**
 * Every kind's strategy, keyed by `group/plural`.
 */
import type { Strategy } from '../strategy.js';
import { resourceKey } from '../registry.js';
import { coreStrategies } from './core.js';
import { podStrategy } from './pods.js';
import { workloadStrategies } from './workloads.js';
import { clusterStrategies } from './cluster.js';

const GROUP_PACKAGES: Record<string, string> = {
  '': 'core',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  'coordination.k8s.io': 'coordination',
  'discovery.k8s.io': 'discovery',
  'networking.k8s.io': 'networking',
  policy: 'policy',
  'rbac.authorization.k8s.io': 'rbac',
  'scheduling.k8s.io': 'scheduling',
  'storage.k8s.io': 'storage',
};

/** `io.k8s.api.<package>.<version>.<Kind>`: the schema definition name of a kind. */
export function definitionNameOf(group: string, version: string, kind: string): string {
  const pkg = GROUP_PACKAGES[group];
  if (pkg === undefined) throw new Error(`no schema package for group ${group}`);
  return `io.k8s.api.${pkg}.${version}.${kind}`;
}

/** Builds the strategy table. */
export function buildStrategies(): Map<string, Strategy> {
  const core = (kind: string) => definitionNameOf('', 'v1', kind);
  const all: Strategy[] = [podStrategy(core('Pod')), ...coreStrategies(core), ...workloadStrategies(definitionNameOf), ...clusterStrategies(definitionNameOf)];
  const map = new Map<string, Strategy>();
  for (const s of all) map.set(resourceKey(s.resource), s);
  return map;
}
