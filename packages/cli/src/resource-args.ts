/**
 * kubectl's resource arguments: `TYPE[,TYPE…] [NAME…]`, `TYPE/NAME …`, the `all` category, and
 * resolution of what people type (`po`, `deploy`, `deployments.apps`) to resources — from the
 * built-in resource table, else from the server's discovery documents.
 */
import { RESOURCES, resolveResourceName, type ResourceInfo } from '@flotilla/api';
import type { CliContext } from './cli-context.js';
import { CliError } from './cli-error.js';

/** One resource type with the names asked for (empty = every object). */
export interface ResourceRequest {
  type: string;
  names: string[];
}

/** Splits positional arguments into resource requests, like kubectl's resource builder. */
export function parseResourceArgs(args: readonly string[]): ResourceRequest[] {
  if (args.length === 0) return [];
  if (args.some((a) => a.includes('/'))) {
    const out: ResourceRequest[] = [];
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'flctl get resource/<resource_name>' instead of 'flctl get resource resource/<resource_name>'`);
      const type = a.slice(0, slash);
      const name = a.slice(slash + 1);
      const prev = out.find((r) => r.type === type);
      if (prev) prev.names.push(name);
      else out.push({ type, names: [name] });
    }
    return out;
  }
  const [types, ...names] = args;
  return types!
    .split(',')
    .filter((t) => t !== '')
    .map((type) => ({ type, names: [...names] }));
}

/** The order kubectl prints `get all` in. */
const ALL_ORDER = ['Pod', 'Service', 'DaemonSet', 'Deployment', 'ReplicaSet', 'StatefulSet', 'HorizontalPodAutoscaler', 'CronJob', 'Job', 'ReplicationController'];

/** The resources of the `all` category, in kubectl's order. */
export function allCategory(): ResourceInfo[] {
  const rs = RESOURCES.filter((r) => r.categories.includes('all'));
  const rank = (r: ResourceInfo) => {
    const i = ALL_ORDER.indexOf(r.kind);
    return i < 0 ? ALL_ORDER.length : i;
  };
  return [...rs].sort((a, b) => rank(a) - rank(b));
}

/** `pod`, `deployment.apps`: kubectl's type prefix in `-o name` and messages. */
export function typePrefix(r: Pick<ResourceInfo, 'group' | 'kind'>): string {
  return r.group === '' ? r.kind.toLowerCase() : `${r.kind.toLowerCase()}.${r.group}`;
}

interface DiscoveryResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

/** Resolves a typed resource name; falls back to the server's discovery (custom resources). */
export async function resolveResource(ctx: CliContext, type: string): Promise<ResourceInfo> {
  const local = resolveResourceName(type);
  if (local) return local;
  const found = (await discoverResources(ctx)).find((r) => matches(r, type));
  if (found) return found;
  throw new CliError(`the server doesn't have a resource type "${type}"`);
}

function matches(r: ResourceInfo, type: string): boolean {
  const lower = type.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  if (group !== undefined && r.group !== group) return false;
  return r.plural === base || r.singular === base || r.kind.toLowerCase() === base || r.shortNames.includes(base);
}

const discoveryCache = new WeakMap<CliContext, Promise<ResourceInfo[]>>();

/** Every resource the server advertises (preferred versions), subresources left out. */
export function discoverResources(ctx: CliContext): Promise<ResourceInfo[]> {
  let p = discoveryCache.get(ctx);
  if (!p) {
    p = loadDiscovery(ctx);
    discoveryCache.set(ctx, p);
  }
  return p;
}

async function loadDiscovery(ctx: CliContext): Promise<ResourceInfo[]> {
  const client = await ctx.client();
  const getJson = async <T>(path: string): Promise<T> => JSON.parse((await client.request('GET', path)).body) as T;
  const groupVersions: { group: string; version: string; path: string }[] = [];
  const core = await getJson<{ versions: string[] }>('/api');
  for (const v of core.versions) groupVersions.push({ group: '', version: v, path: `/api/${v}` });
  const groups = await getJson<{ groups: { name: string; preferredVersion?: { version: string }; versions: { version: string }[] }[] }>('/apis');
  for (const g of groups.groups) {
    const v = g.preferredVersion?.version ?? g.versions[0]?.version;
    if (v) groupVersions.push({ group: g.name, version: v, path: `/apis/${g.name}/${v}` });
  }
  const lists = await Promise.all(groupVersions.map(async (gv) => ({ gv, list: await getJson<{ resources: DiscoveryResource[] }>(gv.path).catch(() => ({ resources: [] })) })));
  const out: ResourceInfo[] = [];
  for (const { gv, list } of lists) {
    for (const r of list.resources) {
      if (r.name.includes('/')) continue;
      out.push({
        group: gv.group,
        version: gv.version,
        kind: r.kind,
        listKind: `${r.kind}List`,
        plural: r.name,
        singular: r.singularName || r.kind.toLowerCase(),
        namespaced: r.namespaced,
        shortNames: r.shortNames ?? [],
        categories: r.categories ?? [],
        verbs: r.verbs as ResourceInfo['verbs'],
        subresources: list.resources.filter((s) => s.name.startsWith(`${r.name}/`)).map((s) => s.name.slice(r.name.length + 1)) as ResourceInfo['subresources'],
      });
    }
  }
  return out;
}

/** Finds the resource of an object from a manifest (`apiVersion` + `kind`). */
export async function resourceForObject(ctx: CliContext, apiVersion: string, kind: string): Promise<ResourceInfo> {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const local = RESOURCES.find((r) => r.group === group && r.version === version && r.kind === kind);
  if (local) return local;
  const found = (await discoverResources(ctx)).find((r) => r.group === group && r.kind === kind);
  if (found && found.version === version) return found;
  if (found) return { ...found, version };
  throw new CliError(`resource mapping not found for name: "" namespace: "" from "": no matches for kind "${kind}" in version "${apiVersion}"\nensure CRDs are installed first`);
}
