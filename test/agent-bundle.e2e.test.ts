/**
 * The build bundles the agent (packages/agent/scripts/bundle.mjs) and flotilla-agent runs that
 * bundle: after the root package's build the bundle is up to date with the compiled files, so every
 * suite that starts an agent through its bin exercises the bundled code. The parts that must stay
 * packages of their own are not in it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentEntry, type BundleManifest } from '../packages/agent/dist/agent-entry.js';

const dist = new URL('../packages/agent/dist/', import.meta.url);
const bin = new URL('../packages/agent/bin/flotilla-agent.js', import.meta.url);

describe('the agent bundle', () => {
  it('is up to date after the build, so the bin runs it', () => {
    expect(agentEntry(dist).href).toBe(new URL('bundle/main.js', dist).href);
  });

  it('holds the agent and the workspace packages, not undici, js-yaml or the optional parts\' libraries', () => {
    const manifest = JSON.parse(readFileSync(new URL('bundle/inputs.json', dist), 'utf8')) as BundleManifest;
    const paths = manifest.inputs.map((i) => i.path);
    expect(paths).toContain('../main.js');
    expect(paths.some((p) => p.includes('/client/dist/'))).toBe(true);
    expect(paths.some((p) => p.includes('/api/dist/'))).toBe(true);
    expect(paths.filter((p) => p.includes('/node_modules/'))).toEqual([]);
    expect(manifest.packages).toContain('pino');
    for (const library of ['undici', 'js-yaml', 'prom-client', 'ws', 'http-proxy-3', 'dns-packet']) expect(manifest.packages, library).not.toContain(library);
  });

  it('is what the bin loads: --help prints the usage from the bundled main module', () => {
    // A module hook (node:module register) that notes every module of the agent's dist loaded.
    const dir = mkdtempSync(join(tmpdir(), 'agent-bundle-'));
    try {
      writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { if (url.includes('/agent/dist/')) appendFileSync(${JSON.stringify(join(dir, 'loaded'))}, url + '\\n'); return next(url, context); }\n`);
      writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
      const out = execFileSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, fileURLToPath(bin), '--help'], { encoding: 'utf8' });
      expect(out).toMatch(/^Usage: flotilla-agent --kubeconfig FILE/);
      const loaded = readFileSync(join(dir, 'loaded'), 'utf8').trim().split('\n').map((u) => u.slice(u.indexOf('/agent/dist/') + '/agent/dist/'.length));
      // The bin's two small modules, then the bundle's entry and no compiled module of the agent's own.
      expect(loaded).toContain('bundle/main.js');
      expect(loaded.filter((m) => !m.startsWith('bundle/'))).toEqual(['v8-settings.js', 'agent-entry.js']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
