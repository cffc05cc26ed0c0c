import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { containerEnv, EnvError, expandCommand, expandVars, type EnvContext, type EnvSources } from './env.js';
import type { ContainerSpec } from './types.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function sources(objs: { configMaps?: Record<string, Record<string, string>>; secrets?: Record<string, Record<string, string>> }) {
  const calls: string[] = [];
  const s: EnvSources = {
    async getConfigMap(ns, name) {
      calls.push(`cm:${ns}/${name}`);
      const data = objs.configMaps?.[name];
      return data ? { metadata: { name, namespace: ns }, data } : undefined;
    },
    async getSecret(ns, name) {
      calls.push(`secret:${ns}/${name}`);
      const data = objs.secrets?.[name];
      return data ? { metadata: { name, namespace: ns }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) } : undefined;
    },
  };
  return { s, calls };
}

const pod: KubeObject = {
  metadata: {
    name: 'web-1',
    namespace: 'shop',
    uid: 'uid-123',
    labels: { app: 'web', tier: 'front' },
    annotations: { 'example.com/owner': 'team "a"' },
  },
  spec: {
    nodeName: 'node-a',
    serviceAccountName: 'builder',
    containers: [
      { name: 'app', resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi' } } },
      { name: 'side', resources: { limits: { cpu: '2', memory: '1Gi' } } },
    ],
  },
};

const ctx: EnvContext = { nodeName: 'node-a', hostIP: '10.0.0.5', podIP: '172.17.0.9', nodeAllocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' } };

const asObject = (env: { name: string; value: string }[]) => Object.fromEntries(env.map((e) => [e.name, e.value]));

describe('expandVars', () => {
  const env = new Map([
    ['A', 'alpha'],
    ['EMPTY', ''],
  ]);
  it.each([
    ['$(A)', 'alpha'],
    ['x-$(A)-y', 'x-alpha-y'],
    ['$(A)$(A)', 'alphaalpha'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$alpha'],
    ['$$', '$'],
    ['$(EMPTY)|', '|'],
    ['$(UNDEFINED)', '$(UNDEFINED)'],
    ['a $(B', 'a $(B'],
    ['$(A', '$(A'],
    ['$A', '$A'],
    ['trailing $', 'trailing $'],
    ['$()', '$()'],
    ['$(A $$', '$(A $'], // an incomplete reference: the rest is still expanded
    ['$(A)/$(EMPTY)/$(MISSING)', 'alpha//$(MISSING)'],
    ['$(A)$', 'alpha$'],
    ['no refs', 'no refs'],
    ['', ''],
  ])('%j → %j', (input, output) => {
    expect(expandVars(input, env)).toBe(output);
  });
});

describe('expandCommand', () => {
  it('expands command and args from the environment, leaving unset lists unset', () => {
    const env = [
      { name: 'PORT', value: '8080' },
      { name: 'MODE', value: 'prod' },
    ];
    expect(expandCommand({ command: ['/bin/server', '--port=$(PORT)'], args: ['$(MODE)', '$$(MODE)', '$(NOPE)'] }, env)).toEqual({
      command: ['/bin/server', '--port=8080'],
      args: ['prod', '$(MODE)', '$(NOPE)'],
    });
    expect(expandCommand({ args: ['$(PORT)'] }, new Map([['PORT', '1']]))).toEqual({ args: ['1'] });
    expect(expandCommand({ command: [], args: [] }, env)).toEqual({});
  });
});

describe('containerEnv', () => {
  it('orders service variables, then envFrom, then env, later definitions overriding earlier ones', async () => {
    const { s } = sources({
      configMaps: { settings: { LOG_LEVEL: 'info', SHARED: 'from-cm', 'bad name': 'x', '1BAD': 'y' } },
      secrets: { creds: { PASSWORD: 'hunter2', SHARED: 'from-secret' } },
    });
    const warnings: string[] = [];
    const c: ContainerSpec = {
      name: 'app',
      envFrom: [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'creds' }, prefix: 'DB_' }, { configMapRef: { name: 'settings' }, prefix: 'CFG_' }],
      env: [
        { name: 'GREETING', value: 'hello $(LOG_LEVEL) $(DB_PASSWORD) $(WEB_SERVICE_HOST) $(LATER)' },
        { name: 'SHARED', value: 'from-env' },
        { name: 'LATER', value: 'now' },
        { name: 'REF_LATER', value: '$(LATER)!' },
        { name: 'WEB_SERVICE_PORT', value: '9999' },
        { name: 'BLANK' },
      ],
    };
    const env = await containerEnv(pod, c, s, {
      ...ctx,
      serviceEnv: { WEB_SERVICE_HOST: '10.96.0.10', WEB_SERVICE_PORT: '80' },
      recordWarning: (reason, message) => warnings.push(`${reason}: ${message}`),
    });
    expect(env.map((e) => e.name)).toEqual([
      'WEB_SERVICE_HOST',
      'WEB_SERVICE_PORT',
      'LOG_LEVEL',
      'SHARED',
      'DB_PASSWORD',
      'DB_SHARED',
      'CFG_LOG_LEVEL',
      'CFG_SHARED',
      'CFG_1BAD',
      'GREETING',
      'LATER',
      'REF_LATER',
      'BLANK',
    ]);
    expect(asObject(env)).toEqual({
      WEB_SERVICE_HOST: '10.96.0.10',
      WEB_SERVICE_PORT: '9999',
      LOG_LEVEL: 'info',
      SHARED: 'from-env',
      DB_PASSWORD: 'hunter2',
      DB_SHARED: 'from-secret',
      CFG_LOG_LEVEL: 'info',
      CFG_SHARED: 'from-cm',
      // With a prefix this becomes a valid name.
      CFG_1BAD: 'y',
      GREETING: 'hello info hunter2 10.96.0.10 $(LATER)',
      LATER: 'now',
      REF_LATER: 'now!',
      BLANK: '',
    });
    // 'bad name' (space) is invalid even with the prefix; '1BAD' only without it.
    expect(env.find((e) => e.name === 'bad name')).toBeUndefined();
    expect(env.find((e) => e.name === '1BAD')).toBeUndefined();
    expect(warnings).toEqual([
      'InvalidEnvironmentVariableNames: Keys [1BAD, bad name] from the EnvFrom configMap shop/settings were skipped since they are considered invalid environment variable names.',
      'InvalidEnvironmentVariableNames: Keys [CFG_bad name] from the EnvFrom configMap shop/settings were skipped since they are considered invalid environment variable names.',
    ]);
  });

  it('fetches each source once per call', async () => {
    const { s, calls } = sources({ configMaps: { cm: { A: '1', B: '2' } } });
    await containerEnv(
      pod,
      {
        name: 'app',
        envFrom: [{ configMapRef: { name: 'cm' } }],
        env: [
          { name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'A' } } },
          { name: 'Y', valueFrom: { configMapKeyRef: { name: 'cm', key: 'B' } } },
        ],
      },
      s,
      ctx,
    );
    expect(calls).toEqual(['cm:shop/cm']);
  });

  it('resolves configMapKeyRef and secretKeyRef (base64-decoded)', async () => {
    const { s } = sources({ configMaps: { cm: { url: 'http://x' } }, secrets: { sec: { token: 'sëcret\nline2' } } });
    const env = await containerEnv(
      pod,
      {
        name: 'app',
        env: [
          { name: 'URL', valueFrom: { configMapKeyRef: { name: 'cm', key: 'url' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
          { name: 'BOTH', value: '$(URL)?t=$(TOKEN)' },
        ],
      },
      s,
      ctx,
    );
    expect(env).toEqual([
      { name: 'URL', value: 'http://x' },
      { name: 'TOKEN', value: 'sëcret\nline2' },
      { name: 'BOTH', value: 'http://x?t=sëcret\nline2' },
    ]);
  });

  it('skips optional sources and keys that are missing, leaving the variable unset', async () => {
    const { s } = sources({ configMaps: { cm: { a: '1' } }, secrets: { sec: { a: '1' } } });
    const env = await containerEnv(
      pod,
      {
        name: 'app',
        envFrom: [{ configMapRef: { name: 'gone', optional: true } }, { secretRef: { name: 'gone', optional: true } }],
        env: [
          { name: 'NO_CM', valueFrom: { configMapKeyRef: { name: 'gone', key: 'a', optional: true } } },
          { name: 'NO_CM_KEY', valueFrom: { configMapKeyRef: { name: 'cm', key: 'zz', optional: true } } },
          { name: 'NO_SECRET', valueFrom: { secretKeyRef: { name: 'gone', key: 'a', optional: true } } },
          { name: 'NO_SECRET_KEY', valueFrom: { secretKeyRef: { name: 'sec', key: 'zz', optional: true } } },
          { name: 'REF', value: '$(NO_CM)' },
        ],
      },
      s,
      ctx,
    );
    expect(env).toEqual([{ name: 'REF', value: '$(NO_CM)' }]);
  });

  it.each<[string, ContainerSpec, string]>([
    ['envFrom configMap', { name: 'app', envFrom: [{ configMapRef: { name: 'x' } }] }, 'configmap "x" not found'],
    ['envFrom secret', { name: 'app', envFrom: [{ secretRef: { name: 'x' } }] }, 'secret "x" not found'],
    ['configMapKeyRef object', { name: 'app', env: [{ name: 'V', valueFrom: { configMapKeyRef: { name: 'x', key: 'k' } } }] }, 'configmap "x" not found'],
    ['configMapKeyRef key', { name: 'app', env: [{ name: 'V', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] }, "couldn't find key k in ConfigMap shop/cm"],
    ['secretKeyRef object', { name: 'app', env: [{ name: 'V', valueFrom: { secretKeyRef: { name: 'x', key: 'k' } } }] }, 'secret "x" not found'],
    ['secretKeyRef key', { name: 'app', env: [{ name: 'V', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }] }, "couldn't find key k in Secret shop/sec"],
    ['unsupported field', { name: 'app', env: [{ name: 'V', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } }] }, 'field label not supported: spec.hostname'],
    ['field api version', { name: 'app', env: [{ name: 'V', valueFrom: { fieldRef: { apiVersion: 'v2', fieldPath: 'metadata.name' } } }] }, 'unsupported pod version: v2'],
    ['unsupported resource', { name: 'app', env: [{ name: 'V', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }] }, 'unsupported container resource : limits.gpu'],
    ['unknown container', { name: 'app', env: [{ name: 'V', valueFrom: { resourceFieldRef: { containerName: 'nope', resource: 'limits.cpu' } } }] }, 'container nope not found'],
  ])('fails with the kubelet message: %s', async (_name, c, message) => {
    const { s } = sources({ configMaps: { cm: { a: '1' } }, secrets: { sec: { a: '1' } } });
    const err = await containerEnv(pod, c, s, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvError);
    expect((err as EnvError).message).toBe(message);
    expect((err as EnvError).reason).toBe('CreateContainerConfigError');
  });

  it('turns a failing source lookup into an EnvError', async () => {
    const s: EnvSources = {
      getConfigMap: async () => {
        throw new Error('connection refused');
      },
      getSecret: async () => undefined,
    };
    await expect(containerEnv(pod, { name: 'app', envFrom: [{ configMapRef: { name: 'x' } }] }, s, ctx)).rejects.toMatchObject({ name: 'EnvError', message: 'connection refused' });
  });

  it('resolves downward-API fields', async () => {
    const field = (fieldPath: string) => ({ name: fieldPath.replace(/\W+/g, '_').toUpperCase(), valueFrom: { fieldRef: { fieldPath } } });
    const paths = [
      'metadata.name',
      'metadata.namespace',
      'metadata.uid',
      "metadata.labels['app']",
      "metadata.labels['missing']",
      "metadata.annotations['example.com/owner']",
      'metadata.labels',
      'spec.nodeName',
      'spec.serviceAccountName',
      'status.hostIP',
      'status.hostIPs',
      'status.podIP',
      'status.podIPs',
    ];
    const { s } = sources({});
    const env = await containerEnv(pod, { name: 'app', env: paths.map(field) }, s, { ...ctx, podIPs: ['172.17.0.9', 'fd00::9'], hostIPs: ['10.0.0.5', 'fd00::5'] });
    expect(env.map((e) => e.value)).toEqual([
      'web-1',
      'shop',
      'uid-123',
      'web',
      '',
      'team "a"',
      'app="web"\ntier="front"',
      'node-a',
      'builder',
      '10.0.0.5',
      '10.0.0.5,fd00::5',
      '172.17.0.9',
      '172.17.0.9,fd00::9',
    ]);
    // Without podIPs the single podIP is both; nodeName falls back to the context.
    const bare: KubeObject = { metadata: { name: 'p', namespace: 'ns' }, spec: {} };
    const env2 = await containerEnv(bare, { name: 'app', env: ['status.podIP', 'status.podIPs', 'status.hostIPs', 'spec.nodeName', 'spec.serviceAccountName'].map(field) }, s, ctx);
    expect(env2.map((e) => e.value)).toEqual(['172.17.0.9', '172.17.0.9', '10.0.0.5', 'node-a', '']);
  });

  it('resolves resourceFieldRef with divisors, rounding up, and node allocatable for unset limits', async () => {
    const rf = (name: string, resource: string, divisor?: string, containerName?: string) => ({
      name,
      valueFrom: { resourceFieldRef: { resource, ...(divisor ? { divisor } : {}), ...(containerName ? { containerName } : {}) } },
    });
    const c: ContainerSpec = {
      name: 'app',
      resources: { limits: { cpu: '500m', memory: '128Mi', 'hugepages-2Mi': '4Mi' }, requests: { cpu: '250m', memory: '100M' } },
      env: [
        rf('CPU_LIMIT', 'limits.cpu'), // 0.5 → 1
        rf('CPU_LIMIT_M', 'limits.cpu', '1m'),
        rf('CPU_REQ_M', 'requests.cpu', '1m'),
        rf('CPU_REQ', 'requests.cpu', '1'),
        rf('MEM_LIMIT', 'limits.memory'),
        rf('MEM_LIMIT_MI', 'limits.memory', '1Mi'),
        rf('MEM_REQ_MI', 'requests.memory', '1Mi'), // 100e6 / 2^20 = 95.37 → 96
        rf('MEM_REQ_M', 'requests.memory', '1M'),
        rf('STORAGE_LIMIT_GI', 'limits.ephemeral-storage', '1Gi'), // node allocatable
        rf('STORAGE_REQ', 'requests.ephemeral-storage'), // unset request → 0
        rf('HUGE', 'limits.hugepages-2Mi', '1Mi'),
        rf('SIDE_CPU', 'limits.cpu', '1m', 'side'),
        rf('SIDE_MEM', 'limits.memory', '1Gi', 'side'),
      ],
    };
    const { s } = sources({});
    expect(asObject(await containerEnv(pod, c, s, ctx))).toEqual({
      CPU_LIMIT: '1',
      CPU_LIMIT_M: '500',
      CPU_REQ_M: '250',
      CPU_REQ: '1',
      MEM_LIMIT: String(128 * 1024 * 1024),
      MEM_LIMIT_MI: '128',
      MEM_REQ_MI: '96',
      MEM_REQ_M: '100',
      STORAGE_LIMIT_GI: '100',
      STORAGE_REQ: '0',
      HUGE: '4',
      SIDE_CPU: '2000',
      SIDE_MEM: '1',
    });

    const unlimited: ContainerSpec = { name: 'u', env: [rf('CPU', 'limits.cpu'), rf('CPU_M', 'limits.cpu', '1m'), rf('MEM', 'limits.memory', '1Gi'), rf('REQ', 'requests.cpu', '1m')] };
    expect(asObject(await containerEnv(pod, unlimited, s, ctx))).toEqual({ CPU: '4', CPU_M: '4000', MEM: '8', REQ: '0' });
    // Without a given allocatable, the host's CPUs and memory are used.
    const host = asObject(await containerEnv(pod, unlimited, s, { nodeName: 'n', hostIP: '10.0.0.1' }));
    expect(Number(host['CPU'])).toBeGreaterThan(0);
    expect(Number(host['MEM'])).toBeGreaterThan(0);
  });
});
