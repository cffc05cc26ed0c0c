/**
 * `flctl config view|get-contexts|current-context|use-context`. Reads the kubeconfig files in
 * effect (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`) merged like kubectl; `use-context`
 * writes the file that sets current-context (the first one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { kubeconfigPaths } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { formatColumns } from '../printers/columns.js';
import { toJson, toYaml } from '../printers/object-printer.js';

interface Named {
  name: string;
  [k: string]: unknown;
}

interface RawConfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  'current-context'?: string;
  preferences?: Record<string, unknown>;
}

function readFiles(ctx: CliContext): { path: string; raw: RawConfig }[] {
  const out: { path: string; raw: RawConfig }[] = [];
  for (const path of kubeconfigPaths(ctx.options.kubeconfig)) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    out.push({ path, raw: (load(text) ?? {}) as RawConfig });
  }
  return out;
}

/** The merged kubeconfig (first file to name an entry wins). */
export function mergeKubeconfigs(files: RawConfig[]): RawConfig {
  const merged: RawConfig = { apiVersion: 'v1', clusters: [], contexts: [], 'current-context': '', kind: 'Config', preferences: {}, users: [] };
  for (const f of files) {
    for (const key of ['clusters', 'contexts', 'users'] as const) for (const e of f[key] ?? []) if (!merged[key]!.some((x) => x.name === e.name)) merged[key]!.push(e);
    if (!merged['current-context'] && f['current-context']) merged['current-context'] = f['current-context'];
  }
  return merged;
}

function redact(cfg: RawConfig): RawConfig {
  const copy = structuredClone(cfg);
  for (const c of copy.clusters ?? []) {
    const cluster = c['cluster'] as Record<string, unknown> | undefined;
    if (cluster?.['certificate-authority-data']) cluster['certificate-authority-data'] = 'DATA+OMITTED';
  }
  for (const u of copy.users ?? []) {
    const user = u['user'] as Record<string, unknown> | undefined;
    if (!user) continue;
    if (user['client-certificate-data']) user['client-certificate-data'] = 'DATA+OMITTED';
    if (user['client-key-data']) user['client-key-data'] = 'DATA+OMITTED';
    if (user['token']) user['token'] = 'REDACTED';
    if (user['password']) user['password'] = 'REDACTED';
  }
  return copy;
}

/** Runs `config view`. */
export function runConfigView(ctx: CliContext, opts: { raw?: boolean; minify?: boolean; output?: string }): number {
  let cfg = mergeKubeconfigs(readFiles(ctx).map((f) => f.raw));
  if (opts.minify) {
    const current = ctx.options.context ?? cfg['current-context'];
    const context = cfg.contexts?.find((c) => c.name === current);
    if (!context) throw new CliError(`current-context must exist in order to minify`);
    const inner = (context['context'] ?? {}) as { cluster?: string; user?: string };
    cfg = { ...cfg, 'current-context': current ?? '', contexts: [context], clusters: cfg.clusters?.filter((c) => c.name === inner.cluster) ?? [], users: cfg.users?.filter((u) => u.name === inner.user) ?? [] };
  }
  if (!opts.raw) cfg = redact(cfg);
  ctx.out(opts.output === 'json' ? toJson(cfg) : toYaml(cfg));
  return 0;
}

/** Runs `config get-contexts`. */
export function runGetContexts(ctx: CliContext, names: string[], opts: { output?: string; noHeaders?: boolean }): number {
  const cfg = mergeKubeconfigs(readFiles(ctx).map((f) => f.raw));
  let contexts = cfg.contexts ?? [];
  if (names.length > 0) {
    const missing = names.filter((n) => !contexts.some((c) => c.name === n));
    if (missing.length > 0) throw new CliError(`context ${missing[0]} not found`);
    contexts = contexts.filter((c) => names.includes(c.name));
  }
  if (opts.output === 'name') {
    ctx.out(contexts.map((c) => `${c.name}\n`).join(''));
    return 0;
  }
  const current = cfg['current-context'];
  const rows = contexts.map((c) => {
    const inner = (c['context'] ?? {}) as { cluster?: string; user?: string; namespace?: string };
    return [c.name === current ? '*' : '', c.name, inner.cluster ?? '', inner.user ?? '', inner.namespace ?? ''];
  });
  ctx.out(formatColumns(opts.noHeaders ? rows : [['CURRENT', 'NAME', 'CLUSTER', 'AUTHINFO', 'NAMESPACE'], ...rows]));
  return 0;
}

/** Runs `config current-context`. */
export function runCurrentContext(ctx: CliContext): number {
  const current = mergeKubeconfigs(readFiles(ctx).map((f) => f.raw))['current-context'];
  if (!current) throw new CliError('current-context is not set');
  ctx.out(`${current}\n`);
  return 0;
}

/** Runs `config use-context NAME`. */
export function runUseContext(ctx: CliContext, name: string): number {
  const files = readFiles(ctx);
  const merged = mergeKubeconfigs(files.map((f) => f.raw));
  if (!merged.contexts?.some((c) => c.name === name)) throw new CliError(`no context exists with the name: "${name}"`);
  // kubectl writes current-context to the first file that sets one, else the first file.
  const target = files.find((f) => f.raw['current-context']) ?? files[0];
  if (!target) throw new CliError('no kubeconfig file to modify');
  const text = readFileSync(target.path, 'utf8');
  const next = /^current-context:.*$/m.test(text) ? text.replace(/^current-context:.*$/m, `current-context: ${name}`) : `${text.replace(/\n*$/, '\n')}current-context: ${name}\n`;
  writeFileSync(target.path, next);
  ctx.out(`Switched to context "${name}".\n`);
  return 0;
}
