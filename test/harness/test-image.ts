/**
 * Local test images, built once per machine without a registry or the docker CLI, imported through
 * the engine API (`fromSrc=-`).
 *
 * - `flotilla-test/busybox:1`: the agent's busybox image (`ensureBusyboxImage`): the static
 *   /usr/bin/busybox plus a symlink per applet, /tmp and an /etc/passwd; default command `/bin/sh`.
 * - `flotilla-test/pause:1`: a pod sandbox that sleeps forever and exits 0 on SIGTERM at once,
 *   built by the agent's own pause-image recipe (`ensurePauseImage` of `@flotilla/agent`, the one
 *   `flotilla server` uses for `flotilla/pause:1`).
 *
 * Idempotent: an image whose recipe label matches the recipe is reused. Both images carry
 * `io.flotilla.test=true` (and so do containers made from them).
 */
import { existsSync } from 'node:fs';
import { DockerClient, ensureBusyboxImage, ensurePauseImage as ensurePauseImageWith } from '@flotilla/agent';

/** The label every object a test creates carries. */
export const TEST_LABEL = 'io.flotilla.test';

/** The busybox test image. */
export const TEST_IMAGE = 'flotilla-test/busybox:1';

/** The pod sandbox ("pause") test image. */
export const PAUSE_IMAGE = 'flotilla-test/pause:1';

const BUSYBOX = '/usr/bin/busybox';

/** True when a Docker engine socket exists on this machine. */
export function hasDockerSocket(socketPath = '/var/run/docker.sock'): boolean {
  return existsSync(socketPath);
}

let pending: Promise<{ test: string; pause: string }> | undefined;

async function ensureBoth(): Promise<{ test: string; pause: string }> {
  const client = new DockerClient();
  try {
    const test = await ensureBusyboxImage(client, TEST_IMAGE, { busyboxPath: BUSYBOX, labels: { [TEST_LABEL]: 'true' } });
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
