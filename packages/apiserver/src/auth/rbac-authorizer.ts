/**
 * Kubernetes' RBAC authorizer: a request is allowed when a ClusterRoleBinding, or a RoleBinding in
 * the request's namespace, binds a subject matching the user to a Role (of the binding's namespace)
 * or ClusterRole with a rule that allows it (rbac-rules.ts). Subjects match as in Kubernetes:
 * `User` by name, `Group` by any of the user's groups, `ServiceAccount` as the user
 * `system:serviceaccount:NS:NAME` (NS defaults to a RoleBinding's namespace; a ClusterRoleBinding's
 * ServiceAccount subject without a namespace matches nobody).
 *
 * Policy is read from the API server's object cache and kept as an index from subject to bindings
 * with the roles' rules parsed, rebuilt on the first decision after any Role, ClusterRole or binding
 * changed (a watch on each of the four caches marks it stale), so a binding written is honoured by
 * the next request and a decision costs a few map look-ups plus the bound roles' rules.
 *
 * A binding whose role does not exist grants nothing; as in Kubernetes, a denial then carries the
 * reason `RBAC: role.rbac.authorization.k8s.io "x" not found`.
 */
import type { KubeObject } from '@flotilla/api';
import type { Registry } from '../registry/registry.js';
import type { UserInfo } from './authenticator.js';
import type { AuthorizationAttributes, AuthorizationDecision, Authorizer, SubjectRules } from './authorizer.js';
import { ruleAllows, rulesOf, type PolicyRule } from './rbac-rules.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
export type RbacPlural = 'roles' | 'clusterroles' | 'rolebindings' | 'clusterrolebindings';
const PLURALS: readonly RbacPlural[] = ['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'];

/** Where the authorizer reads policy from. */
export interface RbacSource {
  /** The current objects of one kind. */
  list(plural: RbacPlural): KubeObject[];
  /**
   * Calls `changed` whenever an object of the four kinds changes (it may call it spuriously), and
   * `ended` when it stops following changes (then every decision re-reads the objects).
   */
  subscribe(listener: { changed(): void; ended(): void }): void;
}

/** A source over the API server's object cache. */
export function registryRbacSource(registry: Registry): RbacSource {
  const store = (plural: RbacPlural) => registry.mustStore(RBAC_GROUP, plural);
  return {
    list: (plural) => store(plural).cache.list({}, registry.cache.revision).items.map((o) => JSON.parse(o.json) as KubeObject),
    subscribe: (listener) => {
      for (const plural of PLURALS) {
        const sink = { deliver: () => listener.changed(), bookmark() {}, close: () => listener.ended() };
        store(plural).cache.watch({}, sink, { currentRevision: registry.cache.revision, allowBookmarks: false });
      }
    },
  };
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}
interface RoleRef {
  kind?: string;
  name?: string;
}

/** A binding as indexed: where it came from (for ordering) and what it grants. */
interface IndexedBinding {
  order: number;
  /** "" for ClusterRoleBindings. */
  namespace: string;
  roleRef: RoleRef;
}

/** Policy prepared for decisions. */
export class PolicyIndex {
  /** Subject key (`u:NAME`, `g:GROUP`) to ClusterRoleBindings. */
  private readonly cluster = new Map<string, IndexedBinding[]>();
  /** Namespace, then subject key, to RoleBindings. */
  private readonly namespaced = new Map<string, Map<string, IndexedBinding[]>>();
  private readonly roles = new Map<string, PolicyRule[]>();
  private readonly clusterRoles = new Map<string, PolicyRule[]>();
  readonly bindingCount: number;

  constructor(objects: Record<RbacPlural, KubeObject[]>) {
    for (const r of objects.roles) this.roles.set(`${r.metadata.namespace ?? ''}/${r.metadata.name}`, rulesOf(r as { rules?: unknown }));
    for (const r of objects.clusterroles) this.clusterRoles.set(r.metadata.name!, rulesOf(r as { rules?: unknown }));
    let order = 0;
    for (const b of objects.clusterrolebindings) this.add(this.cluster, b, '', order++);
    for (const b of objects.rolebindings) {
      const ns = b.metadata.namespace ?? '';
      let m = this.namespaced.get(ns);
      if (!m) this.namespaced.set(ns, (m = new Map()));
      this.add(m, b, ns, order++);
    }
    this.bindingCount = order;
  }

  private add(into: Map<string, IndexedBinding[]>, b: KubeObject, namespace: string, order: number): void {
    const entry: IndexedBinding = { order, namespace, roleRef: (b['roleRef'] ?? {}) as RoleRef };
    const keys = new Set<string>();
    for (const s of (Array.isArray(b['subjects']) ? b['subjects'] : []) as Subject[]) {
      if (!s || typeof s.name !== 'string') continue;
      if (s.kind === 'User') keys.add(`u:${s.name}`);
      else if (s.kind === 'Group') keys.add(`g:${s.name}`);
      else if (s.kind === 'ServiceAccount') {
        const ns = s.namespace || namespace;
        if (ns) keys.add(`u:system:serviceaccount:${ns}:${s.name}`);
      }
    }
    for (const k of keys) {
      const list = into.get(k);
      if (list) list.push(entry);
      else into.set(k, [entry]);
    }
  }

  /** The bindings that apply to `user`, cluster ones first, each once, in stored order. */
  private bindingsFor(user: UserInfo, namespace: string): IndexedBinding[] {
    const keys = [`u:${user.name}`, ...user.groups.map((g) => `g:${g}`)];
    const collect = (m: Map<string, IndexedBinding[]> | undefined): IndexedBinding[] => {
      if (!m) return [];
      const found: IndexedBinding[] = [];
      for (const k of keys) {
        const l = m.get(k);
        if (l) for (const b of l) found.push(b);
      }
      if (found.length < 2) return found;
      return [...new Set(found)].sort((a, b) => a.order - b.order);
    };
    return namespace ? [...collect(this.cluster), ...collect(this.namespaced.get(namespace))] : collect(this.cluster);
  }

  /** The rules of a ClusterRole, if it exists. */
  clusterRoleRules(name: string): PolicyRule[] | undefined {
    return this.clusterRoles.get(name);
  }

  /** The rules of a Role, if it exists. */
  roleRules(namespace: string, name: string): PolicyRule[] | undefined {
    return this.roles.get(`${namespace}/${name}`);
  }

  /** The rules of a binding's role, or the Kubernetes error when it cannot be resolved. */
  private bindingRules(b: IndexedBinding): PolicyRule[] | string {
    const name = b.roleRef.name ?? '';
    if (b.roleRef.kind === 'ClusterRole') return this.clusterRoles.get(name) ?? `clusterrole.${RBAC_GROUP} "${name}" not found`;
    if (b.roleRef.kind === 'Role') return this.roles.get(`${b.namespace}/${name}`) ?? `role.${RBAC_GROUP} "${name}" not found`;
    return `unsupported role reference kind: "${b.roleRef.kind ?? ''}"`;
  }

  /** Calls `visit` with each rule that applies to the user in `namespace` until it returns false; returns the resolution errors met. */
  visitRules(user: UserInfo, namespace: string, visit: (rule: PolicyRule) => boolean): string[] {
    const errors: string[] = [];
    for (const b of this.bindingsFor(user, namespace)) {
      const rules = this.bindingRules(b);
      if (typeof rules === 'string') {
        errors.push(rules);
        continue;
      }
      for (const r of rules) if (!visit(r)) return errors;
    }
    return errors;
  }

  /** All rules that apply to the user in `namespace` ("" = cluster bindings only). */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors = this.visitRules(user, namespace, (r) => (rules.push(r), true));
    return { rules, errors };
  }
}

/** Go's utilerrors aggregate text: one error as itself, several as `[a, b]`. */
function aggregate(errors: readonly string[]): string {
  return errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`;
}

/** The RBAC authorizer. */
export class RbacAuthorizer implements Authorizer {
  private index: PolicyIndex | undefined;
  private following = false;
  private subscribed = false;

  constructor(private readonly source: RbacSource) {}

  /** The current policy (rebuilt when stale). */
  policy(): PolicyIndex {
    if (!this.subscribed) {
      this.subscribed = true;
      this.following = true;
      this.source.subscribe({ changed: () => (this.index = undefined), ended: () => ((this.following = false), (this.index = undefined)) });
    }
    if (this.index && this.following) return this.index;
    const index = new PolicyIndex({ roles: this.source.list('roles'), clusterroles: this.source.list('clusterroles'), rolebindings: this.source.list('rolebindings'), clusterrolebindings: this.source.list('clusterrolebindings') });
    this.index = index;
    return index;
  }

  authorize(a: AuthorizationAttributes): AuthorizationDecision {
    let allowed = false;
    const errors = this.policy().visitRules(a.user, a.resource?.namespace ?? '', (rule) => !(allowed = ruleAllows(a, rule)));
    if (allowed) return { allowed: true };
    return errors.length > 0 ? { allowed: false, reason: `RBAC: ${aggregate(errors)}` } : { allowed: false };
  }

  rulesFor(user: UserInfo, namespace: string): SubjectRules {
    const { rules, errors } = this.policy().rulesFor(user, namespace);
    const out: SubjectRules = { resourceRules: [], nonResourceRules: [], incomplete: false };
    for (const r of rules) {
      if ((r.resources ?? []).length > 0) {
        out.resourceRules.push({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources!, ...((r.resourceNames ?? []).length > 0 ? { resourceNames: r.resourceNames! } : {}) });
      }
      if ((r.nonResourceURLs ?? []).length > 0) out.nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs! });
    }
    if (errors.length > 0) out.evaluationError = aggregate(errors);
    return out;
  }
}
