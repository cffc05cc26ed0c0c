/**
 * Authorization: may this user do this? The server's authorizer is the union ({@link UnionAuthorizer},
 * Kubernetes' `--authorization-mode=Node,RBAC`) of RBAC (rbac-authorizer.ts) and a fixed policy by
 * group, in the order Kubernetes' built-in roles and authorizers would decide it:
 *
 * | who                                   | may                                                              |
 * |---------------------------------------|------------------------------------------------------------------|
 * | `system:masters`                      | everything                                                       |
 * | any authenticated user                | discovery (`/api`, `/apis`, group/version roots), `/version`,    |
 * |                                       | health, `/openapi/*`, `/cacerts` (system:discovery, public-info) |
 * |                                       | + create self-subject access, rules and user reviews (basic-user)|
 * | `system:bootstrappers`                | + create `nodecredentials.flotilla.io` (node-bootstrapper role)  |
 * | `system:nodes` (`system:node:<name>`) | + the Node authorizer's rules in {@link NODE_RULES}              |
 *
 * Everything else is 403 with Kubernetes' Status message.
 */
import { ApiError, BOOTSTRAPPERS_GROUP, type KubeObject } from '@flotilla/api';
import { MASTERS_GROUP, type UserInfo } from './authenticator.js';
import { authorizeNode, NODE_RULES, NODES_GROUP, type NodeGraph } from './node-authorizer.js';

/** What a resource request addresses (Kubernetes' RequestInfo, for authorization). */
export interface ResourceAttributes {
  group: string;
  version: string;
  /** Plural. */
  resource: string;
  subresource: string;
  /** "" for cluster-scoped resources and requests across namespaces. */
  namespace: string;
  /** "" for list, watch, create and deletecollection. */
  name: string;
}

/** One request, as the authorizer sees it. */
export interface AuthorizationAttributes {
  user: UserInfo;
  /** A Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection, connect) for resource requests; the lower-case HTTP method otherwise. */
  verb: string;
  /** The URL path (no query). */
  path: string;
  /** Set for resource requests. */
  resource?: ResourceAttributes;
  /** The `fieldSelector` query parameter of list and watch. */
  fieldSelector?: string;
  /** The object in the request body (create/update), decoded on demand; undefined when absent or unreadable. */
  object?: () => KubeObject | undefined;
}

/** Allowed, or denied with an optional reason appended to the message. */
export type AuthorizationDecision = { allowed: true } | { allowed: false; reason?: string };

/** One rule of a rules review (RBAC's PolicyRule shapes). */
export interface ResourceRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
}
export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs: string[];
}

/** What a user may do, as far as the authorizer can enumerate it (SelfSubjectRulesReview status). */
export interface SubjectRules {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  /** True when some permissions depend on the object and cannot be listed. */
  incomplete: boolean;
  evaluationError?: string;
}

/** Decides requests. */
export interface Authorizer {
  authorize(attrs: AuthorizationAttributes): AuthorizationDecision;
  /** The user's permissions in `namespace` ("" = cluster-wide only) as rules, when the authorizer can list them. */
  rulesFor?(user: UserInfo, namespace: string): SubjectRules;
}

/** Non-resource paths every authenticated user may GET (Kubernetes' system:discovery and system:public-info-viewer). */
const DISCOVERY_PATHS = [/^\/api\/?$/, /^\/api\/v1\/?$/, /^\/apis\/?$/, /^\/apis\/[^/]+\/?$/, /^\/apis\/[^/]+\/[^/]+\/?$/, /^\/version\/?$/, /^\/healthz$/, /^\/livez$/, /^\/readyz$/, /^\/openapi\/.*/, /^\/cacerts$/];

/** Group/resource of the node credential request (the only thing a bootstrap token is for). */
export const NODE_CREDENTIALS = { group: 'flotilla.io', resource: 'nodecredentials' } as const;

const ALLOW: AuthorizationDecision = { allowed: true };
const DENY: AuthorizationDecision = { allowed: false };

function isDiscovery(a: AuthorizationAttributes): boolean {
  return (a.verb === 'get' || a.verb === 'head') && !a.resource && DISCOVERY_PATHS.some((re) => re.test(a.path));
}

/** Everything, as rules (system:masters, or a server without authorization). */
export const ALL_RULES: SubjectRules = { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false };

/** What every authenticated user may do (system:discovery, system:public-info-viewer, system:basic-user). */
const BASIC_RULES: SubjectRules = {
  resourceRules: [
    { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
    { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
  ],
  nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/cacerts', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] }],
  incomplete: false,
};

/**
 * The self-subject reviews (access-reviews.ts) any authenticated user may create (system:basic-user):
 * decided by BASIC_RULES' resource rules, so the rules review lists exactly what is allowed.
 */
export function isSelfReview(group: string, resource: string, verb: string): boolean {
  return BASIC_RULES.resourceRules.some((r) => r.verbs.includes(verb) && r.apiGroups.includes(group) && r.resources.includes(resource));
}

/** The fixed policy described at the top of this file. */
export class GroupAuthorizer implements Authorizer {
  constructor(private readonly graph: NodeGraph) {}

  rulesFor(user: UserInfo, _namespace = ''): SubjectRules {
    if (user.groups.includes(MASTERS_GROUP)) return ALL_RULES;
    const out: SubjectRules = { resourceRules: [...BASIC_RULES.resourceRules], nonResourceRules: [...BASIC_RULES.nonResourceRules], incomplete: false };
    if (user.groups.includes(BOOTSTRAPPERS_GROUP)) out.resourceRules.push({ verbs: ['create'], apiGroups: [NODE_CREDENTIALS.group], resources: [NODE_CREDENTIALS.resource] });
    if (user.groups.includes(NODES_GROUP)) {
      // Rules that depend on the object (its own Node, its pods' secrets...) cannot be listed, as with
      // Kubernetes' Node authorizer.
      for (const r of NODE_RULES) if (!r.when) out.resourceRules.push({ verbs: [...r.verbs], apiGroups: [...r.groups], resources: [...r.resources] });
      out.incomplete = true;
      out.evaluationError = 'node authorizer does not support user rule resolution';
    }
    return out;
  }

  authorize(a: AuthorizationAttributes): AuthorizationDecision {
    const groups = a.user.groups;
    if (groups.includes(MASTERS_GROUP)) return ALLOW;
    if (isDiscovery(a)) return ALLOW;
    if (a.resource && isSelfReview(a.resource.group, a.resource.resource, a.verb)) return ALLOW;
    if (groups.includes(BOOTSTRAPPERS_GROUP) && a.resource && a.verb === 'create' && a.resource.group === NODE_CREDENTIALS.group && a.resource.resource === NODE_CREDENTIALS.resource && a.resource.subresource === '') {
      return ALLOW;
    }
    if (groups.includes(NODES_GROUP)) return authorizeNode(a, this.graph);
    return DENY;
  }
}

/**
 * Several authorizers as one (Kubernetes' union authorizer): a request is allowed when any allows
 * it; a denial carries the reasons each gave, one a line. The rules review lists every authorizer's
 * rules (identical rules once); it is incomplete when any part is.
 */
export class UnionAuthorizer implements Authorizer {
  constructor(private readonly authorizers: readonly Authorizer[]) {}

  authorize(a: AuthorizationAttributes): AuthorizationDecision {
    const reasons: string[] = [];
    for (const z of this.authorizers) {
      const d = z.authorize(a);
      if (d.allowed) return d;
      if (d.reason) reasons.push(d.reason);
    }
    return reasons.length > 0 ? { allowed: false, reason: reasons.join('\n') } : DENY;
  }

  rulesFor(user: UserInfo, namespace: string): SubjectRules {
    const out: SubjectRules = { resourceRules: [], nonResourceRules: [], incomplete: false };
    const seen = new Set<string>();
    const errors: string[] = [];
    /**
     * The rule without the entries (resources or URLs) an earlier rule with the same verbs (and
     * groups, names) already lists — kubectl prints one row per entry — or undefined when none is left.
     */
    const fresh = <R extends ResourceRule | NonResourceRule>(rule: R, listKey: 'resources' | 'nonResourceURLs'): R | undefined => {
      const { [listKey]: entries, ...rest } = rule as unknown as Record<string, string[]>;
      const context = JSON.stringify(rest);
      const kept = (entries ?? []).filter((e) => {
        const k = `${context}\u0000${e}`;
        return !seen.has(k) && !!seen.add(k);
      });
      return kept.length === 0 ? undefined : ({ ...rule, [listKey]: kept } as R);
    };
    for (const z of this.authorizers) {
      const r = z.rulesFor ? z.rulesFor(user, namespace) : { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'the authorizer cannot list rules' };
      for (const x of r.resourceRules) {
        const f = fresh(x, 'resources');
        if (f) out.resourceRules.push(f);
      }
      for (const x of r.nonResourceRules) {
        const f = fresh(x, 'nonResourceURLs');
        if (f) out.nonResourceRules.push(f);
      }
      out.incomplete ||= r.incomplete;
      if (r.evaluationError) errors.push(r.evaluationError);
    }
    if (errors.length > 0) out.evaluationError = errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`;
    return out;
  }
}

/** Kubernetes' 403 Status for a denied request (`secrets is forbidden: User "x" cannot list resource "secrets" in API group "" at the cluster scope`). */
export function forbidden(a: AuthorizationAttributes, reason?: string): ApiError {
  const user = a.user.name;
  const r = a.resource;
  if (!r) {
    const msg = `User "${user}" cannot ${a.verb} path "${a.path}"${reason ? `: ${reason}` : ''}`;
    return new ApiError(403, 'Forbidden', `forbidden: ${msg}`, {});
  }
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  const scope = r.namespace ? `in the namespace "${r.namespace}"` : 'at the cluster scope';
  const msg = `User "${user}" cannot ${a.verb} resource "${resource}" in API group "${r.group}" ${scope}${reason ? `: ${reason}` : ''}`;
  const qualified = r.group ? `${r.resource}.${r.group}` : r.resource;
  const subject = r.name ? `${qualified} "${r.name}"` : qualified;
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${msg}`, { ...(r.name ? { name: r.name } : {}), group: r.group, kind: r.resource });
}
