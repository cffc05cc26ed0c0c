/**
 * `flctl rollout status|history|undo|restart|pause|resume` for Deployments (status also for
 * StatefulSets and DaemonSets). Status prints kubectl's progress lines until the rollout is done
 * or the progress deadline is exceeded; undo copies the template of the ReplicaSet with the
 * wanted `deployment.kubernetes.io/revision`.
 */
import type { KubeObject } from '@flotilla/api';
import { res, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { parseDurationMs } from '../cli-context.js';
import { CliError, formatError } from '../cli-error.js';
import { collectTargets, type ObjectTarget } from '../object-targets.js';
import { formatColumns } from '../printers/columns.js';
import { formatObjects, parseOutputFormat, toYaml } from '../printers/object-printer.js';
import { waitUntil } from './wait.js';

const REVISION = 'deployment.kubernetes.io/revision';
const CHANGE_CAUSE = 'kubernetes.io/change-cause';

interface Workload extends KubeObject {
  spec?: { replicas?: number; paused?: boolean; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } }; template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: unknown }; selector?: { matchLabels?: Record<string, string> } };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; readyReplicas?: number; currentRevision?: string; updateRevision?: string; desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberAvailable?: number; conditions?: { type: string; status: string; reason?: string }[] };
}

/** kubectl's rollout status message for a Deployment, and whether the rollout is done. */
export function deploymentStatus(d: Workload): { message: string; done: boolean; failed?: boolean } {
  const name = d.metadata.name;
  const st = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { message: `Waiting for deployment spec update to be observed...`, done: false };
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { message: `deployment "${name}" exceeded its progress deadline`, done: false, failed: true };
  const want = d.spec?.replicas ?? 1;
  const updated = st.updatedReplicas ?? 0;
  const replicas = st.replicas ?? 0;
  const available = st.availableReplicas ?? 0;
  if (updated < want) return { message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...`, done: false };
  if (replicas > updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${replicas - updated} old replicas are pending termination...`, done: false };
  if (available < updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`, done: false };
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

function statefulSetStatus(s: Workload): { message: string; done: boolean } {
  const st = s.status ?? {};
  if ((s.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { message: 'Waiting for statefulset spec update to be observed...', done: false };
  const want = s.spec?.replicas ?? 1;
  if ((st.readyReplicas ?? 0) < want) return { message: `Waiting for ${want - (st.readyReplicas ?? 0)} pods to be ready...`, done: false };
  if (st.updateRevision !== st.currentRevision) return { message: `waiting for statefulset rolling update to complete ${st.updatedReplicas ?? 0} pods at revision ${st.updateRevision ?? ''}...`, done: false };
  return { message: `statefulset rolling update complete ${want} pods at revision ${st.currentRevision ?? ''}...`, done: true };
}

function daemonSetStatus(d: Workload): { message: string; done: boolean } {
  const st = d.status ?? {};
  const name = d.metadata.name;
  if ((d.metadata.generation ?? 0) > (st.observedGeneration ?? 0)) return { message: 'Waiting for daemon set spec update to be observed...', done: false };
  const want = st.desiredNumberScheduled ?? 0;
  if ((st.updatedNumberScheduled ?? 0) < want) return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.updatedNumberScheduled ?? 0} out of ${want} new pods have been updated...`, done: false };
  if ((st.numberAvailable ?? 0) < want) return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.numberAvailable ?? 0} of ${want} updated pods are available...`, done: false };
  return { message: `daemon set "${name}" successfully rolled out`, done: true };
}

function statusOf(t: ObjectTarget, obj: Workload): { message: string; done: boolean; failed?: boolean } {
  if (t.r.kind === 'Deployment') return deploymentStatus(obj);
  if (t.r.kind === 'StatefulSet') return statefulSetStatus(obj);
  if (t.r.kind === 'DaemonSet') return daemonSetStatus(obj);
  throw new CliError(`no status viewer has been implemented for ${t.r.kind}`);
}

async function rolloutStatus(ctx: CliContext, client: RestClient, t: ObjectTarget, opts: Record<string, unknown>): Promise<boolean> {
  const timeoutMs = parseDurationMs(String(opts['timeout'] ?? '0s')) || 365 * 24 * 3600 * 1000;
  let last = '';
  let failure: string | undefined;
  let missing = false;
  const ok = await waitUntil(
    client,
    t,
    (obj) => {
      if (!obj) {
        missing = true;
        return true;
      }
      const s = statusOf(t, obj as Workload);
      if (s.failed) {
        failure = s.message;
        return true;
      }
      if (s.message !== last) {
        ctx.out(`${s.message}\n`);
        last = s.message;
      }
      return s.done || opts['watch'] === false;
    },
    timeoutMs,
  );
  if (missing) throw new CliError(`${t.r.plural}.${t.r.group || 'core'} "${t.name}" not found`);
  if (failure) throw new CliError(failure);
  if (!ok) throw new CliError('timed out waiting for the condition');
  return true;
}

/** The Deployment's ReplicaSets (owned by UID), by revision. */
async function replicaSetsByRevision(client: RestClient, d: Workload): Promise<Map<number, Workload>> {
  const list = await client.listAll<Workload>(res('replicasets'), { namespace: d.metadata.namespace ?? '' });
  const out = new Map<number, Workload>();
  for (const rs of list.items) {
    if (!rs.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid && o.controller)) continue;
    const rev = Number(rs.metadata.annotations?.[REVISION]);
    if (Number.isInteger(rev)) out.set(rev, rs);
  }
  return out;
}

function templateWithoutHash(rs: Workload): NonNullable<NonNullable<Workload['spec']>['template']> {
  const template = structuredClone(rs.spec?.template ?? {});
  if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
  return template;
}

function sameTemplate(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => (Array.isArray(v) ? v.map(norm) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm((v as Record<string, unknown>)[k])])) : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

/** Runs one `rollout` subcommand. */
export async function runRollout(ctx: CliContext, sub: 'status' | 'history' | 'undo' | 'restart' | 'pause' | 'resume', args: string[], opts: Record<string, unknown>): Promise<number> {
  const targets = await collectTargets(ctx, args, {});
  const client = await ctx.client();
  let failed = false;
  for (const t of targets) {
    try {
      if (sub === 'status') {
        await rolloutStatus(ctx, client, t, opts);
        continue;
      }
      if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(t.r.kind)) throw new CliError(`no ${sub === 'history' ? 'history viewer' : sub === 'undo' ? 'rollbacker' : 'handler'} has been implemented for "${t.r.kind}"`);
      if (sub === 'restart') {
        const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString().replace(/\.\d+Z$/, 'Z') } } } } };
        await client.patch(t.r, t.namespace, t.name, patch, 'strategic', { fieldManager: 'kubectl-rollout' });
        ctx.out(`${t.display} restarted\n`);
        continue;
      }
      if (sub === 'pause' || sub === 'resume') {
        if (t.r.kind !== 'Deployment') throw new CliError(`${t.display} ${sub === 'pause' ? 'pausing' : 'resuming'} is not supported`);
        const d = await client.get<Workload>(t.r, t.namespace, t.name);
        const want = sub === 'pause';
        if ((d.spec?.paused ?? false) === want) {
          ctx.out(`${t.display} ${want ? 'already paused' : 'already resumed'}\n`);
          continue;
        }
        await client.patch(t.r, t.namespace, t.name, { spec: { paused: want } }, 'strategic', { fieldManager: 'kubectl-rollout' });
        ctx.out(`${t.display} ${want ? 'paused' : 'resumed'}\n`);
        continue;
      }
      if (t.r.kind !== 'Deployment') throw new CliError(`rollout ${sub} of ${t.r.kind} is not supported by flctl yet`);
      const d = await client.get<Workload>(t.r, t.namespace, t.name);
      const byRevision = await replicaSetsByRevision(client, d);
      if (sub === 'history') {
        const revision = opts['revision'] as number | undefined;
        if (revision) {
          const rs = byRevision.get(revision);
          if (!rs) throw new CliError(`unable to find the specified revision`);
          const template = templateWithoutHash(rs);
          if (opts['output']) {
            ctx.out(formatObjects([{ ...template } as Record<string, unknown>], parseOutputFormat(String(opts['output'])), true));
            continue;
          }
          ctx.out(`${t.display} with revision #${revision}\n${toYaml({ 'Pod Template': template }).replace(/^/gm, '')}`);
          continue;
        }
        ctx.out(`${t.display} \n`);
        const rows = [...byRevision.entries()].sort(([a], [b]) => a - b).map(([rev, rs]) => [String(rev), rs.metadata.annotations?.[CHANGE_CAUSE] ?? '<none>']);
        ctx.out(`${formatColumns([['REVISION', 'CHANGE-CAUSE'], ...rows])}\n`);
        continue;
      }
      // undo
      if (d.spec?.paused) throw new CliError(`you cannot rollback a paused deployment; resume it first with 'flctl rollout resume ${t.display}' and try again`);
      const toRevision = (opts['toRevision'] as number | undefined) ?? 0;
      let rs: Workload | undefined;
      let rev = toRevision;
      if (toRevision === 0) {
        const revisions = [...byRevision.keys()].sort((a, b) => b - a);
        if (revisions.length < 2) throw new CliError('no rollout history found for deployment "' + t.name + '"');
        rev = revisions[1]!;
        rs = byRevision.get(rev);
      } else {
        rs = byRevision.get(toRevision);
        if (!rs) throw new CliError(`unable to find specified revision ${toRevision} in history`);
      }
      const template = templateWithoutHash(rs!);
      if (sameTemplate(template, d.spec?.template)) {
        ctx.out(`${t.display} skipped rollback (current template already matches revision ${rev})\n`);
        continue;
      }
      if (opts['dryRun'] && opts['dryRun'] !== 'none') {
        ctx.out(`${t.display} Pod Template:\n${toYaml(template)}`);
        continue;
      }
      const annotations = { ...(d.metadata.annotations ?? {}) };
      const cause = rs!.metadata.annotations?.[CHANGE_CAUSE];
      if (cause) annotations[CHANGE_CAUSE] = cause;
      else delete annotations[CHANGE_CAUSE];
      const patch = [
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'replace', path: '/metadata/annotations', value: annotations },
        { op: 'test', path: '/metadata/resourceVersion', value: d.metadata.resourceVersion },
      ];
      await client.patch(t.r, t.namespace, t.name, patch, 'json', { fieldManager: 'kubectl-rollout' });
      ctx.out(`${t.display} rolled back\n`);
    } catch (err) {
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
