// The local test images for benchmarks (plain .mjs, no TS loader): the same names, recipes and
// recipe hashes as test/harness/test-image.ts, built through the engine API with the compiled agent
// (`packages/agent/dist`: DockerClient, createTar, and the agent's own pause-image recipe; run
// `npx tsc -b` first). Idempotent: an image whose recipe label matches is reused, so the tests and
// the benchmarks share one build.
//
// - `flotilla-test/busybox:1`: static busybox + applet symlinks, default command `/bin/sh`.
// - `flotilla-test/pause:1`: the agent's pause image (sleeps forever, exits 0 on SIGTERM at once).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_IMAGE, ROOT, TEST_IMAGE, TEST_LABEL } from './lib.mjs';

export { PAUSE_IMAGE, TEST_IMAGE, TEST_LABEL };

const BUSYBOX = '/usr/bin/busybox';
// Keep these in step with test/harness/test-image.ts (the hash decides reuse).
const RECIPE_VERSION = '2';
const RECIPE_LABEL = 'io.flotilla.test.recipe';

/** The compiled agent's runtime exports (DockerClient, isDockerNotFound, createTar, ensurePauseImage). */
export async function agentRuntime() {
  return import(join(ROOT, 'packages/agent/dist/index.js'));
}

function buildRootfs(createTar, busybox) {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  const dirs = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc'].map((name) => ({ type: 'directory', name }));
  return createTar([
    ...dirs,
    { type: 'directory', name: 'root', mode: 0o700 },
    ...['home', 'var', 'var/www'].map((name) => ({ type: 'directory', name })),
    { type: 'directory', name: 'tmp', mode: 0o1777 },
    ...['proc', 'sys', 'dev'].map((name) => ({ type: 'directory', name })),
    { type: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...applets.map((a) => ({ type: 'symlink', name: `bin/${a}`, target: 'busybox' })),
    { type: 'file', name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ]);
}

async function ensureImage(client, isDockerNotFound, ref, rootfs, hash, changes) {
  let stale;
  try {
    const image = await client.inspectImage(ref);
    if (image.Config?.Labels?.[RECIPE_LABEL] === hash) return { ref, built: false };
    stale = image.Id;
  } catch (err) {
    if (!isDockerNotFound(err)) throw err;
  }
  const [repo, tag] = ref.split(':');
  await client.importImage(rootfs(), { repo, tag, changes: ['ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin', `LABEL ${TEST_LABEL}=true`, `LABEL ${RECIPE_LABEL}=${hash}`, ...changes], message: 'flotilla test image' });
  if (stale) await client.removeImage(stale).catch(() => undefined);
  return { ref, built: true };
}

/** Builds (or reuses) both test images; resolves with their names and whether either was built. */
export async function ensureTestImages() {
  const { DockerClient, isDockerNotFound, createTar, ensurePauseImage } = await agentRuntime();
  const client = new DockerClient();
  try {
    const busybox = readFileSync(BUSYBOX);
    const hash = createHash('sha256').update(RECIPE_VERSION).update(busybox).digest('hex').slice(0, 16);
    let tar;
    const rootfs = () => (tar ??= buildRootfs(createTar, busybox));
    const test = await ensureImage(client, isDockerNotFound, TEST_IMAGE, rootfs, hash, ['CMD ["/bin/sh"]']);
    const pauseBefore = await client.inspectImage(PAUSE_IMAGE).then((i) => i.Id, () => undefined);
    const pause = await ensurePauseImage(client, PAUSE_IMAGE, { busyboxPath: BUSYBOX, labels: { [TEST_LABEL]: 'true' } });
    const pauseAfter = await client.inspectImage(PAUSE_IMAGE).then((i) => i.Id);
    return { test: test.ref, pause, built: test.built || pauseBefore !== pauseAfter };
  } finally {
    await client.close();
  }
}

/** Force-removes the containers carrying all of `labels` (app containers first: they hold their sandbox's namespaces), a few at a time; resolves how many there were. */
export async function removeLabelled(engine, labels) {
  const list = await engine.listContainers({ all: true, filters: { label: labels } });
  list.sort((a, b) => Number(b.HostConfig?.NetworkMode?.startsWith('container:') ?? false) - Number(a.HostConfig?.NetworkMode?.startsWith('container:') ?? false));
  for (let i = 0; i < list.length; i += 8) await Promise.all(list.slice(i, i + 8).map((c) => engine.removeContainer(c.Id, { force: true, volumes: true }).catch(() => undefined)));
  return list.length;
}

/** Removes exactly the containers the agent of `nodeName` made (test label and node name). */
export function removeNodeContainers(engine, nodeName) {
  return removeLabelled(engine, [`${TEST_LABEL}=true`, `io.flotilla.node=${nodeName}`]);
}
