import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildKubeconfig, loadClientConfig } from './kubeconfig.js';

const require = createRequire(import.meta.url);

describe('kubeconfig files', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('writes a kubeconfig that reads back, and lets the YAML parser go after each', () => {
    const yamlId = require.resolve('js-yaml');
    const loadedBefore = require.cache[yamlId] !== undefined;
    dir = mkdtempSync(join(tmpdir(), 'flotilla-kubeconfig-'));
    const file = join(dir, 'config');
    const text = buildKubeconfig({ server: 'https://127.0.0.1:6443', caPem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n', token: 'abc.def', namespace: 'team' });
    expect(text).toContain('current-context: flotilla');
    writeFileSync(file, text);
    const config = loadClientConfig({ kubeconfig: file });
    expect(config).toMatchObject({ server: 'https://127.0.0.1:6443', token: 'abc.def', namespace: 'team', context: 'flotilla' });
    expect(config.ca).toContain('BEGIN CERTIFICATE');
    // Not kept loaded by these calls (a long-running agent would hold it for good).
    expect(loadedBefore).toBe(false);
    expect(require.cache[yamlId]).toBeUndefined();
  });
});
