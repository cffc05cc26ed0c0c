/** `flctl cluster-info`: where the control plane is. */
import type { CliContext } from '../cli-context.js';

/** Runs `cluster-info`. */
export async function runClusterInfo(ctx: CliContext): Promise<number> {
  const client = await ctx.client();
  await client.request('GET', '/version?timeout=5s');
  const tty = ctx.io.stdout.isTTY === true;
  const green = (s: string) => (tty ? `\x1b[0;32m${s}\x1b[0m` : s);
  const yellow = (s: string) => (tty ? `\x1b[0;33m${s}\x1b[0m` : s);
  ctx.out(`${green('Kubernetes control plane')} is running at ${yellow(client.server)}\n`);
  ctx.out(`\nTo further debug and diagnose cluster problems, use 'flctl cluster-info dump'.\n`);
  return 0;
}
