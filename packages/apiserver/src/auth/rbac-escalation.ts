/**
 * RBAC privilege-escalation prevention (Kubernetes' policy-based RBAC storage): a user may only
 * grant permissions they hold.
 *
 * - Creating or updating a Role or ClusterRole is allowed when the user is in `system:masters`, may
 *   `escalate` roles/clusterroles, or already holds every rule of the object through RBAC (in the
 *   role's namespace; cluster-wide bindings only for a ClusterRole). Setting a ClusterRole's
 *   `aggregationRule` needs `*` on everything (it can gather any rule).
 * - Creating or updating a RoleBinding or ClusterRoleBinding is allowed when the user is in
 *   `system:masters`, may `bind` the referenced role, or holds all of its rules.
 * - Updates that only change ownerReferences or finalizers are not checked (garbage collection).
 *
 * Otherwise the write is 403 with Kubernetes' message: `roles.rbac.authorization.k8s.io "x" is
 * forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions
 * not currently held:` and the missing rules, one a line, compacted as Kubernetes prints them.
 *
 * It works as a wrapper of the four kinds' strategies (their validation sees the requesting user).
 */
import { ApiError, type KubeObject } from '@flotilla/api';
import type { RequestContext, Strategy } from '../registry/strategy.js';
import { MASTERS_GROUP, type UserInfo } from './authenticator.js';
import type { Authorizer } from './authorizer.js';
import { RBAC_GROUP, type RbacAuthorizer, type RbacPlural } from './rbac-authorizer.js';
import { compactRules, compactString, covers, rulesOf, type PolicyRule } from './rbac-rules.js';

const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

/** Go's `%q` of a []string. */
const goQuoted = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

function forbiddenWrite(plural: RbacPlural, name: string, message: string): ApiError {
  return new ApiError(403, 'Forbidden', `${plural}.${RBAC_GROUP} "${name}" is forbidden: ${message}`, { name, group: RBAC_GROUP, kind: plural });
}

/** The object without what only garbage collection changes. */
function withoutGcFields(o: KubeObject): unknown {
  const { ownerReferences: _o, finalizers: _f, resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = o.metadata;
  return { ...o, metadata: meta };
}

/** Guards RBAC writes once attached to the server's authorizers. */
export class EscalationCheck {
  private authorizer: Authorizer | undefined;
  private rbac: RbacAuthorizer | undefined;

  /** Sets the authorizer asked for `escalate`/`bind` and the RBAC authorizer whose rules a user holds. */
  attach(authorizer: Authorizer, rbac: RbacAuthorizer): void {
    this.authorizer = authorizer;
    this.rbac = rbac;
  }

  /** Wraps the strategies of roles, clusterroles, rolebindings and clusterrolebindings in `strategies` (keyed by resourceKey). */
  guard(strategies: Map<string, Strategy>): void {
    for (const [key, s] of strategies) {
      const r = s.resource;
      if (r.group !== RBAC_GROUP) continue;
      const plural = r.plural as RbacPlural;
      const wrapped = Object.create(s) as Strategy;
      wrapped.validate = (obj, ctx) => {
        this.check(plural, obj, ctx, '');
        return s.validate(obj, ctx);
      };
      wrapped.validateUpdate = (obj, old, ctx) => {
        if (JSON.stringify(withoutGcFields(obj)) !== JSON.stringify(withoutGcFields(old))) this.check(plural, obj, ctx, obj.metadata.name ?? '');
        return s.validateUpdate(obj, old, ctx);
      };
      strategies.set(key, wrapped);
    }
  }

  /** Throws the 403 when `ctx.user` may not write `obj`. `requestName` is "" for creates (Kubernetes asks about the request's name). */
  check(plural: RbacPlural, obj: KubeObject, ctx: RequestContext, requestName: string): void {
    const user = ctx.user;
    if (user.groups.includes(MASTERS_GROUP)) return;
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    if (plural === 'roles' || plural === 'clusterroles') {
      if (this.allows(user, 'escalate', plural, requestName, namespace)) return;
      this.confirmNoEscalation(plural, name, user, namespace, rulesOf(obj as { rules?: unknown }));
      if (plural === 'clusterroles' && obj['aggregationRule'] != null && !this.holds(user, namespace, FULL_AUTHORITY)) {
        throw forbiddenWrite(plural, name, 'must have cluster-admin privileges to use the aggregationRule');
      }
      return;
    }
    const ref = (obj['roleRef'] ?? {}) as { kind?: string; name?: string };
    const refPlural = ref.kind === 'Role' ? 'roles' : 'clusterroles';
    if (this.allows(user, 'bind', refPlural, ref.name ?? '', namespace)) return;
    const rules = this.roleRules(ref, namespace);
    if (typeof rules === 'string') throw forbiddenWrite(plural, name, rules);
    this.confirmNoEscalation(plural, name, user, namespace, rules);
  }

  private allows(user: UserInfo, verb: string, resource: string, name: string, namespace: string): boolean {
    if (!this.authorizer) return false;
    return this.authorizer.authorize({ user, verb, path: '', resource: { group: RBAC_GROUP, version: '*', resource, subresource: '', namespace, name } }).allowed;
  }

  private holds(user: UserInfo, namespace: string, rules: PolicyRule[]): boolean {
    return !!this.rbac && covers(this.rbac.policy().rulesFor(user, namespace).rules, rules).covered;
  }

  private roleRules(ref: { kind?: string; name?: string }, namespace: string): PolicyRule[] | string {
    const policy = this.rbac?.policy();
    const name = ref.name ?? '';
    if (ref.kind === 'ClusterRole') return policy?.clusterRoleRules(name) ?? `clusterroles.${RBAC_GROUP} "${name}" not found`;
    if (ref.kind === 'Role') return policy?.roleRules(namespace, name) ?? `roles.${RBAC_GROUP} "${name}" not found`;
    return `unsupported role reference kind: "${ref.kind ?? ''}"`;
  }

  private confirmNoEscalation(plural: RbacPlural, name: string, user: UserInfo, namespace: string, rules: PolicyRule[]): void {
    const held = this.rbac ? this.rbac.policy().rulesFor(user, namespace) : { rules: [], errors: [] };
    const { covered, missing } = covers(held.rules, rules);
    if (covered) return;
    const lines = [...new Set(compactRules(missing).map(compactString))].sort();
    let message = `user "${user.name}" (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
    if (held.errors.length > 0) message += `; resolution errors: [${held.errors.length === 1 ? held.errors[0] : `[${held.errors.join(', ')}]`}]`;
    throw forbiddenWrite(plural, name, message);
  }
}
