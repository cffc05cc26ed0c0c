/**
 * Pod spec defaults and validation, shared by Pods and every pod template (Deployments,
 * ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers).
 */
import { parseQuantity, type FieldError } from '@flotilla/api';
import { checkName, duplicate, invalidValue, notSupported, required } from '../validation.js';

/** The loose pod spec shape the validators read. */
export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
  volumes?: { name?: string; [k: string]: unknown }[];
  restartPolicy?: string;
  dnsPolicy?: string;
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  hostNetwork?: boolean;
  nodeName?: string;
  serviceAccountName?: string;
  serviceAccount?: string;
  priority?: number;
  priorityClassName?: string;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string; tolerationSeconds?: number }[];
  hostname?: string;
  subdomain?: string;
  schedulingGates?: { name: string }[];
  [k: string]: unknown;
}

/** The loose container shape the validators read. */
export interface ContainerLike {
  name?: string;
  image?: string;
  imagePullPolicy?: string;
  ports?: { name?: string; containerPort?: number; hostPort?: number; protocol?: string }[];
  env?: { name?: string; value?: string; valueFrom?: Record<string, unknown> }[];
  volumeMounts?: { name?: string; mountPath?: string }[];
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  livenessProbe?: ProbeLike;
  readinessProbe?: ProbeLike;
  startupProbe?: ProbeLike;
  restartPolicy?: string;
  [k: string]: unknown;
}

interface ProbeLike {
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  exec?: unknown;
  httpGet?: { port?: number | string; scheme?: string; path?: string };
  tcpSocket?: { port?: number | string };
  grpc?: { port?: number };
  [k: string]: unknown;
}

/** `IfNotPresent`, or `Always` for `:latest` and untagged images, as Kubernetes defaults it. */
export function defaultImagePullPolicy(image: string | undefined): string {
  if (!image) return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  if (colon < 0) return 'Always';
  return image.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(p: ProbeLike | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.scheme ??= 'HTTP';
    p.httpGet.path ??= '/';
  }
}

/** tolerationSeconds of the not-ready/unreachable tolerations every pod gets (DefaultTolerationSeconds admission). */
export interface DefaultTolerationSeconds {
  /** `--default-not-ready-toleration-seconds` (default 300). */
  notReady: number;
  /** `--default-unreachable-toleration-seconds` (default 300). */
  unreachable: number;
}

/** Kubernetes' defaults: five minutes each. */
export const DEFAULT_TOLERATION_SECONDS: Readonly<DefaultTolerationSeconds> = { notReady: 300, unreachable: 300 };

/** Container defaults (an ephemeral container gets no `resources`, which it may not set). */
export function defaultContainer(c: ContainerLike, ephemeral: boolean): void {
  c.imagePullPolicy ??= defaultImagePullPolicy(c.image);
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  if (!ephemeral) c.resources ??= {};
}

/**
 * Applies the defaults Kubernetes sets on pod specs and templates (those that depend on other
 * fields); with `forPod`, also what admission adds to real pods (service account, priority,
 * the not-ready/unreachable tolerations with `tolerationSeconds`).
 */
export function defaultPodSpec(spec: PodSpecLike, forPod: boolean, tolerationSeconds: Readonly<DefaultTolerationSeconds> = DEFAULT_TOLERATION_SECONDS): void {
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) defaultContainer(c, false);
  for (const c of spec.ephemeralContainers ?? []) defaultContainer(c, true);
  if (spec.hostNetwork) {
    for (const c of spec.containers ?? []) for (const p of c.ports ?? []) p.hostPort ??= p.containerPort;
  }
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec['schedulerName'] ??= 'default-scheduler';
  spec['securityContext'] ??= {};
  spec['enableServiceLinks'] ??= true;
  if (spec.serviceAccount && !spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount;
  if (!forPod) return;
  spec.serviceAccountName ??= 'default';
  spec.serviceAccount = spec.serviceAccountName;
  spec['preemptionPolicy'] ??= 'PreemptLowerPriority';
  spec.priority ??= 0;
  spec.tolerations ??= [];
  // The taint-based eviction defaults every pod gets (DefaultTolerationSeconds admission).
  const defaults: [string, number][] = [
    ['node.kubernetes.io/not-ready', tolerationSeconds.notReady],
    ['node.kubernetes.io/unreachable', tolerationSeconds.unreachable],
  ];
  for (const [key, seconds] of defaults) {
    if (!spec.tolerations.some((t) => (t.key === key || (t.key === undefined && t.operator === 'Exists')) && (t.effect === 'NoExecute' || t.effect === undefined))) {
      spec.tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
    }
  }
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validatePort(n: unknown, field: string, errs: FieldError[], allowZero = false): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    errs.push(invalidValue(field, n, 'must be between 1 and 65535, inclusive'));
  }
}

function validateProbe(p: ProbeLike | undefined, field: string, errs: FieldError[]): void {
  if (!p) return;
  const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h] !== undefined);
  if (handlers.length === 0) errs.push(required(field, 'must specify a handler type'));
  if (handlers.length > 1) errs.push({ type: 'FieldValueForbidden', field: `${field}.${handlers[1]}`, message: 'may not specify more than 1 handler type' });
  for (const k of ['timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    const v = p[k];
    if (v !== undefined && v < 1) errs.push(invalidValue(`${field}.${k}`, v, 'must be greater than or equal to 1'));
  }
  if (typeof p.httpGet?.port === 'number') validatePort(p.httpGet.port, `${field}.httpGet.port`, errs);
  if (typeof p.tcpSocket?.port === 'number') validatePort(p.tcpSocket.port, `${field}.tcpSocket.port`, errs);
}

function validateResources(r: ContainerLike['resources'], field: string, errs: FieldError[]): void {
  if (!r) return;
  const parsed: Record<'limits' | 'requests', Record<string, bigint>> = { limits: {}, requests: {} };
  for (const kind of ['limits', 'requests'] as const) {
    for (const [name, v] of Object.entries(r[kind] ?? {})) {
      try {
        const q = parseQuantity(v);
        if (q.sign() < 0) errs.push(invalidValue(`${field}.${kind}[${name}]`, String(v), 'must be greater than or equal to 0'));
        parsed[kind][name] = q.toMilli();
      } catch {
        errs.push(invalidValue(`${field}.${kind}[${name}]`, String(v), 'quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\''));
      }
    }
  }
  for (const [name, req] of Object.entries(parsed.requests)) {
    const lim = parsed.limits[name];
    if (lim !== undefined && req > lim) errs.push(invalidValue(`${field}.requests`, String(r.requests?.[name]), `must be less than or equal to ${name} limit of ${String(r.limits?.[name])}`));
  }
}

function validateContainers(list: ContainerLike[] | undefined, field: string, volumes: Set<string>, names: Set<string>, errs: FieldError[], init: boolean): void {
  (list ?? []).forEach((c, i) => {
    const f = `${field}[${i}]`;
    if (!c.name) errs.push(required(`${f}.name`));
    else {
      for (const m of checkName(c.name, 'label')) errs.push(invalidValue(`${f}.name`, c.name, m));
      if (names.has(c.name)) errs.push(duplicate(`${f}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image || String(c.image).trim() === '') errs.push(required(`${f}.image`));
    if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy)) errs.push(notSupported(`${f}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
    const portNames = new Set<string>();
    (c.ports ?? []).forEach((p, j) => {
      const pf = `${f}.ports[${j}]`;
      validatePort(p.containerPort, `${pf}.containerPort`, errs);
      if (p.hostPort !== undefined && p.hostPort !== 0) validatePort(p.hostPort, `${pf}.hostPort`, errs);
      if (p.protocol !== undefined && !PROTOCOLS.includes(p.protocol)) errs.push(notSupported(`${pf}.protocol`, p.protocol, PROTOCOLS));
      if (p.name !== undefined && p.name !== '') {
        if (p.name.length > 15 || !PORT_NAME.test(p.name) || !/[a-z]/.test(p.name) || p.name.includes('--')) {
          errs.push(invalidValue(`${pf}.name`, p.name, 'must be no more than 15 characters, contain only lowercase alphanumerics and \'-\', contain at least one letter, and not start or end with \'-\''));
        }
        if (portNames.has(p.name)) errs.push(duplicate(`${pf}.name`, p.name));
        portNames.add(p.name);
      }
    });
    (c.env ?? []).forEach((e, j) => {
      if (!e.name) errs.push(required(`${f}.env[${j}].name`));
      else if (!ENV_NAME.test(e.name)) errs.push(invalidValue(`${f}.env[${j}].name`, e.name, "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"));
      if (e.value !== undefined && e.value !== '' && e.valueFrom !== undefined) errs.push(invalidValue(`${f}.env[${j}].valueFrom`, '', 'may not be specified when `value` is not empty'));
    });
    const mountPaths = new Set<string>();
    (c.volumeMounts ?? []).forEach((m, j) => {
      if (!m.name) errs.push(required(`${f}.volumeMounts[${j}].name`));
      else if (!volumes.has(m.name)) errs.push({ type: 'FieldValueNotFound', field: `${f}.volumeMounts[${j}].name`, message: JSON.stringify(m.name) });
      if (!m.mountPath) errs.push(required(`${f}.volumeMounts[${j}].mountPath`));
      else {
        if (mountPaths.has(m.mountPath)) errs.push(invalidValue(`${f}.volumeMounts[${j}].mountPath`, m.mountPath, 'must be unique'));
        mountPaths.add(m.mountPath);
      }
    });
    validateResources(c.resources, `${f}.resources`, errs);
    validateProbe(c.livenessProbe, `${f}.livenessProbe`, errs);
    validateProbe(c.readinessProbe, `${f}.readinessProbe`, errs);
    validateProbe(c.startupProbe, `${f}.startupProbe`, errs);
    if (init && c.readinessProbe && c.restartPolicy !== 'Always') errs.push({ type: 'FieldValueForbidden', field: `${f}.readinessProbe`, message: 'may not be set for init containers without restartPolicy=Always' });
  });
}

/** Container fields an ephemeral container may not set (Kubernetes' allow list, inverted). */
const NOT_FOR_EPHEMERAL = ['ports', 'resources', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'resizePolicy', 'restartPolicy'];

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.values(v as object).every(isZero);
}

/**
 * Ephemeral containers (Kubernetes' validateEphemeralContainers): the common container rules, a
 * name unique among all the pod's containers, a target that is an ordinary or init container, no
 * ports, probes, lifecycle, resources or restart policy, and no subPath mounts.
 */
function validateEphemeralContainers(list: ContainerLike[] | undefined, field: string, volumes: Set<string>, others: Set<string>, errs: FieldError[]): void {
  const targets = new Set(others);
  validateContainers(list, field, volumes, others, errs, false);
  (list ?? []).forEach((c, i) => {
    const f = `${field}[${i}]`;
    const target = c['targetContainerName'] as string | undefined;
    if (target && !targets.has(target)) errs.push({ type: 'FieldValueNotFound', field: `${f}.targetContainerName`, message: JSON.stringify(target) });
    for (const k of NOT_FOR_EPHEMERAL) if (!isZero(c[k])) errs.push({ type: 'FieldValueForbidden', field: `${f}.${k}`, message: 'cannot be set for an Ephemeral Container' });
    (c.volumeMounts ?? []).forEach((m, j) => {
      for (const k of ['subPath', 'subPathExpr']) if ((m as Record<string, unknown>)[k]) errs.push({ type: 'FieldValueForbidden', field: `${f}.volumeMounts[${j}].${k}`, message: 'cannot be set for an Ephemeral Container' });
    });
  });
}

/** Validates a pod spec at `field` (`spec`, `spec.template.spec`). */
export function validatePodSpec(spec: PodSpecLike | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [required(field)];
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => {
    const f = `${field}.volumes[${i}]`;
    if (!v.name) errs.push(required(`${f}.name`));
    else {
      for (const m of checkName(v.name, 'label')) errs.push(invalidValue(`${f}.name`, v.name, m));
      if (volumes.has(v.name)) errs.push(duplicate(`${f}.name`, v.name));
      volumes.add(v.name);
    }
    const sources = Object.keys(v).filter((k) => k !== 'name');
    if (sources.length === 0) errs.push(required(f, 'must specify a volume type'));
    else if (sources.length > 1) errs.push({ type: 'FieldValueForbidden', field: `${f}.${sources[1]}`, message: 'may not specify more than 1 volume type' });
  });
  if (!spec.containers || spec.containers.length === 0) errs.push(required(`${field}.containers`));
  const names = new Set<string>();
  validateContainers(spec.initContainers, `${field}.initContainers`, volumes, names, errs, true);
  validateContainers(spec.containers, `${field}.containers`, volumes, names, errs, false);
  validateEphemeralContainers(spec.ephemeralContainers, `${field}.ephemeralContainers`, volumes, new Set(names), errs);
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(spec.restartPolicy)) errs.push(notSupported(`${field}.restartPolicy`, spec.restartPolicy, RESTART_POLICIES));
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(spec.dnsPolicy)) errs.push(notSupported(`${field}.dnsPolicy`, spec.dnsPolicy, DNS_POLICIES));
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) errs.push(invalidValue(`${field}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds < 1) errs.push(invalidValue(`${field}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  if (spec.nodeName) for (const m of checkName(spec.nodeName, 'subdomain')) errs.push(invalidValue(`${field}.nodeName`, spec.nodeName, m));
  if (spec.hostname) for (const m of checkName(spec.hostname, 'label')) errs.push(invalidValue(`${field}.hostname`, spec.hostname, m));
  if (spec.subdomain) for (const m of checkName(spec.subdomain, 'label')) errs.push(invalidValue(`${field}.subdomain`, spec.subdomain, m));
  if (spec.hostNetwork) {
    (spec.containers ?? []).forEach((c, i) =>
      (c.ports ?? []).forEach((p, j) => {
        if (p.hostPort !== undefined && p.hostPort !== p.containerPort) errs.push(invalidValue(`${field}.containers[${i}].ports[${j}].containerPort`, p.containerPort, '`hostPort` must match `containerPort` when `hostNetwork` is true'));
      }),
    );
  }
  const tolerationOps = ['Exists', 'Equal'];
  (spec.tolerations ?? []).forEach((t, i) => {
    const f = `${field}.tolerations[${i}]`;
    if (t.operator !== undefined && !tolerationOps.includes(t.operator)) errs.push(notSupported(`${f}.operator`, t.operator, tolerationOps));
    if (t.operator === 'Exists' && t.value) errs.push(invalidValue(`${f}.operator`, t.operator, 'value must be empty when `operator` is \'Exists\''));
    if (!t.key && t.operator !== 'Exists') errs.push(invalidValue(`${f}.operator`, t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.effect !== undefined && t.effect !== '' && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) errs.push(notSupported(`${f}.effect`, t.effect, ['NoExecute', 'NoSchedule', 'PreferNoSchedule']));
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') errs.push(invalidValue(`${f}.effect`, t.effect ?? '', 'effect must be \'NoExecute\' when `tolerationSeconds` is set'));
  });
  return errs;
}
