/**
 * Requesting a service account token from the API server: `POST serviceaccounts/NAME/token` with an
 * authentication.k8s.io/v1 TokenRequest, as the kubelet does for projected token volumes.
 */
import type { ResourceInfo } from '@flotilla/api';
import { res, type KubeClient } from './rest-client.js';

/** What token to ask for. */
export interface ServiceAccountTokenOptions {
  /** Audiences of the token; the API server's own (its issuer) when omitted. */
  audiences?: string[];
  /** Requested lifetime in seconds (at least 600; the server's default is 3600, its maximum may shorten it). */
  expirationSeconds?: number;
  /** Bind the token to this pod: it stops being valid when the pod is deleted. The pod must run as the account. */
  boundPod?: { name: string; uid?: string };
  signal?: AbortSignal;
}

/** An issued token. */
export interface ServiceAccountToken {
  token: string;
  /** When the token expires (RFC 3339), as the server reports it. */
  expirationTimestamp: string;
}

let serviceAccounts: ResourceInfo | undefined;

/**
 * Asks the API server for a token of the ServiceAccount `namespace/name`. Throws the server's
 * ApiError: 404 when the account (or the bound pod) does not exist, 422 for a lifetime under ten
 * minutes, 403 when the caller may not (a node may only bind tokens to its own pods, with their uid).
 */
export async function requestServiceAccountToken(client: Pick<KubeClient, 'createSubresource'>, namespace: string, name: string, options: ServiceAccountTokenOptions = {}): Promise<ServiceAccountToken> {
  serviceAccounts ??= res('serviceaccounts');
  const spec: Record<string, unknown> = {};
  if (options.audiences && options.audiences.length > 0) spec['audiences'] = [...options.audiences];
  if (options.expirationSeconds !== undefined) spec['expirationSeconds'] = options.expirationSeconds;
  if (options.boundPod) spec['boundObjectRef'] = { apiVersion: 'v1', kind: 'Pod', name: options.boundPod.name, ...(options.boundPod.uid ? { uid: options.boundPod.uid } : {}) };
  const answer = await client.createSubresource<{ status?: { token?: string; expirationTimestamp?: string } }>(serviceAccounts, namespace, name, 'token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec }, options.signal ? { signal: options.signal } : {});
  const token = answer?.status?.token;
  const expirationTimestamp = answer?.status?.expirationTimestamp;
  if (!token || !expirationTimestamp) throw new Error(`the TokenRequest answer for ${namespace}/${name} has no token or expiration`);
  return { token, expirationTimestamp };
}
