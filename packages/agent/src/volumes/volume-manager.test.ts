import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '@flotilla/api';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VolumeError } from './errors.js';
import { VolumeManager, type VolumeSources } from './volume-manager.js';
import type { PodVolume } from './types.js';

const logger = pino({ level: 'silent' });

/** Whether this process may mount file systems (root in a privileged container); the mount point test needs it. */
const canMount = (() => {
  const d = mkdtempSync(join(tmpdir(), 'flotilla-canmount-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', 'none', d]).status === 0 && spawnSync('umount', [d]).status === 0;
  rmdirSync(d);
  return ok;
})();
const UID = 'pod-uid-1';

/** Fake API objects keyed by `kind/namespace/name` (PVs: `pv//name`). */
class FakeSources implements VolumeSources {
  getServiceAccountToken?: VolumeSources['getServiceAccountToken'];
  objects = new Map<string, KubeObject>();
  set(kind: string, ns: string, name: string, body: Record<string, unknown>): void {
    this.objects.set(`${kind}/${ns}/${name}`, { metadata: { name, namespace: ns || undefined, uid: `${kind}-${name}` }, ...body } as KubeObject);
  }
  async getConfigMap(ns: string, name: string) {
    return this.objects.get(`cm/${ns}/${name}`);
  }
  async getSecret(ns: string, name: string) {
    return this.objects.get(`secret/${ns}/${name}`);
  }
  async getPersistentVolumeClaim(ns: string, name: string) {
    return this.objects.get(`pvc/${ns}/${name}`);
  }
  async getPersistentVolume(name: string) {
    return this.objects.get(`pv//${name}`);
  }
}

let root: string;
let podsDir: string;
let memoryDir: string;
let sources: FakeSources;
let vm: VolumeManager;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'flotilla-volumes-'));
  podsDir = join(root, 'pods');
  memoryDir = join(root, 'shm');
  sources = new FakeSources();
  vm = new VolumeManager({ podsDir, memoryDir, sources, nodeName: 'node-1', logger, nodeAllocatable: async () => ({ cpu: '4', memory: '8Gi' }) });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function pod(volumes: PodVolume[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    metadata: { name: 'web', namespace: 'ns1', uid: UID, labels: { app: 'web', tier: 'front "end"' }, annotations: { note: 'line1\nline2' } },
    spec: { volumes, containers: [{ name: 'main', resources: { limits: { memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } } }], ...extra },
  };
}

const read = (p: string) => readFile(p, 'utf8');
const mode = async (p: string) => (await stat(p)).mode & 0o777;
const exists = async (p: string) => lstat(p).then(() => true, () => false);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('emptyDir', () => {
  it('creates a world-writable directory in the kubelet layout, on disk or in memory', async () => {
    const m = await vm.setUp(pod([{ name: 'scratch', emptyDir: {} }, { name: 'fast', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]));
    expect(m.get('scratch')).toEqual({ hostPath: join(podsDir, UID, 'volumes/kubernetes.io~empty-dir/scratch'), readOnly: false });
    expect(m.get('fast')!.hostPath).toBe(join(memoryDir, UID, 'volumes/kubernetes.io~empty-dir/fast'));
    expect(await mode(m.get('scratch')!.hostPath)).toBe(0o777);
    // contents survive another sync
    await writeFile(join(m.get('scratch')!.hostPath, 'data'), 'kept');
    await vm.setUp(pod([{ name: 'scratch', emptyDir: {} }]));
    expect(await read(join(m.get('scratch')!.hostPath, 'data'))).toBe('kept');
  });
});

describe('configMap', () => {
  it('projects data and binaryData with the default mode 0644, read-only', async () => {
    sources.set('cm', 'ns1', 'cfg', { data: { 'app.conf': 'x=1' }, binaryData: { 'logo.bin': Buffer.from([0, 1, 255]).toString('base64') } });
    const m = await vm.setUp(pod([{ name: 'config', configMap: { name: 'cfg' } }]));
    const dir = m.get('config')!.hostPath;
    expect(dir).toBe(join(podsDir, UID, 'volumes/kubernetes.io~configmap/config'));
    expect(m.get('config')!.readOnly).toBe(true);
    expect(await read(join(dir, 'app.conf'))).toBe('x=1');
    expect([...(await readFile(join(dir, 'logo.bin')))]).toEqual([0, 1, 255]);
    expect(await mode(join(dir, 'app.conf'))).toBe(0o644);
    expect(await readlink(join(dir, 'app.conf'))).toBe('..data/app.conf');
  });

  it('maps items to paths with per-item modes and defaultMode', async () => {
    sources.set('cm', 'ns1', 'cfg', { data: { a: 'A', b: 'B', c: 'C' } });
    const m = await vm.setUp(pod([{ name: 'config', configMap: { name: 'cfg', defaultMode: 0o600, items: [{ key: 'a', path: 'dir/a.txt' }, { key: 'b', path: 'b.txt', mode: 0o755 }] } }]));
    const dir = m.get('config')!.hostPath;
    expect(await read(join(dir, 'dir/a.txt'))).toBe('A');
    expect(await mode(join(dir, 'dir/a.txt'))).toBe(0o600);
    expect(await mode(join(dir, 'b.txt'))).toBe(0o755);
    expect(await exists(join(dir, 'c'))).toBe(false);
  });

  it('rewrites changed contents on the next sync and removes stale keys', async () => {
    sources.set('cm', 'ns1', 'cfg', { data: { a: 'one', old: 'x' } });
    const p = pod([{ name: 'config', configMap: { name: 'cfg' } }]);
    const dir = (await vm.setUp(p)).get('config')!.hostPath;
    const ts1 = await readlink(join(dir, '..data'));
    await vm.setUp(p);
    expect(await readlink(join(dir, '..data'))).toBe(ts1); // unchanged: not rewritten
    sources.set('cm', 'ns1', 'cfg', { data: { a: 'two' } });
    await vm.setUp(p);
    expect(await read(join(dir, 'a'))).toBe('two');
    expect(await exists(join(dir, 'old'))).toBe(false);
    expect(await exists(join(dir, ts1))).toBe(false);
  });

  it('fails with the kubelet message when missing, unless optional', async () => {
    await expect(vm.setUp(pod([{ name: 'config', configMap: { name: 'nope' } }]))).rejects.toThrow('MountVolume.SetUp failed for volume "config" : configmap "nope" not found');
    const err = await vm.setUp(pod([{ name: 'config', configMap: { name: 'nope' } }])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeError);
    expect(err).toMatchObject({ reason: 'FailedMount', volume: 'config' });
    const m = await vm.setUp(pod([{ name: 'config', configMap: { name: 'nope', optional: true } }]));
    expect((await readdir(m.get('config')!.hostPath)).filter((n) => !n.startsWith('..'))).toEqual([]);
  });

  it('fails on a missing item key unless optional', async () => {
    sources.set('cm', 'ns1', 'cfg', { data: { a: 'A' } });
    await expect(vm.setUp(pod([{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'zz', path: 'zz' }] } }]))).rejects.toThrow('configmap references non-existent config key: zz');
    await expect(vm.setUp(pod([{ name: 'c', configMap: { name: 'cfg', optional: true, items: [{ key: 'zz', path: 'zz' }] } }]))).resolves.toBeDefined();
  });

  it('reports every failing volume but prepares the others', async () => {
    const err = (await vm.setUp(pod([{ name: 'a', configMap: { name: 'x' } }, { name: 'ok', emptyDir: {} }, { name: 'b', secret: { secretName: 'y' } }])).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('configmap "x" not found');
    expect(err.message).toContain('secret "y" not found');
    expect(await exists(join(podsDir, UID, 'volumes/kubernetes.io~empty-dir/ok'))).toBe(true);
  });
});

describe('secret', () => {
  it('decodes base64 into the in-memory root', async () => {
    sources.set('secret', 'ns1', 's', { data: { password: b64('hunter2') } });
    const m = await vm.setUp(pod([{ name: 'creds', secret: { secretName: 's', defaultMode: 0o400 } }]));
    const dir = m.get('creds')!.hostPath;
    expect(dir).toBe(join(memoryDir, UID, 'volumes/kubernetes.io~secret/creds'));
    expect(await read(join(dir, 'password'))).toBe('hunter2');
    expect(await mode(join(dir, 'password'))).toBe(0o400);
    expect(m.get('creds')!.readOnly).toBe(true);
  });

  it('fails when missing and not optional; items with a missing key name the key', async () => {
    await expect(vm.setUp(pod([{ name: 'creds', secret: { secretName: 's' } }]))).rejects.toThrow('secret "s" not found');
    sources.set('secret', 'ns1', 's', { data: { a: b64('1') } });
    await expect(vm.setUp(pod([{ name: 'creds', secret: { secretName: 's', items: [{ key: 'b', path: 'b' }] } }]))).rejects.toThrow('references non-existent secret key: b');
  });

  it('wraps API failures with what was fetched', async () => {
    sources.getSecret = async () => {
      throw new Error('connection refused');
    };
    await expect(vm.setUp(pod([{ name: 'creds', secret: { secretName: 's' } }]))).rejects.toThrow('cannot get secret ns1/s: connection refused');
  });
});

describe('downwardAPI', () => {
  it('writes pod fields, sorted quoted labels/annotations and container resources with divisors', async () => {
    const items = [
      { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
      { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
      { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
      { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
      { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' }, mode: 0o600 },
      { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
      { path: 'mem_limit_mi', resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' } },
      { path: 'cpu_request_m', resourceFieldRef: { containerName: 'main', resource: 'requests.cpu', divisor: '1m' } },
      { path: 'cpu_request', resourceFieldRef: { containerName: 'main', resource: 'requests.cpu' } },
      { path: 'cpu_limit', resourceFieldRef: { containerName: 'main', resource: 'limits.cpu' } },
    ];
    const dir = (await vm.setUp(pod([{ name: 'info', downwardAPI: { items } }]))).get('info')!.hostPath;
    expect(dir).toBe(join(podsDir, UID, 'volumes/kubernetes.io~downward-api/info'));
    expect(await read(join(dir, 'name'))).toBe('web');
    expect(await read(join(dir, 'ns'))).toBe('ns1');
    expect(await read(join(dir, 'uid'))).toBe(UID);
    expect(await read(join(dir, 'labels'))).toBe('app="web"\ntier="front \\"end\\""');
    expect(await read(join(dir, 'annotations'))).toBe('note="line1\\nline2"');
    expect(await mode(join(dir, 'annotations'))).toBe(0o600);
    expect(await mode(join(dir, 'name'))).toBe(0o644);
    expect(await read(join(dir, 'app'))).toBe('web');
    expect(await read(join(dir, 'mem_limit_mi'))).toBe('512');
    expect(await read(join(dir, 'cpu_request_m'))).toBe('250');
    expect(await read(join(dir, 'cpu_request'))).toBe('1'); // 250m rounded up to whole CPUs
    expect(await read(join(dir, 'cpu_limit'))).toBe('4'); // unset limit: node allocatable
  });

  it('updates the labels file when the labels change', async () => {
    const v: PodVolume[] = [{ name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }];
    const p = pod(v);
    const dir = (await vm.setUp(p)).get('info')!.hostPath;
    p.metadata.labels = { b: '2', a: '1' };
    await vm.setUp(p);
    expect(await read(join(dir, 'labels'))).toBe('a="1"\nb="2"');
  });

  it('rejects a resourceFieldRef without a known container', async () => {
    await expect(vm.setUp(pod([{ name: 'i', downwardAPI: { items: [{ path: 'x', resourceFieldRef: { resource: 'limits.cpu' } }] } }]))).rejects.toThrow(/needs a containerName/);
    await expect(vm.setUp(pod([{ name: 'i', downwardAPI: { items: [{ path: 'x', resourceFieldRef: { containerName: 'other', resource: 'limits.cpu' } }] } }]))).rejects.toThrow(/container "other" not found/);
  });
});

describe('projected', () => {
  it('merges configMap, secret and downwardAPI sources in memory; skips tokens without a token source', async () => {
    sources.set('cm', 'ns1', 'cfg', { data: { 'ca.crt': 'CA' } });
    sources.set('secret', 'ns1', 's', { data: { key: b64('K') } });
    const volume: PodVolume = {
      name: 'all',
      projected: {
        defaultMode: 0o640,
        sources: [
          { configMap: { name: 'cfg' } },
          { secret: { name: 's', items: [{ key: 'key', path: 'tls/key' }] } },
          { configMap: { name: 'absent', optional: true } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
          { serviceAccountToken: { path: 'token', expirationSeconds: 600 } },
        ],
      },
    };
    const dir = (await vm.setUp(pod([volume]))).get('all')!.hostPath;
    expect(dir).toBe(join(memoryDir, UID, 'volumes/kubernetes.io~projected/all'));
    expect(await read(join(dir, 'ca.crt'))).toBe('CA');
    expect(await read(join(dir, 'tls/key'))).toBe('K');
    expect(await read(join(dir, 'namespace'))).toBe('ns1');
    expect(await mode(join(dir, 'ca.crt'))).toBe(0o640);
    expect(await exists(join(dir, 'token'))).toBe(false);

    const withTokens = new FakeSources();
    withTokens.objects = sources.objects;
    const requests: unknown[] = [];
    withTokens.getServiceAccountToken = async (ns, sa, req) => {
      requests.push({ ns, sa, ...req });
      return 'tok';
    };
    const vm2 = new VolumeManager({ podsDir, memoryDir, sources: withTokens, nodeName: 'node-1', logger });
    await vm2.setUp(pod([volume], { serviceAccountName: 'builder' }));
    expect(await read(join(dir, 'token'))).toBe('tok');
    expect(requests).toEqual([{ ns: 'ns1', sa: 'builder', audience: undefined, expirationSeconds: 600, podName: 'web', podUid: UID }]);
  });

  it('fails on a missing non-optional source', async () => {
    await expect(vm.setUp(pod([{ name: 'p', projected: { sources: [{ secret: { name: 'gone' } }] } }]))).rejects.toThrow('secret "gone" not found');
  });
});

describe('hostPath', () => {
  it('DirectoryOrCreate creates the directory 0755; Directory requires one', async () => {
    const p = join(root, 'host/a/b');
    const m = await vm.setUp(pod([{ name: 'h', hostPath: { path: p, type: 'DirectoryOrCreate' } }]));
    expect(m.get('h')).toEqual({ hostPath: p, readOnly: false });
    expect(await mode(p)).toBe(0o755);
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: join(root, 'nodir'), type: 'Directory' } }]))).rejects.toThrow(`hostPath type check failed: ${join(root, 'nodir')} is not a directory`);
    await writeFile(join(root, 'afile'), '');
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: join(root, 'afile'), type: 'DirectoryOrCreate' } }]))).rejects.toThrow('is not a directory');
  });

  it('FileOrCreate creates an empty file; File requires one', async () => {
    const f = join(root, 'created.txt');
    await vm.setUp(pod([{ name: 'h', hostPath: { path: f, type: 'FileOrCreate' } }]));
    expect((await stat(f)).isFile()).toBe(true);
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: root, type: 'File' } }]))).rejects.toThrow(`hostPath type check failed: ${root} is not a file`);
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: root, type: 'FileOrCreate' } }]))).rejects.toThrow('is not a file');
  });

  it('checks sockets and devices; "" checks nothing', async () => {
    const sock = join(root, 's.sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await vm.setUp(pod([{ name: 'h', hostPath: { path: sock, type: 'Socket' } }]));
    } finally {
      server.close();
    }
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: root, type: 'Socket' } }]))).rejects.toThrow('is not a socket file');
    await vm.setUp(pod([{ name: 'h', hostPath: { path: '/dev/null', type: 'CharDevice' } }]));
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: '/dev/null', type: 'BlockDevice' } }]))).rejects.toThrow('/dev/null is not a block device');
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: root, type: 'CharDevice' } }]))).rejects.toThrow('is not a character device');
    await vm.setUp(pod([{ name: 'h', hostPath: { path: join(root, 'missing') } }]));
    await vm.setUp(pod([{ name: 'h', hostPath: { path: join(root, 'missing'), type: '' } }]));
    expect(await exists(join(root, 'missing'))).toBe(false);
    await expect(vm.setUp(pod([{ name: 'h', hostPath: { path: root, type: 'Bogus' } }]))).rejects.toThrow('Bogus is an invalid volume type');
  });
});

describe('persistentVolumeClaim', () => {
  function bind(pvSpec: Record<string, unknown>, claim: { phase?: string; accessModes?: string[]; volumeName?: string } = {}, pvMeta: Record<string, unknown> = {}) {
    sources.set('pvc', 'ns1', 'data', { spec: { volumeName: claim.volumeName ?? 'pv-1', accessModes: claim.accessModes ?? ['ReadWriteOnce'] }, status: { phase: claim.phase ?? 'Bound' } });
    sources.set('pv', '', 'pv-1', { spec: { claimRef: { name: 'data', namespace: 'ns1', uid: 'pvc-data' }, ...pvSpec } });
    Object.assign(sources.objects.get('pv//pv-1')!.metadata, pvMeta);
  }

  it('mounts the hostPath of the bound volume, creating it for DirectoryOrCreate', async () => {
    const p = join(root, 'pvdata');
    bind({ hostPath: { path: p, type: 'DirectoryOrCreate' } });
    const m = await vm.setUp(pod([{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }]));
    expect(m.get('d')).toEqual({ hostPath: p, readOnly: false });
    expect((await stat(p)).isDirectory()).toBe(true);
  });

  it('is read-only for a readOnly volume or a ReadOnlyMany claim', async () => {
    bind({ hostPath: { path: root } }, { accessModes: ['ReadOnlyMany'] });
    expect((await vm.setUp(pod([{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }]))).get('d')!.readOnly).toBe(true);
    bind({ hostPath: { path: root } });
    expect((await vm.setUp(pod([{ name: 'd', persistentVolumeClaim: { claimName: 'data', readOnly: true } }]))).get('d')!.readOnly).toBe(true);
  });

  it('fails for a missing or unbound claim, a missing volume or one bound elsewhere', async () => {
    const v: PodVolume[] = [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }];
    await expect(vm.setUp(pod(v))).rejects.toThrow('persistentvolumeclaim "data" not found');
    bind({ hostPath: { path: root } }, { phase: 'Pending' });
    await expect(vm.setUp(pod(v))).rejects.toThrow('persistentvolumeclaim "data" is not bound');
    bind({ hostPath: { path: root } }, { volumeName: 'pv-2' });
    await expect(vm.setUp(pod(v))).rejects.toThrow('persistentvolume "pv-2" not found');
    bind({ hostPath: { path: root }, claimRef: { name: 'other', namespace: 'ns1' } });
    await expect(vm.setUp(pod(v))).rejects.toThrow('persistentvolume "pv-1" is bound to another claim');
    bind({ nfs: { server: 'x', path: '/' } });
    await expect(vm.setUp(pod(v))).rejects.toThrow('only hostPath and local volumes');
  });

  it('local volumes must exist unless provisioned', async () => {
    const v: PodVolume[] = [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }];
    const p = join(root, 'local/pvc-1');
    bind({ local: { path: p } });
    await expect(vm.setUp(pod(v))).rejects.toThrow(`local volume path "${p}" does not exist`);
    bind({ local: { path: p } }, {}, { annotations: { 'pv.kubernetes.io/provisioned-by': 'flotilla.io/local-path' } });
    expect((await vm.setUp(pod(v))).get('d')!.hostPath).toBe(p);
    expect(await mode(p)).toBe(0o777);
  });
});

describe('unsupported sources', () => {
  it('fail with the volume named', async () => {
    await expect(vm.setUp(pod([{ name: 'n', nfs: { server: 's', path: '/' } }]))).rejects.toThrow('MountVolume.SetUp failed for volume "n" : volume source nfs is not supported');
    await expect(vm.setUp(pod([{ name: 'bad/name', emptyDir: {} }]))).rejects.toThrow('invalid volume name');
    await expect(vm.setUp({ metadata: { uid: '../x' }, spec: {} })).rejects.toThrow('invalid pod uid');
  });
});

describe('tearDown and podUidsOnDisk', () => {
  it('removes the pod volume dirs but leaves hostPath and PV data and link targets alone', async () => {
    const hostData = join(root, 'host-data');
    await mkdir(hostData);
    await writeFile(join(hostData, 'precious'), 'keep me');
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'keep me too');
    sources.set('secret', 'ns1', 's', { data: { k: b64('v') } });
    sources.set('pvc', 'ns1', 'data', { spec: { volumeName: 'pv-1' }, status: { phase: 'Bound' } });
    sources.set('pv', '', 'pv-1', { spec: { hostPath: { path: hostData } } });
    const m = await vm.setUp(
      pod([
        { name: 'h', hostPath: { path: hostData } },
        { name: 'd', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'scratch', emptyDir: {} },
        { name: 's', secret: { secretName: 's' } },
      ]),
    );
    // a container plants links to the outside in its emptyDir
    const scratch = m.get('scratch')!.hostPath;
    await symlink(outside, join(scratch, 'dirlink'));
    await symlink(join(outside, 'victim'), join(scratch, 'filelink'));
    await mkdir(join(scratch, 'nested/deep'), { recursive: true });
    await symlink(hostData, join(scratch, 'nested/deep/hostlink'));
    await writeFile(join(podsDir, UID, 'etc-hosts'), 'owned by pod sync');

    expect(await vm.podUidsOnDisk()).toEqual([UID]);
    await vm.tearDown(UID);

    expect(await exists(join(podsDir, UID, 'volumes'))).toBe(false);
    expect(await exists(join(memoryDir, UID))).toBe(false);
    expect(await read(join(podsDir, UID, 'etc-hosts'))).toBe('owned by pod sync'); // other files of the pod dir are not ours
    expect(await read(join(hostData, 'precious'))).toBe('keep me');
    expect(await read(join(outside, 'victim'))).toBe('keep me too');
    expect(await vm.podUidsOnDisk()).toEqual([]);
    await vm.tearDown(UID); // idempotent
  });

  it('removes the pod dir when empty and lists uids from both roots', async () => {
    await vm.setUp({ ...pod([{ name: 'e', emptyDir: {} }]), metadata: { uid: 'a-uid' } });
    await vm.setUp({ ...pod([{ name: 'm', emptyDir: { medium: 'Memory' } }]), metadata: { uid: 'b-uid' } });
    await mkdir(join(podsDir, 'c-uid')); // no volumes dir: not listed
    expect(await vm.podUidsOnDisk()).toEqual(['a-uid', 'b-uid']);
    await vm.tearDown('a-uid');
    await vm.tearDown('b-uid');
    expect(await exists(join(podsDir, 'a-uid'))).toBe(false);
    expect(await vm.podUidsOnDisk()).toEqual([]);
    await expect(vm.tearDown('../etc')).rejects.toThrow('invalid pod uid');
  });

  it('removes directories a container made unreadable', async () => {
    const dir = (await vm.setUp(pod([{ name: 'e', emptyDir: {} }]))).get('e')!.hostPath;
    await mkdir(join(dir, 'locked'));
    await writeFile(join(dir, 'locked/f'), 'x');
    execFileSync('chmod', ['000', join(dir, 'locked')]);
    await vm.tearDown(UID);
    expect(await exists(dir)).toBe(false);
  });

  it.skipIf(!canMount)('does not enter a file system mounted inside a volume', async () => {
    const dir = (await vm.setUp(pod([{ name: 'e', emptyDir: {} }]))).get('e')!.hostPath;
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', 'none', mnt]);
    try {
      await writeFile(join(mnt, 'inside'), 'on another fs');
      await writeFile(join(dir, 'ours'), 'x');
      const err = await vm.tearDown(UID).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VolumeError);
      expect(err).toMatchObject({ reason: 'FailedUnmount' });
      expect((err as Error).message).toContain(mnt);
      expect(await read(join(mnt, 'inside'))).toBe('on another fs');
      expect(await exists(join(dir, 'ours'))).toBe(false);
    } finally {
      execFileSync('umount', [mnt]);
    }
    await vm.tearDown(UID);
    expect(await exists(dir)).toBe(false);
  });
});
