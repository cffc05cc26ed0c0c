/**
 * The kubelet's atomic writer (pkg/volume/util/atomic_writer.go) for ConfigMap, Secret, downward API
 * and projected volumes. The files live in a timestamped directory `..2024_01_01_00_00_00.123456789`,
 * the symbolic link `..data` points at it and every top-level entry of the payload is a link
 * `key -> ..data/key`. An update writes a new timestamped directory, swaps `..data` by renaming a
 * temporary link over it (atomic), adds links for new entries, removes links of entries that are
 * gone and then the old directory. A reader of `key` therefore sees the old or the new contents,
 * never a missing or half-written file.
 */
import { randomInt } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { errnoCode, VolumeError } from './errors.js';
import { removeTree } from './remove-tree.js';

/** One file of a payload. */
export interface FileProjection {
  data: Buffer;
  /** Permission bits (0000-0777). */
  mode: number;
}

/** Relative path → file. */
export type Payload = Map<string, FileProjection>;

/** Name of the link to the current timestamped directory. */
export const DATA_DIR_NAME = '..data';
const DATA_DIR_TMP_NAME = '..data_tmp';
const TS_DIR_RE = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/;

/**
 * Cleans and checks a payload path as the kubelet does: relative, no `..` element, not starting with
 * `..` (reserved for the writer's own entries). Returns the cleaned path; throws VolumeError.
 */
export function validatePayloadPath(path: string): string {
  if (path === '') throw new VolumeError('invalid path: must not be empty');
  if (path.length > 4096) throw new VolumeError(`invalid path: must be less than or equal to 4096 characters`);
  if (posix.isAbsolute(path)) throw new VolumeError(`invalid path: must be relative path: ${path}`);
  if (path.split('/').includes('..')) throw new VolumeError(`invalid path: must not contain '..': ${path}`);
  if (path.startsWith('..')) throw new VolumeError(`invalid path: must not start with '..': ${path}`);
  const clean = posix.normalize(path).replace(/\/+$/, '');
  if (clean === '.' || clean === '') throw new VolumeError(`invalid path: ${path}`);
  return clean;
}

/** Cleans every path and rejects a file that is also used as a directory. */
function cleanPayload(payload: Payload): Payload {
  const clean: Payload = new Map();
  for (const [p, file] of payload) clean.set(validatePayloadPath(p), { data: file.data, mode: file.mode & 0o777 });
  for (const p of clean.keys()) {
    for (let d = posix.dirname(p); d !== '.'; d = posix.dirname(d)) {
      if (clean.has(d)) throw new VolumeError(`invalid payload: ${d} is both a file and the directory of ${p}`);
    }
  }
  return clean;
}

/** The first element of each payload path: the names visible at the top of the volume. */
function topLevelNames(payload: Payload): Set<string> {
  return new Set([...payload.keys()].map((p) => p.split('/')[0]!));
}

/** The timestamped directory `..data` points at, or undefined. */
async function currentTsDir(targetDir: string): Promise<string | undefined> {
  try {
    const target = await readlink(join(targetDir, DATA_DIR_NAME));
    return TS_DIR_RE.test(target) ? target : undefined;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'EINVAL') return undefined;
    throw err;
  }
}

/** Reads the regular files below `dir` (not following links) as a payload. */
async function readPayload(dir: string, prefix = ''): Promise<Payload> {
  const out: Payload = new Map();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const [k, v] of await readPayload(p, rel)) out.set(k, v);
    } else if (entry.isFile()) {
      const st = await lstat(p);
      out.set(rel, { data: await readFile(p), mode: st.mode & 0o777 });
    }
  }
  return out;
}

function samePayload(a: Payload, b: Payload): boolean {
  if (a.size !== b.size) return false;
  for (const [p, f] of a) {
    const g = b.get(p);
    if (!g || g.mode !== f.mode || !g.data.equals(f.data)) return false;
  }
  return true;
}

/** `..2024_01_01_00_00_00.` in UTC, as Go formats `..2006_01_02_15_04_05.`. */
function tsPrefix(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${p(now.getUTCFullYear(), 4)}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/** Creates a new, uniquely named timestamped directory and returns its name. */
async function makeTsDir(targetDir: string): Promise<string> {
  for (;;) {
    const name = tsPrefix(new Date()) + String(randomInt(0, 1_000_000_000)).padStart(9, '0');
    try {
      await mkdir(join(targetDir, name), { mode: 0o755 });
      await chmod(join(targetDir, name), 0o755);
      return name;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
}

async function writePayloadTo(dir: string, payload: Payload): Promise<void> {
  for (const [p, file] of payload) {
    const full = join(dir, p);
    await mkdir(dirname(full), { recursive: true, mode: 0o755 });
    await writeFile(full, file.data, { flag: 'wx', mode: file.mode });
    await chmod(full, file.mode); // the umask narrowed the mode given to open
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/** Points `..data` at `tsDir` atomically: a temporary link renamed over the old one. */
async function swapDataLink(targetDir: string, tsDir: string): Promise<void> {
  const tmp = join(targetDir, DATA_DIR_TMP_NAME);
  await unlinkIfPresent(tmp);
  await symlink(tsDir, tmp);
  await rename(tmp, join(targetDir, DATA_DIR_NAME));
}

/** Creates `name -> ..data/name` for every top-level name, replacing a link with another target. */
async function createUserVisibleLinks(targetDir: string, names: Set<string>): Promise<void> {
  for (const name of names) {
    const p = join(targetDir, name);
    const want = posix.join(DATA_DIR_NAME, name);
    try {
      const st = await lstat(p);
      if (st.isSymbolicLink() && (await readlink(p)) === want) continue;
      if (!st.isSymbolicLink()) throw new VolumeError(`cannot create ${p}: a file or directory that the atomic writer does not own is in the way`);
      const tmp = join(targetDir, `..${name}_tmp`);
      await unlinkIfPresent(tmp);
      await symlink(want, tmp);
      await rename(tmp, p);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await symlink(want, p);
    }
  }
}

/**
 * Removes the links of names that are no longer in the payload, and leftover timestamped directories
 * and temporary links (old versions, or an earlier write that crashed) other than `keepTsDir`.
 */
async function removeStale(targetDir: string, names: Set<string>, keepTsDir: string): Promise<void> {
  for (const entry of await readdir(targetDir, { withFileTypes: true })) {
    const p = join(targetDir, entry.name);
    if (entry.name.startsWith('..')) {
      if (entry.isDirectory() && TS_DIR_RE.test(entry.name) && entry.name !== keepTsDir) await removeTree(p);
      else if (entry.isSymbolicLink() && entry.name !== DATA_DIR_NAME) await unlinkIfPresent(p);
    } else if (entry.isSymbolicLink() && !names.has(entry.name)) {
      const target = await readlink(p);
      if (target.startsWith(DATA_DIR_NAME + '/')) await unlinkIfPresent(p);
    }
  }
}

/** Default wait between swapping `..data` and removing the old directory (see writeAtomic). */
export const OLD_DIR_GRACE_MS = 20;

/**
 * Makes `targetDir` hold exactly `payload`, atomically as described above. Nothing is written when
 * the current contents and modes already equal the payload. Resolves with true if it wrote.
 *
 * Unlike the kubelet, the old directory is removed `oldDirGraceMs` after the swap rather than at
 * once: a reader whose path walk resolved `..data` to the old directory just before the swap would
 * otherwise find its file gone (observed under load by the concurrent-reader test).
 */
export async function writeAtomic(targetDir: string, payload: Payload, options: { oldDirGraceMs?: number } = {}): Promise<boolean> {
  const clean = cleanPayload(payload);
  await mkdir(targetDir, { recursive: true, mode: 0o755 });
  const names = topLevelNames(clean);
  const oldTsDir = await currentTsDir(targetDir);
  if (oldTsDir !== undefined) {
    let old: Payload | undefined;
    try {
      old = await readPayload(join(targetDir, oldTsDir));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    if (old && samePayload(clean, old)) {
      await createUserVisibleLinks(targetDir, names);
      return false;
    }
  }
  const tsDir = await makeTsDir(targetDir);
  try {
    await writePayloadTo(join(targetDir, tsDir), clean);
  } catch (err) {
    await removeTree(join(targetDir, tsDir));
    throw err;
  }
  await swapDataLink(targetDir, tsDir);
  await createUserVisibleLinks(targetDir, names);
  const grace = options.oldDirGraceMs ?? OLD_DIR_GRACE_MS;
  if (oldTsDir !== undefined && grace > 0) await new Promise((resolve) => setTimeout(resolve, grace));
  await removeStale(targetDir, names, tsDir);
  return true;
}
