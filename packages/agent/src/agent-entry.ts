/**
 * Which module flotilla-agent runs: the bundle (`dist/bundle/main.js`, made by scripts/bundle.mjs
 * after the TypeScript build; ~1 MiB less resident memory) when every file it was made from is
 * still as it was then (same size and mtime; the workspace's compiled files, not node_modules),
 * else `dist/main.js` — so a build that compiled the
 * sources again without bundling them (a bare `tsc -b`) runs the new code, never a stale bundle.
 * Loaded before the agent itself, so it imports nothing but `node:fs`.
 */
import { readFileSync, statSync } from 'node:fs';

/** One file the bundle was made from (path relative to the bundle's directory). */
export interface BundleInput {
  path: string;
  size: number;
  mtimeMs: number;
}

/** `dist/bundle/inputs.json`. */
export interface BundleManifest {
  entry: string;
  /** The workspace's compiled files in the bundle. */
  inputs: BundleInput[];
  /** The packages from node_modules in the bundle (by name; an install bundles again). */
  packages: string[];
}

/** The bundle's entry, or undefined when it is missing, unreadable or older than one of its inputs. */
export function freshBundle(bundleDir: URL): URL | undefined {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('inputs.json', bundleDir), 'utf8')) as BundleManifest;
  } catch {
    return undefined;
  }
  if (typeof manifest.entry !== 'string' || !Array.isArray(manifest.inputs) || manifest.inputs.length === 0) return undefined;
  for (const input of manifest.inputs) {
    const stat = statSync(new URL(input.path, bundleDir), { throwIfNoEntry: false });
    if (!stat || stat.size !== input.size || stat.mtimeMs !== input.mtimeMs) return undefined;
  }
  return new URL(manifest.entry, bundleDir);
}

/** The module to import for the agent whose compiled files are in `distDir` (a URL ending in `/`). */
export function agentEntry(distDir: URL): URL {
  return freshBundle(new URL('bundle/', distDir)) ?? new URL('main.js', distDir);
}
