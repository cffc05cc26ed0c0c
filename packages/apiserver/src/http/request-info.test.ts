import { describe, expect, it } from 'vitest';
import { parseResourcePath } from './request-info.js';

describe('parseResourcePath', () => {
  it.each([
    ['GET', '/api/v1/namespaces/ns1/pods', false, { namespace: 'ns1', plural: 'pods', name: '', subresource: '', verb: 'list' }],
    ['GET', '/api/v1/namespaces/ns1/pods', true, { namespace: 'ns1', plural: 'pods', name: '', verb: 'watch' }],
    ['GET', '/api/v1/namespaces/ns1/pods/p1', false, { namespace: 'ns1', plural: 'pods', name: 'p1', verb: 'get' }],
    ['PUT', '/api/v1/namespaces/ns1/pods/p1/status', false, { namespace: 'ns1', plural: 'pods', name: 'p1', subresource: 'status', verb: 'update' }],
    ['POST', '/api/v1/namespaces/ns1/pods/p1/binding', false, { plural: 'pods', name: 'p1', subresource: 'binding', verb: 'create' }],
    ['GET', '/api/v1/pods', false, { namespace: '', plural: 'pods', verb: 'list' }],
    ['GET', '/api/v1/namespaces', false, { namespace: '', plural: 'namespaces', name: '', verb: 'list' }],
    ['GET', '/api/v1/namespaces/foo', false, { namespace: '', plural: 'namespaces', name: 'foo', verb: 'get' }],
    ['PUT', '/api/v1/namespaces/foo/finalize', false, { namespace: '', plural: 'namespaces', name: 'foo', subresource: 'finalize', verb: 'update' }],
    ['PATCH', '/api/v1/namespaces/foo/status', false, { namespace: '', plural: 'namespaces', name: 'foo', subresource: 'status', verb: 'patch' }],
    ['DELETE', '/apis/apps/v1/namespaces/ns/deployments', false, { group: 'apps', version: 'v1', plural: 'deployments', verb: 'deletecollection' }],
    ['GET', '/apis/apps/v1/namespaces/ns/deployments/d/scale', false, { group: 'apps', plural: 'deployments', name: 'd', subresource: 'scale', verb: 'get' }],
    ['GET', '/api/v1/nodes/n1', false, { plural: 'nodes', name: 'n1', verb: 'get' }],
    ['GET', '/api/v1/namespaces/ns/pods/p/log', false, { subresource: 'log', verb: 'get' }],
  ])('%s %s (watch=%s)', (method, path, watch, want) => {
    expect(parseResourcePath(path, method, watch)).toMatchObject(want);
  });

  it('recognises discovery paths', () => {
    expect(parseResourcePath('/api/v1', 'GET', false)).toEqual({ kind: 'resources', group: '', version: 'v1' });
    expect(parseResourcePath('/apis/apps', 'GET', false)).toEqual({ kind: 'group', group: 'apps' });
    expect(parseResourcePath('/apis/apps/v1', 'GET', false)).toEqual({ kind: 'resources', group: 'apps', version: 'v1' });
    expect(parseResourcePath('/other', 'GET', false)).toBeUndefined();
  });

  it('leaves unknown resources unresolved', () => {
    expect(parseResourcePath('/api/v1/widgets', 'GET', false)).toMatchObject({ plural: 'widgets', resource: undefined });
  });
});
