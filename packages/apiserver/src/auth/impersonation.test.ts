import { ApiError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import type { UserInfo } from './authenticator.js';
import { GroupAuthorizer } from './authorizer.js';
import { impersonatedUser } from './impersonation.js';
import { podReferenceGraph } from './node-authorizer.js';

const ADMIN: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
const NODE: UserInfo = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const authorizer = new GroupAuthorizer(podReferenceGraph({ getPod: () => undefined, podsOnNode: () => [], getPersistentVolume: () => undefined }));
const as = (user: UserInfo, headers: Record<string, string | string[]>) => impersonatedUser(user, headers, authorizer, '/api/v1/pods');

function error(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('impersonation', () => {
  it('leaves a request without the headers as its own user', () => {
    expect(as(NODE, {})).toBe(NODE);
  });

  it('lets an admin act as a user with groups and a uid, adding system:authenticated', () => {
    expect(as(ADMIN, { 'impersonate-user': 'bob', 'impersonate-group': ['devs', 'ops'], 'impersonate-uid': 'u-1' })).toEqual({ name: 'bob', groups: ['devs', 'ops', 'system:authenticated'], uid: 'u-1' });
    expect(as(ADMIN, { 'impersonate-user': 'system:anonymous' })).toEqual({ name: 'system:anonymous', groups: [] });
  });

  it("gives a service account its groups unless groups are named", () => {
    expect(as(ADMIN, { 'impersonate-user': 'system:serviceaccount:team:builder' }).groups).toEqual(['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated']);
    expect(as(ADMIN, { 'impersonate-user': 'system:serviceaccount:team:builder', 'impersonate-group': 'x' }).groups).toEqual(['x', 'system:authenticated']);
  });

  it('refuses users who may not impersonate, with Kubernetes\' Status', () => {
    const e = error(() => as(NODE, { 'impersonate-user': 'admin' }));
    expect(e.code).toBe(403);
    expect(e.message).toBe('users "admin" is forbidden: User "system:node:n1" cannot impersonate resource "users" in API group "" at the cluster scope');
    const sa = error(() => as(NODE, { 'impersonate-user': 'system:serviceaccount:team:builder' }));
    expect(sa.message).toContain('cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team"');
  });

  it('needs a user for groups or a uid', () => {
    expect(error(() => as(ADMIN, { 'impersonate-group': 'devs' })).code).toBe(400);
    expect(error(() => as(ADMIN, { 'impersonate-user': ['a', 'b'] })).code).toBe(400);
  });
});
