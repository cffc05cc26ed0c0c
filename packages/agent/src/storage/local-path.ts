/**
 * Local-path storage, like k3s's local-path-provisioner but inside the agent: a `local-path`
 * StorageClass (the default; WaitForFirstConsumer) whose claims are provisioned as directories on the
 * node that runs their first consumer. The agent about to start such a pod creates the PV (a
 * hostPath directory under its data dir, pinned to this node by node affinity), binds claim and
 * volume, and later removes the data and the PV when the claim is gone and the reclaim policy is
 * Delete (a Retain volume becomes Released).
 *
 * Binding happens here, not in a PV controller: only claims of this provisioner are bound, each by
 * the one agent that runs its consumer (the scheduler's `volume.kubernetes.io/selected-node`
 * annotation, when set, must name this node).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { isAlreadyExists, isNotFound, type KubeObject, type Pod } from '@flotilla/api/core';
import { res, SharedInformer, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';

const PVCS = res('persistentvolumeclaims');
const PVS = res('persistentvolumes');
const STORAGE_CLASSES = res('storageclasses.storage.k8s.io');

/** The provisioner name of local-path classes (k3s's name is accepted too). */
export const LOCAL_PATH_PROVISIONER = 'flotilla.io/local-path';
const PROVISIONERS = new Set([LOCAL_PATH_PROVISIONER, 'rancher.io/local-path']);
/** Label on provisioned PVs: the node holding the data. */
export const LOCAL_PATH_NODE_LABEL = 'flotilla.io/local-path-node';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';

interface Claim extends KubeObject {
  spec: { accessModes?: string[]; resources?: { requests?: { storage?: string } }; storageClassName?: string; volumeName?: string; volumeMode?: string };
  status?: { phase?: string };
}
interface Volume extends KubeObject {
  spec: { hostPath?: { path: string }; persistentVolumeReclaimPolicy?: string; claimRef?: { namespace?: string; name?: string; uid?: string } };
  status?: { phase?: string };
}
interface StorageClass extends KubeObject {
  provisioner: string;
  reclaimPolicy?: string;
  volumeBindingMode?: string;
}

/** The default `local-path` StorageClass. */
export function localPathStorageClass(): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'local-path', annotations: { [DEFAULT_CLASS]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  } as KubeObject;
}

/** Why a claim could not be provisioned (shown as a ProvisioningFailed event; the pod waits). */
export class ProvisioningError extends Error {
  readonly reason = 'ProvisioningFailed';
}

/** Provisions, binds and reclaims local-path volumes of one node. */
export class LocalPathProvisioner {
  private readonly root: string;
  private readonly claims: SharedInformer<Claim>;
  private readonly volumes: SharedInformer<Volume>;
  private reclaiming = false;
  private reclaimAgain = false;

  constructor(
    private readonly o: { client: KubeClient; nodeName: string; rootDir: string; logger: Logger },
  ) {
    this.root = resolve(o.rootDir);
    this.claims = new SharedInformer<Claim>(o.client, { resource: PVCS, logger: o.logger });
    this.volumes = new SharedInformer<Volume>(o.client, { resource: PVS, labelSelector: `${LOCAL_PATH_NODE_LABEL}=${o.nodeName}`, logger: o.logger });
    const check = () => void this.reclaim();
    this.claims.addEventHandler({ onDelete: check });
    this.volumes.addEventHandler({ onAdd: check, onUpdate: check });
  }

  /** Creates the default StorageClass if missing, then follows claims and volumes. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.o.client.create(STORAGE_CLASSES, '', localPathStorageClass());
    } catch (err) {
      if (!isAlreadyExists(err)) this.o.logger.warn({ err }, 'could not create the local-path StorageClass');
    }
    void this.claims.run(signal);
    void this.volumes.run(signal);
    await Promise.all([this.claims.waitForSync(signal), this.volumes.waitForSync(signal)]);
    await this.reclaim();
  }

  private async storageClass(name: string | undefined): Promise<StorageClass | undefined> {
    if (name) {
      try {
        return await this.o.client.get<StorageClass>(STORAGE_CLASSES, '', name);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }
    const all = (await this.o.client.list<StorageClass>(STORAGE_CLASSES)).items;
    return all.find((c) => c.metadata.annotations?.[DEFAULT_CLASS] === 'true');
  }

  /** Provisions and binds every unbound local-path claim `pod` uses (before its volumes are set up). */
  async provisionFor(pod: Pod): Promise<void> {
    const ns = pod.metadata.namespace ?? '';
    for (const v of pod.spec?.volumes ?? []) {
      const claimName = v.persistentVolumeClaim?.claimName;
      if (!claimName) continue;
      let claim: Claim;
      try {
        claim = await this.o.client.get<Claim>(PVCS, ns, claimName);
      } catch (err) {
        if (isNotFound(err)) continue; // the volume manager reports the missing claim
        throw err;
      }
      if (claim.spec.volumeName) continue;
      const cls = await this.storageClass(claim.spec.storageClassName);
      if (!cls || !PROVISIONERS.has(cls.provisioner)) continue;
      const selected = claim.metadata.annotations?.[SELECTED_NODE];
      if (selected && selected !== this.o.nodeName) throw new ProvisioningError(`persistentvolumeclaim "${claimName}" is provisioned for node ${selected}, not ${this.o.nodeName}`);
      await this.provision(claim, cls);
    }
  }

  private async provision(claim: Claim, cls: StorageClass): Promise<void> {
    const ns = claim.metadata.namespace ?? '';
    const pvName = `pvc-${claim.metadata.uid}`;
    const path = join(this.root, `${pvName}_${ns}_${claim.metadata.name}`);
    await mkdir(path, { recursive: true, mode: 0o777 });
    const pv: KubeObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, labels: { [LOCAL_PATH_NODE_LABEL]: this.o.nodeName }, annotations: { 'pv.kubernetes.io/provisioned-by': cls.provisioner } },
      spec: {
        capacity: { storage: claim.spec.resources?.requests?.storage ?? '1Gi' },
        accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
        storageClassName: cls.metadata.name,
        volumeMode: claim.spec.volumeMode ?? 'Filesystem',
        hostPath: { path, type: 'DirectoryOrCreate' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [this.o.nodeName] }] }] } },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: claim.metadata.name, uid: claim.metadata.uid },
      },
    };
    try {
      await this.o.client.create(PVS, '', pv);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    await this.o.client.patch(PVS, '', pvName, { status: { phase: 'Bound' } }, 'merge', { subresource: 'status' });
    // Bind the claim (uid precondition: a recreated claim of the same name is not bound by mistake).
    await this.o.client.patch(PVCS, ns, claim.metadata.name ?? '', { metadata: { uid: claim.metadata.uid, annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' } }, spec: { volumeName: pvName, storageClassName: cls.metadata.name } }, 'merge');
    await this.o.client.patch(PVCS, ns, claim.metadata.name ?? '', { status: { phase: 'Bound', accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'], capacity: { storage: claim.spec.resources?.requests?.storage ?? '1Gi' } } }, 'merge', { subresource: 'status' });
    this.o.logger.info({ claim: `${ns}/${claim.metadata.name}`, volume: pvName, path }, 'provisioned local-path volume');
  }

  /** Checks at once for volumes whose claims are gone (also done on every claim deletion). */
  reclaimNow(): Promise<void> {
    return this.reclaim();
  }

  /** Deletes (or releases) this node's volumes whose claims are gone. */
  private async reclaim(): Promise<void> {
    if (!this.claims.hasSynced() || !this.volumes.hasSynced()) return;
    if (this.reclaiming) {
      this.reclaimAgain = true;
      return;
    }
    this.reclaiming = true;
    this.reclaimAgain = false;
    try {
      for (const pv of this.volumes.lister.list()) {
        const ref = pv.spec.claimRef;
        if (!ref?.name) continue;
        const claim = this.claims.lister.get(ref.namespace ?? '', ref.name);
        if (claim && claim.metadata.uid === ref.uid) continue;
        // The informer may lag: confirm with the API before touching data.
        const live = await this.o.client.get<Claim>(PVCS, ref.namespace ?? '', ref.name).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
        if (live && live.metadata.uid === ref.uid) continue;
        if ((pv.spec.persistentVolumeReclaimPolicy ?? 'Delete') !== 'Delete') {
          if (pv.status?.phase !== 'Released') await this.o.client.patch(PVS, '', pv.metadata.name ?? '', { status: { phase: 'Released' } }, 'merge', { subresource: 'status' });
          continue;
        }
        const path = pv.spec.hostPath?.path;
        if (path && resolve(path).startsWith(this.root + sep)) await rm(path, { recursive: true, force: true });
        await this.o.client.delete(PVS, '', pv.metadata.name ?? '').catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
        this.o.logger.info({ volume: pv.metadata.name, path }, 'deleted local-path volume of a deleted claim');
      }
    } catch (err) {
      this.o.logger.warn({ err }, 'local-path reclaim failed; will retry');
    } finally {
      this.reclaiming = false;
    }
    if (this.reclaimAgain) await this.reclaim();
  }
}
