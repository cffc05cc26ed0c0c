/**
 * Kubernetes' ServiceAccount admission for pods being created: the pod runs as a service account
 * (`default` unless it names one), a named account must exist, and unless automounting is switched
 * off (on the pod, else on the account) every container mounts a projected `kube-api-access-XXXXX`
 * volume at /var/run/secrets/kubernetes.io/serviceaccount holding a bound token, the cluster CA
 * (ConfigMap `kube-root-ca.crt`) and the namespace — what in-cluster clients read.
 *
 * One deliberate difference: Kubernetes also rejects a pod whose `default` account does not exist
 * yet (after retrying for about a second while the controller manager creates it). Here such a pod is
 * admitted with the volume, and its node waits for the account before it starts the containers, so
 * an API server running without a controller manager still accepts pods. A pod without
 * imagePullSecrets gets its account's, as in Kubernetes.
 */
import { forbidden, type KubeObject } from '@flotilla/api';
import type { Admission } from './generic-store.js';
import { generateNameSuffix } from './generic-store.js';

/** Where the token, CA and namespace appear in every container. */
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Prefix of the injected volume's name. */
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
/** ConfigMap the root-CA publisher keeps in every namespace. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/** Lifetime the injected token asks for (Kubernetes' 1 h + 7 s, marking a kubelet-requested token). */
export const INJECTED_TOKEN_EXPIRATION_SECONDS = 3607;
/** Marks a pod the node created from a static manifest (mirror pods get no token). */
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface ContainerShape {
  volumeMounts?: VolumeMount[];
}
interface PodSpecView {
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  imagePullSecrets?: { name?: string }[];
  volumes?: { name: string }[];
  containers?: ContainerShape[];
  initContainers?: ContainerShape[];
}
interface ServiceAccountView {
  automountServiceAccountToken?: boolean;
  imagePullSecrets?: { name?: string }[];
}

/** The projected source of the injected volume (Kubernetes' TokenVolumeSource). */
export function tokenVolumeSource(): Record<string, unknown> {
  return {
    defaultMode: 0o644,
    sources: [
      { serviceAccountToken: { expirationSeconds: INJECTED_TOKEN_EXPIRATION_SECONDS, path: 'token' } },
      { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ],
  };
}

/** Adds the token volume and its mount to every container that does not mount something there already. */
function mountToken(spec: PodSpecView): void {
  const existing = (spec.volumes ?? []).find((v) => v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX));
  const volumeName = existing?.name ?? SERVICE_ACCOUNT_VOLUME_PREFIX + generateNameSuffix();
  let needed = false;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH)) continue;
    (c.volumeMounts ??= []).push({ name: volumeName, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH });
    needed = true;
  }
  if (!existing && needed) (spec.volumes ??= []).push({ name: volumeName, projected: tokenVolumeSource() } as { name: string });
}

/** The admission; `serviceAccount(ns, name)` reads an account from the API server's cache. */
export function serviceAccountAdmission(serviceAccount: (namespace: string, name: string) => KubeObject | undefined): Admission {
  return (obj) => {
    if (obj.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined) return;
    const spec = (obj['spec'] ?? (obj['spec'] = {})) as PodSpecView;
    const name = spec.serviceAccountName || spec.serviceAccount || 'default';
    spec.serviceAccountName = name;
    spec.serviceAccount = name;
    const ns = obj.metadata.namespace ?? '';
    const account = serviceAccount(ns, name) as (KubeObject & ServiceAccountView) | undefined;
    if (!account && name !== 'default') {
      throw forbidden({ qualifiedResource: 'pods', name: obj.metadata.name ?? obj.metadata.generateName ?? '' }, `error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`);
    }
    if (!spec.imagePullSecrets?.length && account?.imagePullSecrets?.length) spec.imagePullSecrets = account.imagePullSecrets.map((s) => ({ ...s }));
    if (spec.automountServiceAccountToken ?? account?.automountServiceAccountToken ?? true) mountToken(spec);
  };
}

/** Runs admissions in order. */
export function chainAdmissions(...admissions: Admission[]): Admission {
  return (obj, ctx) => {
    for (const a of admissions) a(obj, ctx);
  };
}
