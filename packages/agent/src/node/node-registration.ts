/**
 * Registering a node and keeping its heartbeats: create the Node (or refresh an existing one),
 * renew its Lease in kube-node-lease, and report conditions. The same calls serve the real agent
 * and hollow nodes.
 */
import { formatMicroTime, isAlreadyExists, isConflict, isNotFound, type Condition, type KubeObject } from '@flotilla/api/core';
import { res, type KubeClient } from '@flotilla/client';
import { buildNode, nodeConditions, type NodeFacts, type NodeHealth } from './node-object.js';

const NODES = res('nodes');
const LEASES = res('leases.coordination.k8s.io');

/** The namespace of node leases. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/** Creates the Node, or refreshes labels, capacity and status of an existing one. Returns it. */
export async function registerNode(client: KubeClient, facts: NodeFacts, health: NodeHealth, now: Date): Promise<KubeObject> {
  const node = buildNode(facts, health, now);
  try {
    return await client.create(NODES, '', node);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  await client.patch(NODES, '', facts.name, { metadata: { labels: facts.labels } }, 'merge');
  return client.patch(NODES, '', facts.name, { status: node['status'] }, 'merge', { subresource: 'status' });
}

/** Reports the node's conditions (status subresource), keeping transition times. */
export async function reportNodeConditions(client: KubeClient, name: string, health: NodeHealth, now: Date, previous: readonly Condition[]): Promise<Condition[]> {
  const conditions = nodeConditions(health, now, previous);
  await client.patch(NODES, '', name, { status: { conditions } }, 'strategic', { subresource: 'status' });
  return conditions;
}

interface LeaseObject extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string };
}

/** Renews one node's Lease (creating it if needed), remembering it to avoid reads. */
export class NodeLease {
  private lease: LeaseObject | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly nodeName: string,
    private readonly durationSeconds = 40,
    private readonly ownerUid?: string,
  ) {}

  /** One renewal. */
  async renew(now: Date): Promise<void> {
    const renewTime = formatMicroTime(now);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!this.lease) {
        try {
          this.lease = await this.client.get<LeaseObject>(LEASES, NODE_LEASE_NAMESPACE, this.nodeName);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          const fresh: LeaseObject = {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: {
              name: this.nodeName,
              namespace: NODE_LEASE_NAMESPACE,
              ...(this.ownerUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.ownerUid }] } : {}),
            },
            spec: { holderIdentity: this.nodeName, leaseDurationSeconds: this.durationSeconds, renewTime },
          };
          try {
            this.lease = await this.client.create(LEASES, NODE_LEASE_NAMESPACE, fresh);
            return;
          } catch (e) {
            if (!isAlreadyExists(e)) throw e;
            continue;
          }
        }
      }
      const next: LeaseObject = { ...this.lease, spec: { ...(this.lease.spec ?? {}), holderIdentity: this.nodeName, leaseDurationSeconds: this.durationSeconds, renewTime } };
      try {
        this.lease = await this.client.update(LEASES, next);
        return;
      } catch (err) {
        this.lease = undefined;
        if (!isConflict(err) && !isNotFound(err)) throw err;
      }
    }
  }
}
