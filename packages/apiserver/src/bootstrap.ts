/**
 * Objects every cluster has from its first start: the namespaces default, kube-system, kube-public
 * and kube-node-lease (existing ones are left alone), and the bootstrap RBAC policy, reconciled at
 * every start (auth/bootstrap-policy.ts).
 */
import { isAlreadyExists, isConflict, isNotFound, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Registry } from './registry/registry.js';
import type { RequestContext } from './registry/strategy.js';
import type { WriteOptions } from './registry/generic-store.js';
import {
  BOOTSTRAP_CLUSTER_ROLE_BINDINGS,
  BOOTSTRAP_CLUSTER_ROLES,
  clusterRoleBindingObject,
  clusterRoleObject,
  reconcileBinding,
  reconcileRole,
} from './auth/bootstrap-policy.js';

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

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const WRITE: WriteOptions = { dryRun: false, fieldValidation: 'Strict' };

/**
 * Reconciles the bootstrap ClusterRoles and ClusterRoleBindings (Kubernetes' rbac/bootstrap-roles
 * post-start hook): creates the missing ones and adds what an existing one lacks, unless annotated
 * `rbac.authorization.kubernetes.io/autoupdate: "false"`. A failure is logged, not fatal.
 */
export async function bootstrapRbac(registry: Registry, logger: Logger): Promise<void> {
  const ctx: RequestContext = { now: new Date(), user: { name: 'system:apiserver', groups: ['system:masters'] } };
  const roles = registry.mustStore(RBAC_GROUP, 'clusterroles');
  const bindings = registry.mustStore(RBAC_GROUP, 'clusterrolebindings');
  const reconcile = async (kind: string, store: typeof roles, expected: KubeObject, compute: (existing: KubeObject) => { object: KubeObject; recreate: boolean } | undefined) => {
    const name = expected.metadata.name!;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const existing = store.tryGet('', name);
        if (!existing) {
          await store.createObject(structuredClone(expected), WRITE, ctx);
          logger.info({ [kind]: name }, `created bootstrap ${kind}`);
          return;
        }
        const change = compute(existing);
        if (!change) return;
        if (change.recreate) {
          await store.delete('', name, { dryRun: false, preconditions: { uid: existing.metadata.uid! } }, ctx);
          const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, managedFields: _mf, ...meta } = change.object.metadata;
          await store.createObject({ ...change.object, metadata: meta }, WRITE, ctx);
        } else {
          await store.guaranteedUpdate('', name, WRITE, ctx, '', () => structuredClone(change.object), existing.metadata.resourceVersion);
        }
        logger.info({ [kind]: name }, `reconciled bootstrap ${kind}`);
        return;
      } catch (err) {
        // Created, changed or deleted meanwhile (another API server): look again.
        if (!isAlreadyExists(err) && !isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  };
  try {
    for (const r of BOOTSTRAP_CLUSTER_ROLES) {
      await reconcile('clusterrole', roles, clusterRoleObject(r), (existing) => {
        const object = reconcileRole(existing, clusterRoleObject(r));
        return object && { object, recreate: false };
      });
    }
    for (const b of BOOTSTRAP_CLUSTER_ROLE_BINDINGS) await reconcile('clusterrolebinding', bindings, clusterRoleBindingObject(b), (existing) => reconcileBinding(existing, clusterRoleBindingObject(b)));
  } catch (err) {
    logger.error({ err }, 'could not reconcile the bootstrap RBAC policy');
  }
}
