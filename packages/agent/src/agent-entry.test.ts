import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentEntry, type BundleInput } from './agent-entry.js';

describe('agentEntry', () => {
  let dist: string;
  let distUrl: URL;

  /** dist/ with main.js and two inputs, and a bundle made from them (its manifest as bundle.mjs writes it). */
  beforeEach(() => {
    dist = mkdtempSync(join(tmpdir(), 'agent-entry-'));
    distUrl = pathToFileURL(`${dist}/`);
    mkdirSync(join(dist, 'bundle'));
    for (const f of ['main.js', 'agent.js', 'bundle/main.js']) writeFileSync(join(dist, f), `// ${f}\n`);
    writeManifest(['main.js', 'agent.js']);
  });
  afterEach(() => rmSync(dist, { recursive: true, force: true }));

  function writeManifest(files: string[], entry = 'main.js'): void {
    const inputs: BundleInput[] = files.map((f) => {
      const { size, mtimeMs } = statSync(join(dist, f));
      return { path: `../${f}`, size, mtimeMs };
    });
    writeFileSync(join(dist, 'bundle', 'inputs.json'), JSON.stringify({ entry, inputs }));
  }

  it('runs the bundle while its inputs are as they were', () => {
    expect(agentEntry(distUrl).href).toBe(new URL('bundle/main.js', distUrl).href);
  });

  it('runs the compiled files once one was rewritten (a later mtime), even with the same size', () => {
    const later = new Date(statSync(join(dist, 'agent.js')).mtimeMs + 5_000);
    utimesSync(join(dist, 'agent.js'), later, later);
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
  });

  it('runs the compiled files once one changed size or is gone', () => {
    const { mtime } = statSync(join(dist, 'agent.js'));
    writeFileSync(join(dist, 'agent.js'), '// agent.js, longer now\n');
    utimesSync(join(dist, 'agent.js'), mtime, mtime);
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
    writeManifest(['main.js', 'agent.js']);
    expect(agentEntry(distUrl).href).toBe(new URL('bundle/main.js', distUrl).href);
    rmSync(join(dist, 'agent.js'));
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
  });

  it('runs the compiled files without a bundle or with a manifest it cannot read', () => {
    writeFileSync(join(dist, 'bundle', 'inputs.json'), '{"entry": "main.js"');
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
    writeFileSync(join(dist, 'bundle', 'inputs.json'), JSON.stringify({ entry: 'main.js', inputs: [] }));
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
    rmSync(join(dist, 'bundle'), { recursive: true });
    expect(agentEntry(distUrl).href).toBe(new URL('main.js', distUrl).href);
  });
});
