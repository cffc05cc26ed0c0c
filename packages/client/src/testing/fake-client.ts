/**
 * An in-memory KubeClient for unit tests: objects by resource/namespace/name with resourceVersions,
 * Conflict on stale updates, AlreadyExists/NotFound, label/field selectors on list and watch, a
 * simple status split, merge and JSON patches, the `scale` subresource (autoscaling/v1 Scale) of
 * resources that have one, and a record of every call for assertions.
 */
import { randomUUID } from 'node:crypto';
import {
  alreadyExists,
  conflict,
  formatLabelSelector,
  formatTime,
  groupVersionOf,
  notFound,
  parseFieldSelector,
  parseLabelSelector,
  qualifiedResourceOf,
  type KubeList,
  type KubeObject,
  type LabelSelectorObject,
  type ResourceInfo,
  type WatchEvent,
} from '@flotilla/api/core';
import type { DeleteOptions, KubeClient, ListOptions, PatchOptions, PatchType, WatchOptions, WriteOptions } from '../rest-client.js';

/** One recorded call. */
export interface FakeAction {
  verb: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'watch';
  resource: string;
  namespace: string;
  name: string;
  subresource: string;
  object?: unknown;
}

/** The autoscaling/v1 Scale view of a scalable object, as the API server serves it. */
function scaleOf(obj: KubeObject): KubeObject {
  const spec = (obj['spec'] ?? {}) as { replicas?: number; selector?: LabelSelectorObject | Record<string, string> };
  const status = (obj['status'] ?? {}) as { replicas?: number };
  const sel = spec.selector;
  const selector = !sel ? '' : 'matchLabels' in sel || 'matchExpressions' in sel ? formatLabelSelector(sel as LabelSelectorObject) : Object.entries(sel as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
  const m = obj.metadata;
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector },
  } as KubeObject;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPointer(path: string): string[] {
  return path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(doc: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const root = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const parts = jsonPointer(op.path);
    const last = parts.pop()!;
    let cur: Record<string, unknown> | unknown[] = root;
    for (const p of parts) cur = (cur as Record<string, unknown>)[p] as Record<string, unknown>;
    if (op.op === 'remove') {
      if (Array.isArray(cur)) cur.splice(Number(last), 1);
      else delete (cur as Record<string, unknown>)[last];
    } else if (op.op === 'add' && Array.isArray(cur)) {
      cur.splice(last === '-' ? cur.length : Number(last), 0, op.value);
    } else {
      (cur as Record<string, unknown>)[last] = structuredClone(op.value);
    }
  }
  return root;
}

/** In-memory client. */
export class FakeClient implements KubeClient {
  /** Every call, in order. */
  readonly actions: FakeAction[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private rv = 0;
  private readonly watchers = new Set<{ r: ResourceInfo; opts: WatchOptions; push: (e: WatchEvent) => void }>();
  /** Set to make the next calls of a verb fail (error injection). */
  readonly failures: Partial<Record<FakeAction['verb'], Error[]>> = {};

  constructor(seed: { resource: ResourceInfo; objects: KubeObject[] }[] = []) {
    for (const s of seed) for (const o of s.objects) this.put(s.resource, structuredClone(o), 'ADDED');
  }

  private key(r: ResourceInfo, ns: string, name: string): string {
    return `${r.group}/${r.plural}/${r.namespaced ? ns : ''}/${name}`;
  }

  private record(a: FakeAction): void {
    this.actions.push(a);
    const queue = this.failures[a.verb];
    if (queue && queue.length > 0) throw queue.shift();
  }

  /** Actions other than reads (what a controller did). */
  writes(): FakeAction[] {
    return this.actions.filter((a) => a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch');
  }

  /** A stored object (a copy), if any. */
  peek<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string): T | undefined {
    const o = this.objects.get(this.key(r, namespace, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  /** Every stored object of a resource (copies). */
  all<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace?: string): T[] {
    const prefix = `${r.group}/${r.plural}/`;
    return [...this.objects.entries()].filter(([k, o]) => k.startsWith(prefix) && (namespace === undefined || o.metadata.namespace === namespace)).map(([, o]) => structuredClone(o) as T);
  }

  private put(r: ResourceInfo, obj: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    obj.apiVersion ??= groupVersionOf(r);
    obj.kind ??= r.kind;
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(this.key(r, obj.metadata.namespace ?? '', obj.metadata.name ?? ''), obj);
    this.emit(r, type, obj);
    return structuredClone(obj);
  }

  private emit(r: ResourceInfo, type: WatchEvent['type'], obj: KubeObject): void {
    for (const w of this.watchers) {
      if (w.r.plural !== r.plural || w.r.group !== r.group) continue;
      if (w.opts.namespace && obj.metadata.namespace !== w.opts.namespace) continue;
      if (w.opts.labelSelector && !parseLabelSelector(w.opts.labelSelector).matches(obj.metadata.labels)) continue;
      w.push({ type, object: structuredClone(obj) });
    }
  }

  async get<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, options: { subresource?: string } = {}): Promise<T> {
    this.record({ verb: 'get', resource: r.plural, namespace, name, subresource: options.subresource ?? '' });
    const o = this.objects.get(this.key(r, namespace, name));
    if (!o) throw notFound({ qualifiedResource: qualifiedResourceOf(r), name });
    if (options.subresource === 'scale' && r.subresources.includes('scale')) return scaleOf(structuredClone(o)) as T;
    return structuredClone(o) as T;
  }

  async list<T extends KubeObject = KubeObject>(r: ResourceInfo, options: ListOptions = {}): Promise<KubeList<T>> {
    this.record({ verb: 'list', resource: r.plural, namespace: options.namespace ?? '', name: '', subresource: '' });
    const ls = parseLabelSelector(options.labelSelector);
    const fs = parseFieldSelector(options.fieldSelector);
    const items = this.all<T>(r, options.namespace || undefined).filter((o) => ls.matches(o.metadata.labels) && fs.matches({ 'metadata.name': o.metadata.name ?? '', 'metadata.namespace': o.metadata.namespace ?? '' }));
    return { apiVersion: groupVersionOf(r), kind: r.listKind, metadata: { resourceVersion: String(this.rv) }, items };
  }

  async create<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, obj: T, options: WriteOptions = {}): Promise<T> {
    const o = structuredClone(obj) as KubeObject;
    if (r.namespaced) o.metadata.namespace = namespace;
    if (!o.metadata.name && o.metadata.generateName) o.metadata.name = `${o.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    this.record({ verb: 'create', resource: r.plural, namespace, name: o.metadata.name ?? '', subresource: '', object: structuredClone(o) });
    if (this.objects.has(this.key(r, namespace, o.metadata.name ?? ''))) throw alreadyExists({ qualifiedResource: qualifiedResourceOf(r), name: o.metadata.name ?? '' });
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp ??= formatTime(new Date());
    if (options.dryRun) return o as T;
    return this.put(r, o, 'ADDED') as T;
  }

  async update<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    this.record({ verb: 'update', resource: r.plural, namespace: ns, name, subresource: options.subresource ?? '', object: structuredClone(obj) });
    const cur = this.objects.get(this.key(r, ns, name));
    if (!cur) throw notFound({ qualifiedResource: qualifiedResourceOf(r), name });
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw conflict({ qualifiedResource: qualifiedResourceOf(r), name });
    if (options.subresource === 'scale' && r.subresources.includes('scale')) {
      // The body is a Scale: only spec.replicas reaches the object.
      const next = structuredClone(cur);
      ((next['spec'] ?? (next['spec'] = {})) as { replicas?: number }).replicas = (obj['spec'] as { replicas?: number } | undefined)?.replicas ?? 0;
      return scaleOf(this.put(r, next, 'MODIFIED')) as T;
    }
    let next = structuredClone(obj) as KubeObject;
    if (options.subresource === 'status') next = { ...structuredClone(cur), status: next['status'] };
    else if (r.subresources.includes('status')) next['status'] = structuredClone(cur['status']);
    next.metadata = { ...next.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp };
    if (cur.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(this.key(r, ns, name));
      this.emit(r, 'DELETED', next);
      return next as T;
    }
    return this.put(r, next, 'MODIFIED') as T;
  }

  updateStatus<T extends KubeObject = KubeObject>(r: ResourceInfo, obj: T, options: WriteOptions = {}): Promise<T> {
    return this.update(r, obj, { ...options, subresource: 'status' });
  }

  async patch<T extends KubeObject = KubeObject>(r: ResourceInfo, namespace: string, name: string, patch: unknown, type: PatchType, options: PatchOptions = {}): Promise<T> {
    this.record({ verb: 'patch', resource: r.plural, namespace, name, subresource: options.subresource ?? '', object: structuredClone(patch) });
    const cur = this.objects.get(this.key(r, namespace, name));
    if (!cur) throw notFound({ qualifiedResource: qualifiedResourceOf(r), name });
    const next = (type === 'json' ? jsonPatch(cur, patch as never) : mergePatch(structuredClone(cur), patch)) as KubeObject;
    return this.put(r, next, 'MODIFIED') as T;
  }

  async delete(r: ResourceInfo, namespace: string, name: string, options: DeleteOptions = {}): Promise<unknown> {
    this.record({ verb: 'delete', resource: r.plural, namespace, name, subresource: '', object: options });
    const key = this.key(r, namespace, name);
    const cur = this.objects.get(key);
    if (!cur) throw notFound({ qualifiedResource: qualifiedResourceOf(r), name });
    if ((cur.metadata.finalizers ?? []).length > 0) {
      cur.metadata.deletionTimestamp ??= formatTime(new Date());
      return this.put(r, cur, 'MODIFIED');
    }
    this.objects.delete(key);
    this.emit(r, 'DELETED', cur);
    return { kind: 'Status', status: 'Success' };
  }

  async deleteCollection(r: ResourceInfo, options: ListOptions & DeleteOptions): Promise<void> {
    this.record({ verb: 'deletecollection', resource: r.plural, namespace: options.namespace ?? '', name: '', subresource: '' });
    for (const o of (await this.list(r, options)).items) await this.delete(r, o.metadata.namespace ?? '', o.metadata.name ?? '');
  }

  async createSubresource<T = unknown>(r: ResourceInfo, namespace: string, name: string, subresource: string, body: unknown): Promise<T> {
    this.record({ verb: 'create', resource: r.plural, namespace, name, subresource, object: structuredClone(body) });
    const cur = this.objects.get(this.key(r, namespace, name));
    if (!cur) throw notFound({ qualifiedResource: qualifiedResourceOf(r), name });
    if (subresource === 'binding') {
      const spec = (cur['spec'] ?? (cur['spec'] = {})) as { nodeName?: string };
      if (spec.nodeName) throw conflict({ qualifiedResource: 'pods/binding', name }, `pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = (body as { target: { name: string } }).target.name;
      this.put(r, cur, 'MODIFIED');
    } else if (subresource === 'eviction') {
      await this.delete(r, namespace, name);
    }
    return { kind: 'Status', status: 'Success' } as T;
  }

  async *watch<T extends KubeObject = KubeObject>(r: ResourceInfo, options: WatchOptions = {}): AsyncIterableIterator<WatchEvent<T>> {
    this.record({ verb: 'watch', resource: r.plural, namespace: options.namespace ?? '', name: '', subresource: '' });
    const buffer: WatchEvent[] = [];
    let wake: (() => void) | undefined;
    const w = { r, opts: options, push: (e: WatchEvent) => { buffer.push(e); wake?.(); } };
    this.watchers.add(w);
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort);
    try {
      while (!options.signal?.aborted) {
        const e = buffer.shift();
        if (e) {
          yield e as WatchEvent<T>;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(w);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}
