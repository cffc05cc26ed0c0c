/**
 * The two questions any authenticated user may ask about themselves (Kubernetes' system:basic-user
 * role), answered from the request's own credentials without storing anything:
 *
 * - `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` — may I do this? (`kubectl auth
 *   can-i`): the server's authorizer decides `spec.resourceAttributes` or `spec.nonResourceAttributes`
 *   for the requesting user, and the answer comes back in `status.allowed`.
 * - `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews` — what may I do? (`kubectl auth can-i
 *   --list`): the authorizer's rules for the user, `incomplete` where they depend on the object.
 * - `POST /apis/authentication.k8s.io/v1/selfsubjectreviews` — who am I? (`kubectl auth whoami`):
 *   `status.userInfo` is the user the request authenticated as.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '@flotilla/api';
import { checkTypeMeta, decodeObjectBody } from '../http/body.js';
import type { UserInfo } from './authenticator.js';
import { ALL_RULES, type AuthorizationAttributes, type Authorizer } from './authorizer.js';

const AUTHORIZATION_GROUP = 'authorization.k8s.io';
const AUTHENTICATION_GROUP = 'authentication.k8s.io';
const VERSION = 'v1';
const SSAR = { kind: 'SelfSubjectAccessReview', plural: 'selfsubjectaccessreviews', group: AUTHORIZATION_GROUP };
const SSRR = { kind: 'SelfSubjectRulesReview', plural: 'selfsubjectrulesreviews', group: AUTHORIZATION_GROUP };
const SSR = { kind: 'SelfSubjectReview', plural: 'selfsubjectreviews', group: AUTHENTICATION_GROUP };

/** The groups as /apis lists them. */
export const ACCESS_REVIEW_API_GROUPS: { name: string; versions: string[] }[] = [
  { name: AUTHENTICATION_GROUP, versions: [VERSION] },
  { name: AUTHORIZATION_GROUP, versions: [VERSION] },
];

interface ResourceAttributesBody {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

function invalid(kind: string, group: string, field: string, message: string): ApiError {
  return new ApiError(422, 'Invalid', `${kind}.${group} "" is invalid: ${field}: ${message}`, { kind, group, causes: [{ reason: 'FieldValueInvalid', message, field }] });
}

/** Reads a review body: JSON (or YAML) with the endpoint's apiVersion and kind. */
function readReview(req: FastifyRequest, r: { kind: string; group: string }): Record<string, unknown> {
  let body: unknown;
  try {
    body = decodeObjectBody(req.body as Buffer | undefined, req.headers['content-type']);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest(`the request body must be a ${r.kind}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the request body must be a ${r.kind}`);
  const b = body as Record<string, unknown>;
  checkTypeMeta(b, r.kind, `${r.group}/${VERSION}`);
  return b;
}

/** The request an access review asks about, as the authorizer sees it. */
export function reviewAttributes(user: UserInfo, spec: Record<string, unknown> | undefined): AuthorizationAttributes {
  const ra = spec?.['resourceAttributes'] as ResourceAttributesBody | undefined;
  const nra = spec?.['nonResourceAttributes'] as { path?: string; verb?: string } | undefined;
  if ((ra === undefined) === (nra === undefined)) {
    throw invalid(SSAR.kind, SSAR.group, 'spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes must be specified');
  }
  if (nra) return { user, verb: nra.verb ?? '', path: nra.path ?? '' };
  const r = ra!;
  const group = r.group ?? '';
  const ns = r.namespace ?? '';
  const base = group === '' ? `/api/${r.version || 'v1'}` : `/apis/${group}/${r.version || '*'}`;
  const path = [base, ...(ns ? ['namespaces', ns] : []), r.resource ?? '', ...(r.name ? [r.name] : []), ...(r.subresource ? [r.subresource] : [])].join('/');
  return {
    user,
    verb: r.verb ?? '',
    path,
    resource: { group, version: r.version ?? '', resource: r.resource ?? '', subresource: r.subresource ?? '', namespace: ns, name: r.name ?? '' },
    object: () => undefined,
  };
}

function groupDocument(group: string): Record<string, unknown> {
  const v = { groupVersion: `${group}/${VERSION}`, version: VERSION };
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: [v], preferredVersion: v };
}

/** `GET /apis/<group>/v1` of one access-review group. */
export function accessReviewResourceList(group: string): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${group}/${VERSION}`,
    resources: [SSAR, SSRR, SSR].filter((r) => r.group === group).map((r) => ({ name: r.plural, singularName: r.kind.toLowerCase(), namespaced: false, kind: r.kind, verbs: ['create'] })),
  };
}

/**
 * Registers the three endpoints and their groups' discovery documents. Without an authorizer every
 * request is allowed, and so is every reviewed one.
 */
export function registerAccessReviews(app: FastifyInstance, deps: { authorizer: Authorizer | undefined }): void {
  const json = (o: unknown) => JSON.stringify(o);
  for (const group of [AUTHORIZATION_GROUP, AUTHENTICATION_GROUP]) {
    app.get(`/apis/${group}`, async (_req, reply) => reply.type('application/json').send(json(groupDocument(group))));
    app.get(`/apis/${group}/${VERSION}`, async (_req, reply) => reply.type('application/json').send(json(accessReviewResourceList(group))));
  }

  app.post(`/apis/${SSAR.group}/${VERSION}/${SSAR.plural}`, async (req, reply) => {
    const user = req.user!;
    const body = readReview(req, SSAR);
    const spec = (body['spec'] ?? undefined) as Record<string, unknown> | undefined;
    const decision = deps.authorizer ? deps.authorizer.authorize(reviewAttributes(user, spec)) : { allowed: true as const };
    const status = decision.allowed ? { allowed: true } : { allowed: false, ...(decision.reason ? { reason: decision.reason } : {}) };
    const metadata = { ...((body['metadata'] as Record<string, unknown> | undefined) ?? {}), creationTimestamp: null };
    return reply.code(201).type('application/json').send(json({ kind: SSAR.kind, apiVersion: `${SSAR.group}/${VERSION}`, metadata, spec, status }));
  });

  app.post(`/apis/${SSRR.group}/${VERSION}/${SSRR.plural}`, async (req, reply) => {
    const body = readReview(req, SSRR);
    const spec = (body['spec'] ?? {}) as Record<string, unknown>;
    const namespace = typeof spec['namespace'] === 'string' ? spec['namespace'] : '';
    const status = !deps.authorizer ? ALL_RULES : deps.authorizer.rulesFor ? deps.authorizer.rulesFor(req.user!, namespace) : { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'the authorizer cannot list rules' };
    return reply.code(201).type('application/json').send(json({ kind: SSRR.kind, apiVersion: `${SSRR.group}/${VERSION}`, metadata: { creationTimestamp: null }, spec, status }));
  });

  app.post(`/apis/${SSR.group}/${VERSION}/${SSR.plural}`, async (req, reply) => {
    const user = req.user!;
    readReview(req, SSR);
    const userInfo = { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(user.extra ? { extra: user.extra } : {}) };
    return reply.code(201).type('application/json').send(json({ kind: SSR.kind, apiVersion: `${SSR.group}/${VERSION}`, metadata: { creationTimestamp: null }, status: { userInfo } }));
  });
}
