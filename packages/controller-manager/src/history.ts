/**
 * ControllerRevision history shared by the StatefulSet and DaemonSet controllers (Kubernetes'
 * `controller/history`): a revision snapshots an owner's pod template as a patch, is named
 * `<owner>-<hash>`, and carries an increasing revision number. Equal templates share one revision
 * (rolling back re-numbers the old revision instead of creating a new one); hash collisions are
 * resolved by bumping the owner's collisionCount.
 */
import { isAlreadyExists, isNotFound, type KubeObject, type LabelSelectorObject, type OwnerReference } from '@flotilla/api';
import { res, type KubeClient } from '@flotilla/client';
import { canonicalJson, fnv32a, safeEncode } from './controllers/deployment/rollout-math.js';
import { claimObjects, type PodTemplate } from './pod-utils.js';

/** The ControllerRevision resource. */
export const CONTROLLER_REVISIONS = res('controllerrevisions.apps');
/** Label on revisions (and pods) naming the revision's hash. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

/** A ControllerRevision. */
export interface ControllerRevision extends KubeObject {
  data?: unknown;
  revision: number;
}

/** The revision data of a template: a patch replacing `spec.template` (as Kubernetes stores it). */
export function revisionData(template: PodTemplate | undefined): Record<string, unknown> {
  return { spec: { template: { ...structuredClone(template ?? {}), $patch: 'replace' } } };
}

/** The pod template a revision's data describes. */
export function templateFromRevision(rev: Pick<ControllerRevision, 'data'>): PodTemplate {
  const t = structuredClone(((rev.data as { spec?: { template?: PodTemplate & { $patch?: string } } } | undefined)?.spec?.template ?? {}) as PodTemplate & { $patch?: string });
  delete t.$patch;
  return t;
}

/** The hash naming a revision: FNV-1a of the data's canonical JSON and the collision count, safe-encoded. */
export function hashRevisionData(data: unknown, collisionCount = 0): string {
  let text = canonicalJson(data);
  if (collisionCount > 0) text += `#${collisionCount}`;
  return safeEncode(String(fnv32a(text)));
}

/** True when two revisions hold the same data. */
export function isEqualRevision(a: Pick<ControllerRevision, 'data'>, b: Pick<ControllerRevision, 'data'>): boolean {
  return canonicalJson(a.data) === canonicalJson(b.data);
}

/** Revisions oldest first: by revision number, then creation time, then name. */
export function sortRevisions<T extends ControllerRevision>(revs: readonly T[]): T[] {
  return [...revs].sort((a, b) => {
    if (a.revision !== b.revision) return a.revision - b.revision;
    const ca = a.metadata.creationTimestamp ?? '';
    const cb = b.metadata.creationTimestamp ?? '';
    if (ca !== cb) return ca < cb ? -1 : 1;
    return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
  });
}

/** The revision number after the newest of `revs` (1 for an empty history). */
export function nextRevisionNumber(revs: readonly ControllerRevision[]): number {
  return revs.reduce((n, r) => Math.max(n, r.revision ?? 0), 0) + 1;
}

/** The history of an owner after `syncRevisions`. */
export interface RevisionHistory {
  /** Every revision the owner controls, oldest first (including `update`). */
  revisions: ControllerRevision[];
  /** The revision of the owner's current template. */
  update: ControllerRevision;
  /** The revision named `currentName` if it exists, else `update`. */
  current: ControllerRevision;
  /** The owner's collision count after any collisions met creating `update`. */
  collisionCount: number;
}

/** What `syncRevisions` needs to know about the owner. */
export interface RevisionOwner {
  owner: KubeObject;
  ref: OwnerReference;
  selector: LabelSelectorObject | undefined;
  /** The owner's pod template (its labels label the revisions too). */
  template: PodTemplate | undefined;
  collisionCount: number;
  /** The revision the owner's status calls current, if any. */
  currentName?: string;
}

/**
 * Claims the owner's revisions among `candidates` and makes sure one holds the owner's current
 * template, as the newest revision: reuses the newest if equal, re-numbers an older equal one (a
 * rollback), or creates a new one (bumping the collision count on a hash clash).
 */
export async function syncRevisions(client: KubeClient, o: RevisionOwner, candidates: readonly ControllerRevision[]): Promise<RevisionHistory> {
  const claimed = await claimObjects(client, CONTROLLER_REVISIONS, o.owner, o.ref, o.selector, candidates);
  let revisions = sortRevisions(claimed);
  const data = revisionData(o.template);
  const next = nextRevisionNumber(revisions);
  let collisionCount = o.collisionCount;
  const equal = revisions.filter((r) => isEqualRevision(r, { data }));
  let update: ControllerRevision;
  const newest = revisions[revisions.length - 1];
  const lastEqual = equal[equal.length - 1];
  if (lastEqual && newest && lastEqual.metadata.name === newest.metadata.name) {
    update = newest;
  } else if (lastEqual) {
    update = await client.patch<ControllerRevision>(CONTROLLER_REVISIONS, lastEqual.metadata.namespace ?? '', lastEqual.metadata.name ?? '', { revision: next }, 'merge');
    revisions = sortRevisions(revisions.map((r) => (r.metadata.name === update.metadata.name ? update : r)));
  } else {
    for (;;) {
      const hash = hashRevisionData(data, collisionCount);
      const rev: ControllerRevision = {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: {
          name: `${o.owner.metadata.name}-${hash}`,
          namespace: o.owner.metadata.namespace ?? '',
          labels: { ...(o.template?.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
          ownerReferences: [o.ref],
        },
        data,
        revision: next,
      };
      try {
        update = await client.create(CONTROLLER_REVISIONS, rev.metadata.namespace ?? '', rev);
        break;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const existing = await client.get<ControllerRevision>(CONTROLLER_REVISIONS, rev.metadata.namespace ?? '', rev.metadata.name ?? '');
        if (isEqualRevision(existing, rev)) {
          update = existing;
          break;
        }
        collisionCount++;
      }
    }
    revisions = sortRevisions([...revisions.filter((r) => r.metadata.name !== update.metadata.name), update]);
  }
  const current = (o.currentName ? revisions.find((r) => r.metadata.name === o.currentName) : undefined) ?? update;
  return { revisions, update, current, collisionCount };
}

/**
 * Deletes the oldest revisions beyond `limit` among those not in `live` (revisions still used by
 * pods, or current/update). Revisions already gone are ignored.
 */
export async function truncateHistory(client: KubeClient, revisions: readonly ControllerRevision[], live: ReadonlySet<string>, limit: number): Promise<void> {
  const history = sortRevisions(revisions).filter((r) => !live.has(r.metadata.name ?? ''));
  const excess = history.length - Math.max(0, limit);
  for (const r of history.slice(0, Math.max(0, excess))) {
    try {
      await client.delete(CONTROLLER_REVISIONS, r.metadata.namespace ?? '', r.metadata.name ?? '', { preconditions: { uid: r.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
