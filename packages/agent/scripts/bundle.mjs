#!/usr/bin/env node
// Bundles the compiled agent (dist/main.js, the workspace packages it imports, and pino) into
// dist/bundle/ with esbuild, for flotilla-agent to run (bin/flotilla-agent.js, src/agent-entry.ts).
// A resident process keeps the source text of every module it loaded for lazy compilation, and one
// module record and namespace per ESM file; as ~75 modules with their doc comments that was ~1 MiB
// of the agent's ~60 MiB. The bundle drops whitespace and comments but keeps every identifier and
// function name (stack traces and logged error types read as in the sources; a linked source map
// maps positions back for `node --enable-source-maps`).
// Left as packages of their own: undici (its lazily loaded parts and WebAssembly parsers, as base64
// text, would all sit in the bundle's source: bundled, it measured no smaller), js-yaml (loaded for
// one call and let go, src/kubeconfig.ts in @flotilla/client), and the libraries of parts that load
// only when enabled or used (prom-client, ws, http-proxy-3, dns-packet). The bundled code resolves
// them from the agent's own directory, so each is a dependency of the agent's package (js-yaml too,
// which only @flotilla/client's code uses).
// Writes dist/bundle/inputs.json last: each compiled input file with its size and mtime, so a bundle
// older than any of them is not used. Run after `tsc -b` (the root package's build and test scripts do).
import { rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'bundle');
const external = ['undici', 'js-yaml', 'prom-client', 'ws', 'http-proxy-3', 'dns-packet'];

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/main.js'],
  outdir,
  bundle: true,
  splitting: true, // the optional parts (DNS, proxies, Ingress, pod network) stay chunks loaded on use
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: external.flatMap((name) => [name, `${name}/*`]),
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  // CommonJS modules in the bundle (pino's) call require() for Node's own modules.
  banner: { js: "import{createRequire as __flotillaCreateRequire}from'node:module';const require=__flotillaCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});

// The workspace's compiled files are listed with size and mtime (src/agent-entry.ts compares them);
// packages from node_modules change only with an install, which bundles again (the root package's
// prepare script), so they are only named. Paths are relative to the bundle's directory, which keeps
// them right in an installed tree too (deploy/install.sh: the workspace packages side by side).
const inputs = [];
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const file = join(root, input);
  const nodeModules = file.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) {
    const rest = file.slice(nodeModules + '/node_modules/'.length).split('/');
    packages.add(rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]);
    continue;
  }
  const { size, mtimeMs } = statSync(file);
  inputs.push({ path: relative(outdir, file), size, mtimeMs });
}
const manifest = join(outdir, 'inputs.json');
writeFileSync(`${manifest}.tmp`, `${JSON.stringify({ entry: 'main.js', inputs, packages: [...packages].sort() }, null, 1)}\n`);
renameSync(`${manifest}.tmp`, manifest);
