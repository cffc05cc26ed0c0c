/**
 * Strategies of the core/v1 kinds other than Pod.
 */
import { isIP } from 'node:net';
import deepEqual from 'fast-deep-equal';
import { findResource, forbidden, formatLabelSelector, type FieldError, type KubeObject, type ResourceInfo } from '@flotilla/api';
import { AGE_COLUMN, defineStrategy, humanAge, type Strategy, type TableColumn } from '../strategy.js';
import { forbiddenField, invalidValue, notSupported, required } from '../validation.js';
import { defaultPodSpec, validatePodSpec, type PodSpecLike } from './pod-spec.js';
import { mayHaveNodePorts, needsClusterIP, needsHealthCheckNodePort } from '../service-allocator.js';
import { containerDefaults, type LimitRangeItem } from '../quota-admission.js';

function core(plural: string): ResourceInfo {
  const r = findResource('', 'v1', plural);
  if (!r) throw new Error(`unknown core resource ${plural}`);
  return r;
}

/** Reads a nested field. */
function at<T = unknown>(obj: unknown, ...path: string[]): T | undefined {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur as T | undefined;
}

function age(obj: KubeObject, now: Date): string {
  return humanAge(obj.metadata.creationTimestamp, now);
}

function col(name: string, description = '', priority = 0, type: TableColumn['type'] = 'string'): TableColumn {
  return { name, type, description, priority };
}

/** Protected namespaces that can never be deleted. */
export const PROTECTED_NAMESPACES: ReadonlySet<string> = new Set(['default', 'kube-system', 'kube-public']);

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const MAX_CONFIG_BYTES = 1024 * 1024;

function validateConfigKeys(obj: KubeObject, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  const seen = new Set<string>();
  for (const f of fields) {
    for (const [k, v] of Object.entries((obj[f] ?? {}) as Record<string, string>)) {
      if (!CONFIG_KEY.test(k) || k.length > 253) errs.push(invalidValue(`${f}`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
      if (seen.has(k)) errs.push(invalidValue(`${f}`, k, 'duplicate of key present in another data field'));
      seen.add(k);
      size += k.length + (typeof v === 'string' ? v.length : 0);
    }
  }
  if (size > MAX_CONFIG_BYTES) errs.push({ type: 'FieldValueTooLong', field: '', message: `must have at most ${MAX_CONFIG_BYTES} bytes` });
  return errs;
}

function immutableData(obj: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old['immutable'] !== true) return [];
  const errs: FieldError[] = [];
  if (obj['immutable'] !== true) errs.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) if (!deepEqual(obj[f] ?? {}, old[f] ?? {})) errs.push(forbiddenField(f, 'field is immutable when `immutable` is set'));
  return errs;
}

function nodeReadyStatus(node: KubeObject): string {
  const conds = at<{ type: string; status: string }[]>(node, 'status', 'conditions') ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  let s = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown';
  if (at<boolean>(node, 'spec', 'unschedulable')) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length) || v);
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = (at<{ type: string; address: string }[]>(node, 'status', 'addresses') ?? []).find((x) => x.type === type);
  return a?.address ?? '<none>';
}

function servicePorts(svc: KubeObject): string {
  const ports = at<{ port: number; nodePort?: number; protocol?: string }[]>(svc, 'spec', 'ports') ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

function serviceExternalIp(svc: KubeObject): string {
  const type = at<string>(svc, 'spec', 'type') ?? 'ClusterIP';
  const external = at<string[]>(svc, 'spec', 'externalIPs') ?? [];
  if (type === 'ExternalName') return at<string>(svc, 'spec', 'externalName') ?? '<none>';
  if (type === 'LoadBalancer') {
    const ing = (at<{ ip?: string; hostname?: string }[]>(svc, 'status', 'loadBalancer', 'ingress') ?? []).map((i) => i.ip || i.hostname || '').filter((x) => x);
    const all = [...ing, ...external];
    return all.length > 0 ? all.join(',') : '<pending>';
  }
  return external.length > 0 ? external.join(',') : '<none>';
}

function mapSelector(sel: Record<string, string> | undefined): string {
  if (!sel || Object.keys(sel).length === 0) return '<none>';
  return Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(',');
}

function endpointsText(ep: KubeObject): string {
  const subsets = at<{ addresses?: { ip: string }[]; ports?: { port: number }[] }[]>(ep, 'subsets') ?? [];
  const out: string[] = [];
  let total = 0;
  for (const s of subsets) {
    for (const a of s.addresses ?? []) {
      const ports = s.ports && s.ports.length > 0 ? s.ports : [undefined];
      for (const p of ports) {
        total++;
        if (out.length < 3) out.push(p ? `${a.ip}:${p.port}` : a.ip);
      }
    }
  }
  if (total === 0) return '<none>';
  return total > 3 ? `${out.join(',')} + ${total - 3} more...` : out.join(',');
}

function accessModes(modes: string[] | undefined): string {
  const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
  return (modes ?? []).map((m) => short[m] ?? m).join(',');
}

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

interface ServicePortSpec {
  name?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
  protocol?: string;
}

interface ServiceSpec {
  type?: string;
  ports?: ServicePortSpec[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  selector?: Record<string, string>;
  sessionAffinity?: string;
  internalTrafficPolicy?: string;
  externalTrafficPolicy?: string;
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  allocateLoadBalancerNodePorts?: boolean;
  healthCheckNodePort?: number;
}

function serviceSpecOf(svc: KubeObject): ServiceSpec {
  return (svc['spec'] ?? (svc['spec'] = {})) as ServiceSpec;
}

/** clusterIP and clusterIPs[0] mirror each other; "" and [] mean "allocate one". */
function normalizeClusterIPs(spec: ServiceSpec): void {
  if (spec.clusterIP === '') delete spec.clusterIP;
  if (spec.clusterIPs !== undefined && spec.clusterIPs.length === 0) delete spec.clusterIPs;
  if (spec.clusterIP === undefined && spec.clusterIPs?.[0]) spec.clusterIP = spec.clusterIPs[0];
  if (spec.clusterIP !== undefined && spec.clusterIPs === undefined) spec.clusterIPs = [spec.clusterIP];
}

/** Defaults every Service write gets. */
function defaultServiceSpec(spec: ServiceSpec): void {
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
  }
  normalizeClusterIPs(spec);
  if (spec.type !== 'ExternalName') {
    spec.internalTrafficPolicy ??= 'Cluster';
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
}

function nodePortSet(svc: KubeObject): number[] {
  const spec = serviceSpecOf(svc);
  return [...new Set((spec.ports ?? []).map((p) => p.nodePort ?? 0).filter((n) => n !== 0))].sort((a, b) => a - b);
}

/**
 * Kubernetes' patchAllocatedValues and dropTypeDependentFields: an update that omits allocated
 * values keeps them (kubectl apply never sends them); a type change that makes them meaningless
 * drops them when the client left them as they were.
 */
function carryServiceAllocations(obj: KubeObject, old: KubeObject): void {
  const spec = serviceSpecOf(obj);
  const oldSpec = serviceSpecOf(structuredClone(old));
  if (needsClusterIP(old) && needsClusterIP(obj)) {
    if (spec.clusterIP === undefined && oldSpec.clusterIP !== undefined) spec.clusterIP = oldSpec.clusterIP;
    if (spec.clusterIPs === undefined && oldSpec.clusterIPs !== undefined) spec.clusterIPs = oldSpec.clusterIPs;
  }
  if (mayHaveNodePorts(old) && mayHaveNodePorts(obj)) {
    // Node ports by port name, unless the new spec already uses that value for another port.
    const used = new Set(nodePortSet(obj));
    const byName = new Map((oldSpec.ports ?? []).map((p) => [p.name ?? '', p.nodePort ?? 0]));
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      const n = byName.get(p.name ?? '');
      if (n && !used.has(n)) p.nodePort = n;
    }
  }
  if (needsHealthCheckNodePort(old) && needsHealthCheckNodePort(obj)) spec.healthCheckNodePort ??= oldSpec.healthCheckNodePort;
  if (needsClusterIP(old) && !needsClusterIP(obj)) {
    if (spec.clusterIP === oldSpec.clusterIP && deepEqual(spec.clusterIPs, oldSpec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (deepEqual(spec.ipFamilies, oldSpec.ipFamilies)) delete spec.ipFamilies;
    if (spec.ipFamilyPolicy === oldSpec.ipFamilyPolicy) delete spec.ipFamilyPolicy;
    if (spec.internalTrafficPolicy === oldSpec.internalTrafficPolicy) delete spec.internalTrafficPolicy;
  }
  if (mayHaveNodePorts(old) && !mayHaveNodePorts(obj) && deepEqual(nodePortSet(obj), nodePortSet(old))) {
    for (const p of spec.ports ?? []) delete p.nodePort;
    if (spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  }
  if (needsHealthCheckNodePort(old) && !needsHealthCheckNodePort(obj) && spec.healthCheckNodePort === oldSpec.healthCheckNodePort) delete spec.healthCheckNodePort;
  if (oldSpec.type === 'LoadBalancer' && spec.type !== 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === oldSpec.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
}

function validateService(svc: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (svc['spec'] ?? {}) as ServiceSpec;
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', type, SERVICE_TYPES));
  if (type === 'ExternalName' && !spec.externalName) errs.push(required('spec.externalName'));
  const ports = spec.ports ?? [];
  if (ports.length === 0 && type !== 'ExternalName' && spec.clusterIP !== 'None') errs.push(required('spec.ports'));
  const names = new Set<string>();
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const f = `spec.ports[${i}]`;
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535) errs.push(invalidValue(`${f}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    if (ports.length > 1 && !p.name) errs.push(required(`${f}.name`));
    if (p.name) {
      if (names.has(p.name)) errs.push({ type: 'FieldValueDuplicate', field: `${f}.name`, message: JSON.stringify(p.name) });
      names.add(p.name);
    }
    if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol)) errs.push(notSupported(`${f}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) errs.push(invalidValue(`${f}.targetPort`, p.targetPort, 'must be between 1 and 65535, inclusive'));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') errs.push(forbiddenField(`${f}.nodePort`, `may not be used when \`type\` is '${type}'`));
      else if (p.nodePort < 1 || p.nodePort > 65535) errs.push(invalidValue(`${f}.nodePort`, p.nodePort, 'must be between 1 and 65535, inclusive'));
      const key = `${p.protocol ?? 'TCP'}/${p.nodePort}`;
      if (nodePorts.has(key)) errs.push({ type: 'FieldValueDuplicate', field: `${f}.nodePort`, message: String(p.nodePort) });
      nodePorts.add(key);
    }
  });
  const ip = spec.clusterIP;
  if (type === 'ExternalName') {
    if (ip) errs.push(forbiddenField('spec.clusterIP', 'may not be set for ExternalName services'));
  } else if (ip !== undefined && ip !== '') {
    if (ip === 'None') {
      if (type === 'NodePort' || type === 'LoadBalancer') errs.push(invalidValue('spec.clusterIP', ip, `may not be set to 'None' for ${type} services`));
    } else if (isIP(ip) === 0) {
      errs.push(invalidValue('spec.clusterIP', ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  }
  const ips = spec.clusterIPs ?? [];
  if (ips.length > 0 && ips[0] !== (ip ?? '')) errs.push(invalidValue('spec.clusterIPs[0]', ips[0], 'must match `clusterIP`'));
  if (ips.length > 1) errs.push(invalidValue('spec.clusterIPs', ips, 'this cluster is not configured for dual-stack services'));
  if (spec.healthCheckNodePort !== undefined && spec.healthCheckNodePort !== 0) {
    if (type !== 'LoadBalancer' || spec.externalTrafficPolicy !== 'Local') errs.push(invalidValue('spec.healthCheckNodePort', spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    else if (spec.healthCheckNodePort < 1 || spec.healthCheckNodePort > 65535) errs.push(invalidValue('spec.healthCheckNodePort', spec.healthCheckNodePort, 'must be between 1 and 65535, inclusive'));
  }
  return errs;
}

/** The core/v1 strategies (except pods), by plural. */
export function coreStrategies(def: (kind: string) => string): Strategy[] {
  return [
    defineStrategy(core('configmaps'), def('ConfigMap'), {
      validate: (o) => validateConfigKeys(o, ['data', 'binaryData']),
      validateUpdate: (o, old) => [...validateConfigKeys(o, ['data', 'binaryData']), ...immutableData(o, old, ['data', 'binaryData'])],
      table: { columns: [col('Data', 'Number of data entries'), AGE_COLUMN], cells: (o, now) => [Object.keys((o['data'] ?? {}) as object).length + Object.keys((o['binaryData'] ?? {}) as object).length, age(o, now)] },
    }),
    defineStrategy(core('secrets'), def('Secret'), {
      selectableFields: { type: (o) => (o['type'] as string | undefined) ?? 'Opaque' },
      prepareForCreate: (o) => {
        o['type'] ??= 'Opaque';
        mergeStringData(o);
      },
      prepareForUpdate: (o) => {
        o['type'] ??= 'Opaque';
        mergeStringData(o);
      },
      validate: (o) => validateConfigKeys(o, ['data']),
      validateUpdate: (o, old) => {
        const errs = [...validateConfigKeys(o, ['data']), ...immutableData(o, old, ['data'])];
        if ((o['type'] ?? 'Opaque') !== (old['type'] ?? 'Opaque')) errs.push(invalidValue('type', o['type'], 'field is immutable'));
        return errs;
      },
      table: { columns: [col('Type'), col('Data'), AGE_COLUMN], cells: (o, now) => [o['type'] ?? 'Opaque', Object.keys((o['data'] ?? {}) as object).length, age(o, now)] },
    }),
    defineStrategy(core('endpoints'), def('Endpoints'), {
      table: { columns: [col('Endpoints'), AGE_COLUMN], cells: (o, now) => [endpointsText(o), age(o, now)] },
    }),
    defineStrategy(core('events'), def('Event'), {
      nameRule: 'subdomain',
      selectableFields: {
        'involvedObject.kind': (o) => at(o, 'involvedObject', 'kind'),
        'involvedObject.namespace': (o) => at(o, 'involvedObject', 'namespace'),
        'involvedObject.name': (o) => at(o, 'involvedObject', 'name'),
        'involvedObject.uid': (o) => at(o, 'involvedObject', 'uid'),
        'involvedObject.apiVersion': (o) => at(o, 'involvedObject', 'apiVersion'),
        'involvedObject.resourceVersion': (o) => at(o, 'involvedObject', 'resourceVersion'),
        'involvedObject.fieldPath': (o) => at(o, 'involvedObject', 'fieldPath'),
        reason: (o) => o['reason'] as string | undefined,
        reportingComponent: (o) => o['reportingComponent'] as string | undefined,
        source: (o) => at(o, 'source', 'component'),
        type: (o) => o['type'] as string | undefined,
      },
      validate: (o) => {
        const errs: FieldError[] = [];
        const ns = at<string>(o, 'involvedObject', 'namespace');
        if (ns && ns !== o.metadata.namespace) errs.push(invalidValue('involvedObject.namespace', ns, 'does not match event.namespace'));
        return errs;
      },
      table: {
        columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Subobject', '', 1), col('Source', '', 1), col('Message'), col('First Seen', '', 1), col('Count', '', 1, 'integer'), col('Name', '', 1)],
        cells: (o, now) => {
          const last = (o['lastTimestamp'] as string | undefined) ?? (o['eventTime'] as string | undefined) ?? o.metadata.creationTimestamp;
          const first = (o['firstTimestamp'] as string | undefined) ?? (o['eventTime'] as string | undefined) ?? o.metadata.creationTimestamp;
          const io = (o['involvedObject'] ?? {}) as { kind?: string; name?: string; fieldPath?: string };
          return [humanAge(last, now), o['type'] ?? '', o['reason'] ?? '', `${(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`, io.fieldPath ?? '', `${at(o, 'source', 'component') ?? ''}`, o['message'] ?? '', humanAge(first, now), (o['count'] as number | undefined) ?? 1, o.metadata.name];
        },
      },
    }),
    defineStrategy(core('limitranges'), def('LimitRange'), {
      prepareForCreate: defaultLimitRange,
      prepareForUpdate: defaultLimitRange,
      table: { columns: [col('Created At', '', 0, 'date')], cells: (o) => [o.metadata.creationTimestamp] },
    }),
    defineStrategy(core('namespaces'), def('Namespace'), {
      nameRule: 'label',
      selectableFields: { 'status.phase': (o) => at(o, 'status', 'phase') },
      prepareForCreate: (o) => {
        o['status'] = { phase: 'Active' };
        const spec = (o['spec'] ?? (o['spec'] = {})) as { finalizers?: string[] };
        if (!spec.finalizers || !spec.finalizers.includes('kubernetes')) spec.finalizers = [...new Set([...(spec.finalizers ?? []), 'kubernetes'])];
        o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name ?? '' };
      },
      prepareForUpdate: (o, old) => {
        // spec.finalizers change only through the finalize subresource.
        o['spec'] = { ...((o['spec'] ?? {}) as object), finalizers: at<string[]>(old, 'spec', 'finalizers') ?? [] };
        o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name ?? '' };
      },
      prepareForDelete: (o) => {
        if (PROTECTED_NAMESPACES.has(o.metadata.name ?? '')) throw forbidden({ qualifiedResource: 'namespaces', name: o.metadata.name ?? '' }, 'this namespace may not be deleted');
        o['status'] = { ...((o['status'] ?? {}) as object), phase: 'Terminating' };
        return (at<string[]>(o, 'spec', 'finalizers') ?? []).length > 0;
      },
      isFinalized: (o) => (at<string[]>(o, 'spec', 'finalizers') ?? []).length === 0,
      table: { columns: [col('Status', 'The status of the namespace'), AGE_COLUMN], cells: (o, now) => [at(o, 'status', 'phase') ?? '', age(o, now)] },
    }),
    defineStrategy(core('nodes'), def('Node'), {
      selectableFields: { 'spec.unschedulable': (o) => String(at<boolean>(o, 'spec', 'unschedulable') ?? false) },
      // Nodes register with their status (the agent reports capacity at creation).
      prepareForCreate: () => {},
      validateUpdate: (o, old) => {
        const errs: FieldError[] = [];
        const oldCidr = at<string>(old, 'spec', 'podCIDR');
        if (oldCidr && at<string>(o, 'spec', 'podCIDR') !== oldCidr) errs.push(forbiddenField('spec.podCIDR', 'node updates may not change podCIDR except from "" to valid'));
        return errs;
      },
      table: {
        columns: [col('Status', 'The status of the node'), col('Roles', 'The roles of the node'), AGE_COLUMN, col('Version', 'Kubelet Version reported by the node.'), col('Internal-IP', '', 1), col('External-IP', '', 1), col('OS-Image', '', 1), col('Kernel-Version', '', 1), col('Container-Runtime', '', 1)],
        cells: (o, now) => [
          nodeReadyStatus(o),
          nodeRoles(o),
          age(o, now),
          at(o, 'status', 'nodeInfo', 'kubeletVersion') ?? '',
          nodeAddress(o, 'InternalIP'),
          nodeAddress(o, 'ExternalIP'),
          at(o, 'status', 'nodeInfo', 'osImage') ?? '<unknown>',
          at(o, 'status', 'nodeInfo', 'kernelVersion') ?? '<unknown>',
          at(o, 'status', 'nodeInfo', 'containerRuntimeVersion') ?? '<unknown>',
        ],
      },
    }),
    defineStrategy(core('persistentvolumeclaims'), def('PersistentVolumeClaim'), {
      prepareForCreate: (o) => {
        o['status'] = { phase: 'Pending' };
      },
      validate: (o) => {
        const errs: FieldError[] = [];
        if ((at<string[]>(o, 'spec', 'accessModes') ?? []).length === 0) errs.push(required('spec.accessModes'));
        if (!at(o, 'spec', 'resources', 'requests', 'storage') && !at(o, 'spec', 'dataSource')) errs.push(required('spec.resources[storage]'));
        return errs;
      },
      table: {
        columns: [col('Status'), col('Volume'), col('Capacity'), col('Access Modes'), col('StorageClass'), col('VolumeAttributesClass', '', 0), AGE_COLUMN, col('VolumeMode', '', 1)],
        cells: (o, now) => [at(o, 'status', 'phase') ?? '', at(o, 'spec', 'volumeName') ?? '', at(o, 'status', 'capacity', 'storage') ?? '', accessModes(at(o, 'status', 'accessModes')), at(o, 'spec', 'storageClassName') ?? '', '<unset>', age(o, now), at(o, 'spec', 'volumeMode') ?? 'Filesystem'],
      },
    }),
    defineStrategy(core('persistentvolumes'), def('PersistentVolume'), {
      prepareForCreate: (o) => {
        o['status'] = { phase: 'Pending' };
      },
      table: {
        columns: [col('Capacity'), col('Access Modes'), col('Reclaim Policy'), col('Status'), col('Claim'), col('StorageClass'), col('VolumeAttributesClass'), col('Reason'), AGE_COLUMN, col('VolumeMode', '', 1)],
        cells: (o, now) => {
          const claim = at<{ namespace?: string; name?: string }>(o, 'spec', 'claimRef');
          return [at(o, 'spec', 'capacity', 'storage') ?? '', accessModes(at(o, 'spec', 'accessModes')), at(o, 'spec', 'persistentVolumeReclaimPolicy') ?? '', at(o, 'status', 'phase') ?? '', claim ? `${claim.namespace ?? ''}/${claim.name ?? ''}` : '', at(o, 'spec', 'storageClassName') ?? '', '<unset>', at(o, 'status', 'reason') ?? '', age(o, now), at(o, 'spec', 'volumeMode') ?? 'Filesystem'];
        },
      },
    }),
    defineStrategy(core('replicationcontrollers'), def('ReplicationController'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        const spec = (o['spec'] ?? (o['spec'] = {})) as { replicas?: number; selector?: Record<string, string>; template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpecLike } };
        spec.replicas ??= 1;
        if (!spec.selector && spec.template?.metadata?.labels) spec.selector = { ...spec.template.metadata.labels };
        if (spec.template?.spec) defaultPodSpec(spec.template.spec, false);
      },
      validate: (o) => validatePodSpec(at<PodSpecLike>(o, 'spec', 'template', 'spec'), 'spec.template.spec'),
      table: {
        columns: [col('Desired'), col('Current'), col('Ready'), AGE_COLUMN, col('Containers', '', 1), col('Images', '', 1), col('Selector', '', 1)],
        cells: (o, now) => [at(o, 'spec', 'replicas') ?? 0, at(o, 'status', 'replicas') ?? 0, at(o, 'status', 'readyReplicas') ?? 0, age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec')), mapSelector(at(o, 'spec', 'selector'))],
      },
    }),
    defineStrategy(core('resourcequotas'), def('ResourceQuota'), {
      table: {
        columns: [AGE_COLUMN, col('Request'), col('Limit')],
        cells: (o, now) => {
          const hard = at<Record<string, string>>(o, 'status', 'hard') ?? at<Record<string, string>>(o, 'spec', 'hard') ?? {};
          const used = at<Record<string, string>>(o, 'status', 'used') ?? {};
          const fmt = (keys: string[]) => keys.map((k) => `${k}: ${used[k] ?? '0'}/${hard[k]}`).join(', ');
          const keys = Object.keys(hard).sort();
          return [age(o, now), fmt(keys.filter((k) => !k.startsWith('limits.'))), fmt(keys.filter((k) => k.startsWith('limits.')))];
        },
      },
    }),
    defineStrategy(core('serviceaccounts'), def('ServiceAccount'), {
      table: { columns: [col('Secrets'), AGE_COLUMN], cells: (o, now) => [(at<unknown[]>(o, 'secrets') ?? []).length, age(o, now)] },
    }),
    defineStrategy(core('services'), def('Service'), {
      nameRule: 'dns1035',
      prepareForCreate: (o) => {
        o['status'] = { loadBalancer: {} };
        defaultServiceSpec(serviceSpecOf(o));
      },
      prepareForUpdate: (o, old) => {
        const spec = serviceSpecOf(o);
        spec.type ??= 'ClusterIP';
        normalizeClusterIPs(spec);
        carryServiceAllocations(o, old);
        defaultServiceSpec(spec);
      },
      validate: validateService,
      validateUpdate: (o, old) => {
        const errs = validateService(o);
        const a = at<string>(o, 'spec', 'clusterIP');
        const b = at<string>(old, 'spec', 'clusterIP');
        // ClusterIP is immutable (an old Service without one may get one).
        if (b && needsClusterIP(o) && needsClusterIP(old) && a !== b) errs.push(invalidValue('spec.clusterIP', a ?? '', 'field is immutable'));
        return errs;
      },
      table: {
        columns: [col('Type', 'The type of the service'), col('Cluster-IP', 'The cluster IP of the service'), col('External-IP', 'The external IPs of the service'), col('Port(s)', 'The ports of the service'), AGE_COLUMN, col('Selector', 'The selector of the service', 1)],
        cells: (o, now) => [at(o, 'spec', 'type') ?? 'ClusterIP', at(o, 'spec', 'clusterIP') || '<none>', serviceExternalIp(o), servicePorts(o), age(o, now), mapSelector(at(o, 'spec', 'selector'))],
      },
    }),
  ];
}

function mergeStringData(o: KubeObject): void {
  const sd = o['stringData'] as Record<string, string> | undefined;
  if (!sd) return;
  const data = (o['data'] ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  o['data'] = data;
  delete o['stringData'];
}

/** The Containers and Images cells of workload tables. */
export function containersAndImages(spec: PodSpecLike | undefined): [string, string] {
  const cs = spec?.containers ?? [];
  return [cs.map((c) => c.name ?? '').join(','), cs.map((c) => c.image ?? '').join(',')];
}

/** The Selector cell of workload tables. */
export function selectorCell(o: KubeObject): string {
  const sel = at<Parameters<typeof formatLabelSelector>[0]>(o, 'spec', 'selector');
  const s = formatLabelSelector(sel ?? undefined);
  return s === '' ? '<none>' : s;
}

export { at, age, col };

/** Kubernetes' LimitRange defaulting of Container items ({@link containerDefaults}). */
function defaultLimitRange(o: KubeObject): void {
  const items = ((o['spec'] ?? {}) as { limits?: LimitRangeItem[] }).limits ?? [];
  for (const item of items) {
    if (item.type !== 'Container') continue;
    const { limits, requests } = containerDefaults(item);
    if (Object.keys(limits).length > 0) item.default = limits;
    if (Object.keys(requests).length > 0) item.defaultRequest = requests;
  }
}
