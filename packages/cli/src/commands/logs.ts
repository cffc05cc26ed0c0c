/**
 * `flctl logs`: the pods/log subresource (`-f`, `--tail`, `-c`, `-p`, `--since`, `--since-time`,
 * `--timestamps`); `TYPE/NAME` picks the first pod of a workload; `-l` streams several pods with
 * `[pod/NAME/CONTAINER]` prefixes.
 */
import type { KubeObject } from '@flotilla/api';
import { res, resourcePath, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { parseDurationMs } from '../cli-context.js';
import { CliError, formatError } from '../cli-error.js';
import { openStream } from '../http-stream.js';
import { resolveResource } from '../resource-args.js';

export interface Pod extends KubeObject {
  spec?: { containers?: { name: string }[]; initContainers?: { name: string }[] };
}

function logQuery(container: string, opts: Record<string, unknown>): string {
  const q = new URLSearchParams();
  q.set('container', container);
  if (opts['follow']) q.set('follow', 'true');
  if (opts['previous']) q.set('previous', 'true');
  if (opts['timestamps']) q.set('timestamps', 'true');
  const tail = opts['tail'] as number | undefined;
  if (tail !== undefined && tail >= 0) q.set('tailLines', String(tail));
  if (opts['since']) {
    const ms = parseDurationMs(String(opts['since']));
    if (ms === undefined) throw new CliError(`invalid argument "${String(opts['since'])}" for "--since" flag`);
    q.set('sinceSeconds', String(Math.max(1, Math.ceil(ms / 1000))));
  }
  if (opts['sinceTime']) q.set('sinceTime', String(opts['sinceTime']));
  return `?${q.toString()}`;
}

/** Resolves `POD`, `pod/NAME` or `deployment/NAME` (first pod matching its selector). */
export async function findPod(ctx: CliContext, client: RestClient, arg: string, namespace: string): Promise<Pod> {
  const slash = arg.indexOf('/');
  if (slash < 0) return client.get<Pod>(res('pods'), namespace, arg);
  const r = await resolveResource(ctx, arg.slice(0, slash));
  const name = arg.slice(slash + 1);
  if (r.kind === 'Pod') return client.get<Pod>(r, namespace, name);
  const owner = await client.get<KubeObject & { spec?: { selector?: { matchLabels?: Record<string, string> } | Record<string, string> } }>(r, namespace, name);
  const sel = owner.spec?.selector as { matchLabels?: Record<string, string> } | Record<string, string> | undefined;
  const labels = (sel && 'matchLabels' in sel ? sel.matchLabels : (sel as Record<string, string> | undefined)) ?? {};
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (!selector) throw new CliError(`cannot get the logs of ${arg}: it has no selector`);
  const pods = await client.list<Pod>(res('pods'), { namespace, labelSelector: selector });
  const pod = pods.items.sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))[0];
  if (!pod) throw new CliError(`timed out waiting for the condition`);
  return pod;
}

async function streamLog(ctx: CliContext, client: RestClient, pod: Pod, container: string, opts: Record<string, unknown>, prefix: string | undefined, signal: AbortSignal): Promise<void> {
  const path = resourcePath(res('pods'), pod.metadata.namespace ?? '', pod.metadata.name, 'log') + logQuery(container, opts);
  if (!opts['follow']) {
    const r = await client.request('GET', path, { accept: '*/*' });
    ctx.out(prefix ? prefixLines(r.body, prefix) : r.body);
    return;
  }
  const stream = await openStream(await ctx.config(), path, { accept: '*/*', signal });
  let partial = '';
  try {
    for await (const chunk of stream.body) {
      const text = chunk.toString('utf8');
      if (!prefix) {
        ctx.out(text);
        continue;
      }
      partial += text;
      const nl = partial.lastIndexOf('\n');
      if (nl >= 0) {
        ctx.out(prefixLines(partial.slice(0, nl + 1), prefix));
        partial = partial.slice(nl + 1);
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    stream.close();
  }
  if (partial) ctx.out(prefixLines(partial, prefix!));
}

function prefixLines(text: string, prefix: string): string {
  return text
    .split(/(?<=\n)/)
    .map((l) => `${prefix} ${l}`)
    .join('');
}

/** Runs `logs`. */
export async function runLogs(ctx: CliContext, podArg: string | undefined, containerArg: string | undefined, opts: Record<string, unknown>): Promise<number> {
  const client = await ctx.client();
  const namespace = await ctx.namespace();
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    let pods: Pod[];
    if (opts['selector']) {
      if (podArg) throw new CliError('only one of a selector or a pod name may be given');
      pods = (await client.list<Pod>(res('pods'), { namespace, labelSelector: String(opts['selector']) })).items;
      if (pods.length === 0) {
        ctx.err(`No resources found in ${namespace} namespace.\n`);
        return 0;
      }
    } else {
      if (!podArg) throw new CliError('expected POD or TYPE/NAME is a required argument for the logs command');
      pods = [await findPod(ctx, client, podArg, namespace)];
    }
    const wanted = (opts['container'] as string | undefined) ?? containerArg;
    const jobs: { pod: Pod; container: string }[] = [];
    for (const pod of pods) {
      const names = (pod.spec?.containers ?? []).map((c) => c.name);
      if (wanted) {
        if (!names.includes(wanted) && !(pod.spec?.initContainers ?? []).some((c) => c.name === wanted)) throw new CliError(`container ${wanted} is not valid for pod ${pod.metadata.name}`);
        jobs.push({ pod, container: wanted });
      } else if (opts['allContainers'] || opts['selector']) {
        for (const n of opts['allContainers'] ? names : names.slice(0, 1)) jobs.push({ pod, container: n });
      } else {
        if (names.length > 1) ctx.err(`Defaulted container "${names[0]}" out of: ${names.join(', ')}\n`);
        if (names[0]) jobs.push({ pod, container: names[0] });
      }
    }
    const usePrefix = opts['prefix'] === true || jobs.length > 1;
    const max = (opts['maxLogRequests'] as number | undefined) ?? 5;
    if (opts['follow'] && jobs.length > max) throw new CliError(`you are attempting to follow ${jobs.length} log streams, but maximum allowed concurrency is ${max}, use --max-log-requests to increase the limit`);
    let failed = false;
    const run = async (j: { pod: Pod; container: string }) => {
      try {
        await streamLog(ctx, client, j.pod, j.container, opts, usePrefix ? `[pod/${j.pod.metadata.name}/${j.container}]` : undefined, controller.signal);
      } catch (err) {
        ctx.err(`${formatError(err)}\n`);
        failed = true;
      }
    };
    if (opts['follow']) await Promise.all(jobs.map(run));
    else for (const j of jobs) await run(j);
    return failed ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
