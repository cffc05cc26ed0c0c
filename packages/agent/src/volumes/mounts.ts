/**
 * A container's bind mounts from its volumeMounts: subPath and subPathExpr (resolved safely inside
 * the volume and created when missing, like the kubelet), readOnly and mountPropagation.
 */
import { chmodSync, lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { expandVars } from '../containers/env.js';
import type { ContainerMount } from '../runtime/runtime.js';
import { errnoCode, errorMessage, VolumeError } from './errors.js';
import type { VolumeMountSpec } from './types.js';
import type { PreparedVolume } from './volume-manager.js';

const PROPAGATION: Record<string, ContainerMount['propagation']> = {
  None: 'private',
  HostToContainer: 'rslave',
  Bidirectional: 'rshared',
};

/** Rejects an absolute subPath or one with a `..` element (kubelet wording). */
export function validateSubPath(subPath: string): void {
  if (isAbsolute(subPath)) throw new VolumeError(`subPath "${subPath}" must be relative`);
  if (subPath.split(/[\\/]/).includes('..')) throw new VolumeError(`subPath "${subPath}" must not contain '..'`);
}

function isWithin(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Resolves `subPath` inside the volume at `root`, component by component: a missing component is
 * created as a directory with the mode of the volume root (only the components inside the volume,
 * never through a link pointing out of it); a symbolic link is followed only if it stays inside the
 * volume. Returns the resolved host path (a directory, or a file for the last component).
 */
export function resolveSubPath(root: string, subPath: string): string {
  validateSubPath(subPath);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (err) {
    throw new VolumeError(`volume path ${root} is not accessible: ${errorMessage(err)}`, 'FailedMount', { cause: err });
  }
  const mode = statSync(realRoot).mode & 0o7777;
  const parts = subPath.split('/').filter((p) => p !== '' && p !== '.');
  let current = realRoot;
  for (let i = 0; i < parts.length; i++) {
    const next = join(current, parts[i]!);
    let st;
    try {
      st = lstatSync(next);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw new VolumeError(`subPath "${subPath}": ${errorMessage(err)}`, 'FailedMount', { cause: err });
      try {
        mkdirSync(next, { mode });
        chmodSync(next, mode);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw new VolumeError(`subPath "${subPath}": mkdir ${next}: ${errorMessage(e)}`, 'FailedMount', { cause: e });
      }
      st = lstatSync(next);
    }
    if (st.isSymbolicLink()) {
      let resolved: string;
      try {
        resolved = realpathSync(next);
      } catch (err) {
        throw new VolumeError(`subPath "${subPath}": ${next} is a dangling link: ${errorMessage(err)}`, 'FailedMount', { cause: err });
      }
      if (!isWithin(realRoot, resolved)) throw new VolumeError(`subPath "${subPath}" is outside of the volume ${root}`);
      current = resolved;
      st = statSync(current);
    } else {
      current = next;
    }
    if (i < parts.length - 1 && !st.isDirectory()) throw new VolumeError(`subPath "${subPath}": ${current} is not a directory`);
  }
  return current;
}

/**
 * The bind mounts of one container. `volumes` are the pod's prepared volumes; `env` the container's
 * resolved environment for `subPathExpr`. A mount is read-only if the mount or the volume says so.
 * Throws VolumeError (unknown volume, bad subPath or propagation).
 */
export function containerMounts(
  container: { name?: string; volumeMounts?: VolumeMountSpec[] },
  volumes: Map<string, PreparedVolume>,
  env: Map<string, string> = new Map(),
): ContainerMount[] {
  return (container.volumeMounts ?? []).map((vm) => {
    const volume = volumes.get(vm.name);
    if (!volume) throw new VolumeError(`cannot find volume "${vm.name}" to mount into container "${container.name ?? ''}"`, 'FailedMount', { volume: vm.name });
    let subPath = vm.subPath ?? '';
    if (vm.subPathExpr) {
      if (subPath) throw new VolumeError(`volumeMount ${vm.name}: subPath and subPathExpr are mutually exclusive`, 'FailedMount', { volume: vm.name });
      subPath = expandVars(vm.subPathExpr, env);
    }
    let hostPath = volume.hostPath;
    if (subPath) {
      try {
        hostPath = resolveSubPath(volume.hostPath, subPath);
      } catch (err) {
        if (err instanceof VolumeError) throw new VolumeError(`failed to prepare subPath for volumeMount "${vm.name}" of container "${container.name ?? ''}": ${err.message}`, err.reason, { cause: err, volume: vm.name });
        throw err;
      }
    }
    const mount: ContainerMount = { containerPath: vm.mountPath, hostPath, readOnly: Boolean(vm.readOnly || volume.readOnly) };
    if (vm.mountPropagation) {
      const propagation = PROPAGATION[vm.mountPropagation];
      if (!propagation) throw new VolumeError(`invalid mountPropagation "${vm.mountPropagation}" for volumeMount "${vm.name}"`, 'FailedMount', { volume: vm.name });
      mount.propagation = propagation;
    }
    return mount;
  });
}
