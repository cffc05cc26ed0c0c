/**
 * `flctl token create|list|delete`: bootstrap tokens (kubeadm's `token` commands), stored as Secrets
 * `kube-system/bootstrap-token-<id>`. `create` prints the secure join token
 * `K10<sha256 of the cluster CA>::<id>.<secret>` that `flotilla agent --server URL --token` takes.
 */
import {
  BOOTSTRAP_TOKEN_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_PREFIX,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  bootstrapTokenSecret,
  formatJoinToken,
  generateBootstrapToken,
  isBootstrapTokenId,
  parseDuration,
  parseJoinToken,
  type KubeObject,
} from '@flotilla/api';
import { res } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { formatColumns } from '../printers/columns.js';
import { humanDuration } from '../printers/human-duration.js';

const SECRETS = res('secrets');

/** The cluster CA: the kubeconfig's, else what the server serves at /cacerts. */
async function clusterCa(ctx: CliContext): Promise<string> {
  const cfg = await ctx.config();
  if (cfg.ca) return cfg.ca;
  const client = await ctx.client();
  return (await client.request('GET', '/cacerts', { accept: 'application/x-pem-file, */*' })).body;
}

/** Runs `token create`. */
export async function runTokenCreate(ctx: CliContext, opts: { ttl?: string; description?: string; groups?: string }): Promise<number> {
  const ttl = parseDuration(opts.ttl ?? '24h') ?? (opts.ttl === '0' ? 0 : undefined);
  if (ttl === undefined) throw new CliError(`invalid --ttl "${opts.ttl}": use a duration like 24h, 30m or 0 (never expires)`);
  const extraGroups = (opts.groups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
  for (const g of extraGroups) if (!g.startsWith('system:bootstrappers:')) throw new CliError(`--groups: ${g} must start with system:bootstrappers:`);
  const token = generateBootstrapToken();
  const secret = bootstrapTokenSecret(token, {
    ...(ttl > 0 ? { expiration: new Date(Date.now() + ttl) } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...(extraGroups.length > 0 ? { extraGroups } : {}),
  });
  const caPem = await clusterCa(ctx);
  const { certificateSha256 } = await import('@flotilla/api/pki');
  const caHash = certificateSha256(caPem);
  const client = await ctx.client();
  await client.create(SECRETS, BOOTSTRAP_TOKEN_NAMESPACE, secret as unknown as KubeObject);
  ctx.out(`${formatJoinToken({ ...token, caHash })}\n`);
  return 0;
}

type TokenSecret = KubeObject & { type?: string; data?: Record<string, string> };

function field(s: TokenSecret, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** Runs `token list`. */
export async function runTokenList(ctx: CliContext, opts: { output?: string }): Promise<number> {
  const client = await ctx.client();
  const list = await client.list<TokenSecret>(SECRETS, { namespace: BOOTSTRAP_TOKEN_NAMESPACE, fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}` });
  const now = Date.now();
  const rows = list.items.map((s) => {
    const expiration = field(s, 'expiration');
    const at = expiration ? Date.parse(expiration) : undefined;
    const usages = Object.keys(s.data ?? {})
      .filter((k) => k.startsWith('usage-bootstrap-') && field(s, k) === 'true')
      .map((k) => k.slice('usage-bootstrap-'.length))
      .join(',');
    return {
      id: field(s, 'token-id') ?? (s.metadata.name ?? '').slice(BOOTSTRAP_TOKEN_SECRET_PREFIX.length),
      ttl: at === undefined ? '<forever>' : at <= now ? '<expired>' : humanDuration(at - now),
      expires: expiration ?? '<never>',
      usages: usages || '<none>',
      description: field(s, 'description') ?? '<none>',
      groups: field(s, 'auth-extra-groups') ?? '<none>',
    };
  });
  if (opts.output === 'json') {
    ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    ctx.err('No bootstrap tokens found.\n');
    return 0;
  }
  ctx.out(formatColumns([['ID', 'TTL', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS'], ...rows.map((r) => [r.id, r.ttl, r.expires, r.usages, r.description, r.groups])]));
  return 0;
}

/** Runs `token delete ID...` (an ID, or a whole token). */
export async function runTokenDelete(ctx: CliContext, ids: string[]): Promise<number> {
  if (ids.length === 0) throw new CliError('missing token ID: flctl token delete ID');
  const client = await ctx.client();
  for (const given of ids) {
    const id = parseJoinToken(given)?.id ?? given;
    if (!isBootstrapTokenId(id)) throw new CliError(`"${given}" is not a token ID (6 characters of [a-z0-9]) or a token`);
    await client.delete(SECRETS, BOOTSTRAP_TOKEN_NAMESPACE, `${BOOTSTRAP_TOKEN_SECRET_PREFIX}${id}`);
    ctx.out(`bootstrap token "${id}" deleted\n`);
  }
  return 0;
}
