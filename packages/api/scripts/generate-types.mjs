#!/usr/bin/env node
// Regenerates packages/api/src/types/generated.ts from the schema definitions.
// Usage: node packages/api/scripts/generate-types.mjs
// It compiles the api package first (tsc -p packages/api) and imports the built definitions, so
// the output always reflects the current sources. The unit test src/types/generated.test.ts fails
// when the committed file is stale.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', pkgDir], { stdio: 'inherit' });

const { DEFINITIONS } = await import(pathToFileURL(join(pkgDir, 'dist/schema/definitions.js')).href);
const { generateTypes } = await import(pathToFileURL(join(pkgDir, 'dist/types/type-generator.js')).href);
const target = join(pkgDir, 'src/types/generated.ts');
writeFileSync(target, generateTypes(DEFINITIONS));
process.stdout.write(`wrote ${target}\n`);
