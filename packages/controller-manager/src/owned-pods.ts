/**
 * The pod event handling every workload controller (ReplicaSet, StatefulSet, DaemonSet) shares, as
 * in Kubernetes' controllers: a pod's controlling owner is synced on every change (the old owner too
 * when the pod was released), an orphan wakes the owners whose selector matches it (adoption), a pod
 * that just became ready wakes its owner again after minReadySeconds (availability), and creations
 * and deletions are reported to the controller's expectations (a deletion once the pod is marked
 * for graceful deletion, not when it finally goes).
 */
import { isDeepStrictEqual } from 'node:util';
import { getControllerOf, objectKey, splitObjectKey, type KubeObject } from '@flotilla/api';
import { deletedObject, type SharedInformer, type WorkQueue } from '@flotilla/client';
import { isPodReady, type PodView } from './pod-utils.js';

/** An owning workload as the handlers read it. */
export interface PodOwner extends KubeObject {
  spec: { minReadySeconds?: number };
}

/** What the shared handlers need from a controller. */
export interface OwnedPodsOptions {
  queue: WorkQueue<string>;
  /** The owners' informer and kind (`ReplicaSet`, `StatefulSet`, ...). */
  owners: SharedInformer<PodOwner>;
  kind: string;
  /** Enqueues the owners whose selector matches an orphan pod. */
  enqueueMatching(pod: PodView): void;
  creationObserved?(ownerKey: string): void;
  deletionObserved?(ownerKey: string, podKey: string): void;
}

/** The key of the pod's controlling owner of `kind`, if that owner (same uid) still exists. */
export function controllingOwnerKey(pod: PodView, kind: string, owners: SharedInformer<PodOwner>): string | undefined {
  const ref = getControllerOf(pod);
  if (!ref || ref.kind !== kind) return undefined;
  const owner = owners.lister.get(pod.metadata.namespace ?? '', ref.name);
  if (!owner || owner.metadata.uid !== ref.uid) return undefined;
  return objectKey(owner);
}

/** Registers the handlers on the pod informer. */
export function watchOwnedPods(pods: SharedInformer<PodView>, o: OwnedPodsOptions): void {
  const ownerKey = (p: PodView) => controllingOwnerKey(p, o.kind, o.owners);
  const minReadySeconds = (key: string) => {
    const { namespace, name } = splitObjectKey(key);
    return o.owners.lister.get(namespace, name)?.spec.minReadySeconds ?? 0;
  };
  pods.addEventHandler({
    onAdd: (p) => {
      const owner = ownerKey(p);
      if (owner) {
        o.creationObserved?.(owner);
        o.queue.add(owner);
      } else o.enqueueMatching(p);
    },
    onUpdate: (a, b) => {
      const oldOwner = ownerKey(a);
      const newOwner = ownerKey(b);
      if (b.metadata.deletionTimestamp) {
        // A graceful deletion is observed when the pod gets its deletionTimestamp, as in Kubernetes:
        // the owner replaces (or counts) it at once instead of waiting out the grace period.
        const podKey = objectKey(b);
        if (newOwner) o.deletionObserved?.(newOwner, podKey);
        if (oldOwner && oldOwner !== newOwner) o.deletionObserved?.(oldOwner, podKey);
      }
      if (oldOwner && oldOwner !== newOwner) o.queue.add(oldOwner);
      if (newOwner) {
        o.queue.add(newOwner);
        const minReady = minReadySeconds(newOwner);
        if (minReady > 0 && !isPodReady(a) && isPodReady(b)) o.queue.addAfter(newOwner, minReady * 1000 + 100);
      } else if (!isDeepStrictEqual(a.metadata.labels, b.metadata.labels) || !oldOwner) o.enqueueMatching(b);
    },
    onDelete: (p) => {
      const pod = deletedObject(p);
      const owner = ownerKey(pod);
      if (owner) {
        o.deletionObserved?.(owner, objectKey(pod));
        o.queue.add(owner);
      }
    },
  });
}
