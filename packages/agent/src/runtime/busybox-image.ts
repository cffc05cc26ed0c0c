/**
 * A general-purpose local image built from the machine's static busybox (every applet linked in
 * /bin, /tmp, an /etc/passwd with root and nobody; default command `/bin/sh`), imported through the
 * engine API — for trying workloads and for tests where no registry is reachable.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import type { DockerClient } from './docker-client.js';
import { ensureImportedImage, readStaticBusybox } from './pause-image.js';
import { createTar, type TarEntry } from './tar.js';

/** Image label holding a hash of the recipe: a matching image is reused. */
export const BUSYBOX_RECIPE_LABEL = 'io.flotilla.busybox.recipe';

const RECIPE_VERSION = '1';

/** The image's root filesystem: busybox plus a symlink per applet it lists. */
export function busyboxRootfs(busyboxPath: string, binary: Buffer): Buffer {
  const applets = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  const dir = (name: string, mode?: number): TarEntry => ({ type: 'directory', name, ...(mode !== undefined ? { mode } : {}) });
  return createTar([
    ...['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc'].map((n) => dir(n)),
    dir('root', 0o700),
    ...['home', 'var', 'var/www'].map((n) => dir(n)),
    dir('tmp', 0o1777),
    ...['proc', 'sys', 'dev'].map((n) => dir(n)),
    { type: 'file', name: 'bin/busybox', data: binary, mode: 0o755 },
    ...applets.map((a): TarEntry => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ]);
}

/**
 * Makes sure the busybox image `name` exists, building it from a static busybox when it is missing
 * or was built from another recipe (labels count). Resolves with `name`.
 */
export async function ensureBusyboxImage(client: DockerClient, name: string, options: { busyboxPath?: string; labels?: Record<string, string> } = {}): Promise<string> {
  const { path, binary } = readStaticBusybox(options.busyboxPath);
  const changes = ['ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin', ...Object.entries(options.labels ?? {}).map(([k, v]) => `LABEL ${k}=${v}`), 'CMD ["/bin/sh"]'];
  const hash = createHash('sha256').update(RECIPE_VERSION).update(binary).update(JSON.stringify(changes)).digest('hex').slice(0, 16);
  return ensureImportedImage(client, name, { recipeLabel: BUSYBOX_RECIPE_LABEL, hash, rootfs: () => busyboxRootfs(path, binary), changes, message: 'flotilla busybox image' });
}
