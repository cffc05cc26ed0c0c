/**
 * User impersonation (`kubectl --as USER --as-group GROUP --as-uid UID`): the `Impersonate-User`,
 * `Impersonate-Group` and `Impersonate-Uid` headers make a request run as another user, when the
 * authenticated user may `impersonate` each of them (users, groups and uids in the core group, as
 * Kubernetes asks its authorizer). Without the headers the request is its own user.
 */
import { badRequest } from '@flotilla/api';
import { AUTHENTICATED_GROUP, type UserInfo } from './authenticator.js';
import { forbidden, type AuthorizationAttributes, type Authorizer } from './authorizer.js';

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

function headerValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
}

/**
 * The user a request acts as. Throws 403 when `user` may not impersonate what the headers ask for,
 * and 400 for groups or a uid without a user.
 */
export function impersonatedUser(user: UserInfo, headers: Record<string, string | string[] | undefined>, authorizer: Authorizer | undefined, path: string): UserInfo {
  const names = headerValues(headers['impersonate-user']);
  const groups = headerValues(headers['impersonate-group']);
  const uids = headerValues(headers['impersonate-uid']);
  if (names.length === 0) {
    if (groups.length > 0 || uids.length > 0) throw badRequest(`requested [${[...groups.map((g) => `group ${g}`), ...uids.map((u) => `uid ${u}`)].join(' ')}] without impersonating a user`);
    return user;
  }
  if (names.length > 1 || uids.length > 1) throw badRequest('only one Impersonate-User and one Impersonate-Uid may be given');
  const name = names[0]!;
  const check = (resource: string, target: string, namespace = '') => {
    if (!authorizer) return;
    const attrs: AuthorizationAttributes = { user, verb: 'impersonate', path, resource: { group: '', version: '', resource, subresource: '', namespace, name: target } };
    const decision = authorizer.authorize(attrs);
    if (!decision.allowed) throw forbidden(attrs, decision.reason);
  };
  // `system:serviceaccount:NS:NAME` is checked as the service account NAME in NS, as Kubernetes does.
  const sa = name.startsWith(SERVICE_ACCOUNT_PREFIX) ? name.slice(SERVICE_ACCOUNT_PREFIX.length).split(':') : undefined;
  if (sa && sa.length === 2) check('serviceaccounts', sa[1]!, sa[0]!);
  else check('users', name);
  for (const g of groups) check('groups', g);
  for (const u of uids) check('uids', u);
  // As Kubernetes: a service account without explicit groups gets its own; everyone but the
  // anonymous user is authenticated.
  const out = [...groups];
  if (sa && sa.length === 2 && groups.length === 0) out.push('system:serviceaccounts', `system:serviceaccounts:${sa[0]}`);
  if (name !== 'system:anonymous' && !out.includes(AUTHENTICATED_GROUP)) out.push(AUTHENTICATED_GROUP);
  return { name, groups: out, ...(uids[0] ? { uid: uids[0] } : {}) };
}
