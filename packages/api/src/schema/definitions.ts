/**
 * Every schema definition, by its Kubernetes name (`io.k8s.api.core.v1.Pod`), and the lookup from a
 * kind to its definition.
 */
import { SERVED_RESOURCES } from '../resources.js';
import { DefinitionSet } from './dsl.js';
import { addCore } from './definitions/core.js';
import { addAuthentication } from './definitions/authentication.js';
import { addEvents } from './definitions/events.js';
import { addApps, addAutoscaling, addBatch, addClusterGroups } from './definitions/groups.js';
import { addMeta } from './definitions/meta.js';
import type { SchemaDefinitions } from './schema-node.js';

const GROUP_PACKAGES: Record<string, string> = {
  '': 'core',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  'coordination.k8s.io': 'coordination',
  'discovery.k8s.io': 'discovery',
  'events.k8s.io': 'events',
  'networking.k8s.io': 'networking',
  policy: 'policy',
  'rbac.authorization.k8s.io': 'rbac',
  'scheduling.k8s.io': 'scheduling',
  'storage.k8s.io': 'storage',
};

/** The definition name of a kind (`io.k8s.api.<package>.<version>.<Kind>`), if the group is known. */
export function kindDefinitionName(group: string, version: string, kind: string): string | undefined {
  const pkg = GROUP_PACKAGES[group];
  return pkg === undefined ? undefined : `io.k8s.api.${pkg}.${version}.${kind}`;
}

/** The definition name of a kind's list (`io.k8s.api.core.v1.PodList`), if the group is known. */
export function listDefinitionName(group: string, version: string, kind: string): string | undefined {
  const name = kindDefinitionName(group, version, kind);
  return name === undefined ? undefined : `${name}List`;
}

function build(): SchemaDefinitions {
  const d = new DefinitionSet();
  addMeta(d);
  addCore(d);
  addApps(d);
  addBatch(d);
  addAutoscaling(d);
  addClusterGroups(d);
  addAuthentication(d);
  addEvents(d);
  for (const r of SERVED_RESOURCES) {
    const name = kindDefinitionName(r.group, r.version, r.kind);
    if (!name || !d.defs[name] || d.defs[`${name}List`]) continue;
    d.listOf(`${name}List`, { group: r.group, version: r.version, kind: r.listKind }, name);
  }
  return d.defs;
}

/** Every definition. */
export const DEFINITIONS: SchemaDefinitions = build();
