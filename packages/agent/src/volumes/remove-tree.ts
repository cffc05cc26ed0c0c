/**
 * Removal of a volume directory tree that never leaves it: entries are examined with lstat, symbolic
 * links are unlinked (never followed) and directories on another device (mount points, such as a
 * bind mount someone left behind) are not entered.
 */
import { lstat, readdir, rmdir, unlink, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from './errors.js';

/** What `removeTree` could not remove (mount points), as paths. */
export type Leftovers = string[];

/**
 * Removes `path` and everything below it without following symbolic links or crossing into another
 * file system. A missing path is not an error. Resolves with the mount points it left in place (and
 * therefore their parent directories); throws on other I/O errors.
 */
export async function removeTree(path: string): Promise<Leftovers> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  if (!st.isDirectory()) {
    await unlinkIfPresent(path);
    return [];
  }
  const leftovers: Leftovers = [];
  await removeDir(path, st.dev, leftovers);
  return leftovers;
}

async function removeDir(dir: string, dev: number, leftovers: Leftovers): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    if (errnoCode(err) !== 'EACCES') throw err;
    // A container made the directory unreadable: give it back to us (it was lstat'ed as a directory).
    await chmod(dir, 0o700);
    names = await readdir(dir);
  }
  let keep = false;
  for (const name of names) {
    const p = join(dir, name);
    let st;
    try {
      st = await lstat(p);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    if (!st.isDirectory()) {
      await unlinkIfPresent(p);
    } else if (st.dev !== dev) {
      leftovers.push(p);
      keep = true;
    } else {
      const before = leftovers.length;
      await removeDir(p, dev, leftovers);
      if (leftovers.length > before) keep = true;
    }
  }
  if (keep) return;
  try {
    await rmdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
