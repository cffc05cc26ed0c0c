/** `flctl version`: client version, and the server's /version unless `--client`. */
import type { CliContext } from '../cli-context.js';
import { toJson, toYaml } from '../printers/object-printer.js';
import { CLIENT_VERSION } from '../version.js';

/** Runs `version`. */
export async function runVersion(ctx: CliContext, opts: { client?: boolean; output?: string }): Promise<number> {
  const result: Record<string, unknown> = { clientVersion: CLIENT_VERSION };
  let serverError: unknown;
  if (!opts.client) {
    try {
      const client = await ctx.client();
      result['serverVersion'] = JSON.parse((await client.request('GET', '/version?timeout=5s')).body);
    } catch (err) {
      serverError = err;
    }
  }
  if (opts.output === 'json') ctx.out(toJson(result));
  else if (opts.output === 'yaml') ctx.out(toYaml(result));
  else {
    ctx.out(`Client Version: ${CLIENT_VERSION.gitVersion}\n`);
    const sv = result['serverVersion'] as { gitVersion?: string } | undefined;
    if (sv) ctx.out(`Server Version: ${sv.gitVersion ?? ''}\n`);
  }
  if (serverError) throw serverError;
  return 0;
}
