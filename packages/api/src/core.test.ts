import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from './core.js';
import { formatIsoTime } from './core.js';
import * as full from './index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module reachable from `entry` through relative imports that exist at run time (not `import type`). */
function moduleGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'(\.[^']+)'/gms)) {
      visit(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    }
  };
  visit(entry);
  return seen;
}

describe('@flotilla/api/core', () => {
  it('loads no schema, decoder, OpenAPI or patch module', () => {
    const files = [...moduleGraph(join(here, 'core.ts'))].map((f) => relative(here, f));
    expect(files).toContain('api-error.ts');
    expect(files.filter((f) => f.startsWith('schema/') || f.startsWith('patch/'))).toEqual([]);
  });

  it('is part of the full entry point', () => {
    for (const name of Object.keys(core)) expect(full[name as keyof typeof full], name).toBe(core[name as keyof typeof core]);
  });
});

describe('formatIsoTime', () => {
  it('writes what Date.prototype.toISOString writes', () => {
    const day = 86_400_000;
    const times = [0, -1, 1, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(1900, 1, 28, 12), Date.UTC(2100, 2, 1), -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001];
    for (let i = 0; i < 20_000; i++) times.push(Math.floor((Math.random() * 2 - 1) * 3e14), Math.floor(Math.random() * 800) * 365 * day);
    for (const ms of times) expect(formatIsoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
    expect(() => formatIsoTime(Number.NaN)).toThrow(RangeError);
  });
});
