/**
 * The cluster's own join token (`--join-token-file`, the launcher's DATA_DIR/token): the file holds
 * `K10<ca hash>::<id>.<secret>` or `<id>.<secret>`; at start the API server makes sure the matching
 * bootstrap token Secret exists, without expiry.
 */
import { readFile } from 'node:fs/promises';
import { bootstrapTokenSecret, BOOTSTRAP_TOKEN_NAMESPACE, parseJoinToken, type BootstrapToken, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { RequestContext } from '../registry/strategy.js';

/** Reads a join token file; throws with the path when it is missing or malformed. */
export async function readJoinTokenFile(path: string): Promise<BootstrapToken> {
  const text = await readFile(path, 'utf8');
  const token = parseJoinToken(text);
  if (!token) throw new Error(`${path} does not hold a join token (<id>.<secret> or K10<hash>::<id>.<secret>)`);
  return { id: token.id, secret: token.secret };
}

/** Creates or repairs the token's Secret (`kube-system/bootstrap-token-<id>`, no expiration). */
export async function ensureClusterJoinToken(registry: Registry, token: BootstrapToken, logger: Logger): Promise<void> {
  const ctx: RequestContext = { now: new Date(), user: { name: 'system:apiserver', groups: ['system:masters'] } };
  const secrets = registry.mustStore('', 'secrets');
  const wanted = bootstrapTokenSecret(token, { description: 'the cluster join token (flotilla server)' });
  const current = secrets.tryGet(BOOTSTRAP_TOKEN_NAMESPACE, wanted.metadata.name);
  const options = { dryRun: false, fieldValidation: 'Strict' as const };
  if (!current) {
    await secrets.create(BOOTSTRAP_TOKEN_NAMESPACE, wanted, options, ctx);
    logger.info({ tokenId: token.id }, 'created the cluster join token secret');
    return;
  }
  const data = (current as KubeObject & { data?: Record<string, string> }).data ?? {};
  const value = (k: string) => (data[k] === undefined ? undefined : Buffer.from(data[k]!, 'base64').toString('utf8'));
  const same = (current as { type?: string }).type === wanted.type && Object.entries(wanted.stringData).every(([k, v]) => value(k) === v) && value('expiration') === undefined;
  if (same) return;
  await secrets.update(BOOTSTRAP_TOKEN_NAMESPACE, wanted.metadata.name, { ...wanted, metadata: { ...wanted.metadata, resourceVersion: current.metadata.resourceVersion } }, options, ctx);
  logger.info({ tokenId: token.id }, 'repaired the cluster join token secret');
}
