/**
 * The agent's volume manager: prepares a pod's volumes on the host before its containers are
 * created, keeps ConfigMap / Secret / downward API / projected contents current on every pod sync
 * and removes them when the pod is gone, with the kubelet's on-disk layout
 * `<podsDir>/<uid>/volumes/kubernetes.io~<plugin>/<volume>` (Secrets, projected volumes and
 * `emptyDir.medium: Memory` under the in-memory root instead, same relative layout).
 *
 * Callers serialize work per pod anyway; the manager also serializes setUp/tearDown of one pod uid.
 */
import { access, chmod, lstat, mkdir, readdir, rmdir, statfs } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { KubeObject } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { writeAtomic, type Payload } from './atomic-writer.js';
import { errnoCode, errorMessage, VolumeError } from './errors.js';
import { checkHostPathType } from './host-path.js';
import { configMapData, DEFAULT_FILE_MODE, downwardAPIPayload, keysPayload, secretData, type AllocatableLookup } from './payload.js';
import { removeTree } from './remove-tree.js';
import type { KeyToPath, PodSpecShape, PodVolume, VolumeProjection } from './types.js';

/** What a projected serviceAccountToken source asks for. */
export interface ServiceAccountTokenRequest {
  audience?: string;
  expirationSeconds: number;
  podName: string;
  podUid: string;
}

/** The API objects volumes are built from; `undefined` means the object does not exist (404). */
export interface VolumeSources {
  getConfigMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  getSecret(namespace: string, name: string): Promise<KubeObject | undefined>;
  getPersistentVolumeClaim(namespace: string, name: string): Promise<KubeObject | undefined>;
  getPersistentVolume(name: string): Promise<KubeObject | undefined>;
  /**
   * A token for a projected `serviceAccountToken` source. Called on every setUp, so cache it (and
   * renew it before it expires). Without it such sources are skipped.
   */
  getServiceAccountToken?(namespace: string, serviceAccountName: string, request: ServiceAccountTokenRequest): Promise<string>;
}

/** A volume ready to be bind-mounted. */
export interface PreparedVolume {
  /** The host path to mount (or to resolve a subPath in). */
  hostPath: string;
  /** The volume itself is read-only (ConfigMap, Secret, downward API, projected; read-only claims). */
  readOnly: boolean;
}

/** Options of a VolumeManager. */
export interface VolumeManagerOptions {
  /** Root of the per-pod directories, e.g. DATA_DIR/pods. */
  podsDir: string;
  /**
   * Root on a tmpfs for Secrets, projected volumes and `emptyDir.medium: Memory`; default
   * /dev/shm/flotilla/NODE_NAME if writable (one per node: agents sharing a machine each clean up only
   * their own pods' directories), else `podsDir` (on disk).
   */
  memoryDir?: string;
  sources: VolumeSources;
  nodeName: string;
  logger: Logger;
  /** Node allocatable amounts used for unset limits in downward API files; default: the host's CPUs, memory and the pods disk. */
  nodeAllocatable?: AllocatableLookup;
}

type Plugin = 'empty-dir' | 'configmap' | 'secret' | 'downward-api' | 'projected';

const SAFE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEFAULT_MEMORY_DIR = '/dev/shm/flotilla';
/** Annotation set on dynamically provisioned PersistentVolumes. */
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

/** Checks that a pod uid or volume name is one safe path element. */
function safeName(name: string | undefined, what: string): string {
  if (!name || !SAFE_NAME_RE.test(name) || name.includes('..')) throw new VolumeError(`invalid ${what} ${JSON.stringify(name ?? '')}`);
  return name;
}

/** Prepares, updates and removes the volumes of the pods of one node. */
export class VolumeManager {
  private readonly podsDir: string;
  private readonly sources: VolumeSources;
  private readonly log: Logger;
  private readonly nodeAllocatable: AllocatableLookup;
  private memoryRoot: Promise<string> | undefined;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly tokenWarned = new Set<string>();

  constructor(private readonly o: VolumeManagerOptions) {
    this.podsDir = o.podsDir;
    this.sources = o.sources;
    this.log = o.logger;
    this.nodeAllocatable = o.nodeAllocatable ?? (() => this.hostAllocatable());
  }

  /**
   * Prepares every volume of the pod (idempotent; called on every pod sync): creates directories,
   * checks hostPaths and claims, and rewrites ConfigMap / Secret / downward API / projected contents
   * when they changed. Resolves with volume name → prepared volume. Throws a VolumeError
   * (`MountVolume.SetUp failed for volume "v" : configmap "x" not found`) after trying all volumes.
   */
  async setUp(pod: KubeObject): Promise<Map<string, PreparedVolume>> {
    const uid = safeName(pod.metadata.uid, 'pod uid');
    return this.locked(uid, async () => {
      const spec = (pod['spec'] ?? {}) as PodSpecShape;
      const prepared = new Map<string, PreparedVolume>();
      const errors: VolumeError[] = [];
      for (const volume of spec.volumes ?? []) {
        try {
          prepared.set(volume.name, await this.setUpVolume(pod, uid, volume));
        } catch (err) {
          const reason = err instanceof VolumeError ? err.reason : 'FailedMount';
          errors.push(new VolumeError(`MountVolume.SetUp failed for volume "${volume.name}" : ${errorMessage(err)}`, reason, { cause: err, volume: volume.name }));
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new VolumeError(errors.map((e) => e.message).join('; '), errors[0]!.reason, { cause: errors, volume: errors[0]!.volume });
      return prepared;
    });
  }

  /**
   * Removes every volume directory of the pod (on disk and in memory), never following symbolic
   * links and never entering another file system, so hostPath and PersistentVolume data are left
   * alone. Removes `<podsDir>/<uid>` too if nothing else is left in it. Throws a VolumeError
   * (FailedUnmount) if something is still mounted below.
   */
  async tearDown(podUid: string): Promise<void> {
    const uid = safeName(podUid, 'pod uid');
    await this.locked(uid, async () => {
      const memoryRoot = await this.memoryDir();
      const leftovers = await removeTree(join(this.podsDir, uid, 'volumes'));
      if (memoryRoot !== this.podsDir) leftovers.push(...(await removeTree(join(memoryRoot, uid))));
      this.tokenWarned.delete(uid);
      if (leftovers.length) throw new VolumeError(`cannot remove the volumes of pod ${uid}: still mounted: ${leftovers.join(', ')}`, 'FailedUnmount');
      try {
        await rmdir(join(this.podsDir, uid));
      } catch (err) {
        if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(errnoCode(err) ?? '')) throw err;
      }
      this.log.debug({ podUid: uid }, 'volumes torn down');
    });
  }

  /** Uids of the pods that have volume directories (on disk or in memory), sorted. */
  async podUidsOnDisk(): Promise<string[]> {
    const uids = new Set<string>();
    for (const uid of await listDirs(this.podsDir)) {
      if (await isDir(join(this.podsDir, uid, 'volumes'))) uids.add(uid);
    }
    const memoryRoot = await this.memoryDir();
    if (memoryRoot !== this.podsDir) for (const uid of await listDirs(memoryRoot)) uids.add(uid);
    return [...uids].filter((u) => SAFE_NAME_RE.test(u) && !u.includes('..')).sort();
  }

  /** The in-memory root in use (resolved on first use). */
  memoryDir(): Promise<string> {
    this.memoryRoot ??= this.resolveMemoryDir();
    return this.memoryRoot;
  }

  private async resolveMemoryDir(): Promise<string> {
    if (this.o.memoryDir) {
      await mkdir(this.o.memoryDir, { recursive: true, mode: 0o700 });
      return this.o.memoryDir;
    }
    const root = join(DEFAULT_MEMORY_DIR, safeName(this.o.nodeName, 'node name'));
    try {
      await mkdir(root, { recursive: true, mode: 0o700 });
      await access(root, fsConstants.W_OK);
      return root;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, `${root} is not writable: Secrets and memory-backed volumes are kept on disk under ${this.podsDir}`);
      return this.podsDir;
    }
  }

  private async locked<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(uid) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(uid, tail);
    void tail.then(() => {
      if (this.locks.get(uid) === tail) this.locks.delete(uid);
    });
    return run;
  }

  private async volumeDir(uid: string, plugin: Plugin, name: string, inMemory: boolean): Promise<string> {
    const root = inMemory ? await this.memoryDir() : this.podsDir;
    return join(root, uid, 'volumes', `kubernetes.io~${plugin}`, safeName(name, 'volume name'));
  }

  private async setUpVolume(pod: KubeObject, uid: string, v: PodVolume): Promise<PreparedVolume> {
    if (v.hostPath) return this.setUpHostPath(v.hostPath.path, v.hostPath.type);
    if (v.emptyDir) return this.setUpEmptyDir(uid, v.name, v.emptyDir.medium);
    if (v.configMap || v.secret || v.downwardAPI || v.projected) return this.setUpAtomic(pod, uid, v);
    if (v.persistentVolumeClaim) return this.setUpClaim(pod, v.persistentVolumeClaim.claimName, Boolean(v.persistentVolumeClaim.readOnly));
    const kind = Object.keys(v).find((k) => k !== 'name') ?? 'none';
    throw new VolumeError(`volume source ${kind} is not supported by this node (no volume plugin matched)`);
  }

  private async setUpHostPath(path: string, type: string | undefined): Promise<PreparedVolume> {
    if (!path || !isAbsolute(path)) throw new VolumeError(`hostPath ${JSON.stringify(path)} must be an absolute path`);
    await checkHostPathType(path, type);
    return { hostPath: path, readOnly: false };
  }

  /** An empty directory, world-writable like the kubelet's; sizeLimit is not enforced. */
  private async setUpEmptyDir(uid: string, name: string, medium: string | undefined): Promise<PreparedVolume> {
    if (medium && medium !== 'Memory') throw new VolumeError(`emptyDir medium ${medium} is not supported by this node`);
    const dir = await this.volumeDir(uid, 'empty-dir', name, medium === 'Memory');
    if (!(await isDir(dir))) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await chmod(dir, 0o777);
    }
    return { hostPath: dir, readOnly: false };
  }

  /** ConfigMap, Secret, downward API and projected volumes: read-only, written atomically. */
  private async setUpAtomic(pod: KubeObject, uid: string, v: PodVolume): Promise<PreparedVolume> {
    let plugin: Plugin;
    let payload: Payload;
    const ns = pod.metadata.namespace ?? 'default';
    if (v.configMap) {
      plugin = 'configmap';
      payload = await this.configMapPayload(ns, v.configMap.name ?? '', v.configMap.items, v.configMap.defaultMode ?? DEFAULT_FILE_MODE, Boolean(v.configMap.optional));
    } else if (v.secret) {
      plugin = 'secret';
      payload = await this.secretPayload(ns, v.secret.secretName ?? '', v.secret.items, v.secret.defaultMode ?? DEFAULT_FILE_MODE, Boolean(v.secret.optional));
    } else if (v.downwardAPI) {
      plugin = 'downward-api';
      payload = await downwardAPIPayload(pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE, this.nodeAllocatable);
    } else {
      plugin = 'projected';
      payload = await this.projectedPayload(pod, uid, v.projected?.sources ?? [], v.projected?.defaultMode ?? DEFAULT_FILE_MODE);
    }
    // Secrets and projected volumes (tokens, secrets) live in memory, as the kubelet keeps them on tmpfs.
    const dir = await this.volumeDir(uid, plugin, v.name, plugin === 'secret' || plugin === 'projected');
    if (await writeAtomic(dir, payload)) this.log.info({ podUid: uid, pod: pod.metadata.name, volume: v.name, files: payload.size }, 'volume contents written');
    return { hostPath: dir, readOnly: true };
  }

  private async configMapPayload(ns: string, name: string, items: KeyToPath[] | undefined, mode: number, optional: boolean): Promise<Payload> {
    const cm = await this.fetch(() => this.sources.getConfigMap(ns, name), `configmap ${ns}/${name}`);
    if (!cm) {
      if (optional) return new Map();
      throw new VolumeError(`configmap "${name}" not found`);
    }
    return keysPayload(configMapData(cm), items, mode, optional, 'configmap');
  }

  private async secretPayload(ns: string, name: string, items: KeyToPath[] | undefined, mode: number, optional: boolean): Promise<Payload> {
    const secret = await this.fetch(() => this.sources.getSecret(ns, name), `secret ${ns}/${name}`);
    if (!secret) {
      if (optional) return new Map();
      throw new VolumeError(`secret "${name}" not found`);
    }
    return keysPayload(secretData(secret), items, mode, optional, 'secret');
  }

  /** The sources of a projected volume merged into one payload (a later source wins a path). */
  private async projectedPayload(pod: KubeObject, uid: string, sources: VolumeProjection[], mode: number): Promise<Payload> {
    const ns = pod.metadata.namespace ?? 'default';
    const out: Payload = new Map();
    const add = (p: Payload) => p.forEach((v, k) => out.set(k, v));
    for (const src of sources) {
      if (src.configMap) add(await this.configMapPayload(ns, src.configMap.name ?? '', src.configMap.items, mode, Boolean(src.configMap.optional)));
      else if (src.secret) add(await this.secretPayload(ns, src.secret.name ?? '', src.secret.items, mode, Boolean(src.secret.optional)));
      else if (src.downwardAPI) add(await downwardAPIPayload(pod, src.downwardAPI.items, mode, this.nodeAllocatable));
      else if (src.serviceAccountToken) {
        const tok = src.serviceAccountToken;
        const get = this.sources.getServiceAccountToken;
        if (!get) {
          if (!this.tokenWarned.has(uid)) this.log.warn({ podUid: uid, pod: pod.metadata.name, path: tok.path }, 'projected serviceAccountToken skipped: no token source');
          this.tokenWarned.add(uid);
          continue;
        }
        const sa = ((pod['spec'] ?? {}) as PodSpecShape).serviceAccountName || 'default';
        const token = await this.fetch(
          () => get.call(this.sources, ns, sa, { audience: tok.audience, expirationSeconds: tok.expirationSeconds ?? 3600, podName: pod.metadata.name ?? '', podUid: uid }),
          `token of serviceaccount ${ns}/${sa}`,
        );
        out.set(tok.path, { data: Buffer.from(token, 'utf8'), mode });
      } else {
        const kind = Object.keys(src)[0] ?? 'none';
        throw new VolumeError(`projected source ${kind} is not supported by this node`);
      }
    }
    return out;
  }

  /** A PersistentVolumeClaim: must be Bound; its hostPath or local PersistentVolume is mounted. */
  private async setUpClaim(pod: KubeObject, claimName: string, readOnly: boolean): Promise<PreparedVolume> {
    const ns = pod.metadata.namespace ?? 'default';
    const claim = await this.fetch(() => this.sources.getPersistentVolumeClaim(ns, claimName), `persistentvolumeclaim ${ns}/${claimName}`);
    if (!claim) throw new VolumeError(`persistentvolumeclaim "${claimName}" not found`);
    const claimSpec = (claim['spec'] ?? {}) as { volumeName?: string; accessModes?: string[] };
    const phase = (claim['status'] as { phase?: string } | undefined)?.phase;
    if (phase !== 'Bound' || !claimSpec.volumeName) throw new VolumeError(`persistentvolumeclaim "${claimName}" is not bound`);
    const pvName = claimSpec.volumeName;
    const pv = await this.fetch(() => this.sources.getPersistentVolume(pvName), `persistentvolume ${pvName}`);
    if (!pv) throw new VolumeError(`persistentvolume "${pvName}" not found`);
    const pvSpec = (pv['spec'] ?? {}) as {
      claimRef?: { name?: string; namespace?: string; uid?: string };
      hostPath?: { path: string; type?: string };
      local?: { path: string };
      volumeMode?: string;
    };
    const ref = pvSpec.claimRef;
    if (ref && (ref.name !== claimName || (ref.namespace ?? ns) !== ns || (ref.uid && claim.metadata.uid && ref.uid !== claim.metadata.uid))) {
      throw new VolumeError(`persistentvolume "${pvName}" is bound to another claim (${ref.namespace ?? ''}/${ref.name ?? ''})`);
    }
    if (pvSpec.volumeMode === 'Block') throw new VolumeError(`persistentvolume "${pvName}": volumeMode Block is not supported by this node`);
    const modes = claimSpec.accessModes ?? [];
    const claimReadOnly = modes.length > 0 && modes.every((m) => m === 'ReadOnlyMany');
    let hostPath: string;
    if (pvSpec.hostPath) {
      hostPath = pvSpec.hostPath.path;
      if (!isAbsolute(hostPath ?? '')) throw new VolumeError(`persistentvolume "${pvName}": hostPath ${JSON.stringify(hostPath)} must be absolute`);
      await checkHostPathType(hostPath, pvSpec.hostPath.type);
    } else if (pvSpec.local) {
      hostPath = pvSpec.local.path;
      if (!isAbsolute(hostPath ?? '')) throw new VolumeError(`persistentvolume "${pvName}": local path ${JSON.stringify(hostPath)} must be absolute`);
      await this.ensureLocalPath(pv, hostPath);
    } else {
      throw new VolumeError(`persistentvolume "${pvName}": only hostPath and local volumes are supported by this node`);
    }
    return { hostPath, readOnly: readOnly || claimReadOnly };
  }

  /** A local volume's path must exist, except for a provisioned one, whose directory is created (0777, as local-path provisioners do). */
  private async ensureLocalPath(pv: KubeObject, path: string): Promise<void> {
    try {
      await lstat(path);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw new VolumeError(`local volume path ${path}: ${errorMessage(err)}`, 'FailedMount', { cause: err });
    }
    if (!pv.metadata.annotations?.[PROVISIONED_BY]) throw new VolumeError(`local volume path "${path}" does not exist`);
    await mkdir(path, { recursive: true, mode: 0o777 });
    await chmod(path, 0o777);
    this.log.info({ pv: pv.metadata.name, path }, 'created the directory of a provisioned local volume');
  }

  /** Calls the API; failures other than 404 become VolumeErrors naming what was fetched. */
  private async fetch<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new VolumeError(`cannot get ${what}: ${errorMessage(err)}`, 'FailedMount', { cause: err });
    }
  }

  /** The host's CPUs, memory and pods disk, as node allocatable for unset limits. */
  private async hostAllocatable(): Promise<Record<string, string>> {
    const out: Record<string, string> = { cpu: String(availableParallelism()), memory: String(totalmem()) };
    try {
      const fs = await statfs(this.podsDir);
      out['ephemeral-storage'] = String(BigInt(fs.blocks) * BigInt(fs.bsize));
    } catch {
      // leave ephemeral-storage unset (0)
    }
    return out;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

async function listDirs(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
