/**
 * The install script, run into a scratch root (`--destdir`; `--no-build`: the test run has built the
 * checkout, and other tests are running from its compiled output): it lays out a self-contained tree under
 * /opt/flotilla with a Node-based launcher, links it from /usr/local/bin, installs the systemd units
 * and their settings; the installed launcher then starts a working control plane from that tree.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { killAll, REPO_ROOT, tempDir } from './harness/processes.js';
import { startProcess } from './harness/processes.js';

const run = promisify(execFile);
let root: ReturnType<typeof tempDir>;
let data: ReturnType<typeof tempDir>;

describe('deploy/install.sh', () => {
  beforeAll(async () => {
    root = tempDir('install-root');
    data = tempDir('install-data');
    await run('bash', [join(REPO_ROOT, 'deploy', 'install.sh'), '--destdir', root.path, '--no-build'], { cwd: REPO_ROOT, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
  }, 300_000);

  afterAll(async () => {
    await killAll();
    root?.remove();
    data?.remove();
  });

  it('installs the tree, the launcher, its link, the units and their settings', () => {
    const prefix = join(root.path, 'opt', 'flotilla');
    expect(statSync(join(prefix, 'bin', 'flotilla')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(root.path, 'usr', 'local', 'bin', 'flotilla'))).toBe('/opt/flotilla/bin/flotilla');
    expect(readFileSync(join(prefix, 'bin', 'flotilla'), 'utf8')).toContain('exec node "/opt/flotilla/lib/bin/flotilla.js"');
    // Production dependencies only: no compiler or test runner in the installed tree.
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(prefix, 'lib', 'node_modules', '.pnpm', 'node_modules', 'vitest'))).toBe(false);
    for (const unit of ['flotilla-server.service', 'flotilla-agent.service']) {
      const text = readFileSync(join(root.path, 'etc', 'systemd', 'system', unit), 'utf8');
      expect(text).toContain('ExecStart=/opt/flotilla/bin/flotilla ');
      expect(text).not.toContain('@PREFIX@');
    }
    expect(readFileSync(join(root.path, 'etc', 'flotilla', 'server.env'), 'utf8')).toContain('FLOTILLA_SECURE_PORT=6443');
    expect(existsSync(join(root.path, 'etc', 'flotilla', 'agent.env'))).toBe(true);
  });

  it('writes units systemd accepts', () => {
    const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
    if (!analyze) {
      console.warn('systemd-analyze not installed: unit syntax not checked');
      return;
    }
    for (const unit of ['flotilla-server.service', 'flotilla-agent.service']) {
      const r = spawnSync(analyze, ['verify', '--man=no', join(root.path, 'etc', 'systemd', 'system', unit)], { encoding: 'utf8' });
      // Paths of the scratch root do not exist on this machine; only syntax errors matter.
      const problems = (r.stderr + r.stdout).split('\n').filter((l) => l && !/is not executable|No such file|not found|Failed to prepare filename|Command .* is not executable|docker\.service|network-online/i.test(l));
      expect(problems).toEqual([]);
    }
  });

  it('runs a working control plane from the installed tree', async () => {
    const launcher = join(root.path, 'opt', 'flotilla', 'lib', 'bin', 'flotilla.js');
    const p = startProcess(launcher, ['server', '--data-dir', data.path, '--secure-port', '0', '--disable-agent', '--log-level', 'warn']);
    await p.waitForOutput(/Flotilla server running/, 60_000);
    const client = new RestClient(loadClientConfig({ kubeconfig: join(data.path, 'admin.kubeconfig') }));
    try {
      const names = (await client.list(res('namespaces'))).items.map((n) => n.metadata.name);
      expect(names).toEqual(expect.arrayContaining(['default', 'kube-system']));
    } finally {
      await client.close();
    }
    expect(await p.stop('SIGTERM')).toBe(0);
  }, 90_000);
});
