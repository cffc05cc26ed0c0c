/**
 * The storage contract of the API server, shaped after etcd v3 / kine: a flat ordered key space,
 * one global monotonic revision assigned to every write, conditional writes on a key's
 * modRevision, and an event history by revision that watches resume from. Implementations:
 * `LevelStorage` (embedded LevelDB, the default) and, later, an etcd backend.
 */

/** A live key and its value. */
export interface KeyValue {
  key: string;
  /** The JSON text stored. */
  value: string;
  /** Revision of the write that produced this value. */
  modRevision: number;
  /** Revision of the write that created the key. */
  createRevision: number;
}

/**
 * Produces the value to store once the revision of the write is known, so that the stored JSON can
 * carry its own `metadata.resourceVersion`. Called exactly once per successful write, synchronously,
 * inside the commit; must not throw. It may carry the object it serializes (`source`), which a
 * backend that commits in this process hands to subscribers with the event (saves them a parse).
 */
export type ValueEncoder = ((revision: number) => string) & { readonly source?: unknown };

/** One committed change, as replayed to watchers. */
export interface StorageEvent {
  type: 'create' | 'update' | 'delete';
  key: string;
  /** The revision of this change (for a delete, the delete's own revision). */
  revision: number;
  createRevision: number;
  /** create/update: the new value. delete: the last value the key had. */
  value: string;
  /** update/delete: the value before this change. */
  prevValue?: string;
  /** update/delete: the modRevision before this change. */
  prevRevision?: number;
  /**
   * create/update written in this process: the object `value` was serialized from (the encoder's
   * `source`), for subscribers to read instead of parsing `value`. Not to be modified.
   */
  source?: unknown;
}

/** Why a storage call failed. Translated to an ApiError once, in the generic store. */
export type StorageErrorCode = 'KeyExists' | 'NotFound' | 'Conflict' | 'Compacted' | 'Closed' | 'Unavailable';

/** A coded storage failure. `current` carries the key's current value for Conflict/KeyExists. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly current?: KeyValue,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Counters for /metrics. */
export interface StorageStats {
  /** Number of synced batches written. */
  batches: number;
  /** Writes carried by those batches. */
  writes: number;
  /** Events currently retained in the history. */
  retainedEvents?: number;
}

/** The storage every component's state lives in. Only the API server holds one. */
export interface Storage {
  /** Opens the store; after it resolves, currentRevision() is the last durable revision. */
  open(): Promise<void>;
  /** Flushes pending writes, then closes. Later calls fail with Closed. */
  close(): Promise<void>;
  /** Revision of the last committed write (0 when nothing was ever written). */
  currentRevision(): number;
  /** History before this revision is gone: history(after) needs after >= compactedRevision(). */
  compactedRevision(): number;
  /** The live value of a key. */
  get(key: string): Promise<KeyValue | undefined>;
  /**
   * Live keys starting with `prefix`, in key order, from one consistent snapshot. `startAfter`
   * continues after a key; `limit` bounds the page (`more` says whether keys remain).
   */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<{ items: KeyValue[]; revision: number; more: boolean }>;
  /** Creates a key; KeyExists when it is live. Resolves only once the write is durable. */
  create(key: string, value: string | ValueEncoder): Promise<KeyValue>;
  /**
   * Replaces a key's value when its modRevision equals `expectedModRevision`; NotFound when the key
   * is not live, Conflict (with `current`) when the revision differs. Resolves once durable.
   */
  update(key: string, value: string | ValueEncoder, expectedModRevision: number): Promise<KeyValue>;
  /**
   * Deletes a key, optionally only at `expectedModRevision` (Conflict otherwise). Resolves once
   * durable with the delete's revision and the last value.
   */
  delete(key: string, expectedModRevision?: number): Promise<{ revision: number; prev: KeyValue }>;
  /**
   * The committed events with revision > `after`, in revision order, optionally only keys with
   * `prefix` and at most `limit`. Compacted when `after` < compactedRevision().
   */
  history(after: number, options?: { prefix?: string; limit?: number }): Promise<StorageEvent[]>;
  /**
   * Calls `listener` with each committed batch's events, in revision order, synchronously after the
   * batch is durable and before the writers' promises resolve. Returns an unsubscribe function.
   */
  subscribe(listener: (events: readonly StorageEvent[]) => void): () => void;
  /** Drops history up to `revision` (values superseded at or before it). */
  compact(revision: number): Promise<void>;
  /** Counters for /metrics. */
  stats(): StorageStats;
}
