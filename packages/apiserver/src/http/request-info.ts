/**
 * Turns a resource URL into what it addresses, the way Kubernetes' RequestInfoFactory does:
 * `/api/v1/namespaces/ns/pods/p/status` → group "", version v1, namespace ns, resource pods, name p,
 * subresource status.
 */
import { findResource, type ResourceInfo } from '@flotilla/api';
import { parseQuery, queryBool, type Query } from './negotiation.js';

/** The Kubernetes verb of a request. */
export type RequestVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'connect';

/** What a resource request addresses. */
export interface RequestInfo {
  group: string;
  version: string;
  /** Resource plural as requested (may be unknown: `resource` is then undefined). */
  plural: string;
  resource: ResourceInfo | undefined;
  /** "" when not namespaced or listing across namespaces. */
  namespace: string;
  name: string;
  subresource: string;
  verb: RequestVerb;
}

/** The discovery document a path names, when it is one (`/api/v1`, `/apis/apps/v1`, `/apis/apps`). */
export type DiscoveryPath = { kind: 'resources'; group: string; version: string } | { kind: 'group'; group: string };

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Parses `/api/...` or `/apis/...` (path without query). Returns a DiscoveryPath for group/version
 * roots, a RequestInfo for resource paths, or undefined for paths that are neither.
 */
export function parseResourcePath(path: string, method: string, isWatch: boolean): RequestInfo | DiscoveryPath | undefined {
  const parts = path.split('/').filter((p) => p !== '').map(decodeSegment);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length < 2) return undefined;
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length < 2) return undefined;
    if (parts.length === 2) return { kind: 'group', group: parts[1]! };
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return { kind: 'resources', group, version };

  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const plural = rest[0]!;
  let name = rest[1] ?? '';
  const subresource = rest.slice(2).join('/');
  // /api/v1/namespaces/foo[/status] addresses the namespace object itself.
  if (plural === 'namespaces' && group === '') {
    name = rest[1] ?? '';
    namespace = '';
  }
  let verb: RequestVerb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = name === '' ? (isWatch ? 'watch' : 'list') : isWatch && subresource === '' ? 'watch' : 'get';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name === '' ? 'deletecollection' : 'delete';
      break;
    default:
      verb = 'connect';
  }
  if (subresource === 'log' || subresource === 'exec' || subresource === 'attach' || subresource === 'portforward' || subresource === 'proxy') {
    verb = subresource === 'log' ? 'get' : 'connect';
  }
  return { group, version, plural, resource: findResource(group, version, plural), namespace, name, subresource, verb };
}

/** True when the value is a parsed resource request. */
export function isRequestInfo(v: RequestInfo | DiscoveryPath | undefined): v is RequestInfo {
  return v !== undefined && 'verb' in v;
}

/** A request's path, query and what the path addresses, worked out once per request. */
export interface RequestTarget {
  path: string;
  query: Query;
  parsed: RequestInfo | DiscoveryPath | undefined;
}

const targets = new WeakMap<object, RequestTarget>();

/**
 * The target of `req` (a fastify request: `url` with query, `method`). Authorization, the resource
 * handler and the request metrics all read it; it is parsed on first use and remembered for the
 * request's lifetime.
 */
export function requestTarget(req: { url: string; method: string }): RequestTarget {
  let t = targets.get(req);
  if (t === undefined) {
    const url = req.url;
    const qi = url.indexOf('?');
    const path = qi < 0 ? url : url.slice(0, qi);
    const query = parseQuery(qi < 0 ? '' : url.slice(qi + 1));
    t = { path, query, parsed: parseResourcePath(path, req.method, queryBool(query, 'watch')) };
    targets.set(req, t);
  }
  return t;
}
