/**
 * A container's environment and its expanded command line, built the way the kubelet builds them
 * (`makeEnvironmentVariables` and `ExpandContainerCommandAndArgs`):
 *
 * 1. the service variables the caller computed (Docker-links style `FOO_SERVICE_HOST`, ...), with
 *    the lowest precedence;
 * 2. `envFrom` sources in order (ConfigMap data / decoded Secret data, with `prefix`; keys that are
 *    not valid variable names are skipped and reported; a missing optional source is ignored);
 * 3. `env` in order: literal values with `$(VAR)` references to anything defined before (including
 *    service variables), or `valueFrom` (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef).
 *
 * Later definitions override earlier ones. The result lists each name once, at the position where
 * it was first defined, with its final value (the kubelet's order is that of a Go map, i.e. none).
 * Anything that makes the container impossible to configure throws an `EnvError`, whose message is
 * the kubelet's and whose `reason` is the waiting reason the pod status shows.
 */
import os from 'node:os';
import { parseQuantity, type KubeObject, type Quantity } from '@flotilla/api/core';
import type { ContainerSpec } from './types.js';

export type { ContainerSpec } from './types.js';

/** Where ConfigMaps and Secrets come from (an informer cache or the API); undefined when absent. */
export interface EnvSources {
  getConfigMap(ns: string, name: string): Promise<KubeObject | undefined>;
  getSecret(ns: string, name: string): Promise<KubeObject | undefined>;
}

/** The container cannot be configured; the pod shows it as `waiting` with `reason`. */
export class EnvError extends Error {
  override name = 'EnvError';
  readonly reason = 'CreateContainerConfigError';
}

/** What the node knows that the pod object may not carry yet. */
export interface EnvContext {
  /** Used for `spec.nodeName` when the pod has none. */
  nodeName: string;
  hostIP: string;
  /** All node IPs for `status.hostIPs` (default `[hostIP]`). */
  hostIPs?: string[];
  podIP?: string;
  /** When set, its first entry is also `status.podIP`. */
  podIPs?: string[];
  /** Service variables, the lowest-precedence source. */
  serviceEnv?: Record<string, string>;
  /** Node allocatable (`cpu`, `memory`, `ephemeral-storage`), the default of unset limits in
   *  resourceFieldRef; defaults to this host's CPUs and memory (and 0 ephemeral storage). */
  nodeAllocatable?: Record<string, string | number>;
  /** Called for the kubelet's warning events (`InvalidEnvironmentVariableNames`). */
  recordWarning?(reason: string, message: string): void;
}

export interface EnvVarValue {
  name: string;
  value: string;
}

const ENV_NAME_RE = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** True for a valid environment variable name (the kubelet's `IsEnvVarName`). */
export function isEnvVarName(name: string): boolean {
  return ENV_NAME_RE.test(name);
}

/** The container's environment, in the kubelet's precedence order. Throws EnvError. */
export async function containerEnv(pod: KubeObject, container: ContainerSpec, sources: EnvSources, ctx: EnvContext): Promise<EnvVarValue[]> {
  const ns = pod.metadata.namespace ?? 'default';
  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(ctx.serviceEnv ?? {})) env.set(k, v);

  const configMaps = new Map<string, Record<string, string> | null>();
  const secrets = new Map<string, Record<string, string> | null>();
  // Returns null when absent (callers decide whether that is an error).
  const configMap = async (name: string): Promise<Record<string, string> | null> => {
    if (!configMaps.has(name)) {
      const cm = await fetch(() => sources.getConfigMap(ns, name));
      configMaps.set(name, cm ? ((cm['data'] as Record<string, string> | undefined) ?? {}) : null);
    }
    return configMaps.get(name)!;
  };
  const secret = async (name: string): Promise<Record<string, string> | null> => {
    if (!secrets.has(name)) {
      const s = await fetch(() => sources.getSecret(ns, name));
      let data: Record<string, string> | null = null;
      if (s) {
        data = {};
        for (const [k, v] of Object.entries((s['data'] as Record<string, string> | undefined) ?? {})) {
          data[k] = Buffer.from(v ?? '', 'base64').toString('utf8');
        }
      }
      secrets.set(name, data);
    }
    return secrets.get(name)!;
  };

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let data: Record<string, string> | null;
    let kind: string;
    let name: string;
    if (from.configMapRef) {
      name = from.configMapRef.name ?? '';
      kind = 'configMap';
      data = await configMap(name);
      if (!data) {
        if (from.configMapRef.optional) continue;
        throw new EnvError(`configmap "${name}" not found`);
      }
    } else if (from.secretRef) {
      name = from.secretRef.name ?? '';
      kind = 'secret';
      data = await secret(name);
      if (!data) {
        if (from.secretRef.optional) continue;
        throw new EnvError(`secret "${name}" not found`);
      }
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const [k, v] of Object.entries(data)) {
      const key = prefix + k;
      if (!isEnvVarName(key)) {
        invalid.push(key);
        continue;
      }
      env.set(key, v);
    }
    if (invalid.length > 0) {
      invalid.sort();
      ctx.recordWarning?.(
        'InvalidEnvironmentVariableNames',
        `Keys [${invalid.join(', ')}] from the EnvFrom ${kind} ${ns}/${name} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  for (const e of container.env ?? []) {
    let value = e.value ?? '';
    if (value !== '') {
      value = expandVars(value, env);
    } else if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        value = podFieldValue(pod, vf.fieldRef, ctx);
      } else if (vf.resourceFieldRef) {
        value = resourceFieldValue(pod, container, vf.resourceFieldRef, ctx);
      } else if (vf.configMapKeyRef) {
        const { name = '', key, optional } = vf.configMapKeyRef;
        const data = await configMap(name);
        if (!data) {
          if (optional) continue;
          throw new EnvError(`configmap "${name}" not found`);
        }
        if (!Object.hasOwn(data, key)) {
          if (optional) continue;
          throw new EnvError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
        }
        value = data[key]!;
      } else if (vf.secretKeyRef) {
        const { name = '', key, optional } = vf.secretKeyRef;
        const data = await secret(name);
        if (!data) {
          if (optional) continue;
          throw new EnvError(`secret "${name}" not found`);
        }
        if (!Object.hasOwn(data, key)) {
          if (optional) continue;
          throw new EnvError(`couldn't find key ${key} in Secret ${ns}/${name}`);
        }
        value = data[key]!;
      }
    }
    env.set(e.name, value);
  }

  return [...env].map(([name, value]) => ({ name, value }));
}

/** Source lookups that fail for another reason than absence also fail the container's config. */
async function fetch(get: () => Promise<KubeObject | undefined>): Promise<KubeObject | undefined> {
  try {
    return await get();
  } catch (err) {
    throw new EnvError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

const FIELD_PATHS = new Set([
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.serviceAccountName',
  'spec.schedulerName',
  'status.phase',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);

function splitSubscript(path: string): [string, string] | undefined {
  if (!path.endsWith("']")) return undefined;
  const s = path.slice(0, -2);
  const i = s.indexOf("['");
  if (i <= 0) return undefined;
  return [s.slice(0, i), s.slice(i + 2)];
}

function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n');
}

/** The value of a downward-API field of the pod (`podFieldSelectorRuntimeValue`). */
export function podFieldValue(pod: KubeObject, ref: { apiVersion?: string; fieldPath: string }, ctx: EnvContext): string {
  const path = ref.fieldPath;
  const version = ref.apiVersion || 'v1';
  if (version !== 'v1') throw new EnvError(`unsupported pod version: ${version}`);
  const sub = splitSubscript(path);
  if (sub) {
    const [base, key] = sub;
    const meta = pod.metadata;
    if (base === 'metadata.annotations') return meta.annotations?.[key] ?? '';
    if (base === 'metadata.labels') return meta.labels?.[key] ?? '';
    throw new EnvError(`field label not supported: ${path}`);
  }
  if (!FIELD_PATHS.has(path)) throw new EnvError(`field label not supported: ${path}`);
  const spec = (pod['spec'] ?? {}) as Record<string, unknown>;
  const podIPs = ctx.podIPs?.length ? ctx.podIPs : ctx.podIP ? [ctx.podIP] : [];
  switch (path) {
    case 'spec.nodeName':
      return (spec['nodeName'] as string | undefined) || ctx.nodeName;
    case 'spec.serviceAccountName':
      return (spec['serviceAccountName'] as string | undefined) ?? '';
    case 'status.hostIP':
      return ctx.hostIPs?.[0] ?? ctx.hostIP;
    case 'status.hostIPs':
      return (ctx.hostIPs?.length ? ctx.hostIPs : [ctx.hostIP]).join(',');
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
  }
  throw new EnvError(`unsupported fieldPath: ${path}`);
}

function quantity(v: string | number | undefined, what: string): Quantity | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return parseQuantity(v);
  } catch (err) {
    throw new EnvError(`invalid quantity ${JSON.stringify(String(v))} for ${what}: ${(err as Error).message}`);
  }
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n === b > 0n ? q + 1n : q;
}

const DEFAULTED_LIMITS = ['cpu', 'memory', 'ephemeral-storage'];

/**
 * The value of a container resource (`containerResourceRuntimeValue`): CPU in units of the divisor
 * (default 1 core) rounded up, memory / storage / huge pages likewise in bytes; unset cpu, memory
 * and ephemeral-storage limits default to the node's allocatable.
 */
export function resourceFieldValue(
  pod: KubeObject,
  container: ContainerSpec,
  ref: { containerName?: string; resource: string; divisor?: string | number },
  ctx: Pick<EnvContext, 'nodeAllocatable'>,
): string {
  let target = container;
  if (ref.containerName && ref.containerName !== container.name) {
    const spec = (pod['spec'] ?? {}) as { containers?: ContainerSpec[]; initContainers?: ContainerSpec[] };
    const found = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].find((c) => c.name === ref.containerName);
    if (!found) throw new EnvError(`container ${ref.containerName} not found`);
    target = found;
  }
  let divisor = quantity(ref.divisor, 'divisor');
  if (!divisor || divisor.isZero()) divisor = parseQuantity(1);

  const dot = ref.resource.indexOf('.');
  const kind = ref.resource.slice(0, dot);
  const name = ref.resource.slice(dot + 1);
  const supported = name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
  if ((kind !== 'limits' && kind !== 'requests') || !supported) {
    throw new EnvError(`unsupported container resource : ${ref.resource}`);
  }
  const list = (kind === 'limits' ? target.resources?.limits : target.resources?.requests) ?? {};
  let q = quantity(list[name], ref.resource);
  if (!q && kind === 'limits' && DEFAULTED_LIMITS.includes(name)) q = allocatable(name, ctx.nodeAllocatable);
  q ??= parseQuantity(0);

  if (name === 'cpu') {
    const d = divisor.toMilli();
    if (d <= 0n) throw new EnvError(`invalid divisor ${String(ref.divisor)} for ${ref.resource}`);
    return ceilDiv(q.toMilli(), d).toString();
  }
  const d = divisor.value();
  if (d <= 0n) throw new EnvError(`invalid divisor ${String(ref.divisor)} for ${ref.resource}`);
  return ceilDiv(q.value(), d).toString();
}

function allocatable(name: string, given: Record<string, string | number> | undefined): Quantity {
  const v = given?.[name];
  if (v !== undefined && v !== '') return quantity(v, `node allocatable ${name}`)!;
  if (name === 'cpu') return parseQuantity(os.availableParallelism());
  if (name === 'memory') return parseQuantity(os.totalmem());
  return parseQuantity(0);
}

/**
 * Kubernetes `$(VAR)` expansion (third_party/forked/golang/expansion): `$(NAME)` becomes the value
 * of NAME when defined and stays as written otherwise, `$$` is a literal `$`, an unclosed `$(` and
 * a `$` before anything else are kept.
 */
export function expandVars(text: string, env: ReadonlyMap<string, string>): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < text.length; cursor++) {
    if (text[cursor] !== '$' || cursor + 1 >= text.length) continue;
    out += text.slice(checkpoint, cursor);
    const next = text[cursor + 1];
    let advance = 1;
    if (next === '$') {
      out += '$';
    } else if (next === '(') {
      const close = text.indexOf(')', cursor + 2);
      if (close < 0) {
        out += '$(';
      } else {
        const name = text.slice(cursor + 2, close);
        const value = env.get(name);
        out += value ?? `$(${name})`;
        advance = close - cursor;
      }
    } else {
      out += '$' + next;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + text.slice(checkpoint);
}

/** The container's command and args with `$(VAR)` references to its environment expanded. */
export function expandCommand(
  container: Pick<ContainerSpec, 'command' | 'args'>,
  env: readonly EnvVarValue[] | ReadonlyMap<string, string>,
): { command?: string[]; args?: string[] } {
  const map = env instanceof Map ? (env as ReadonlyMap<string, string>) : new Map((env as readonly EnvVarValue[]).map((e) => [e.name, e.value]));
  const result: { command?: string[]; args?: string[] } = {};
  if (container.command?.length) result.command = container.command.map((c) => expandVars(c, map));
  if (container.args?.length) result.args = container.args.map((a) => expandVars(a, map));
  return result;
}
