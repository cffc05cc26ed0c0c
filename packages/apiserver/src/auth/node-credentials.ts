/**
 * `POST /apis/flotilla.io/v1/nodecredentials`: a joining node's bootstrap identity exchanges a CSR
 * for a client certificate `CN=system:node:<name>, O=system:nodes` signed by the cluster CA (one
 * year), in one request: the built-in approver and signer of Kubernetes' kubelet client CSRs
 * (`kubernetes.io/kube-apiserver-client-kubelet`, auto-approved for `system:bootstrappers`)
 * without the stored CertificateSigningRequest object. Only `system:bootstrappers` may ask (the
 * authorizer already says so; checked again here) and only for `system:node:*` names, so a node's
 * certificate cannot be used to obtain more credentials.
 *
 * Request:  `{ apiVersion: flotilla.io/v1, kind: NodeCredentialRequest, spec: { request: <base64 PEM CSR> } }`
 * Response: 201, the same with `spec.username`, `spec.groups` and `status: { certificate: <base64 PEM>, ca: <base64 PEM> }`.
 */
import { ApiError, BOOTSTRAPPERS_GROUP, badRequest } from '@flotilla/api';
import { signPublicKey, verifyCertificateRequest, type KeyPairPem } from '@flotilla/api/pki';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { NODE_USER_PREFIX, NODES_GROUP } from './node-authorizer.js';

/** The endpoint's path. */
export const NODE_CREDENTIALS_PATH = '/apis/flotilla.io/v1/nodecredentials';
/** apiVersion and kind of the request and response. */
export const NODE_CREDENTIAL_API_VERSION = 'flotilla.io/v1';
export const NODE_CREDENTIAL_KIND = 'NodeCredentialRequest';

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;
/** A node name is a DNS subdomain (what Node names must be). */
const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalid(message: string): ApiError {
  return new ApiError(422, 'Invalid', `NodeCredentialRequest is invalid: ${message}`, { kind: NODE_CREDENTIAL_KIND, group: 'flotilla.io', causes: [{ reason: 'FieldValueInvalid', message, field: 'spec.request' }] });
}

/** Registers the endpoint on the API server's app. */
export function registerNodeCredentials(app: FastifyInstance, deps: { ca: KeyPairPem; logger: Logger; now?: () => Date }): void {
  const now = deps.now ?? (() => new Date());
  app.post(NODE_CREDENTIALS_PATH, async (req, reply) => {
    const user = req.user;
    if (!user || !user.groups.includes(BOOTSTRAPPERS_GROUP)) {
      throw new ApiError(403, 'Forbidden', `nodecredentials.flotilla.io is forbidden: User "${user?.name ?? ''}" cannot create resource "nodecredentials" in API group "flotilla.io" at the cluster scope`, { group: 'flotilla.io', kind: 'nodecredentials' });
    }
    let body: { apiVersion?: unknown; kind?: unknown; spec?: { request?: unknown } };
    try {
      body = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '') as typeof body;
    } catch {
      throw badRequest('the request body must be a JSON NodeCredentialRequest');
    }
    if (body?.apiVersion !== NODE_CREDENTIAL_API_VERSION || body.kind !== NODE_CREDENTIAL_KIND) {
      throw badRequest(`expected apiVersion ${NODE_CREDENTIAL_API_VERSION} and kind ${NODE_CREDENTIAL_KIND}`);
    }
    if (typeof body.spec?.request !== 'string') throw invalid('spec.request: Required value');
    let csr: Awaited<ReturnType<typeof verifyCertificateRequest>>;
    try {
      csr = await verifyCertificateRequest(Buffer.from(body.spec.request, 'base64').toString('utf8'));
    } catch (err) {
      throw invalid(`spec.request: ${(err as Error).message}`);
    }
    const nodeName = csr.commonName.startsWith(NODE_USER_PREFIX) ? csr.commonName.slice(NODE_USER_PREFIX.length) : '';
    if (!NODE_NAME_RE.test(nodeName) || nodeName.length > 253) throw invalid(`the subject must be CN=system:node:<node name>, got CN=${csr.commonName}`);
    if (csr.organizations.length !== 1 || csr.organizations[0] !== NODES_GROUP) throw invalid(`the subject must be O=${NODES_GROUP}`);
    const cert = await signPublicKey(deps.ca, csr.publicKey, { commonName: csr.commonName, organizations: [NODES_GROUP], usage: 'client', validityMs: ONE_YEAR_MS });
    deps.logger.info({ node: nodeName, requester: user.name }, 'issued node credentials');
    const out = {
      apiVersion: NODE_CREDENTIAL_API_VERSION,
      kind: NODE_CREDENTIAL_KIND,
      metadata: { name: csr.commonName, creationTimestamp: now().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      spec: { request: body.spec.request, username: user.name, groups: user.groups },
      status: { certificate: Buffer.from(cert).toString('base64'), ca: Buffer.from(deps.ca.cert).toString('base64') },
    };
    return reply.code(201).type('application/json').send(JSON.stringify(out));
  });
}
