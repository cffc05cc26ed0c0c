/**
 * The pod sandbox ("pause") image, built on this machine without a registry or the docker CLI: a
 * root filesystem holding a static busybox as /bin/busybox, /bin/sh and /bin/sleep, imported
 * through the engine API (`POST /images/create?fromSrc=-`) with a CMD that sleeps forever and
 * exits 0 at once on SIGTERM/SIGINT.
 *
 * Idempotent: an image whose `io.flotilla.pause.recipe` label matches the recipe (its version, the
 * busybox binary, the command and the extra labels) is reused; a stale build is replaced and its
 * untagged image removed unless a container still uses it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isDockerNotFound, type DockerClient } from './docker-client.js';
import { createTar, type TarEntry } from './tar.js';

/** The sandbox's shell command: sleeps forever, exits 0 on SIGTERM or SIGINT. */
export const PAUSE_COMMAND = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done";

/** The image `flotilla server` builds for its local agent (the agent's default --pod-infra-image). */
export const DEFAULT_PAUSE_IMAGE = 'flotilla/pause:1';

/** Where a static busybox is looked for, in order. */
export const BUSYBOX_PATHS = ['/usr/bin/busybox', '/bin/busybox'] as const;

/** Image label holding a hash of the recipe: a matching image is reused. */
export const PAUSE_RECIPE_LABEL = 'io.flotilla.pause.recipe';

const RECIPE_VERSION = '1';

/** Options of {@link ensurePauseImage}. */
export interface EnsurePauseImageOptions {
  /** Path of a static busybox; default the first of {@link BUSYBOX_PATHS} that exists. */
  busyboxPath?: string;
  /** Extra image labels (containers made from the image inherit them). */
  labels?: Record<string, string>;
}

/** Why the pause image cannot be built here (no static busybox). */
export class PauseImageError extends Error {
  override readonly name = 'PauseImageError';
}

/** True when `binary` is an ELF executable without an interpreter (statically linked). */
export function isStaticElf(binary: Buffer): boolean {
  if (binary.length < 64 || binary.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = binary[4] === 2;
  const le = binary[5] === 1;
  const u16 = (o: number) => (le ? binary.readUInt16LE(o) : binary.readUInt16BE(o));
  const u32 = (o: number) => (le ? binary.readUInt32LE(o) : binary.readUInt32BE(o));
  const phoff = is64 ? Number(le ? binary.readBigUInt64LE(32) : binary.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > binary.length) return false;
    if (u32(at) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

/** Reads the static busybox; throws {@link PauseImageError} when there is none. */
export function readStaticBusybox(path?: string): { path: string; binary: Buffer } {
  const candidates = path ? [path] : [...BUSYBOX_PATHS];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const binary = readFileSync(candidate);
    if (isStaticElf(binary)) return { path: candidate, binary };
    if (path) throw new PauseImageError(`${candidate} is not a statically linked executable`);
  }
  throw new PauseImageError(`no statically linked busybox found (looked at ${candidates.join(', ')}); install one (e.g. apt-get install busybox-static) or pass an existing image as --pod-infra-image`);
}

/** The pause image's root filesystem as a tar archive. */
export function pauseRootfs(busybox: Buffer): Buffer {
  const entries: TarEntry[] = [
    { type: 'directory', name: 'bin' },
    { type: 'directory', name: 'etc' },
    { type: 'directory', name: 'tmp', mode: 0o1777 },
    { type: 'directory', name: 'proc' },
    { type: 'directory', name: 'sys' },
    { type: 'directory', name: 'dev' },
    { type: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    { type: 'symlink', name: 'bin/sh', target: 'busybox' },
    { type: 'symlink', name: 'bin/sleep', target: 'busybox' },
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  return createTar(entries);
}

/** The `changes` (Dockerfile instructions) the pause image is imported with, recipe label excluded. */
export function pauseImageChanges(labels: Record<string, string> = {}): string[] {
  return [
    'ENV PATH=/bin',
    ...Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`),
    `CMD ${JSON.stringify(['/bin/sh', '-c', PAUSE_COMMAND])}`,
  ];
}

/**
 * Makes sure the pause image `name` (`repo:tag`) exists, building it from a static busybox when it
 * is missing or was built from another recipe. Resolves with `name`.
 */
export async function ensurePauseImage(client: DockerClient, name: string, options: EnsurePauseImageOptions = {}): Promise<string> {
  const { binary } = readStaticBusybox(options.busyboxPath);
  const changes = pauseImageChanges(options.labels);
  const hash = createHash('sha256').update(RECIPE_VERSION).update(binary).update(JSON.stringify(changes)).digest('hex').slice(0, 16);
  return ensureImportedImage(client, name, { recipeLabel: PAUSE_RECIPE_LABEL, hash, rootfs: () => pauseRootfs(binary), changes, message: 'flotilla pause image' });
}

/** How {@link ensureImportedImage} builds an image. */
export interface ImportedImageRecipe {
  /** Label holding `hash`: an image carrying the same value is reused. */
  recipeLabel: string;
  hash: string;
  /** The root filesystem tar (only made when a build is needed). */
  rootfs(): Buffer;
  /** Dockerfile instructions applied at import (the recipe label is added). */
  changes: string[];
  message: string;
}

/**
 * Makes sure image `name` (`repo[:tag]`) exists as built by `recipe`: reused when its recipe label
 * matches, otherwise imported through the engine API (`fromSrc=-`), dropping the previous build
 * unless a container still uses it. Resolves with `name`.
 */
export async function ensureImportedImage(client: DockerClient, name: string, recipe: ImportedImageRecipe): Promise<string> {
  let stale: string | undefined;
  try {
    const image = await client.inspectImage(name);
    if (image.Config?.Labels?.[recipe.recipeLabel] === recipe.hash) return name;
    stale = image.Id;
  } catch (err) {
    if (!isDockerNotFound(err)) throw err;
  }
  const colon = name.lastIndexOf(':');
  const hasTag = colon > name.lastIndexOf('/');
  const repo = hasTag ? name.slice(0, colon) : name;
  const tag = hasTag ? name.slice(colon + 1) : 'latest';
  await client.importImage(recipe.rootfs(), { repo, tag, changes: [...recipe.changes, `LABEL ${recipe.recipeLabel}=${recipe.hash}`], message: recipe.message });
  // The previous build is now untagged; drop it unless a container still uses it.
  if (stale) await client.removeImage(stale).catch(() => undefined);
  return name;
}
