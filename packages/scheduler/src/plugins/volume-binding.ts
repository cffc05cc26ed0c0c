/**
 * VolumeBinding (kube-scheduler's essentials, for storage a node agent provisions): a pod's claims
 * must exist; bound claims pin the pod to where their PersistentVolume may be used (the PV's
 * required node affinity); unbound claims of a WaitForFirstConsumer class let any node provisioning
 * can reach take the pod, and the chosen node is written to the claim as
 * `volume.kubernetes.io/selected-node` before the pod is bound; unbound claims of an Immediate
 * class must be bound by someone else first.
 *
 * Not done here: matching unbound claims to existing unbound (static) PVs, storage capacity,
 * VolumeRestrictions (ReadWriteOncePod and other access-mode conflicts), volume limits and
 * VolumeZone.
 */
import type { BindPlugin, CycleState, FilterPlugin } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../types.js';
import { matchesTerm } from './node-selection.js';

/** The annotation naming the node a WaitForFirstConsumer claim is to be provisioned on. */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';
const DEFAULT_CLASS_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];
const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

/** kube-scheduler's VolumeBinding reasons. */
export const ErrReasonNodeConflict = 'node(s) had volume node affinity conflict';
export const ErrReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
export const ErrReasonPVNotExist = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ErrReasonUnboundImmediate = 'pod has unbound immediate PersistentVolumeClaims';

/** Read access to the volume objects (informer caches). */
export interface VolumeLister {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  volume(name: string): PersistentVolume | undefined;
  storageClass(name: string): StorageClass | undefined;
  storageClasses(): readonly StorageClass[];
}

/** What VolumeBinding needs: the caches and a way to record the selected node on a claim. */
export interface VolumeBindingDeps {
  lister: VolumeLister;
  /** Merge-patches `volume.kubernetes.io/selected-node: nodeName` onto the claim. */
  selectNode(claim: PersistentVolumeClaim, nodeName: string): Promise<void>;
}

interface BoundClaim {
  claim: PersistentVolumeClaim;
  pv: PersistentVolume | undefined;
}

interface DelayedClaim {
  claim: PersistentVolumeClaim;
  cls: StorageClass;
  /** The node the claim is already promised to (annotation, or reserved by an earlier cycle). */
  selectedNode: string | undefined;
}

interface VolumeState {
  bound: BoundClaim[];
  delayed: DelayedClaim[];
  /** Claims this cycle's binding annotates (set by reserve). */
  toAnnotate?: PersistentVolumeClaim[];
}

const STATE_KEY = 'VolumeBinding';

function claimNameOf(pod: Pod, v: NonNullable<NonNullable<Pod['spec']>['volumes']>[number]): { name: string; ephemeral: boolean } | undefined {
  if (v.persistentVolumeClaim) return { name: v.persistentVolumeClaim.claimName, ephemeral: false };
  if (v.ephemeral) return { name: `${pod.metadata.name ?? ''}-${v.name}`, ephemeral: true };
  return undefined;
}

function claimKey(c: PersistentVolumeClaim): string {
  return c.metadata.uid ?? `${c.metadata.namespace ?? ''}/${c.metadata.name ?? ''}`;
}

/** The class a claim uses: spec.storageClassName, or the default class when the field is unset. */
export function storageClassOf(claim: PersistentVolumeClaim, lister: VolumeLister): { name: string; cls: StorageClass | undefined } {
  const name = claim.spec?.storageClassName;
  if (name !== undefined && name !== null) return { name, cls: name === '' ? undefined : lister.storageClass(name) };
  // The DefaultStorageClass admission plugin would have set the field; with several defaults the
  // newest wins, as there.
  let best: StorageClass | undefined;
  for (const c of lister.storageClasses()) {
    if (!DEFAULT_CLASS_ANNOTATIONS.some((a) => c.metadata.annotations?.[a] === 'true')) continue;
    const t = c.metadata.creationTimestamp ?? '';
    const bt = best?.metadata.creationTimestamp ?? '';
    if (!best || t > bt || (t === bt && (c.metadata.name ?? '') < (best.metadata.name ?? ''))) best = c;
  }
  return { name: best?.metadata.name ?? '', cls: best };
}

function matchesAllowedTopologies(cls: StorageClass, node: NodeInfo): boolean {
  const terms = cls.allowedTopologies ?? [];
  if (terms.length === 0) return true;
  return terms.some((t) => {
    const exprs = t.matchLabelExpressions ?? [];
    if (exprs.length === 0) return false;
    return exprs.every((e) => {
      const v = node.labels[e.key];
      return v !== undefined && e.values.includes(v);
    });
  });
}

/** The VolumeBinding plugin: a filter plus Reserve/PreBind. */
export function volumeBinding(deps: VolumeBindingDeps): { filter: FilterPlugin; bind: BindPlugin } {
  const { lister } = deps;
  /** Claims promised to a node by a binding in flight whose annotation the cache does not show yet. */
  const reserved = new Map<string, string>();

  const filter: FilterPlugin = {
    name: 'VolumeBinding',
    isRelevant: (state) => (state.pod.pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim || v.ephemeral),
    preFilter: (state) => {
      const pod = state.pod.pod;
      const ns = pod.metadata.namespace ?? '';
      const vs: VolumeState = { bound: [], delayed: [] };
      let immediateUnbound = false;
      for (const v of pod.spec?.volumes ?? []) {
        const ref = claimNameOf(pod, v);
        if (!ref) continue;
        const claim = lister.claim(ns, ref.name);
        if (!claim) return ref.ephemeral ? `waiting for ephemeral volume controller to create the persistentvolumeclaim "${ref.name}"` : `persistentvolumeclaim "${ref.name}" not found`;
        if (claim.metadata.deletionTimestamp) return `persistentvolumeclaim "${ref.name}" is being deleted`;
        if (ref.ephemeral && !(claim.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === pod.metadata.uid)) {
          return `PVC ${ns}/${ref.name} was not created for pod ${ns}/${pod.metadata.name ?? ''} (pod is not owner)`;
        }
        const annotated = claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
        if (claim.spec?.volumeName || annotated) reserved.delete(claimKey(claim));
        if (claim.spec?.volumeName) {
          vs.bound.push({ claim, pv: lister.volume(claim.spec.volumeName) });
          continue;
        }
        const { name: className, cls } = storageClassOf(claim, lister);
        if (className !== '' && !cls) return `storageclass.storage.k8s.io "${className}" not found`;
        if (cls?.volumeBindingMode === 'WaitForFirstConsumer') vs.delayed.push({ claim, cls, selectedNode: annotated || reserved.get(claimKey(claim)) });
        else immediateUnbound = true;
      }
      if (immediateUnbound) return ErrReasonUnboundImmediate;
      state.write(STATE_KEY, vs);
      return undefined;
    },
    filter: (state, node) => {
      const vs = state.read<VolumeState>(STATE_KEY);
      if (!vs) return undefined;
      const reasons: string[] = [];
      for (const b of vs.bound) {
        if (!b.pv) {
          reasons.push(ErrReasonPVNotExist);
          return reasons;
        }
        const terms = b.pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
        if (terms && !terms.some((t) => matchesTerm(t, node))) {
          reasons.push(ErrReasonNodeConflict);
          break;
        }
      }
      for (const d of vs.delayed) {
        // A claim already promised to a node can only be provisioned there; otherwise its class
        // must be able to provision on this node (static PV matching is not implemented).
        const provisioner = d.cls.provisioner ?? '';
        if ((d.selectedNode !== undefined && d.selectedNode !== node.name) || provisioner === '' || provisioner === NO_PROVISIONER || !matchesAllowedTopologies(d.cls, node)) {
          reasons.push(ErrReasonBindConflict);
          break;
        }
      }
      return reasons.length > 0 ? reasons : undefined;
    },
  };

  const bind: BindPlugin = {
    name: 'VolumeBinding',
    reserve: (state, nodeName) => {
      const vs = state.read<VolumeState>(STATE_KEY);
      if (!vs) return;
      vs.toAnnotate = vs.delayed.filter((d) => d.claim.metadata.annotations?.[SELECTED_NODE_ANNOTATION] !== nodeName).map((d) => d.claim);
      for (const c of vs.toAnnotate) reserved.set(claimKey(c), nodeName);
    },
    unreserve: (state, nodeName) => {
      const vs = state.read<VolumeState>(STATE_KEY);
      for (const c of vs?.toAnnotate ?? []) if (reserved.get(claimKey(c)) === nodeName) reserved.delete(claimKey(c));
    },
    preBind: async (state: CycleState, nodeName) => {
      const vs = state.read<VolumeState>(STATE_KEY);
      // kube-scheduler waits here until the PV controller / external provisioner has bound every
      // claim. In Flotilla the agent of the chosen node provisions and binds local-path claims
      // itself, before it starts the pod, so the pod is bound at once after the annotation.
      for (const c of vs?.toAnnotate ?? []) await deps.selectNode(c, nodeName);
    },
  };

  return { filter, bind };
}
