/**
 * Who may use the agent's streaming endpoints (logs, exec, attach, port-forward): only callers
 * presenting a client certificate signed by the cluster CA whose CN is the API server's
 * (`flotilla-apiserver`) or whose groups include `system:masters`.
 */
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

/** CN of the API server's client certificate towards agents. */
export const APISERVER_CLIENT_NAME = 'flotilla-apiserver';
const MASTERS_GROUP = 'system:masters';

/** The verdict on a request: allowed, or the HTTP status and message to refuse it with. */
export type Authorization = { allowed: true; user: string } | { allowed: false; code: 401 | 403; message: string };

/** Checks the caller's TLS client certificate. Plain HTTP and anonymous callers get 401. */
export function authorizeStreamingClient(req: IncomingMessage): Authorization {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return { allowed: false, code: 401, message: 'Unauthorized: a TLS client certificate is required' };
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return { allowed: false, code: 401, message: 'Unauthorized: a TLS client certificate is required' };
  if (!socket.authorized) return { allowed: false, code: 401, message: `Unauthorized: the client certificate is not signed by the cluster CA (${String(socket.authorizationError)})` };
  const cnRaw = peer.subject?.CN as string | string[] | undefined;
  const oRaw = peer.subject?.O as string | string[] | undefined;
  const cn = Array.isArray(cnRaw) ? cnRaw[0] : cnRaw;
  const groups = oRaw === undefined ? [] : Array.isArray(oRaw) ? oRaw : [oRaw];
  if (cn === APISERVER_CLIENT_NAME || groups.includes(MASTERS_GROUP)) return { allowed: true, user: cn ?? '' };
  return { allowed: false, code: 403, message: `Forbidden: user "${cn ?? ''}" may not use the node's streaming endpoints` };
}
