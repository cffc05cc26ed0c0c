/**
 * The informer's cache: objects by `namespace/name` key plus secondary indexes (namespace built in,
 * others by name). Objects in it are shared and must be treated as read-only.
 */
import { objectKey, type KubeObject } from '@flotilla/api/core';

/** Computes the index values of an object. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** Name of the built-in namespace index. */
export const NAMESPACE_INDEX = 'namespace';

/** A keyed, indexed object cache. */
export class IndexedStore<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndexer(NAMESPACE_INDEX, (o) => [o.metadata.namespace ?? '']);
  }

  /** Adds an index; existing objects are indexed at once. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    this.indexers.set(name, fn);
    const idx = new Map<string, Set<string>>();
    this.indices.set(name, idx);
    for (const [key, obj] of this.items) this.indexOne(idx, fn, key, obj);
  }

  private indexOne(idx: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    for (const v of fn(obj)) {
      let set = idx.get(v);
      if (!set) idx.set(v, (set = new Set()));
      set.add(key);
    }
  }

  private unindexOne(idx: Map<string, Set<string>>, fn: IndexFunc<T>, key: string, obj: T): void {
    for (const v of fn(obj)) {
      const set = idx.get(v);
      set?.delete(key);
      if (set && set.size === 0) idx.delete(v);
    }
  }

  /** Adds or replaces an object; returns the previous one. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    for (const [name, fn] of this.indexers) {
      const idx = this.indices.get(name)!;
      if (old) this.unindexOne(idx, fn, key, old);
      this.indexOne(idx, fn, key, obj);
    }
    this.items.set(key, obj);
    return old;
  }

  /** Removes an object by key; returns it. */
  remove(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    for (const [name, fn] of this.indexers) this.unindexOne(this.indices.get(name)!, fn, key, old);
    this.items.delete(key);
    return old;
  }

  /** The object with this key. */
  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** Every object. */
  list(): T[] {
    return [...this.items.values()];
  }

  /** Every key. */
  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Objects whose index `name` contains `value`. */
  byIndex(name: string, value: string): T[] {
    const idx = this.indices.get(name);
    if (!idx) throw new Error(`no index ${name}`);
    const keys = idx.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) out.push(this.items.get(k)!);
    return out;
  }

  /** Number of objects. */
  get size(): number {
    return this.items.size;
  }
}
