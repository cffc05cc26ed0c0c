/**
 * Objects every cluster has from its first start: the namespaces default, kube-system, kube-public
 * and kube-node-lease. Idempotent: existing objects are left alone.
 */
import { isAlreadyExists, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Registry } from './registry/registry.js';
import type { RequestContext } from './registry/strategy.js';

/** Namespaces created on the first start. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** Creates the built-in objects that are missing. */
export async function bootstrapCluster(registry: Registry, logger: Logger): Promise<void> {
  const ctx: RequestContext = { now: new Date(), user: { name: 'system:apiserver', groups: ['system:masters'] } };
  const namespaces = registry.mustStore('', 'namespaces');
  for (const name of SYSTEM_NAMESPACES) {
    if (namespaces.tryGet('', name)) continue;
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
    try {
      await namespaces.createObject(ns, { dryRun: false, fieldValidation: 'Strict' }, ctx);
      logger.info({ namespace: name }, 'created system namespace');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
