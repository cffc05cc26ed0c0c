import { ApiError } from '@flotilla/api';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerAccessReviews, reviewAttributes } from './access-reviews.js';
import type { UserInfo } from './authenticator.js';
import { GroupAuthorizer, isSelfReview } from './authorizer.js';
import { podReferenceGraph } from './node-authorizer.js';

const BOOT: UserInfo = { name: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
const NODE: UserInfo = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const authorizer = new GroupAuthorizer(podReferenceGraph({ getPod: () => undefined, podsOnNode: () => [], getPersistentVolume: () => undefined }));

/** The app with the endpoints, every request authenticated as `user`. */
async function app(user: UserInfo) {
  const a = Fastify();
  a.removeAllContentTypeParsers();
  a.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  a.addHook('onRequest', async (req) => {
    req.user = user;
  });
  // The server's error handler answers an ApiError with its Status.
  a.setErrorHandler((err, _req, reply) => (err instanceof ApiError ? reply.code(err.code).send(err.toStatus()) : reply.code(500).send({ message: String(err) })));
  registerAccessReviews(a, { authorizer });
  await a.ready();
  return a;
}

async function review(user: UserInfo, spec: unknown): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const a = await app(user);
  const r = await a.inject({ method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec }) });
  await a.close();
  return { statusCode: r.statusCode, body: JSON.parse(r.body) as Record<string, unknown> };
}

describe('access reviews', () => {
  it('asks the authorizer about the reviewed request for the requesting user', async () => {
    const cases: [UserInfo, unknown, boolean][] = [
      [BOOT, { resourceAttributes: { verb: 'create', group: 'flotilla.io', resource: 'nodecredentials' } }, true],
      [BOOT, { resourceAttributes: { verb: 'create', resource: 'pods', namespace: 'default' } }, false],
      [NODE, { resourceAttributes: { verb: 'get', resource: 'nodes', name: 'n1' } }, true],
      [NODE, { resourceAttributes: { verb: 'delete', resource: 'nodes', name: 'n1' } }, false],
      [NODE, { nonResourceAttributes: { verb: 'get', path: '/version' } }, true],
      [BOOT, { nonResourceAttributes: { verb: 'get', path: '/metrics' } }, false],
    ];
    for (const [user, spec, allowed] of cases) {
      const r = await review(user, spec);
      expect(r.statusCode).toBe(201);
      expect(r.body).toMatchObject({ kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec, status: { allowed } });
    }
  });

  it('needs exactly one of resourceAttributes and nonResourceAttributes, and a matching kind', async () => {
    for (const spec of [{}, { resourceAttributes: { verb: 'get', resource: 'pods' }, nonResourceAttributes: { verb: 'get', path: '/' } }]) {
      const r = await review(BOOT, spec);
      expect(r.statusCode).toBe(422);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'Invalid' });
    }
    expect(() => reviewAttributes(BOOT, undefined)).toThrow(ApiError);
    const a = await app(BOOT);
    const wrong = await a.inject({ method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }) });
    await a.close();
    expect(wrong.statusCode).toBe(400);
  });

  it('lists what the user may do as rules, incomplete where they depend on the object', async () => {
    const rules = async (user: UserInfo) => {
      const a = await app(user);
      const r = await a.inject({ method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'default' } }) });
      await a.close();
      expect(r.statusCode).toBe(201);
      return (JSON.parse(r.body) as { status: { resourceRules: { verbs: string[]; apiGroups: string[]; resources: string[] }[]; nonResourceRules: unknown[]; incomplete: boolean } }).status;
    };
    const admin = await rules({ name: 'admin', groups: ['system:masters', 'system:authenticated'] });
    expect(admin).toEqual({ resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false });
    const boot = await rules(BOOT);
    expect(boot.incomplete).toBe(false);
    expect(boot.resourceRules).toContainEqual({ verbs: ['create'], apiGroups: ['flotilla.io'], resources: ['nodecredentials'] });
    expect(boot.resourceRules).toContainEqual({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] });
    const node = await rules(NODE);
    expect(node.incomplete).toBe(true);
    expect(node.resourceRules).toContainEqual({ verbs: ['get', 'list', 'watch'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] });
    expect(node.resourceRules.some((r) => r.resources.includes('nodes/status'))).toBe(false);
    // Every listed rule is one the authorizer allows.
    for (const r of boot.resourceRules) {
      for (const verb of r.verbs) {
        expect(authorizer.authorize(reviewAttributes(BOOT, { resourceAttributes: { verb, group: r.apiGroups[0], resource: r.resources[0] } })).allowed).toBe(true);
      }
    }
  });

  it('tells the user who they are', async () => {
    const a = await app(BOOT);
    const r = await a.inject({ method: 'POST', url: '/apis/authentication.k8s.io/v1/selfsubjectreviews', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
    const doc = await a.inject({ method: 'GET', url: '/apis/authentication.k8s.io/v1' });
    await a.close();
    expect(r.statusCode).toBe(201);
    expect(JSON.parse(r.body)).toMatchObject({ kind: 'SelfSubjectReview', status: { userInfo: { username: BOOT.name, groups: BOOT.groups } } });
    expect(JSON.parse(doc.body)).toMatchObject({ kind: 'APIResourceList', resources: [{ name: 'selfsubjectreviews', kind: 'SelfSubjectReview', verbs: ['create'] }] });
  });

  it('is allowed to every authenticated user', () => {
    expect(isSelfReview('authorization.k8s.io', 'selfsubjectaccessreviews', 'create')).toBe(true);
    expect(isSelfReview('authorization.k8s.io', 'subjectaccessreviews', 'create')).toBe(false);
    expect(authorizer.authorize({ user: BOOT, verb: 'create', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', resource: { group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', subresource: '', namespace: '', name: '' } })).toEqual({ allowed: true });
  });
});
