/**
 * authentication.k8s.io/v1: the TokenRequest a client posts to `serviceaccounts/NAME/token` to get a
 * service account token (the API server signs a JWT; nothing is stored).
 */
import { DefinitionSet, int64, list, obj, ref, str } from '../dsl.js';
import { TIME } from './meta.js';

/** Adds the authentication.k8s.io/v1 definitions. */
export function addAuthentication(d: DefinitionSet): void {
  const a = (n: string) => `io.k8s.api.authentication.v1.${n}`;
  d.add(
    a('BoundObjectReference'),
    obj(
      {
        kind: str('Kind of the referent: Pod, Secret or Node.'),
        apiVersion: str('API version of the referent (v1).'),
        name: str('Name of the referent.'),
        uid: str('UID of the referent; when set it must match the object, which guards against a deleted and recreated one.'),
      },
      'The object a token is bound to: the token stops being valid when the object is deleted.',
    ),
  );
  d.add(
    a('TokenRequestSpec'),
    obj(
      {
        audiences: list(str(), 'Intended audiences of the token: a recipient must identify itself with one of them and otherwise reject the token. Defaults to the API server audiences (the issuer).', { listType: 'atomic' }),
        expirationSeconds: int64('Requested lifetime of the token in seconds, at least 600. Defaults to 3600. The server may issue a shorter-lived token (its maximum); read status.expirationTimestamp.'),
        boundObjectRef: ref(a('BoundObjectReference'), 'An object the token is bound to: deleting it invalidates the token. The token expires no later than the object is deleted.'),
      },
      'What token is requested.',
    ),
  );
  d.add(
    a('TokenRequestStatus'),
    obj({ token: str('The opaque bearer token (a signed JWT).'), expirationTimestamp: ref(TIME, 'When the token expires.') }, 'The issued token.'),
  );
  d.kind(
    a('TokenRequest'),
    { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
    'Requests a token for a service account: the serviceaccounts/token subresource answers with a signed token and its expiration.',
    { spec: ref(a('TokenRequestSpec'), 'The requested token.'), status: ref(a('TokenRequestStatus'), 'The issued token. Filled in by the server.') },
    { required: ['spec'] },
  );
}
