/**
 * The objects a mutating command acts on, from `TYPE NAME…`, `TYPE/NAME…`, `-f FILE`, or
 * `TYPE -l SELECTOR` / `--all` (listed from the server).
 */
import type { ResourceInfo } from '@flotilla/api';
import type { CliContext } from './cli-context.js';
import { CliError } from './cli-error.js';
import { readManifests } from './manifest-reader.js';
import { parseResourceArgs, resolveResource, resourceForObject, typePrefix } from './resource-args.js';

/** One object to act on. */
export interface ObjectTarget {
  r: ResourceInfo;
  namespace: string;
  name: string;
  /** `deployment.apps/shop`. */
  display: string;
}

/** How the objects were named. */
export interface TargetOptions {
  filename?: string[];
  recursive?: boolean;
  selector?: string;
  fieldSelector?: string;
  all?: boolean;
  allNamespaces?: boolean;
}

function target(r: ResourceInfo, namespace: string, name: string): ObjectTarget {
  return { r, namespace: r.namespaced ? namespace : '', name, display: `${typePrefix(r)}/${name}` };
}

/** Resolves the objects; `-l`/`--all` list them (in the namespace, or everywhere with -A). */
export async function collectTargets(ctx: CliContext, args: string[], opts: TargetOptions): Promise<ObjectTarget[]> {
  const namespace = await ctx.namespace();
  if (opts.filename?.length) {
    if (args.length > 0) throw new CliError('when paths are specified, resource types and names may not be given as arguments');
    const manifests = await readManifests(opts.filename, { recursive: opts.recursive === true, stdin: ctx.io.stdin });
    const out: ObjectTarget[] = [];
    for (const m of manifests) {
      const r = await resourceForObject(ctx, String(m.object.apiVersion), String(m.object.kind));
      out.push(target(r, m.object.metadata?.namespace ?? namespace, m.object.metadata?.name ?? ''));
    }
    return out;
  }
  const requests = parseResourceArgs(args);
  if (requests.length === 0) throw new CliError('You must provide one or more resources by argument or filename.');
  const out: ObjectTarget[] = [];
  const client = await ctx.client();
  for (const req of requests) {
    const r = await resolveResource(ctx, req.type);
    if (req.names.length > 0) {
      if (opts.selector) throw new CliError('name cannot be provided when a selector is specified');
      for (const n of req.names) out.push(target(r, namespace, n));
      continue;
    }
    if (!opts.selector && !opts.fieldSelector && !opts.all) throw new CliError(`resource(s) were provided, but no name was specified`);
    const list = await client.listAll(r, { ...(r.namespaced && !opts.allNamespaces ? { namespace } : {}), ...(opts.selector ? { labelSelector: opts.selector } : {}), ...(opts.fieldSelector ? { fieldSelector: opts.fieldSelector } : {}) });
    for (const item of list.items) out.push(target(r, item.metadata.namespace ?? namespace, item.metadata.name ?? ''));
  }
  return out;
}
