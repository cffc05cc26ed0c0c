/**
 * `flctl wait --for=delete|condition=X[=V]|jsonpath={…}=V|create`: GET, then a watch of the one
 * object until the predicate holds or the timeout passes (exit 1 with kubectl's message).
 */
import type { KubeObject } from '@flotilla/api';
import type { RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { parseDurationMs } from '../cli-context.js';
import { apiErrorCode, CliError } from '../cli-error.js';
import { collectTargets, type ObjectTarget } from '../object-targets.js';
import { parseJsonPathTemplate } from '../printers/jsonpath-template.js';

/** A predicate over the object's current state (undefined = it does not exist). */
export type WaitPredicate = (obj: KubeObject | undefined) => boolean;

/**
 * Waits until `predicate` holds for the object; true when it did, false on timeout. The object is
 * re-read after every watch that ends, so a closed watch never loses a change.
 */
export async function waitUntil(client: RestClient, t: Pick<ObjectTarget, 'r' | 'namespace' | 'name'>, predicate: WaitPredicate, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let current: KubeObject | undefined;
    try {
      current = await client.get(t.r, t.namespace, t.name);
    } catch (err) {
      if (apiErrorCode(err) !== 404) throw err;
    }
    if (predicate(current)) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), remaining);
    try {
      const rv = current?.metadata.resourceVersion;
      for await (const ev of client.watch(t.r, { namespace: t.namespace, name: t.name, ...(rv ? { resourceVersion: rv } : {}), timeoutSeconds: Math.max(1, Math.ceil(remaining / 1000)), signal: controller.signal })) {
        if (ev.type === 'BOOKMARK') continue;
        if (predicate(ev.type === 'DELETED' ? undefined : ev.object)) return true;
      }
    } catch (err) {
      if (apiErrorCode(err) !== 410 && !controller.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    if (Date.now() >= deadline) return false;
  }
}

/** Waits until the object (with that uid, when known) is gone. */
export function waitForDeletion(client: RestClient, t: ObjectTarget, uid: string | undefined, timeoutMs: number): Promise<boolean> {
  return waitUntil(client, t, (obj) => obj === undefined || (uid !== undefined && obj.metadata.uid !== uid), timeoutMs);
}

/** Parses `--for`. */
export function parseWaitFor(spec: string): { kind: 'delete' | 'create' } | { kind: 'predicate'; predicate: WaitPredicate } {
  const lower = spec.toLowerCase();
  if (lower === 'delete') return { kind: 'delete' };
  if (lower === 'create') return { kind: 'create' };
  if (lower.startsWith('condition=')) {
    const rest = spec.slice('condition='.length);
    const eq = rest.indexOf('=');
    const type = eq < 0 ? rest : rest.slice(0, eq);
    const want = (eq < 0 ? 'true' : rest.slice(eq + 1)).toLowerCase();
    if (!type) throw new CliError(`unrecognized condition: "${spec}"`);
    return {
      kind: 'predicate',
      predicate: (obj) => {
        const conds = ((obj as { status?: { conditions?: { type: string; status: string }[] } } | undefined)?.status?.conditions ?? []);
        return conds.some((c) => c.type.toLowerCase() === type.toLowerCase() && c.status.toLowerCase() === want);
      },
    };
  }
  if (lower.startsWith('jsonpath=')) {
    const rest = spec.slice('jsonpath='.length);
    const close = rest.lastIndexOf('}');
    const expr = close >= 0 ? rest.slice(0, close + 1) : rest;
    const after = close >= 0 ? rest.slice(close + 1) : '';
    if (!expr.startsWith('{') && !expr.startsWith('.')) throw new CliError(`unrecognized jsonpath: "${spec}"`);
    const template = parseJsonPathTemplate(expr.startsWith('{') ? expr : `{${expr}}`);
    const want = after.startsWith('=') ? after.slice(1) : undefined;
    return { kind: 'predicate', predicate: (obj) => obj !== undefined && (want === undefined ? template.execute(obj) !== '' : template.execute(obj) === want) };
  }
  throw new CliError(`unrecognized condition: "${spec}"`);
}

/** Runs `wait`. */
export async function runWait(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const spec = parseWaitFor(String(opts['for']));
  const timeoutMs = parseDurationMs(String(opts['timeout'] ?? '30s'));
  if (timeoutMs === undefined) throw new CliError(`invalid timeout "${String(opts['timeout'])}"`);
  let targets: ObjectTarget[];
  try {
    targets = await collectTargets(ctx, args, opts);
  } catch (err) {
    throw err;
  }
  if (targets.length === 0) throw new CliError('no matching resources found');
  const client = await ctx.client();
  const deadline = Date.now() + timeoutMs;
  let failed = false;
  for (const t of targets) {
    const predicate: WaitPredicate = spec.kind === 'predicate' ? spec.predicate : spec.kind === 'delete' ? (o) => o === undefined : (o) => o !== undefined;
    if (spec.kind === 'predicate') {
      // kubectl reports a missing object as NotFound rather than waiting for it to appear.
      await client.get(t.r, t.namespace, t.name);
    }
    const ok = await waitUntil(client, t, predicate, Math.max(0, deadline - Date.now()));
    if (ok) ctx.out(`${t.display} condition met\n`);
    else {
      ctx.err(`error: timed out waiting for the condition on ${t.r.plural}/${t.name}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
