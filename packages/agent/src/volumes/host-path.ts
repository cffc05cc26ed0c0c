/**
 * hostPath type checks, with the kubelet's behaviour and wording (pkg/volume/hostpath): the
 * `...OrCreate` types create what is missing, the others only check what is there (following
 * symbolic links, as os.Stat does).
 */
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { errnoCode, errorMessage, VolumeError } from './errors.js';

/** The hostPath types Kubernetes defines ("" = no check). */
export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw new VolumeError(`hostPath type check failed: stat ${path}: ${errorMessage(err)}`, 'FailedMount', { cause: err });
  }
}

function fail(path: string, what: string): never {
  throw new VolumeError(`hostPath type check failed: ${path} is not ${what}`);
}

/**
 * Checks (and for DirectoryOrCreate / FileOrCreate creates) `path` according to `type`. Directories
 * are created with mode 0755 including parents; files with 0644 in an existing directory, as the
 * kubelet does. Throws VolumeError.
 */
export async function checkHostPathType(path: string, type: string | undefined): Promise<void> {
  if (!type) return;
  let st = await statOrUndefined(path);
  switch (type) {
    case 'DirectoryOrCreate':
      if (!st) {
        try {
          await mkdir(path, { recursive: true, mode: 0o755 });
          await chmod(path, 0o755);
        } catch (err) {
          throw new VolumeError(`hostPath type check failed: mkdir ${path}: ${errorMessage(err)}`, 'FailedMount', { cause: err });
        }
        st = await statOrUndefined(path);
      }
      if (!st?.isDirectory()) fail(path, 'a directory');
      return;
    case 'Directory':
      if (!st?.isDirectory()) fail(path, 'a directory');
      return;
    case 'FileOrCreate':
      if (!st) {
        try {
          await (await open(path, 'a', 0o644)).close();
        } catch (err) {
          throw new VolumeError(`hostPath type check failed: create ${path}: ${errorMessage(err)}`, 'FailedMount', { cause: err });
        }
        st = await statOrUndefined(path);
      }
      if (!st?.isFile()) fail(path, 'a file');
      return;
    case 'File':
      if (!st?.isFile()) fail(path, 'a file');
      return;
    case 'Socket':
      if (!st?.isSocket()) fail(path, 'a socket file');
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) fail(path, 'a character device');
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) fail(path, 'a block device');
      return;
    default:
      throw new VolumeError(`hostPath type check failed: ${type} is an invalid volume type`);
  }
}
