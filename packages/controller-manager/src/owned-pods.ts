/**
 * The pod event handling every workload controller (ReplicaSet, StatefulSet, DaemonSet) shares, as
 * in Kubernetes' controllers: a pod's controlling owner is synced on every change (the old owner too
 * when the pod was released), an orphan wakes the owners whose selector matches it (adoption), a pod
 * that just became ready wakes its owner again after minReadySeconds (availability), and creations
 * and deletions are reported to the controller's expectations.
 */
import { isDeepStrictEqual } from 'node:util';
import { objectKey } from '@flotilla/api';
import { deletedObject, type SharedInformer, type WorkQueue } from '@flotilla/client';
import { isPodReady, type PodView } from './pod-utils.js';

/** What the shared handlers need from a controller. */
export interface OwnedPodsOptions {
  queue: WorkQueue<string>;
  /** The key of the pod's controlling owner of this controller's kind, if it still exists. */
  ownerKey(pod: PodView): string | undefined;
  /** Enqueues the owners whose selector matches an orphan pod. */
  enqueueMatching(pod: PodView): void;
  /** minReadySeconds of an owner (0 when it has none). */
  minReadySeconds(ownerKey: string): number;
  creationObserved?(ownerKey: string): void;
  deletionObserved?(ownerKey: string, podKey: string): void;
}

/** Registers the handlers on the pod informer. */
export function watchOwnedPods(pods: SharedInformer<PodView>, o: OwnedPodsOptions): void {
  pods.addEventHandler({
    onAdd: (p) => {
      const owner = o.ownerKey(p);
      if (owner) {
        o.creationObserved?.(owner);
        o.queue.add(owner);
      } else o.enqueueMatching(p);
    },
    onUpdate: (a, b) => {
      const oldOwner = o.ownerKey(a);
      const newOwner = o.ownerKey(b);
      if (oldOwner && oldOwner !== newOwner) o.queue.add(oldOwner);
      if (newOwner) {
        o.queue.add(newOwner);
        const minReady = o.minReadySeconds(newOwner);
        if (minReady > 0 && !isPodReady(a) && isPodReady(b)) o.queue.addAfter(newOwner, minReady * 1000 + 100);
      } else if (!isDeepStrictEqual(a.metadata.labels, b.metadata.labels) || !oldOwner) o.enqueueMatching(b);
    },
    onDelete: (p) => {
      const pod = deletedObject(p);
      const owner = o.ownerKey(pod);
      if (owner) {
        o.deletionObserved?.(owner, objectKey(pod));
        o.queue.add(owner);
      }
    },
  });
}
