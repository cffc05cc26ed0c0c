/**
 * The one store behind every kind (apiserver `registry/generic/registry/store.go`): create, get,
 * list, update, patch, delete and deletecollection over Storage, with the kind's Strategy deciding
 * defaults, validation, the status split and graceful deletion. Reads come from the ResourceCache,
 * which storage keeps exactly up to date before a write is acknowledged.
 */
import { randomUUID } from 'node:crypto';
import deepEqual from 'fast-deep-equal';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  formatTime,
  groupVersionOf,
  internalError,
  invalid,
  notFound,
  qualifiedResourceOf,
  type FieldError,
  type KubeObject,
  type ObjectMeta,
  type ResourceInfo,
  type SchemaDefinitions,
  updateManagedFields,
} from '@flotilla/api';
import type { Logger } from 'pino';
import { checkTypeMeta } from '../http/body.js';
import type { Storage, ValueEncoder } from '../storage/storage.js';
import { StorageError } from '../storage/storage.js';
import type { FieldValidation, KindCodec } from './codec.js';
import { storageKey } from './object-cache.js';
import type { CachedObject, ResourceCache } from './resource-cache.js';
import { specChanged, validateMetaForCreate, validateMetaForUpdate, type RequestContext, type Strategy, type WriteTarget } from './strategy.js';

/** Options every write accepts. */
export interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  /** Who makes the change (managedFields). Unset = not tracked (internal writes). */
  fieldManager?: string;
  /** The object already carries the managedFields it should have (server-side apply). */
  managedFieldsSet?: boolean;
}

/** `DeleteOptions` as the store uses them. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** The result of a write: the object's JSON, the HTTP code, and warnings for the Warning header. */
export interface WriteResult {
  json: string;
  code: number;
  warnings: string[];
  /** The object written (or lingering), parsed. */
  object: KubeObject;
  /** True when the object was removed from storage (not just marked). */
  deleted?: boolean;
}

/** How the store checks the namespace of a namespaced write. */
export interface NamespaceLookup {
  /** undefined = missing; otherwise whether it is terminating. */
  namespaceState(name: string): 'Active' | 'Terminating' | undefined;
}

/** A mutation of the current object, as PATCH and subresources use it. Return the new object. */
export type Mutation = (current: KubeObject) => KubeObject | Promise<KubeObject>;

/**
 * Marks a mutation that only reads the current object and returns a new one (a patch followed by a
 * decode, a replacement): it is then given the store's own parsed copy instead of a private one, which
 * saves parsing the stored JSON a second time on every write.
 */
export function readOnlyMutation(mutate: Mutation): Mutation {
  return Object.assign(mutate, { readsOnly: true });
}

function readsOnly(mutate: Mutation): boolean {
  return (mutate as { readsOnly?: boolean }).readsOnly === true;
}

/** Mutating admission: adjusts (or rejects, by throwing an ApiError) an object being created. */
export type Admission = (obj: KubeObject, ctx: RequestContext) => void;

/** Ends a write begun by a WriteHooks call: `committed` says whether the object was stored. Never throws. */
export type FinishWrite = (committed: boolean) => Promise<void>;

/**
 * Side effects of a kind's writes outside its own object (apiserver's BeginCreate, BeginUpdate and
 * AfterDelete), e.g. Service cluster IPs and node ports. `beginCreate`/`beginUpdate` run after
 * defaults and validation, right before the storage write; they may fill in fields of the object
 * and reject the write by throwing an ApiError (or return undefined, synchronously, when they have
 * nothing to do for the write: no await then). They are not called for status writes.
 */
export interface WriteHooks {
  beginCreate(obj: KubeObject, options: { dryRun: boolean }): Promise<FinishWrite> | undefined;
  beginUpdate(obj: KubeObject, old: KubeObject, options: { dryRun: boolean }): Promise<FinishWrite> | undefined;
  /** Called once the object is removed from storage. Never throws. */
  afterDelete(obj: KubeObject): Promise<void>;
}

/** Runs several kinds' write hooks as one, in order; a refusal undoes the ones already begun. */
export function composeHooks(...all: (WriteHooks | undefined)[]): WriteHooks | undefined {
  const hooks = all.filter((h): h is WriteHooks => h !== undefined);
  if (hooks.length <= 1) return hooks[0];
  const begin = async (start: (h: WriteHooks) => Promise<FinishWrite> | undefined): Promise<FinishWrite> => {
    const finishes: FinishWrite[] = [];
    try {
      for (const h of hooks) {
        const begun = start(h);
        if (begun) finishes.push(await begun);
      }
    } catch (err) {
      for (const f of finishes.reverse()) await f(false);
      throw err;
    }
    return async (committed) => {
      for (const f of [...finishes].reverse()) await f(committed);
    };
  };
  return {
    beginCreate: (obj, options) => begin((h) => h.beginCreate(obj, options)),
    beginUpdate: (obj, old, options) => begin((h) => h.beginUpdate(obj, old, options)),
    async afterDelete(obj) {
      for (const h of hooks) await h.afterDelete(obj);
    },
  };
}

/** Dependencies of a store. */
export interface GenericStoreDeps {
  strategy: Strategy;
  storage: Storage;
  cache: ResourceCache;
  codec: KindCodec;
  namespaces: NamespaceLookup;
  logger: Logger;
  /** Schema definitions (field ownership needs the kinds' list types). */
  defs: SchemaDefinitions;
}

const RV_PLACEHOLDER = '\u0000rv\u0000';
const RV_PLACEHOLDER_JSON = JSON.stringify(RV_PLACEHOLDER);
const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_GUARANTEED_UPDATE_ATTEMPTS = 16;

/** Objects and kinds where DELETE answers with the object rather than a Status. */
const RETURNS_DELETED_OBJECT = new Set(['/pods', '/services']);

/**
 * Decodes a request body into an object of `resource`'s kind with its codec: type meta must match,
 * type errors are 400, unknown fields follow fieldValidation, schema violations are 422.
 */
export function decodeObject(codec: KindCodec, resource: ResourceInfo, body: unknown, fieldValidation: FieldValidation, warnings: string[]): KubeObject {
  const kind = resource.kind;
  const apiVersion = groupVersionOf(resource);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(`${kind} in version "${resource.version}" cannot be handled as a ${kind}: the request body must be a JSON object`);
  }
  checkTypeMeta(body as Record<string, unknown>, kind, apiVersion);
  const r = codec.decode(body, fieldValidation);
  if (r.decodeErrors.length > 0) {
    throw badRequest(`${kind} in version "${resource.version}" cannot be handled as a ${kind}: ${r.decodeErrors.join(', ')}`);
  }
  if (r.unknownFields.length > 0) {
    if (fieldValidation === 'Strict') {
      throw badRequest(`strict decoding error: ${r.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
    }
    if (fieldValidation === 'Warn') for (const f of r.unknownFields) warnings.push(`unknown field "${f}"`);
  }
  const obj = r.object;
  obj.apiVersion = apiVersion;
  obj.kind = kind;
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  dropEmptyMetaCollections(obj.metadata);
  if (r.fieldErrors.length > 0) throw invalid(kind, obj.metadata.name ?? obj.metadata.generateName ?? '', resource.group, r.fieldErrors);
  return obj;
}

/** Generates a `generateName` suffix the way Kubernetes does (5 chars, no vowels). */
export function generateNameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_NAME_CHARS[Math.floor(Math.random() * GENERATE_NAME_CHARS.length)];
  return s;
}

/**
 * Serializes an object with metadata first and a placeholder resourceVersion that precedes every
 * user-supplied string, so the stored text can be finished with the commit revision by one replace.
 */
function serializeTemplate(obj: KubeObject): string {
  const m = obj.metadata;
  const meta: Record<string, unknown> = {};
  if (m.name !== undefined) meta['name'] = m.name;
  if (m.generateName !== undefined) meta['generateName'] = m.generateName;
  if (m.namespace !== undefined) meta['namespace'] = m.namespace;
  if (m.uid !== undefined) meta['uid'] = m.uid;
  meta['resourceVersion'] = RV_PLACEHOLDER;
  for (const [k, v] of Object.entries(m)) if (!(k in meta) && k !== 'resourceVersion') meta[k] = v;
  const out: Record<string, unknown> = { kind: obj.kind, apiVersion: obj.apiVersion, metadata: meta };
  if (obj['spec'] !== undefined) out['spec'] = obj['spec'];
  for (const [k, v] of Object.entries(obj)) if (!(k in out) && k !== 'status') out[k] = v;
  if (obj['status'] !== undefined) out['status'] = obj['status'];
  return JSON.stringify(out);
}

/**
 * Go's encoding omits empty optional maps and lists (`omitempty`), so in Kubernetes an object never
 * comes back with `annotations: {}` or `finalizers: []`, e.g. after a patch that sent an empty map
 * (kubectl's client-side apply does). managedFields stays: an empty list there asks for a reset.
 */
function dropEmptyMetaCollections(meta: KubeObject['metadata']): void {
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
    const v = meta[k];
    if (v !== null && typeof v === 'object' && Object.keys(v).length === 0) delete meta[k];
  }
}

/** The encoder of a serialized object; it carries the object for the cache (no parse of the stored JSON). */
function encoderFor(template: string, source: KubeObject): ValueEncoder {
  return Object.assign((revision: number) => template.replace(RV_PLACEHOLDER_JSON, `"${revision}"`), { source });
}

function parse(o: CachedObject): KubeObject {
  return JSON.parse(o.json) as KubeObject;
}

/** The generic store of one resource. */
export class GenericStore {
  readonly strategy: Strategy;
  private readonly storage: Storage;
  readonly cache: ResourceCache;
  private readonly codec: KindCodec;
  private readonly namespaces: NamespaceLookup;
  private readonly defs: SchemaDefinitions;
  private readonly log: Logger;
  private readonly qualified: string;
  private readonly apiVersion: string;
  /** Admission run on creates before the strategy (e.g. pod priority from its PriorityClass). */
  admission: Admission | undefined;
  /** Write hooks of the kind (e.g. Service IP and port allocation), set once at start-up. */
  hooks: WriteHooks | undefined;

  constructor(deps: GenericStoreDeps) {
    this.strategy = deps.strategy;
    this.storage = deps.storage;
    this.cache = deps.cache;
    this.codec = deps.codec;
    this.namespaces = deps.namespaces;
    this.defs = deps.defs;
    this.log = deps.logger.child({ resource: qualifiedResourceOf(deps.strategy.resource) });
    this.qualified = qualifiedResourceOf(deps.strategy.resource);
    this.apiVersion = groupVersionOf(deps.strategy.resource);
  }

  private get kind(): string {
    return this.strategy.resource.kind;
  }

  private idOf(namespace: string, name: string): string {
    return this.strategy.resource.namespaced ? `${namespace}/${name}` : name;
  }

  private keyOf(namespace: string, name: string): string {
    return storageKey(this.strategy.resource, namespace, name);
  }

  /** The cached object, or 404. */
  getCached(namespace: string, name: string): CachedObject {
    const o = this.cache.get(this.idOf(namespace, name));
    if (!o) throw notFound({ qualifiedResource: this.qualified, name });
    return o;
  }

  /** The object, parsed (a private copy), or 404. */
  get(namespace: string, name: string): KubeObject {
    return parse(this.getCached(namespace, name));
  }

  /** The object if it exists. */
  tryGet(namespace: string, name: string): KubeObject | undefined {
    const o = this.cache.get(this.idOf(namespace, name));
    return o ? parse(o) : undefined;
  }

  /**
   * Decodes a request body into an object of this kind: type meta must match the endpoint,
   * type errors are 400, unknown fields follow fieldValidation, schema violations are 422.
   */
  decode(body: unknown, fieldValidation: FieldValidation, warnings: string[]): KubeObject {
    return decodeObject(this.codec, this.strategy.resource, body, fieldValidation, warnings);
  }

  private checkNamespace(namespace: string, name: string | undefined): void {
    if (!this.strategy.resource.namespaced) return;
    const state = this.namespaces.namespaceState(namespace);
    if (state === undefined) throw notFound({ qualifiedResource: 'namespaces', name: namespace });
    if (state === 'Terminating') {
      const err = forbidden({ qualifiedResource: this.qualified, name }, `unable to create new content in namespace ${namespace} because it is being terminated`);
      err.details!.causes = [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }];
      throw err;
    }
  }

  private throwIfInvalid(obj: KubeObject, errors: FieldError[]): void {
    if (errors.length > 0) throw invalid(this.kind, obj.metadata.name ?? obj.metadata.generateName ?? '', this.strategy.resource.group, errors);
  }

  private storageFailure(err: unknown, name: string): never {
    if (err instanceof StorageError) {
      switch (err.code) {
        case 'KeyExists':
          throw alreadyExists({ qualifiedResource: this.qualified, name });
        case 'NotFound':
          throw notFound({ qualifiedResource: this.qualified, name });
        case 'Conflict':
          throw conflict({ qualifiedResource: this.qualified, name });
        default:
          throw internalError(`storage unavailable: ${err.code}`, { cause: err });
      }
    }
    throw err;
  }

  /** Fixes namespace and name from the URL; errors when the body disagrees. */
  private bindMeta(obj: KubeObject, namespace: string, name: string | undefined): void {
    const meta = obj.metadata;
    if (this.strategy.resource.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace || meta.namespace || '';
    } else if (meta.namespace) {
      // Cluster-scoped objects ignore a namespace in the body, as Kubernetes does.
      delete meta.namespace;
    }
    if (name !== undefined) {
      if (meta.name && meta.name !== name) throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
      meta.name = name;
    }
  }

  /** Prepares a decoded object for create: server fields, strategy defaults, validation. */
  private prepareCreate(obj: KubeObject, ctx: RequestContext): void {
    const meta = obj.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = formatTime(ctx.now);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete (meta as Record<string, unknown>)['selfLink'];
    if (this.strategy.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    this.strategy.prepareForCreate(obj, ctx);
    if (!meta.name && meta.generateName) meta.name = meta.generateName.slice(0, 58) + generateNameSuffix();
    this.throwIfInvalid(obj, [...validateMetaForCreate(this.strategy, obj), ...this.strategy.validate(obj, ctx)]);
  }

  /** POST: creates an object from a request body. */
  async create(namespace: string, body: unknown, options: WriteOptions, ctx: RequestContext): Promise<WriteResult> {
    const warnings: string[] = [];
    const obj = this.decode(body, options.fieldValidation, warnings);
    this.bindMeta(obj, namespace, undefined);
    return this.createObject(obj, options, ctx, warnings);
  }

  /** Creates an already-decoded object (used by create, server-side apply and internal callers). */
  async createObject(obj: KubeObject, options: WriteOptions, ctx: RequestContext, warnings: string[] = []): Promise<WriteResult> {
    const generated = !obj.metadata.name && !!obj.metadata.generateName;
    this.checkNamespace(obj.metadata.namespace ?? '', obj.metadata.name ?? obj.metadata.generateName);
    this.admission?.(obj, ctx);
    this.prepareCreate(obj, ctx);
    this.trackFields(undefined, obj, options, ctx, '');
    const begun = this.hooks?.beginCreate(obj, { dryRun: options.dryRun });
    const finish = begun ? await begun : undefined;
    if (options.dryRun) {
      await finish?.(false);
      return { json: JSON.stringify(obj), code: 201, warnings, object: obj };
    }
    for (let attempt = 0; ; attempt++) {
      const template = serializeTemplate(obj);
      try {
        const kv = await this.storage.create(this.keyOf(obj.metadata.namespace ?? '', obj.metadata.name!), encoderFor(template, obj));
        obj.metadata.resourceVersion = String(kv.modRevision);
        await finish?.(true);
        return { json: kv.value, code: 201, warnings, object: obj };
      } catch (err) {
        if (generated && err instanceof StorageError && err.code === 'KeyExists' && attempt < 8) {
          obj.metadata.name = obj.metadata.generateName!.slice(0, 58) + generateNameSuffix();
          continue;
        }
        await finish?.(false);
        this.storageFailure(err, obj.metadata.name!);
      }
    }
  }

  /**
   * PUT: replaces an object (or its status). A resourceVersion in the body must match (409
   * otherwise); without one the write is unconditional.
   */
  async update(namespace: string, name: string, body: unknown, options: WriteOptions, ctx: RequestContext, subresource: WriteTarget = ''): Promise<WriteResult> {
    const warnings: string[] = [];
    const obj = this.decode(body, options.fieldValidation, warnings);
    this.bindMeta(obj, namespace, name);
    const wantedRv = obj.metadata.resourceVersion;
    return this.guaranteedUpdate(namespace, name, options, ctx, subresource, readOnlyMutation(() => obj), wantedRv, warnings);
  }

  /**
   * Read-modify-write with retries on concurrent change (apiserver GuaranteedUpdate). `mutate` gets
   * a private copy of the current object and returns the desired object. When `preconditionRv` is
   * set, a different current version is a 409 Conflict instead of a retry.
   */
  async guaranteedUpdate(
    namespace: string,
    name: string,
    options: WriteOptions,
    ctx: RequestContext,
    subresource: WriteTarget,
    mutate: Mutation,
    preconditionRv: string | undefined,
    warnings: string[] = [],
  ): Promise<WriteResult> {
    for (let attempt = 0; attempt < MAX_GUARANTEED_UPDATE_ATTEMPTS; attempt++) {
      const cached = this.getCached(namespace, name);
      const old = parse(cached);
      if (preconditionRv !== undefined && preconditionRv !== '' && preconditionRv !== old.metadata.resourceVersion) {
        throw conflict({ qualifiedResource: this.qualified, name });
      }
      const desired = await mutate(readsOnly(mutate) ? old : parse(cached));
      // A write that does not mention managedFields keeps them (Kubernetes' rule).
      if (desired.metadata && desired.metadata.managedFields === undefined && old.metadata.managedFields !== undefined) desired.metadata.managedFields = old.metadata.managedFields;
      const obj = this.mergeForUpdate(desired, old, subresource, ctx);
      this.trackFields(old, obj, options, ctx, subresource);
      if (deepEqual(obj, old)) return { json: cached.json, code: 200, warnings, object: old };
      const begun = subresource === '' ? this.hooks?.beginUpdate(obj, old, { dryRun: options.dryRun }) : undefined;
      const finish = begun ? await begun : undefined;
      if (options.dryRun) {
        await finish?.(false);
        return { json: JSON.stringify(obj), code: 200, warnings, object: obj };
      }
      try {
        if (this.isReadyToDelete(obj)) {
          const res = await this.storage.delete(this.keyOf(namespace, name), cached.revision);
          obj.metadata.resourceVersion = String(res.revision);
          await finish?.(true);
          await this.hooks?.afterDelete(obj);
          return { json: JSON.stringify(obj), code: 200, warnings, object: obj, deleted: true };
        }
        const kv = await this.storage.update(this.keyOf(namespace, name), encoderFor(serializeTemplate(obj), obj), cached.revision);
        obj.metadata.resourceVersion = String(kv.modRevision);
        await finish?.(true);
        return { json: kv.value, code: 200, warnings, object: obj };
      } catch (err) {
        await finish?.(false);
        if (err instanceof StorageError && err.code === 'Conflict') {
          if (preconditionRv) throw conflict({ qualifiedResource: this.qualified, name });
          continue;
        }
        this.storageFailure(err, name);
      }
    }
    throw conflict({ qualifiedResource: this.qualified, name }, 'too many concurrent updates; please try again');
  }

  /**
   * Read-modify-write that bypasses the strategy (used by subresources with their own rules:
   * binding sets spec.nodeName, finalize edits spec.finalizers). Server-managed metadata is kept and
   * metadata is still validated. A resourceVersion precondition gives 409 on mismatch.
   */
  async rawUpdate(namespace: string, name: string, mutate: Mutation, options: { dryRun: boolean; preconditionRv?: string }): Promise<WriteResult> {
    for (let attempt = 0; attempt < MAX_GUARANTEED_UPDATE_ATTEMPTS; attempt++) {
      const cached = this.getCached(namespace, name);
      const old = parse(cached);
      if (options.preconditionRv && options.preconditionRv !== old.metadata.resourceVersion) throw conflict({ qualifiedResource: this.qualified, name });
      const obj = await mutate(parse(cached));
      const m = obj.metadata;
      const om = old.metadata;
      m.name = om.name;
      if (om.namespace !== undefined) m.namespace = om.namespace;
      m.uid = om.uid;
      m.creationTimestamp = om.creationTimestamp;
      m.resourceVersion = om.resourceVersion;
      this.throwIfInvalid(obj, validateMetaForUpdate(this.strategy, obj, old));
      if (deepEqual(obj, old)) return { json: cached.json, code: 200, warnings: [], object: old };
      if (options.dryRun) return { json: JSON.stringify(obj), code: 200, warnings: [], object: obj };
      try {
        if (this.isReadyToDelete(obj)) {
          const res = await this.storage.delete(this.keyOf(namespace, name), cached.revision);
          m.resourceVersion = String(res.revision);
          await this.hooks?.afterDelete(obj);
          return { json: JSON.stringify(obj), code: 200, warnings: [], object: obj, deleted: true };
        }
        const kv = await this.storage.update(this.keyOf(namespace, name), encoderFor(serializeTemplate(obj), obj), cached.revision);
        m.resourceVersion = String(kv.modRevision);
        return { json: kv.value, code: 200, warnings: [], object: obj };
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Conflict') {
          if (options.preconditionRv) throw conflict({ qualifiedResource: this.qualified, name });
          continue;
        }
        this.storageFailure(err, name);
      }
    }
    throw conflict({ qualifiedResource: this.qualified, name }, 'too many concurrent updates; please try again');
  }

  /**
   * Records the write's field ownership in metadata.managedFields. Ownership is tracked for objects
   * that have been server-side applied (where it decides conflicts); objects only ever written
   * with ordinary requests skip the bookkeeping, which would otherwise cost every write. The first
   * apply of such an object attributes its existing fields to "before-first-apply".
   */
  private trackFields(old: KubeObject | undefined, obj: KubeObject, options: WriteOptions, ctx: RequestContext, subresource: WriteTarget): void {
    if (!options.fieldManager || options.managedFieldsSet) return;
    if (!old || !(old.metadata.managedFields ?? []).some((e) => e.operation === 'Apply')) return;
    updateManagedFields({
      defs: this.defs,
      name: this.strategy.definitionName,
      old,
      obj: obj as KubeObject & { metadata: Record<string, unknown> },
      manager: options.fieldManager,
      apiVersion: this.apiVersion,
      now: ctx.now,
      ...(subresource ? { subresource } : {}),
    });
  }

  /** True when a deleting object has no finalizers left and no grace period to wait out. */
  private isReadyToDelete(obj: KubeObject): boolean {
    const m = obj.metadata;
    if (!m.deletionTimestamp) return false;
    if ((m.finalizers ?? []).length > 0) return false;
    if (this.strategy.isFinalized && !this.strategy.isFinalized(obj)) return false;
    return (m.deletionGracePeriodSeconds ?? 0) === 0;
  }

  /**
   * Builds the object to store from the desired one and the current one: server-managed metadata
   * is carried over, the status split applied, generation bumped on spec change, then validated.
   */
  private mergeForUpdate(desired: KubeObject, old: KubeObject, subresource: WriteTarget, ctx: RequestContext): KubeObject {
    let obj: KubeObject;
    const section = subresource === '' || subresource === 'status' ? undefined : this.strategy.sections?.[subresource];
    if (subresource !== '' && subresource !== 'status' && !section) throw new Error(`${this.qualified} has no ${subresource} subresource`);
    if (section) {
      obj = structuredClone(old);
      section.take(desired, obj);
    } else if (subresource === 'status') {
      obj = structuredClone(old);
      if (desired['status'] === undefined) delete obj['status'];
      else obj['status'] = desired['status'];
    } else {
      obj = desired;
      obj.apiVersion = this.apiVersion;
      obj.kind = this.kind;
      if (this.strategy.hasStatus) {
        if (old['status'] === undefined) delete obj['status'];
        else obj['status'] = structuredClone(old['status']);
      }
    }
    const meta: ObjectMeta = obj.metadata ?? (obj.metadata = {});
    const om = old.metadata;
    meta.name = om.name;
    if (this.strategy.resource.namespaced) meta.namespace = om.namespace;
    else delete meta.namespace;
    meta.uid = om.uid;
    meta.creationTimestamp = om.creationTimestamp;
    meta.resourceVersion = om.resourceVersion;
    if (om.deletionTimestamp !== undefined) meta.deletionTimestamp = om.deletionTimestamp;
    else delete meta.deletionTimestamp;
    if (om.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    else delete meta.deletionGracePeriodSeconds;
    if (meta.generateName === undefined && om.generateName !== undefined) meta.generateName = om.generateName;
    if (this.strategy.tracksGeneration) meta.generation = om.generation ?? 1;
    else delete meta.generation;
    if (section) {
      this.throwIfInvalid(obj, [...validateMetaForUpdate(this.strategy, obj, old), ...section.validate(obj, old, ctx)]);
    } else if (subresource === 'status') {
      this.strategy.prepareForStatusUpdate(obj, old, ctx);
      this.throwIfInvalid(obj, this.strategy.validateStatusUpdate(obj, old, ctx));
    } else {
      this.strategy.prepareForUpdate(obj, old, ctx);
      if (this.strategy.tracksGeneration && specChanged(obj, old)) meta.generation = (om.generation ?? 1) + 1;
      this.throwIfInvalid(obj, [...validateMetaForUpdate(this.strategy, obj, old), ...this.strategy.validateUpdate(obj, old, ctx)]);
    }
    return obj;
  }

  /**
   * DELETE: removes the object, or marks it (deletionTimestamp) when it has finalizers or a grace
   * period. Returns the object (for kinds that return it) or a Success Status.
   */
  async delete(namespace: string, name: string, options: DeleteOptions, ctx: RequestContext): Promise<WriteResult> {
    for (let attempt = 0; attempt < MAX_GUARANTEED_UPDATE_ATTEMPTS; attempt++) {
      const cached = this.getCached(namespace, name);
      const obj = parse(cached);
      const meta = obj.metadata;
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== meta.uid) {
        throw conflict({ qualifiedResource: this.qualified, name }, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid ?? ''}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
        throw conflict({ qualifiedResource: this.qualified, name }, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${meta.resourceVersion ?? ''}`);
      }
      const finalizers = [...(meta.finalizers ?? [])];
      const policy = options.propagationPolicy;
      if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
      if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
      const grace = this.strategy.gracePeriodSeconds(obj, options.gracePeriodSeconds);
      const lingerHook = this.strategy.prepareForDelete?.(obj, ctx) ?? false;
      const linger = finalizers.length > 0 || grace > 0 || lingerHook;
      if (!linger) {
        if (options.dryRun) return this.deletedResult(obj, cached.json);
        try {
          const res = await this.storage.delete(this.keyOf(namespace, name), cached.revision);
          meta.resourceVersion = String(res.revision);
          await this.hooks?.afterDelete(obj);
          return this.deletedResult(obj, JSON.stringify(obj));
        } catch (err) {
          if (err instanceof StorageError && err.code === 'Conflict') continue;
          this.storageFailure(err, name);
        }
      }
      // Graceful or finalized deletion: mark the object and keep it.
      const already = meta.deletionTimestamp !== undefined;
      const newDeadline = new Date(ctx.now.getTime() + grace * 1000);
      let changed = false;
      if (!already) {
        meta.deletionTimestamp = formatTime(newDeadline);
        meta.deletionGracePeriodSeconds = grace;
        if (meta.generation !== undefined && meta.generation > 0) meta.generation += 1;
        changed = true;
      } else if (meta.deletionGracePeriodSeconds !== undefined && grace < meta.deletionGracePeriodSeconds) {
        // A shorter grace period shortens a pending graceful deletion.
        const shorter = formatTime(newDeadline);
        if (shorter < meta.deletionTimestamp!) meta.deletionTimestamp = shorter;
        meta.deletionGracePeriodSeconds = grace;
        changed = true;
      }
      if (!deepEqual(finalizers, meta.finalizers ?? [])) {
        meta.finalizers = finalizers;
        changed = true;
      }
      if (lingerHook) changed = true;
      if (!changed) return { json: cached.json, code: 200, warnings: [], object: obj };
      if (options.dryRun) return { json: JSON.stringify(obj), code: 200, warnings: [], object: obj };
      try {
        if (this.isReadyToDelete(obj)) {
          const res = await this.storage.delete(this.keyOf(namespace, name), cached.revision);
          meta.resourceVersion = String(res.revision);
          await this.hooks?.afterDelete(obj);
          return this.deletedResult(obj, JSON.stringify(obj));
        }
        const kv = await this.storage.update(this.keyOf(namespace, name), encoderFor(serializeTemplate(obj), obj), cached.revision);
        obj.metadata.resourceVersion = String(kv.modRevision);
        return { json: kv.value, code: 200, warnings: [], object: obj };
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Conflict') continue;
        this.storageFailure(err, name);
      }
    }
    throw conflict({ qualifiedResource: this.qualified, name }, 'too many concurrent updates; please try again');
  }

  private deletedResult(obj: KubeObject, json: string): WriteResult {
    const r = this.strategy.resource;
    if (RETURNS_DELETED_OBJECT.has(`${r.group}/${r.plural}`)) return { json, code: 200, warnings: [], object: obj, deleted: true };
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: obj.metadata.name, ...(r.group ? { group: r.group } : {}), kind: r.plural, uid: obj.metadata.uid },
    };
    return { json: JSON.stringify(status), code: 200, warnings: [], object: obj, deleted: true };
  }

  /** Makes a 409 Conflict for an object of this resource. */
  conflict(name: string): ApiError {
    return conflict({ qualifiedResource: this.qualified, name });
  }

  /** Makes an ApiError for a missing object of this resource. */
  notFound(name: string): ApiError {
    return notFound({ qualifiedResource: this.qualified, name });
  }

  /** The `pods`/`deployments.apps` form of this resource. */
  get qualifiedResource(): string {
    return this.qualified;
  }

  /** The log of this store. */
  get logger(): Logger {
    return this.log;
  }
}
