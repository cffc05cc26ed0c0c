/**
 * Local test images, built once per machine without a registry or the docker CLI, imported through
 * the engine API (`fromSrc=-`).
 *
 * - `flotilla-test/busybox:1`: a root filesystem holding the static /usr/bin/busybox plus a
 *   symlink per applet, /tmp and an /etc/passwd with root and nobody; default command `/bin/sh`.
 * - `flotilla-test/pause:1`: a pod sandbox that sleeps forever and exits 0 on SIGTERM at once,
 *   built by the agent's own pause-image recipe (`ensurePauseImage` of `@flotilla/agent`, the one
 *   `flotilla server` uses for `flotilla/pause:1`).
 *
 * Idempotent: an image whose recipe label matches the recipe is reused. Both images carry
 * `io.flotilla.test=true` (and so do containers made from them).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createTar, DockerClient, ensurePauseImage as ensurePauseImageWith, isDockerNotFound, type TarEntry } from '@flotilla/agent';

/** The label every object a test creates carries. */
export const TEST_LABEL = 'io.flotilla.test';

/** The busybox test image. */
export const TEST_IMAGE = 'flotilla-test/busybox:1';

/** The pod sandbox ("pause") test image. */
export const PAUSE_IMAGE = 'flotilla-test/pause:1';

const BUSYBOX = '/usr/bin/busybox';
const RECIPE_VERSION = '2';
/** Image label holding a hash of the recipe and busybox binary: a matching image is reused. */
const RECIPE_LABEL = 'io.flotilla.test.recipe';

/** True when a Docker engine socket exists on this machine. */
export function hasDockerSocket(socketPath = '/var/run/docker.sock'): boolean {
  return existsSync(socketPath);
}

function buildRootfs(busybox: Buffer): Buffer {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  const entries: TarEntry[] = [
    { type: 'directory', name: 'bin' },
    { type: 'directory', name: 'sbin' },
    { type: 'directory', name: 'usr' },
    { type: 'directory', name: 'usr/bin' },
    { type: 'directory', name: 'usr/sbin' },
    { type: 'directory', name: 'etc' },
    { type: 'directory', name: 'root', mode: 0o700 },
    { type: 'directory', name: 'home' },
    { type: 'directory', name: 'var' },
    { type: 'directory', name: 'var/www' },
    { type: 'directory', name: 'tmp', mode: 0o1777 },
    { type: 'directory', name: 'proc' },
    { type: 'directory', name: 'sys' },
    { type: 'directory', name: 'dev' },
    { type: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...applets.map((a): TarEntry => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  return createTar(entries);
}

async function ensureImage(client: DockerClient, ref: string, rootfs: () => Buffer, hash: string, changes: string[]): Promise<string> {
  let stale: string | undefined;
  try {
    const image = await client.inspectImage(ref);
    if (image.Config?.Labels?.[RECIPE_LABEL] === hash) return ref;
    stale = image.Id;
  } catch (err) {
    if (!isDockerNotFound(err)) throw err;
  }
  const [repo, tag] = ref.split(':') as [string, string];
  await client.importImage(rootfs(), { repo, tag, changes: ['ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin', `LABEL ${TEST_LABEL}=true`, `LABEL ${RECIPE_LABEL}=${hash}`, ...changes], message: 'flotilla test image' });
  // The previous build is now untagged; drop it unless a container still uses it.
  if (stale) await client.removeImage(stale).catch(() => undefined);
  return ref;
}

let pending: Promise<{ test: string; pause: string }> | undefined;

async function ensureBoth(): Promise<{ test: string; pause: string }> {
  const client = new DockerClient();
  try {
    const busybox = readFileSync(BUSYBOX);
    const hash = createHash('sha256').update(RECIPE_VERSION).update(busybox).digest('hex').slice(0, 16);
    let tar: Buffer | undefined;
    const rootfs = (): Buffer => (tar ??= buildRootfs(busybox));
    const test = await ensureImage(client, TEST_IMAGE, rootfs, hash, ['CMD ["/bin/sh"]']);
    const pause = await ensurePauseImageWith(client, PAUSE_IMAGE, { busyboxPath: BUSYBOX, labels: { [TEST_LABEL]: 'true' } });
    return { test, pause };
  } finally {
    await client.close();
  }
}

/** Builds (or reuses) both test images; resolves with `flotilla-test/busybox:1`. */
export async function ensureTestImage(): Promise<string> {
  pending ??= ensureBoth().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return (await pending).test;
}

/** Builds (or reuses) both test images; resolves with `flotilla-test/pause:1`. */
export async function ensurePauseImage(): Promise<string> {
  await ensureTestImage();
  return (await pending!).pause;
}
