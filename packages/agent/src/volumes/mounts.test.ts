import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAtomic } from './atomic-writer.js';
import { VolumeError } from './errors.js';
import { containerMounts } from './mounts.js';
import type { PreparedVolume } from './volume-manager.js';

let root: string;
let vol: string;
let volumes: Map<string, PreparedVolume>;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flotilla-mounts-'));
  vol = join(root, 'vol');
  await mkdir(vol);
  await chmod(vol, 0o777);
  volumes = new Map([
    ['data', { hostPath: vol, readOnly: false }],
    ['cfg', { hostPath: join(root, 'cfg'), readOnly: true }],
  ]);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mounts = (vm: Record<string, unknown>, env?: Map<string, string>) => containerMounts({ name: 'c', volumeMounts: [{ name: 'data', mountPath: '/m', ...vm }] }, volumes, env);

describe('containerMounts', () => {
  it('mounts the volume root; readOnly from the mount or the volume; propagation', () => {
    expect(containerMounts({ volumeMounts: [{ name: 'data', mountPath: '/d' }, { name: 'cfg', mountPath: '/etc/cfg' }] }, volumes)).toEqual([
      { containerPath: '/d', hostPath: vol, readOnly: false },
      { containerPath: '/etc/cfg', hostPath: join(root, 'cfg'), readOnly: true },
    ]);
    expect(mounts({ readOnly: true })[0]!.readOnly).toBe(true);
    expect(mounts({ mountPropagation: 'None' })[0]!.propagation).toBe('private');
    expect(mounts({ mountPropagation: 'HostToContainer' })[0]!.propagation).toBe('rslave');
    expect(mounts({ mountPropagation: 'Bidirectional' })[0]!.propagation).toBe('rshared');
    expect(() => mounts({ mountPropagation: 'Sideways' })).toThrow(/invalid mountPropagation "Sideways"/);
    expect(containerMounts({}, volumes)).toEqual([]);
  });

  it('fails for an unknown volume', () => {
    expect(() => containerMounts({ name: 'c', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }, volumes)).toThrow('cannot find volume "nope" to mount into container "c"');
  });

  it('creates a missing subPath with the mode of the volume root', async () => {
    const [m] = mounts({ subPath: 'a/b' });
    expect(m!.hostPath).toBe(join(vol, 'a/b'));
    expect((await stat(join(vol, 'a'))).mode & 0o777).toBe(0o777);
    expect((await stat(join(vol, 'a/b'))).isDirectory()).toBe(true);
    // an existing file is mounted as is
    await writeFile(join(vol, 'f.txt'), 'x');
    expect(mounts({ subPath: 'f.txt' })[0]!.hostPath).toBe(join(vol, 'f.txt'));
  });

  it('rejects .. and absolute subPaths without creating anything', async () => {
    for (const bad of ['../escape', 'a/../../escape', '/etc']) {
      let err: unknown;
      try {
        mounts({ subPath: bad });
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(VolumeError);
    }
    expect(() => mounts({ subPath: '../x' })).toThrow(`must not contain '..'`);
    expect(() => mounts({ subPath: '/etc' })).toThrow('must be relative');
    await expect(lstat(join(root, 'escape'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses links that leave the volume and does not create through them', async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(vol, 'evil'));
    expect(() => mounts({ subPath: 'evil/new' })).toThrow(/outside of the volume/);
    await expect(lstat(join(outside, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
    await symlink('/etc/passwd', join(vol, 'pw'));
    expect(() => mounts({ subPath: 'pw' })).toThrow(/outside of the volume/);
    // a link inside the volume is fine
    await mkdir(join(vol, 'real'));
    await symlink('real', join(vol, 'alias'));
    expect(mounts({ subPath: 'alias' })[0]!.hostPath).toBe(join(vol, 'real'));
  });

  it('resolves a subPath of a ConfigMap key to the file in the current timestamped dir', async () => {
    const cfg = join(root, 'cfg');
    await writeAtomic(cfg, new Map([['nginx.conf', { data: Buffer.from('conf'), mode: 0o644 }]]));
    const [m] = containerMounts({ volumeMounts: [{ name: 'cfg', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf' }] }, volumes);
    expect(m!.hostPath).toMatch(/\/cfg\/\.\.\d{4}_.*\/nginx\.conf$/);
    expect(await readFile(m!.hostPath, 'utf8')).toBe('conf');
    expect(m!.readOnly).toBe(true);
  });

  it('expands subPathExpr from the container env', async () => {
    const env = new Map([['POD_NAME', 'web-0']]);
    expect(mounts({ subPathExpr: 'logs/$(POD_NAME)' }, env)[0]!.hostPath).toBe(join(vol, 'logs/web-0'));
    expect((await stat(join(vol, 'logs/web-0'))).isDirectory()).toBe(true);
    expect(() => mounts({ subPathExpr: '$(UP)/x' }, new Map([['UP', '..']]))).toThrow(`must not contain '..'`);
    expect(() => mounts({ subPath: 'a', subPathExpr: 'b' })).toThrow(/mutually exclusive/);
  });
});
