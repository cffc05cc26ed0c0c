/**
 * The set of stores the API server serves: one GenericStore per stored resource, sharing one
 * ObjectCache and one Storage.
 */
import { findResource, forbidden, RESOURCES, isStoredResource, type KubeObject, type ResourceInfo, type SchemaDefinitions } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import type { CodecFactory, KindCodec } from './codec.js';
import { composeHooks, GenericStore, type NamespaceLookup } from './generic-store.js';
import { ObjectCache } from './object-cache.js';
import { limitRangeAdmission, quotaHooks, type LimitRangeView } from './quota-admission.js';
import { chainAdmissions, serviceAccountAdmission } from './service-account-admission.js';
import type { CachedObject, ObjectIndexer } from './resource-cache.js';
import type { Strategy } from './strategy.js';

/** Builds the cache entry of an object from its JSON (or the object it was serialized from). */
export function indexerFor(strategy: Pick<Strategy, 'resource' | 'selectableFields'>): ObjectIndexer {
  const namespaced = strategy.resource.namespaced;
  const selectable = Object.entries(strategy.selectableFields);
  return (json, revision, source) => {
    const obj = (source ?? JSON.parse(json)) as KubeObject;
    const ns = namespaced ? obj.metadata.namespace ?? '' : '';
    const name = obj.metadata.name ?? '';
    const fields: Record<string, string> = { 'metadata.name': name, 'metadata.namespace': ns };
    for (const [f, read] of selectable) fields[f] = read(obj) ?? '';
    // The writer keeps its object: the entry gets its own copy of the labels.
    const labels = source !== undefined && obj.metadata.labels ? { ...obj.metadata.labels } : obj.metadata.labels;
    return { id: namespaced ? `${ns}/${name}` : name, namespace: ns, name, json, revision, labels, fields };
  };
}

interface PriorityClassView {
  metadata: { name?: string };
  value?: number;
  globalDefault?: boolean;
  preemptionPolicy?: string;
}

/** Every object a store holds, parsed (for admission that consults a small cluster-scoped kind). */
function parsedItems<T>(store: GenericStore): T[] {
  return store.cache.list({}, 0).items.map((o) => JSON.parse(o.json) as T);
}

/**
 * Pod priority admission (Kubernetes' Priority plugin): spec.priority and preemptionPolicy come from
 * the pod's PriorityClass, or from the class marked globalDefault; an unknown class is Forbidden.
 */
export function priorityAdmission(classes: GenericStore): (obj: KubeObject) => void {
  return (obj) => {
    const spec = (obj['spec'] ?? (obj['spec'] = {})) as { priorityClassName?: string; priority?: number; preemptionPolicy?: string };
    let pc: PriorityClassView | undefined;
    if (spec.priorityClassName) {
      pc = classes.tryGet('', spec.priorityClassName) as PriorityClassView | undefined;
      if (!pc) throw forbidden({ qualifiedResource: 'pods', name: obj.metadata.name ?? obj.metadata.generateName ?? '' }, `no PriorityClass with name ${spec.priorityClassName} was found`);
    } else {
      pc = parsedItems<PriorityClassView>(classes).find((c) => c.globalDefault === true);
      if (pc) spec.priorityClassName = pc.metadata.name;
    }
    if (pc) {
      if (spec.priority !== undefined && spec.priority !== pc.value) throw forbidden({ qualifiedResource: 'pods', name: obj.metadata.name ?? '' }, 'the integer value of priority must not be provided in pod spec; priority admission controller computed ' + String(pc.value) + ' from the given PriorityClass name');
      spec.priority = pc.value ?? 0;
      if (pc.preemptionPolicy) spec.preemptionPolicy = pc.preemptionPolicy;
    }
  };
}

interface ClassView {
  metadata: { name?: string; creationTimestamp?: string; annotations?: Record<string, string> };
}

/** The newest of the classes carrying a default annotation (Kubernetes picks the newest, then the greatest name). */
export function newestDefault(classes: readonly ClassView[], annotations: readonly string[]): string | undefined {
  const defaults = classes.filter((c) => annotations.some((a) => c.metadata.annotations?.[a] === 'true'));
  defaults.sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? '') || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? ''));
  return defaults[0]?.metadata.name;
}


/**
 * Kubernetes' DefaultIngressClass admission: an Ingress created without spec.ingressClassName (nor
 * the legacy `kubernetes.io/ingress.class` annotation) gets the default IngressClass, if there is one.
 */
export function defaultIngressClassAdmission(classes: () => readonly ClassView[]): (obj: KubeObject) => void {
  return (obj) => {
    const spec = (obj['spec'] ?? (obj['spec'] = {})) as { ingressClassName?: string };
    if (spec.ingressClassName !== undefined || obj.metadata.annotations?.['kubernetes.io/ingress.class'] !== undefined) return;
    const name = newestDefault(classes(), ['ingressclass.kubernetes.io/is-default-class']);
    if (name) spec.ingressClassName = name;
  };
}

/**
 * Kubernetes' DefaultStorageClass admission: a claim created without spec.storageClassName gets the
 * default StorageClass, if there is one (an explicit "" asks for no class and stays).
 */
export function defaultStorageClassAdmission(classes: () => readonly ClassView[]): (obj: KubeObject) => void {
  return (obj) => {
    const spec = (obj['spec'] ?? (obj['spec'] = {})) as { storageClassName?: string };
    if (spec.storageClassName !== undefined) return;
    const name = newestDefault(classes(), ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class']);
    if (name) spec.storageClassName = name;
  };
}

/** Dependencies of the registry. */
export interface RegistryDeps {
  storage: Storage;
  strategies: ReadonlyMap<string, Strategy>;
  codecs: CodecFactory;
  logger: Logger;
  defs: SchemaDefinitions;
}

/** `group/plural` — the key strategies are registered under. */
export function resourceKey(r: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return `${r.group}/${r.plural}`;
}

/** All stores plus the cache they share. */
export class Registry implements NamespaceLookup {
  readonly cache: ObjectCache;
  private readonly stores = new Map<string, GenericStore>();
  private namespacesStore: GenericStore | undefined;
  /** Namespace states by cache entry (an entry is replaced, never changed, when the namespace is written). */
  private readonly namespaceStates = new WeakMap<CachedObject, 'Active' | 'Terminating'>();

  constructor(private readonly deps: RegistryDeps) {
    this.cache = new ObjectCache(deps.storage, deps.logger.child({ subsystem: 'cache' }));
  }

  /** Loads the cache and builds the stores. */
  async start(): Promise<void> {
    const entries: { resource: ResourceInfo; strategy: Strategy }[] = [];
    for (const r of RESOURCES) {
      if (!isStoredResource(r)) continue;
      const strategy = this.deps.strategies.get(resourceKey(r));
      if (!strategy) throw new Error(`no strategy for ${resourceKey(r)}`);
      entries.push({ resource: r, strategy });
    }
    await this.cache.start(entries.map((e) => ({ resource: e.resource, indexer: indexerFor(e.strategy), indexField: e.strategy.indexField })));
    for (const { resource, strategy } of entries) {
      const store = new GenericStore({
        strategy,
        storage: this.deps.storage,
        cache: this.cache.cacheFor(resource),
        codec: this.deps.codecs(strategy.definitionName),
        namespaces: this,
        logger: this.deps.logger,
        defs: this.deps.defs,
      });
      this.stores.set(resourceKey(resource), store);
    }
    this.namespacesStore = this.stores.get('/namespaces');
    const pods = this.stores.get('/pods');
    const priorityClasses = this.stores.get('scheduling.k8s.io/priorityclasses');
    const serviceAccounts = this.stores.get('/serviceaccounts');
    const limitRanges = this.stores.get('/limitranges');
    const rangesIn = (namespace: string) => (limitRanges ? limitRanges.cache.list({ namespace }, 0).items.map((o) => JSON.parse(o.json) as LimitRangeView) : []);
    if (pods) {
      pods.admission = chainAdmissions(
        limitRangeAdmission('pods', rangesIn),
        ...(priorityClasses ? [priorityAdmission(priorityClasses)] : []),
        ...(serviceAccounts ? [serviceAccountAdmission((ns, name) => serviceAccounts.tryGet(ns, name))] : []),
      );
    }
    const ingresses = this.stores.get('networking.k8s.io/ingresses');
    const ingressClasses = this.stores.get('networking.k8s.io/ingressclasses');
    if (ingresses && ingressClasses) ingresses.admission = defaultIngressClassAdmission(() => parsedItems<ClassView>(ingressClasses));
    const claims = this.stores.get('/persistentvolumeclaims');
    const storageClasses = this.stores.get('storage.k8s.io/storageclasses');
    if (claims) {
      claims.admission = chainAdmissions(limitRangeAdmission('persistentvolumeclaims', rangesIn), ...(storageClasses ? [defaultStorageClassAdmission(() => parsedItems<ClassView>(storageClasses))] : []));
    }
    // ResourceQuota admission for every namespaced kind (the last check before a create is stored).
    const quotas = this.stores.get('/resourcequotas');
    if (quotas) {
      for (const store of this.stores.values()) {
        if (store.strategy.resource.namespaced) store.hooks = composeHooks(quotaHooks(store.strategy.resource, store, quotas), store.hooks);
      }
    }
  }

  /** The codec of a schema definition (decoding bodies of a kind served by conversion). */
  codecFor(definitionName: string): KindCodec {
    return this.deps.codecs(definitionName);
  }

  /** Stops the cache (closing watches). */
  stop(): void {
    this.cache.stop();
  }

  /** The store of a resource, if served. */
  storeFor(r: Pick<ResourceInfo, 'group' | 'plural'>): GenericStore | undefined {
    return this.stores.get(resourceKey(r));
  }

  /** The store of `group/version/plural`, or throws (a programming error). */
  mustStore(group: string, plural: string): GenericStore {
    const s = this.stores.get(`${group}/${plural}`);
    if (!s) throw new Error(`no store for ${group}/${plural}`);
    return s;
  }

  /** Every store. */
  allStores(): IterableIterator<GenericStore> {
    return this.stores.values();
  }

  /** Whether a namespace exists and whether it is terminating. */
  namespaceState(name: string): 'Active' | 'Terminating' | undefined {
    const o = this.namespacesStore?.cache.get(name);
    if (!o) return undefined;
    // Asked on every namespaced create: parsed once per version of the namespace.
    let state = this.namespaceStates.get(o);
    if (!state) {
      const ns = JSON.parse(o.json) as { metadata: { deletionTimestamp?: string }; status?: { phase?: string } };
      state = ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating' ? 'Terminating' : 'Active';
      this.namespaceStates.set(o, state);
    }
    return state;
  }

  /** The resource served at group/version/plural. */
  resource(group: string, version: string, plural: string): ResourceInfo | undefined {
    return findResource(group, version, plural);
  }
}
