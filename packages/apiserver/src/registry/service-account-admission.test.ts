import { describe, expect, it } from 'vitest';
import { ApiError, type KubeObject } from '@flotilla/api';
import { SERVICE_ACCOUNT_MOUNT_PATH, serviceAccountAdmission, tokenVolumeSource } from './service-account-admission.js';

const CTX = {} as never;

function pod(spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team', ...(annotations ? { annotations } : {}) }, spec } as KubeObject;
}

function accounts(list: Record<string, Record<string, unknown>>) {
  return (ns: string, name: string) => (list[`${ns}/${name}`] ? ({ metadata: { name, namespace: ns }, ...list[`${ns}/${name}`] } as KubeObject) : undefined);
}

interface Spec {
  serviceAccountName?: string;
  serviceAccount?: string;
  volumes?: { name: string; projected?: unknown }[];
  containers: { name: string; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[];
  initContainers?: { name: string; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[];
  imagePullSecrets?: { name: string }[];
}

describe('service account admission', () => {
  const admit = serviceAccountAdmission(accounts({ 'team/default': {}, 'team/robot': { imagePullSecrets: [{ name: 'regcred' }] }, 'team/quiet': { automountServiceAccountToken: false } }));

  it('runs the pod as default and mounts the token volume in every container, init containers too', () => {
    const p = pod({ initContainers: [{ name: 'init' }], containers: [{ name: 'a' }, { name: 'b', volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes: [{ name: 'data', emptyDir: {} }] });
    admit(p, CTX);
    const spec = p['spec'] as Spec;
    expect(spec.serviceAccountName).toBe('default');
    expect(spec.serviceAccount).toBe('default');
    const vol = spec.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!;
    expect(vol.name).toMatch(/^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(vol.projected).toEqual(tokenVolumeSource());
    expect(spec.volumes).toHaveLength(2);
    for (const c of [...spec.initContainers!, ...spec.containers]) {
      expect(c.volumeMounts).toContainEqual({ name: vol.name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH });
    }
    expect(spec.containers[1]!.volumeMounts![0]).toEqual({ name: 'data', mountPath: '/data' });
  });

  it('the volume holds a token of 3607 s, the root CA and the namespace', () => {
    expect(tokenVolumeSource()).toEqual({
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    });
  });

  it('honours automountServiceAccountToken: the pod wins over the account', () => {
    const off = pod({ automountServiceAccountToken: false, containers: [{ name: 'a' }] });
    admit(off, CTX);
    expect((off['spec'] as Spec).volumes).toBeUndefined();
    const quiet = pod({ serviceAccountName: 'quiet', containers: [{ name: 'a' }] });
    admit(quiet, CTX);
    expect((quiet['spec'] as Spec).volumes).toBeUndefined();
    const forced = pod({ serviceAccountName: 'quiet', automountServiceAccountToken: true, containers: [{ name: 'a' }] });
    admit(forced, CTX);
    expect((forced['spec'] as Spec).volumes).toHaveLength(1);
  });

  it('leaves a container that mounts something at the token path alone, and adds no volume when none needs it', () => {
    const own = pod({ containers: [{ name: 'a', volumeMounts: [{ name: 'mine', mountPath: SERVICE_ACCOUNT_MOUNT_PATH }] }], volumes: [{ name: 'mine', emptyDir: {} }] });
    admit(own, CTX);
    const spec = own['spec'] as Spec;
    expect(spec.volumes).toHaveLength(1);
    expect(spec.containers[0]!.volumeMounts).toHaveLength(1);
  });

  it('reuses a kube-api-access volume the pod already has (a pod copied from another)', () => {
    const copied = pod({ containers: [{ name: 'a' }], volumes: [{ name: 'kube-api-access-abcde', projected: tokenVolumeSource() }] });
    admit(copied, CTX);
    const spec = copied['spec'] as Spec;
    expect(spec.volumes).toHaveLength(1);
    expect(spec.containers[0]!.volumeMounts).toEqual([{ name: 'kube-api-access-abcde', readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }]);
  });

  it('takes the deprecated serviceAccount field and copies the account\'s imagePullSecrets when the pod has none', () => {
    const p = pod({ serviceAccount: 'robot', containers: [{ name: 'a' }] });
    admit(p, CTX);
    const spec = p['spec'] as Spec;
    expect(spec.serviceAccountName).toBe('robot');
    expect(spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    const own = pod({ serviceAccountName: 'robot', imagePullSecrets: [{ name: 'mine' }], containers: [{ name: 'a' }] });
    admit(own, CTX);
    expect((own['spec'] as Spec).imagePullSecrets).toEqual([{ name: 'mine' }]);
  });

  it('rejects a named account that does not exist with Kubernetes\' 403', () => {
    const p = pod({ serviceAccountName: 'ghost', containers: [{ name: 'a' }] });
    let err: unknown;
    try {
      admit(p, CTX);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(403);
    expect((err as ApiError).message).toBe('pods "p" is forbidden: error looking up service account team/ghost: serviceaccount "ghost" not found');
  });

  it('admits a pod of a namespace whose default account is not there yet, with the volume', () => {
    const p = pod({ containers: [{ name: 'a' }] });
    p.metadata.namespace = 'fresh';
    admit(p, CTX);
    expect((p['spec'] as Spec).volumes).toHaveLength(1);
  });

  it('skips mirror pods', () => {
    const p = pod({ containers: [{ name: 'a' }] }, { 'kubernetes.io/config.mirror': 'x' });
    admit(p, CTX);
    expect((p['spec'] as Spec).volumes).toBeUndefined();
  });
});
