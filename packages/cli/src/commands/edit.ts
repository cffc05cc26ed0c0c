/**
 * `flctl edit TYPE NAME` (kubectl's edit): the object as YAML in $KUBE_EDITOR / $EDITOR (default vi);
 * saved changes are sent as an update carrying the resourceVersion that was edited, so a concurrent
 * change is refused with a conflict rather than overwritten. An unchanged or emptied file cancels.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '@flotilla/api';
import { dump, load } from 'js-yaml';
import type { CliContext } from '../cli-context.js';
import { CliError, formatError } from '../cli-error.js';
import { collectTargets } from '../object-targets.js';

/** The editor command: KUBE_EDITOR, then EDITOR, then vi (run through the shell, as kubectl does). */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env['KUBE_EDITOR'] || env['EDITOR'] || 'vi';
}

/** Runs `edit`; returns the exit code. */
export async function runEdit(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const targets = await collectTargets(ctx, args, opts);
  if (targets.length === 0) throw new CliError('You must provide one or more resources by argument or filename.');
  const client = await ctx.client();
  let failed = false;
  for (const t of targets) {
    const current = await client.get(t.r, t.namespace, t.name);
    const { managedFields: _managed, ...metadata } = current.metadata;
    const shown = { apiVersion: current.apiVersion, kind: current.kind, ...current, metadata } as KubeObject;
    const dir = mkdtempSync(join(tmpdir(), 'flctl-edit-'));
    const file = join(dir, `${t.name}.yaml`);
    try {
      const header = '# Please edit the object below. Lines beginning with a \'#\' will be ignored,\n# and an empty file will abort the edit.\n#\n';
      writeFileSync(file, header + dump(shown, { noRefs: true, lineWidth: -1 }));
      const r = spawnSync(`${editorCommand()} "${file}"`, { shell: true, stdio: 'inherit' });
      if (r.status !== 0) throw new CliError(`there was a problem with the editor "${editorCommand()}"`);
      const text = readFileSync(file, 'utf8');
      const edited = load(text.split('\n').filter((l) => !l.startsWith('#')).join('\n')) as KubeObject | undefined;
      if (!edited || typeof edited !== 'object') {
        ctx.err('Edit cancelled, no valid changes were saved.\n');
        continue;
      }
      if (isDeepStrictEqual(edited, shown)) {
        ctx.err('Edit cancelled, no changes made.\n');
        continue;
      }
      if (edited.metadata?.name !== t.name) throw new CliError(`the name of the object cannot be changed (${t.name} → ${edited.metadata?.name ?? ''})`);
      // The edited resourceVersion stays: the server refuses the update if the object changed meanwhile.
      await client.update(t.r, { ...edited, metadata: { ...edited.metadata, managedFields: current.metadata.managedFields } } as KubeObject);
      ctx.out(`${t.display} edited\n`);
    } catch (err) {
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return failed ? 1 : 0;
}
