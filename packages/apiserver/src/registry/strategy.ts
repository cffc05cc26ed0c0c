/**
 * Per-kind behaviour of the generic store (apiserver `rest.RESTCreateStrategy` & co.): defaults,
 * validation, the spec/status split, selectable fields, table columns, graceful deletion. A kind is
 * `defineStrategy(resource, { ...only what differs })`.
 */
import deepEqual from 'fast-deep-equal';
import type { FieldError, KubeObject, ResourceInfo } from '@flotilla/api';
import type { UserInfo } from '../auth/authenticator.js';
import { validateObjectMeta, validateObjectMetaUpdate, type NameRule } from './validation.js';

/** Who asks, and when. */
export interface RequestContext {
  now: Date;
  user: UserInfo;
}

/** One column of a Table (`meta.k8s.io/v1`). */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description?: string;
  /** 0 = always shown; 1 = only with -o wide. */
  priority?: number;
}

/** How a kind prints in `kubectl get`. The Name column comes first automatically. */
export interface TablePrinter {
  columns: TableColumn[];
  /** Cells after the name, in column order. */
  cells(obj: KubeObject, now: Date): unknown[];
}

/**
 * A part of an object written only through its own subresource, as pods/ephemeralcontainers writes
 * spec.ephemeralContainers: a write there keeps everything else of the stored object.
 */
export interface SubresourceSection {
  /** Copies the part this subresource writes from the desired object into `into` (a copy of the stored one). */
  take(desired: KubeObject, into: KubeObject): void;
  /** Rules for such a write (metadata rules run separately). */
  validate(obj: KubeObject, old: KubeObject, ctx: RequestContext): FieldError[];
}

/** What a write addresses: the object (''), its status, or a section subresource by name. */
export type WriteTarget = '' | 'status' | (string & {});

/** The behaviour of one kind. Every hook works on a private, mutable copy. */
export interface Strategy {
  readonly resource: ResourceInfo;
  /** Schema definition name of the kind (`io.k8s.api.core.v1.Pod`). */
  readonly definitionName: string;
  /** How names are validated. */
  readonly nameRule: NameRule;
  /** True when metadata.generation starts at 1 and is bumped on every spec change. */
  readonly tracksGeneration: boolean;
  /** True when the kind has a status subresource (main writes keep status, status writes keep the rest). */
  readonly hasStatus: boolean;
  /** Field-selector fields beyond metadata.name/metadata.namespace, and how to read them. */
  readonly selectableFields: Readonly<Record<string, (obj: KubeObject) => string | undefined>>;
  /** A selectable field whose exact values index watchers (e.g. `spec.nodeName`). */
  readonly indexField?: string;
  /** Sets server-owned fields and defaults on create (status reset lives here). */
  prepareForCreate(obj: KubeObject, ctx: RequestContext): void;
  /** Adjusts a main-resource update given the old object (status already carried over). */
  prepareForUpdate(obj: KubeObject, old: KubeObject, ctx: RequestContext): void;
  /** Adjusts a status update given the old object (everything but status already carried over). */
  prepareForStatusUpdate(obj: KubeObject, old: KubeObject, ctx: RequestContext): void;
  /** Kind-specific rules for create (metadata rules run separately). */
  validate(obj: KubeObject, ctx: RequestContext): FieldError[];
  /** Kind-specific rules for update, including immutability. */
  validateUpdate(obj: KubeObject, old: KubeObject, ctx: RequestContext): FieldError[];
  /** Kind-specific rules for status updates. */
  validateStatusUpdate(obj: KubeObject, old: KubeObject, ctx: RequestContext): FieldError[];
  /**
   * Seconds a deleted object lingers before removal (graceful deletion), or 0 to delete at once.
   * `requested` is DeleteOptions.gracePeriodSeconds.
   */
  gracePeriodSeconds(obj: KubeObject, requested: number | undefined): number;
  /** Table columns. */
  readonly table: TablePrinter;
  /** Section subresources by name (e.g. `ephemeralcontainers`). */
  readonly sections?: Readonly<Record<string, SubresourceSection>>;
  /**
   * Called when a DELETE finds the object; may mark it (e.g. a namespace's phase Terminating).
   * Returns true when the object must linger although it has no finalizers.
   */
  prepareForDelete?(obj: KubeObject, ctx: RequestContext): boolean;
  /** Extra condition for a deleting object to be removed (e.g. a namespace's spec.finalizers empty). */
  isFinalized?(obj: KubeObject): boolean;
}

/** The parts a kind may override. */
export type StrategyOverrides = Partial<Omit<Strategy, 'resource'>>;

/** Age as kubectl prints it is computed by kubectl from a `date` column (creationTimestamp). */
export const AGE_COLUMN: TableColumn = { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };

/** Formats the age of a timestamp the way Kubernetes' printers do (`5m`, `3h2m`, `2d`). */
export function humanAge(ts: string | undefined, now: Date): string {
  if (!ts) return '<unknown>';
  const d = Math.max(0, Math.floor((now.getTime() - Date.parse(ts)) / 1000));
  return humanDuration(d);
}

/** Kubernetes' `duration.HumanDuration` for seconds. */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 0) return '0s';
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) {
    const rs = s % 60;
    return rs === 0 ? `${m}m` : `${m}m${rs}s`;
  }
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 8) {
    const rm = m % 60;
    return rm === 0 ? `${h}h` : `${h}h${rm}m`;
  }
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) {
    const rh = h % 24;
    return rh === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${rh}h`;
  }
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  if (h < 24 * 365 * 8) {
    const y = Math.floor(h / 24 / 365);
    const rd = Math.floor(h / 24) % 365;
    return rd === 0 ? `${y}y` : `${y}y${rd}d`;
  }
  return `${Math.floor(h / 24 / 365)}y`;
}

/** Reads a dotted path (`spec.nodeName`) as a string, '' when absent. */
export function fieldString(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** Table printer used when a kind defines none: Name and Age, like Kubernetes' default table. */
export const DEFAULT_TABLE: TablePrinter = {
  columns: [AGE_COLUMN],
  cells: (obj, now) => [humanAge(obj.metadata.creationTimestamp, now)],
};

/** Builds a full strategy from a resource and the behaviour that differs from the defaults. */
export function defineStrategy(resource: ResourceInfo, definitionName: string, overrides: StrategyOverrides = {}): Strategy {
  const hasStatus = resource.subresources.includes('status');
  return {
    resource,
    definitionName,
    nameRule: 'subdomain',
    tracksGeneration: false,
    hasStatus,
    selectableFields: {},
    prepareForCreate: (obj) => {
      if (hasStatus) delete obj['status'];
    },
    prepareForUpdate: () => {},
    prepareForStatusUpdate: () => {},
    validate: () => [],
    validateUpdate: () => [],
    validateStatusUpdate: () => [],
    gracePeriodSeconds: () => 0,
    table: DEFAULT_TABLE,
    ...overrides,
  };
}

/** Metadata rules for a create under this strategy. */
export function validateMetaForCreate(strategy: Strategy, obj: KubeObject): FieldError[] {
  return validateObjectMeta(obj.metadata, { namespaced: strategy.resource.namespaced, nameRule: strategy.nameRule });
}

/** Metadata rules for an update under this strategy. */
export function validateMetaForUpdate(strategy: Strategy, obj: KubeObject, old: KubeObject): FieldError[] {
  return [...validateObjectMeta(obj.metadata, { namespaced: strategy.resource.namespaced, nameRule: strategy.nameRule }), ...validateObjectMetaUpdate(obj.metadata, old.metadata)];
}

/** The parts of an object that count as its spec for generation bumps: all but metadata and status. */
export function specChanged(a: KubeObject, b: KubeObject): boolean {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
    if (!deepEqual(a[k], b[k])) return true;
  }
  return false;
}

/** Reads `path` inside an object (undefined-safe). */
export function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
