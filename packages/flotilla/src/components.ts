/**
 * Where the component binaries are: each package's `bin` script, found from the package's entry
 * point (`import.meta.resolve`) or, failing that, next to this package in the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of `bin` of the workspace package `@flotilla/<pkg>`. */
export function componentBin(pkg: string, bin: string): string {
  const name = `@flotilla/${pkg}`;
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(name)));
    while (dir !== dirname(dir)) {
      const manifest = join(dir, 'package.json');
      if (existsSync(manifest)) {
        const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; bin?: Record<string, string> };
        if (json.name === name && json.bin?.[bin]) return join(dir, json.bin[bin]);
        if (json.name === name) break;
      }
      dir = dirname(dir);
    }
  } catch {
    // not resolvable from here: fall back to the repository layout
  }
  // packages/flotilla/{dist,src}/components.js -> packages/<pkg>/bin/<bin>.js
  return fileURLToPath(new URL(`../../${pkg}/bin/${bin}.js`, import.meta.url));
}

/** This package's version. */
export function launcherVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
