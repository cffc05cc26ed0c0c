/**
 * Builds the file payloads of ConfigMap, Secret, downward API and projected volumes from the objects
 * they reference, with the kubelet's key selection (`items`), modes and error messages.
 */
import { parseQuantity, type KubeObject, type Quantity } from '@flotilla/api/core';
import type { FileProjection, Payload } from './atomic-writer.js';
import { VolumeError } from './errors.js';
import type { ContainerSpec, DownwardAPIFile, KeyToPath, PodSpecShape } from './types.js';

/** The default mode of ConfigMap, Secret, downward API and projected files. */
export const DEFAULT_FILE_MODE = 0o644;

/** Node capacity used for limits a container does not set (as the kubelet uses node allocatable). */
export type AllocatableLookup = () => Promise<Record<string, string>>;

/** The key → bytes contents of a ConfigMap (`data` and `binaryData`). */
export function configMapData(cm: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries((cm['data'] ?? {}) as Record<string, string>)) out.set(k, Buffer.from(String(v), 'utf8'));
  for (const [k, v] of Object.entries((cm['binaryData'] ?? {}) as Record<string, string>)) out.set(k, Buffer.from(String(v), 'base64'));
  return out;
}

/** The key → bytes contents of a Secret (`data` is base64; a `stringData` left in place wins). */
export function secretData(secret: KubeObject): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries((secret['data'] ?? {}) as Record<string, string>)) out.set(k, Buffer.from(String(v), 'base64'));
  for (const [k, v] of Object.entries((secret['stringData'] ?? {}) as Record<string, string>)) out.set(k, Buffer.from(String(v), 'utf8'));
  return out;
}

/**
 * Selects the files of a ConfigMap or Secret volume: every key when `items` is empty, otherwise the
 * listed keys at their paths; a listed key that is missing is an error unless the source is optional
 * (`noun` is `configmap` or `secret` for the kubelet's messages).
 */
export function keysPayload(
  data: Map<string, Buffer>,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
  noun: 'configmap' | 'secret',
): Payload {
  const out: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of data) out.set(k, { data: v, mode: defaultMode });
    return out;
  }
  for (const item of items) {
    const v = data.get(item.key);
    if (v === undefined) {
      if (optional) continue;
      throw new VolumeError(noun === 'configmap' ? `configmap references non-existent config key: ${item.key}` : `references non-existent secret key: ${item.key}`);
    }
    out.set(item.path, { data: v, mode: item.mode ?? defaultMode });
  }
  return out;
}

/** Go's `%q` of a string (what the kubelet uses to print label and annotation values). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad || c === 0x2028 || c === 0x2029 || c === 0xfeff) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** A map as the kubelet writes labels and annotations: `key="value"` lines sorted by key, no final newline. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k]!)}`)
    .join('\n');
}

const SUBSCRIPT_RE = /^metadata\.(labels|annotations)\['([^']*)'\]$/;

/** The value of a downward API `fieldRef` valid in volumes. */
export function podFieldValue(pod: KubeObject, fieldPath: string): string {
  const md = pod.metadata;
  switch (fieldPath) {
    case 'metadata.name':
      return md.name ?? '';
    case 'metadata.namespace':
      return md.namespace ?? '';
    case 'metadata.uid':
      return md.uid ?? '';
    case 'metadata.labels':
      return formatMap(md.labels);
    case 'metadata.annotations':
      return formatMap(md.annotations);
  }
  const m = SUBSCRIPT_RE.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? md.labels : md.annotations)?.[m[2]!] ?? '';
  throw new VolumeError(`unsupported fieldPath: ${fieldPath}`);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n === b > 0n ? q + 1n : q;
}

function quantity(v: string | number | undefined, what: string): Quantity | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return parseQuantity(v);
  } catch (err) {
    throw new VolumeError(`invalid quantity for ${what}: ${String(v)}`, 'FailedMount', { cause: err });
  }
}

/**
 * The value of a downward API `resourceFieldRef` for `container`, as the kubelet computes it: CPU in
 * millicores divided by the divisor's millicores, memory and ephemeral storage in bytes divided by
 * the divisor's bytes, both rounded up. An unset limit is the node's allocatable amount.
 */
export async function resourceFieldValue(
  container: ContainerSpec,
  resource: string,
  divisorText: string | number | undefined,
  allocatable: AllocatableLookup,
): Promise<string> {
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !['cpu', 'memory', 'ephemeral-storage'].includes(name ?? '')) {
    throw new VolumeError(`unsupported container resource: ${resource}`);
  }
  const divisor = quantity(divisorText, `divisor of ${resource}`) ?? parseQuantity('1');
  let value = quantity(container.resources?.[kind]?.[name!], resource);
  if (value === undefined && kind === 'limits') value = quantity((await allocatable())[name!], `node allocatable ${name}`);
  value ??= parseQuantity(0);
  if (name === 'cpu') {
    const d = divisor.toMilli();
    if (d <= 0n) throw new VolumeError(`invalid divisor for ${resource}: ${String(divisorText)}`);
    return String(ceilDiv(value.toMilli(), d));
  }
  const d = divisor.value();
  if (d <= 0n) throw new VolumeError(`invalid divisor for ${resource}: ${String(divisorText)}`);
  return String(ceilDiv(value.value(), d));
}

/** The container a `resourceFieldRef` names, among containers and init containers. */
function findContainer(spec: PodSpecShape, name: string | undefined, path: string): ContainerSpec {
  if (!name) throw new VolumeError(`downwardAPI item ${path}: resourceFieldRef needs a containerName in a volume`);
  const c = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].find((x) => x.name === name);
  if (!c) throw new VolumeError(`downwardAPI item ${path}: container "${name}" not found in the pod`);
  return c;
}

/** The files of a downward API volume or projection. */
export async function downwardAPIPayload(
  pod: KubeObject,
  items: DownwardAPIFile[] | undefined,
  defaultMode: number,
  allocatable: AllocatableLookup,
): Promise<Payload> {
  const spec = (pod['spec'] ?? {}) as PodSpecShape;
  const out: Payload = new Map();
  for (const item of items ?? []) {
    let text: string;
    if (item.fieldRef) text = podFieldValue(pod, item.fieldRef.fieldPath);
    else if (item.resourceFieldRef) {
      const ref = item.resourceFieldRef;
      text = await resourceFieldValue(findContainer(spec, ref.containerName, item.path), ref.resource, ref.divisor, allocatable);
    } else throw new VolumeError(`downwardAPI item ${item.path}: needs a fieldRef or a resourceFieldRef`);
    out.set(item.path, { data: Buffer.from(text, 'utf8'), mode: item.mode ?? defaultMode } satisfies FileProjection);
  }
  return out;
}
