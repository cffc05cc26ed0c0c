/**
 * Reads manifests for `-f`: files, directories (`.yaml`, `.yml`, `.json`; recursive with -R),
 * `-` for stdin, http(s) URLs; multi-document YAML; `kind: List` expanded to its items.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { loadAll } from 'js-yaml';
import { CliError } from './cli-error.js';
import { readAll } from './io.js';

/** One object of a manifest with where it came from. */
export interface Manifest {
  object: Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; [k: string]: unknown } };
  source: string;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function listFiles(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...listFiles(p, recursive));
    } else if (EXTENSIONS.has(extname(entry.name))) out.push(p);
  }
  return out;
}

/** Parses one document stream into objects (lists expanded, empty documents skipped). */
export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  let docs: unknown[];
  try {
    docs = loadAll(text) as unknown[];
  } catch (err) {
    throw new CliError(`error parsing ${source}: ${(err as Error).message}`);
  }
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`error validating "${source}": a document is not an object`);
    const obj = doc as Manifest['object'];
    if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj['items'])) {
      for (const item of obj['items'] as Manifest['object'][]) out.push({ object: item, source });
      continue;
    }
    if (!obj.apiVersion || !obj.kind) throw new CliError(`error validating data from ${source}: apiVersion or kind not set`);
    out.push({ object: obj, source });
  }
  return out;
}

/** Reads every `-f` argument in order. */
export async function readManifests(paths: readonly string[] | undefined, options: { recursive?: boolean; stdin: NodeJS.ReadableStream }): Promise<Manifest[]> {
  if (!paths || paths.length === 0) throw new CliError('must specify one of -f and -k');
  const out: Manifest[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(...parseManifests(await readAll(options.stdin), 'STDIN'));
      continue;
    }
    if (/^https?:\/\//.test(p)) {
      const res = await fetch(p);
      if (!res.ok) throw new CliError(`unable to read URL "${p}", server reported ${res.status} ${res.statusText}, status code=${res.status}`);
      out.push(...parseManifests(await res.text(), p));
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new CliError(`the path "${p}" does not exist`);
    }
    const files = st.isDirectory() ? listFiles(p, options.recursive === true) : [p];
    for (const f of files) out.push(...parseManifests(readFileSync(f, 'utf8'), f));
  }
  if (out.length === 0) throw new CliError('no objects passed to apply');
  return out;
}
