/**
 * Strategies of the remaining kinds: coordination Leases, EndpointSlices, networking (Ingress,
 * IngressClass, NetworkPolicy), RBAC, PriorityClass and StorageClass.
 */
import deepEqual from 'fast-deep-equal';
import { findResource, formatLabelSelector, type FieldError, type KubeObject, type ResourceInfo } from '@flotilla/api';
import { AGE_COLUMN, defineStrategy, humanAge, type Strategy } from '../strategy.js';
import { invalidValue, notSupported, required } from '../validation.js';
import { age, at, col } from './core.js';

function res(group: string, version: string, plural: string): ResourceInfo {
  const r = findResource(group, version, plural);
  if (!r) throw new Error(`unknown resource ${group}/${version}/${plural}`);
  return r;
}

function subjectsOf(o: KubeObject, kind: string): string {
  const subs = (at<{ kind: string; name: string; namespace?: string }[]>(o, 'subjects') ?? []).filter((s) => s.kind === kind);
  if (subs.length === 0) return '';
  return subs.map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name)).join(', ');
}

function roleRefImmutable(o: KubeObject, old: KubeObject): FieldError[] {
  return deepEqual(o['roleRef'], old['roleRef']) ? [] : [invalidValue('roleRef', o['roleRef'] ?? {}, 'cannot change roleRef')];
}

function validateRoleRef(o: KubeObject, clusterOnly: boolean): FieldError[] {
  const ref = at<{ kind?: string; name?: string; apiGroup?: string }>(o, 'roleRef');
  const errs: FieldError[] = [];
  if (!ref?.name) errs.push(required('roleRef.name'));
  const kinds = clusterOnly ? ['ClusterRole'] : ['Role', 'ClusterRole'];
  if (!ref?.kind || !kinds.includes(ref.kind)) errs.push(notSupported('roleRef.kind', ref?.kind ?? '', kinds));
  if (ref?.apiGroup !== undefined && ref.apiGroup !== 'rbac.authorization.k8s.io') errs.push(notSupported('roleRef.apiGroup', ref.apiGroup, ['rbac.authorization.k8s.io']));
  return errs;
}

function ingressHosts(o: KubeObject): string {
  const hosts = (at<{ host?: string }[]>(o, 'spec', 'rules') ?? []).map((r) => r.host || '*');
  if (hosts.length === 0) return '*';
  return hosts.length > 4 ? `${hosts.slice(0, 4).join(',')} + ${hosts.length - 4} more...` : hosts.join(',');
}

function ingressAddress(o: KubeObject): string {
  return (at<{ ip?: string; hostname?: string }[]>(o, 'status', 'loadBalancer', 'ingress') ?? []).map((i) => i.ip || i.hostname || '').filter((x) => x).join(',');
}

function endpointSlicePorts(o: KubeObject): string {
  const ports = at<{ port?: number }[]>(o, 'ports');
  if (ports === undefined || ports === null) return '<unset>';
  if (ports.length === 0) return '<unset>';
  return ports.map((p) => String(p.port ?? '')).join(',');
}

function endpointSliceEndpoints(o: KubeObject): string {
  const addrs: string[] = [];
  for (const e of at<{ addresses?: string[] }[]>(o, 'endpoints') ?? []) for (const a of e.addresses ?? []) addrs.push(a);
  if (addrs.length === 0) return '<unset>';
  return addrs.length > 3 ? `${addrs.slice(0, 3).join(',')} + ${addrs.length - 3} more...` : addrs.join(',');
}

/** Strategies of leases, endpoint slices, networking, RBAC, scheduling and storage kinds. */
export function clusterStrategies(def: (group: string, version: string, kind: string) => string): Strategy[] {
  const rbac = (kind: string) => def('rbac.authorization.k8s.io', 'v1', kind);
  const createdAt = { columns: [col('Created At', '', 0, 'date')], cells: (o: KubeObject) => [o.metadata.creationTimestamp] };
  return [
    defineStrategy(res('coordination.k8s.io', 'v1', 'leases'), def('coordination.k8s.io', 'v1', 'Lease'), {
      table: { columns: [col('Holder', 'The holder of the lease.'), AGE_COLUMN], cells: (o, now) => [at(o, 'spec', 'holderIdentity') ?? '', age(o, now)] },
    }),
    defineStrategy(res('discovery.k8s.io', 'v1', 'endpointslices'), def('discovery.k8s.io', 'v1', 'EndpointSlice'), {
      validate: (o) => {
        const t = o['addressType'] as string | undefined;
        return t === undefined ? [required('addressType')] : ['IPv4', 'IPv6', 'FQDN'].includes(t) ? [] : [notSupported('addressType', t, ['FQDN', 'IPv4', 'IPv6'])];
      },
      validateUpdate: (o, old) => (o['addressType'] === old['addressType'] ? [] : [invalidValue('addressType', o['addressType'], 'field is immutable')]),
      table: { columns: [col('AddressType'), col('Ports'), col('Endpoints'), AGE_COLUMN], cells: (o, now) => [o['addressType'] ?? '', endpointSlicePorts(o), endpointSliceEndpoints(o), age(o, now)] },
    }),
    defineStrategy(res('networking.k8s.io', 'v1', 'ingressclasses'), def('networking.k8s.io', 'v1', 'IngressClass'), {
      validate: (o) => (at(o, 'spec', 'controller') ? [] : [required('spec.controller')]),
      validateUpdate: (o, old) => (at(o, 'spec', 'controller') === at(old, 'spec', 'controller') ? [] : [invalidValue('spec.controller', at(o, 'spec', 'controller'), 'field is immutable')]),
      table: {
        columns: [col('Controller'), col('Parameters'), AGE_COLUMN],
        cells: (o, now) => {
          const p = at<{ kind?: string; name?: string; apiGroup?: string }>(o, 'spec', 'parameters');
          return [at(o, 'spec', 'controller') ?? '', p ? `${p.kind ?? ''}.${p.apiGroup ?? ''}/${p.name ?? ''}` : '<none>', age(o, now)];
        },
      },
    }),
    defineStrategy(res('networking.k8s.io', 'v1', 'ingresses'), def('networking.k8s.io', 'v1', 'Ingress'), {
      tracksGeneration: true,
      validate: (o) => {
        const errs: FieldError[] = [];
        (at<{ http?: { paths?: { pathType?: string; path?: string; backend?: unknown }[] } }[]>(o, 'spec', 'rules') ?? []).forEach((r, i) =>
          (r.http?.paths ?? []).forEach((p, j) => {
            const f = `spec.rules[${i}].http.paths[${j}]`;
            if (!p.pathType) errs.push(required(`${f}.pathType`, 'pathType must be specified'));
            else if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(p.pathType)) errs.push(notSupported(`${f}.pathType`, p.pathType, ['Exact', 'ImplementationSpecific', 'Prefix']));
            if (p.path !== undefined && p.pathType !== 'ImplementationSpecific' && !p.path.startsWith('/')) errs.push(invalidValue(`${f}.path`, p.path, 'must be an absolute path'));
            if (!p.backend) errs.push(required(`${f}.backend`));
          }),
        );
        return errs;
      },
      table: {
        columns: [col('Class'), col('Hosts'), col('Address'), col('Ports'), AGE_COLUMN],
        cells: (o, now) => [at(o, 'spec', 'ingressClassName') ?? '<none>', ingressHosts(o), ingressAddress(o), (at<unknown[]>(o, 'spec', 'tls') ?? []).length > 0 ? '80, 443' : '80', age(o, now)],
      },
    }),
    defineStrategy(res('networking.k8s.io', 'v1', 'networkpolicies'), def('networking.k8s.io', 'v1', 'NetworkPolicy'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        const spec = (o['spec'] ?? (o['spec'] = {})) as { policyTypes?: string[]; egress?: unknown[] };
        spec.policyTypes ??= spec.egress && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
      },
      table: {
        columns: [col('Pod-Selector'), AGE_COLUMN],
        cells: (o, now) => {
          const s = formatLabelSelector(at(o, 'spec', 'podSelector') ?? {});
          return [s === '' ? '<none>' : s, age(o, now)];
        },
      },
    }),
    defineStrategy(res('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'), rbac('ClusterRoleBinding'), {
      nameRule: 'path-segment',
      validate: (o) => validateRoleRef(o, true),
      validateUpdate: (o, old) => [...validateRoleRef(o, true), ...roleRefImmutable(o, old)],
      table: {
        columns: [col('Role'), AGE_COLUMN, col('Users', '', 1), col('Groups', '', 1), col('ServiceAccounts', '', 1)],
        cells: (o, now) => [`${at(o, 'roleRef', 'kind') ?? ''}/${at(o, 'roleRef', 'name') ?? ''}`, age(o, now), subjectsOf(o, 'User'), subjectsOf(o, 'Group'), subjectsOf(o, 'ServiceAccount')],
      },
    }),
    defineStrategy(res('rbac.authorization.k8s.io', 'v1', 'clusterroles'), rbac('ClusterRole'), { nameRule: 'path-segment', table: createdAt }),
    defineStrategy(res('rbac.authorization.k8s.io', 'v1', 'rolebindings'), rbac('RoleBinding'), {
      nameRule: 'path-segment',
      validate: (o) => validateRoleRef(o, false),
      validateUpdate: (o, old) => [...validateRoleRef(o, false), ...roleRefImmutable(o, old)],
      table: {
        columns: [col('Role'), AGE_COLUMN, col('Users', '', 1), col('Groups', '', 1), col('ServiceAccounts', '', 1)],
        cells: (o, now) => [`${at(o, 'roleRef', 'kind') ?? ''}/${at(o, 'roleRef', 'name') ?? ''}`, age(o, now), subjectsOf(o, 'User'), subjectsOf(o, 'Group'), subjectsOf(o, 'ServiceAccount')],
      },
    }),
    defineStrategy(res('rbac.authorization.k8s.io', 'v1', 'roles'), rbac('Role'), { nameRule: 'path-segment', table: createdAt }),
    defineStrategy(res('scheduling.k8s.io', 'v1', 'priorityclasses'), def('scheduling.k8s.io', 'v1', 'PriorityClass'), {
      prepareForCreate: (o) => {
        o['preemptionPolicy'] ??= 'PreemptLowerPriority';
      },
      validate: (o) => {
        const v = o['value'];
        if (typeof v !== 'number') return [required('value')];
        if (!(o.metadata.name ?? '').startsWith('system-') && v > 1_000_000_000) return [invalidValue('value', v, 'must be less than or equal to 1000000000 for user-defined priority classes')];
        return [];
      },
      validateUpdate: (o, old) => (o['value'] === old['value'] ? [] : [{ type: 'FieldValueForbidden', field: 'value', message: 'may not be changed in an update.' }]),
      table: {
        columns: [col('Value', '', 0, 'integer'), col('Global-Default', '', 0, 'boolean'), AGE_COLUMN, col('PreemptionPolicy')],
        cells: (o, now) => [o['value'] ?? 0, o['globalDefault'] ?? false, age(o, now), o['preemptionPolicy'] ?? 'PreemptLowerPriority'],
      },
    }),
    defineStrategy(res('storage.k8s.io', 'v1', 'storageclasses'), def('storage.k8s.io', 'v1', 'StorageClass'), {
      prepareForCreate: (o) => {
        o['reclaimPolicy'] ??= 'Delete';
        o['volumeBindingMode'] ??= 'Immediate';
      },
      validate: (o) => (o['provisioner'] ? [] : [required('provisioner')]),
      validateUpdate: (o, old) => {
        const errs: FieldError[] = [];
        for (const f of ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode']) if (!deepEqual(o[f], old[f])) errs.push({ type: 'FieldValueForbidden', field: f, message: 'updates to ' + f + ' are forbidden.' });
        return errs;
      },
      table: {
        columns: [col('Provisioner'), col('ReclaimPolicy'), col('VolumeBindingMode'), col('AllowVolumeExpansion', '', 0, 'boolean'), AGE_COLUMN],
        cells: (o, now) => [o['provisioner'] ?? '', o['reclaimPolicy'] ?? 'Delete', o['volumeBindingMode'] ?? 'Immediate', o['allowVolumeExpansion'] ?? false, humanAge(o.metadata.creationTimestamp, now)],
      },
    }),
  ];
}
