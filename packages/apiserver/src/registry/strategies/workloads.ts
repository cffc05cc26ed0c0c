/**
 * Strategies of the workload kinds: apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet,
 * ControllerRevision; batch/v1 Job, CronJob; autoscaling/v2 HorizontalPodAutoscaler; policy/v1
 * PodDisruptionBudget.
 */
import deepEqual from 'fast-deep-equal';
import { labelSelectorFromObject, RESOURCES, type FieldError, type KubeObject, type LabelSelectorObject, type ResourceInfo } from '@flotilla/api';
import { AGE_COLUMN, defineStrategy, humanAge, humanDuration, type Strategy } from '../strategy.js';
import { forbiddenField, invalidValue, notSupported, required } from '../validation.js';
import { age, at, col, containersAndImages, selectorCell } from './core.js';
import { defaultPodSpec, validatePodSpec, type PodSpecLike } from './pod-spec.js';

interface TemplateLike {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: PodSpecLike;
}

interface WorkloadSpec {
  replicas?: number;
  selector?: LabelSelectorObject;
  template?: TemplateLike;
  [k: string]: unknown;
}

function specOf(o: KubeObject): WorkloadSpec {
  return (o['spec'] ?? (o['spec'] = {})) as WorkloadSpec;
}

function defaultTemplate(spec: WorkloadSpec): void {
  if (spec.template?.spec) defaultPodSpec(spec.template.spec, false);
}

/** Selector present, non-empty, matching the template labels; template valid; replicas >= 0. */
function validateSelectorAndTemplate(spec: WorkloadSpec, opts: { restartPolicies: string[]; needsReplicas: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  const sel = spec.selector;
  if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
    errs.push(required('spec.selector'));
  } else {
    try {
      const s = labelSelectorFromObject(sel);
      if (!s.matches(spec.template?.metadata?.labels ?? {})) errs.push(invalidValue('spec.template.metadata.labels', spec.template?.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
    } catch (err) {
      errs.push(invalidValue('spec.selector', sel, (err as Error).message));
    }
  }
  if (opts.needsReplicas && spec.replicas !== undefined && spec.replicas < 0) errs.push(invalidValue('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  if (!spec.template) errs.push(required('spec.template'));
  else {
    // A StatefulSet's claim templates are volumes of its pods (the controller adds them).
    const claims = ((spec as { volumeClaimTemplates?: { metadata?: { name?: string } }[] }).volumeClaimTemplates ?? []).map((t) => t.metadata?.name).filter((n): n is string => !!n);
    const podSpec = spec.template.spec && claims.length > 0 ? { ...spec.template.spec, volumes: [...(spec.template.spec.volumes ?? []), ...claims.filter((n) => !(spec.template!.spec!.volumes ?? []).some((v) => v.name === n)).map((n) => ({ name: n, persistentVolumeClaim: { claimName: n } }))] } : spec.template.spec;
    errs.push(...validatePodSpec(podSpec, 'spec.template.spec'));
    const rp = spec.template.spec?.restartPolicy ?? 'Always';
    if (!opts.restartPolicies.includes(rp)) errs.push(notSupported('spec.template.spec.restartPolicy', rp, opts.restartPolicies));
  }
  return errs;
}

function selectorImmutable(o: KubeObject, old: KubeObject): FieldError[] {
  const a = at(o, 'spec', 'selector');
  const b = at(old, 'spec', 'selector');
  return deepEqual(a, b) ? [] : [invalidValue('spec.selector', a ?? {}, 'field is immutable')];
}

function intOrPercentIsZero(v: unknown): boolean {
  return v === 0 || v === '0' || v === '0%';
}

function defaultDeployment(o: KubeObject): void {
  const spec = specOf(o) as WorkloadSpec & { strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } }; revisionHistoryLimit?: number; progressDeadlineSeconds?: number };
  spec.replicas ??= 1;
  spec.strategy ??= {};
  spec.strategy.type ??= 'RollingUpdate';
  if (spec.strategy.type === 'RollingUpdate') {
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxSurge ??= '25%';
    spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  defaultTemplate(spec);
}

function validateDeployment(o: KubeObject): FieldError[] {
  const spec = specOf(o) as WorkloadSpec & { strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } }; progressDeadlineSeconds?: number; minReadySeconds?: number };
  const errs = validateSelectorAndTemplate(spec, { restartPolicies: ['Always'], needsReplicas: true });
  const t = spec.strategy?.type;
  if (t !== undefined && t !== 'Recreate' && t !== 'RollingUpdate') errs.push(notSupported('spec.strategy.type', t, ['Recreate', 'RollingUpdate']));
  if (t === 'Recreate' && spec.strategy?.rollingUpdate) errs.push(forbiddenField('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
  const ru = spec.strategy?.rollingUpdate;
  if (ru && intOrPercentIsZero(ru.maxSurge) && intOrPercentIsZero(ru.maxUnavailable)) errs.push(invalidValue('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  for (const k of ['maxSurge', 'maxUnavailable'] as const) {
    const v = ru?.[k];
    if (typeof v === 'string' && !/^\d+%$/.test(v)) errs.push(invalidValue(`spec.strategy.rollingUpdate.${k}`, v, 'a valid percent string must be a numeric string followed by an ending \'%\' (e.g. \'1%\',  or \'93%\', regex used for validation is \'[0-9]+%\')'));
    if (typeof v === 'number' && v < 0) errs.push(invalidValue(`spec.strategy.rollingUpdate.${k}`, v, 'must be greater than or equal to 0'));
  }
  if (spec.progressDeadlineSeconds !== undefined && spec.minReadySeconds !== undefined && spec.progressDeadlineSeconds <= spec.minReadySeconds) {
    errs.push(invalidValue('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  }
  return errs;
}

/** The stored version of a resource (RESOURCES; other served versions are conversions of it). */
function workload(group: string, plural: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.group === group && x.plural === plural);
  if (!r) throw new Error(`unknown resource ${group}/${plural}`);
  return r;
}

function jobStatusText(o: KubeObject): string {
  const conds = at<{ type: string; status: string }[]>(o, 'status', 'conditions') ?? [];
  const has = (t: string) => conds.some((c) => c.type === t && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  if (at<boolean>(o, 'spec', 'suspend')) return 'Suspended';
  return 'Running';
}

function jobDuration(o: KubeObject, now: Date): string {
  const start = at<string>(o, 'status', 'startTime');
  if (!start) return '';
  const end = at<string>(o, 'status', 'completionTime');
  const ms = (end ? Date.parse(end) : now.getTime()) - Date.parse(start);
  return humanDuration(Math.max(0, ms / 1000));
}

const CRON_MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** Structural check of a cron schedule: five fields or a macro (the controller parses it fully). */
export function isValidCronSchedule(s: string): boolean {
  const t = s.trim();
  if (CRON_MACROS.has(t)) return true;
  if (/^@every\s+\S+$/.test(t)) return true;
  const body = t.replace(/^(CRON_)?TZ=\S+\s+/, '');
  const fields = body.split(/\s+/);
  if (fields.length !== 5) return false;
  return fields.every((f) => /^[\d*?/,\-A-Za-z]+$/.test(f));
}

function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function defaultJobSpec(spec: WorkloadSpec & { completions?: number; parallelism?: number; backoffLimit?: number; completionMode?: string; suspend?: boolean; manualSelector?: boolean; podReplacementPolicy?: string }, uid: string | undefined, name: string | undefined): void {
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  if (!spec.manualSelector && uid) {
    const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name ?? '', 'controller-uid': uid, 'job-name': name ?? '' };
    spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    spec.template ??= {};
    spec.template.metadata = { ...(spec.template.metadata ?? {}), labels: { ...(spec.template.metadata?.labels ?? {}), ...labels } };
  }
  defaultTemplate(spec);
}

/** The workload strategies. */
export function workloadStrategies(def: (group: string, version: string, kind: string) => string): Strategy[] {
  const apps = (kind: string) => def('apps', 'v1', kind);
  const workloadColumns = [col('Containers', 'Names of each container in the template.', 1), col('Images', 'Images referenced by each container in the template.', 1), col('Selector', 'Label selector for pods.', 1)];
  return [
    defineStrategy(workload('apps', 'controllerrevisions'), apps('ControllerRevision'), {
      validate: (o) => (typeof o['revision'] !== 'number' || (o['revision'] as number) < 0 ? [invalidValue('revision', o['revision'] ?? 0, 'must be greater than or equal to 0')] : []),
      validateUpdate: (o, old) => (deepEqual(o['data'], old['data']) ? [] : [invalidValue('data', '', 'field is immutable')]),
      table: {
        columns: [col('Controller'), col('Revision', '', 0, 'integer'), AGE_COLUMN],
        cells: (o, now) => {
          const c = o.metadata.ownerReferences?.find((r) => r.controller);
          return [c ? `${c.kind.toLowerCase()}.${c.apiVersion.split('/')[0]}/${c.name}` : '<none>', o['revision'] ?? 0, age(o, now)];
        },
      },
    }),
    defineStrategy(workload('apps', 'daemonsets'), apps('DaemonSet'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        const spec = specOf(o) as WorkloadSpec & { updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } }; revisionHistoryLimit?: number };
        spec.updateStrategy ??= {};
        spec.updateStrategy.type ??= 'RollingUpdate';
        if (spec.updateStrategy.type === 'RollingUpdate') {
          spec.updateStrategy.rollingUpdate ??= {};
          spec.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
          spec.updateStrategy.rollingUpdate.maxSurge ??= 0;
        }
        spec.revisionHistoryLimit ??= 10;
        defaultTemplate(spec);
      },
      prepareForUpdate: (o) => defaultTemplate(specOf(o)),
      validate: (o) => validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: false }),
      validateUpdate: (o, old) => [...validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: false }), ...selectorImmutable(o, old)],
      table: {
        columns: [col('Desired', '', 0, 'integer'), col('Current', '', 0, 'integer'), col('Ready', '', 0, 'integer'), col('Up-to-date', '', 0, 'integer'), col('Available', '', 0, 'integer'), col('Node Selector'), AGE_COLUMN, ...workloadColumns],
        cells: (o, now) => {
          const ns = at<Record<string, string>>(o, 'spec', 'template', 'spec', 'nodeSelector') ?? {};
          const nsText = Object.keys(ns).length === 0 ? '<none>' : Object.entries(ns).map(([k, v]) => `${k}=${v}`).join(',');
          return [at(o, 'status', 'desiredNumberScheduled') ?? 0, at(o, 'status', 'currentNumberScheduled') ?? 0, at(o, 'status', 'numberReady') ?? 0, at(o, 'status', 'updatedNumberScheduled') ?? 0, at(o, 'status', 'numberAvailable') ?? 0, nsText, age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec')), selectorCell(o)];
        },
      },
    }),
    defineStrategy(workload('apps', 'deployments'), apps('Deployment'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        defaultDeployment(o);
      },
      prepareForUpdate: (o) => defaultDeployment(o),
      validate: validateDeployment,
      validateUpdate: (o, old) => [...validateDeployment(o), ...selectorImmutable(o, old)],
      table: {
        columns: [col('Ready', 'Number of the pod with ready state'), col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', 0, 'integer'), col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', 0, 'integer'), AGE_COLUMN, ...workloadColumns],
        cells: (o, now) => [`${at<number>(o, 'status', 'readyReplicas') ?? 0}/${at<number>(o, 'spec', 'replicas') ?? 0}`, at(o, 'status', 'updatedReplicas') ?? 0, at(o, 'status', 'availableReplicas') ?? 0, age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec')), selectorCell(o)],
      },
    }),
    defineStrategy(workload('apps', 'replicasets'), apps('ReplicaSet'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        specOf(o).replicas ??= 1;
        defaultTemplate(specOf(o));
      },
      prepareForUpdate: (o) => defaultTemplate(specOf(o)),
      validate: (o) => validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: true }),
      validateUpdate: (o, old) => [...validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: true }), ...selectorImmutable(o, old)],
      table: {
        columns: [col('Desired', 'Number of desired pods.', 0, 'integer'), col('Current', 'Number of actual replicas.', 0, 'integer'), col('Ready', 'Number of ready replicas.', 0, 'integer'), AGE_COLUMN, ...workloadColumns],
        cells: (o, now) => [at(o, 'spec', 'replicas') ?? 0, at(o, 'status', 'replicas') ?? 0, at(o, 'status', 'readyReplicas') ?? 0, age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec')), selectorCell(o)],
      },
    }),
    defineStrategy(workload('apps', 'statefulsets'), apps('StatefulSet'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        const spec = specOf(o) as WorkloadSpec & { podManagementPolicy?: string; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } }; revisionHistoryLimit?: number; persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string; whenScaled?: string } };
        spec.replicas ??= 1;
        spec.podManagementPolicy ??= 'OrderedReady';
        spec.updateStrategy ??= {};
        spec.updateStrategy.type ??= 'RollingUpdate';
        if (spec.updateStrategy.type === 'RollingUpdate') {
          spec.updateStrategy.rollingUpdate ??= {};
          spec.updateStrategy.rollingUpdate.partition ??= 0;
        }
        spec.revisionHistoryLimit ??= 10;
        spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
        defaultTemplate(spec);
      },
      prepareForUpdate: (o) => defaultTemplate(specOf(o)),
      validate: (o) => {
        const errs = validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: true });
        const pmp = at<string>(o, 'spec', 'podManagementPolicy');
        if (pmp !== undefined && pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(notSupported('spec.podManagementPolicy', pmp, ['OrderedReady', 'Parallel']));
        return errs;
      },
      validateUpdate: (o, old) => {
        const errs = [...validateSelectorAndTemplate(specOf(o), { restartPolicies: ['Always'], needsReplicas: true }), ...selectorImmutable(o, old)];
        const strip = (x: KubeObject) => {
          const s = { ...specOf(structuredClone(x)) } as Record<string, unknown>;
          for (const k of ['replicas', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'ordinals', 'revisionHistoryLimit']) delete s[k];
          return s;
        };
        if (!deepEqual(strip(o), strip(old))) errs.push(forbiddenField('spec', "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
        return errs;
      },
      table: {
        columns: [col('Ready', 'Number of the pod with ready state'), AGE_COLUMN, col('Containers', '', 1), col('Images', '', 1)],
        cells: (o, now) => [`${at<number>(o, 'status', 'readyReplicas') ?? 0}/${at<number>(o, 'spec', 'replicas') ?? 0}`, age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec'))],
      },
    }),
    defineStrategy(workload('batch', 'jobs'), def('batch', 'v1', 'Job'), {
      tracksGeneration: true,
      selectableFields: { 'status.successful': (o) => String(at<number>(o, 'status', 'succeeded') ?? 0) },
      prepareForCreate: (o) => {
        delete o['status'];
        defaultJobSpec(specOf(o), o.metadata.uid, o.metadata.name);
      },
      prepareForUpdate: (o) => defaultTemplate(specOf(o)),
      validate: (o) => {
        const spec = specOf(o) as WorkloadSpec & { parallelism?: number; completions?: number; backoffLimit?: number; activeDeadlineSeconds?: number; ttlSecondsAfterFinished?: number };
        const errs = validateSelectorAndTemplate(spec, { restartPolicies: ['OnFailure', 'Never'], needsReplicas: false });
        for (const k of ['parallelism', 'completions', 'backoffLimit', 'ttlSecondsAfterFinished'] as const) {
          const v = spec[k];
          if (v !== undefined && v < 0) errs.push(invalidValue(`spec.${k}`, v, 'must be greater than or equal to 0'));
        }
        if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) errs.push(invalidValue('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds, 'must be greater than 0'));
        return errs;
      },
      validateUpdate: (o, old) => {
        const errs: FieldError[] = [...selectorImmutable(o, old)];
        if (!deepEqual(at(o, 'spec', 'template'), at(old, 'spec', 'template'))) errs.push(invalidValue('spec.template', at(o, 'spec', 'template') ?? {}, 'field is immutable'));
        if (at(o, 'spec', 'completions') !== at(old, 'spec', 'completions')) errs.push(invalidValue('spec.completions', at(o, 'spec', 'completions') ?? 0, 'field is immutable'));
        return errs;
      },
      table: {
        columns: [col('Status', 'Status of the job.'), col('Completions', 'The completion status of the job.'), col('Duration', 'Time required to complete the job.'), AGE_COLUMN, ...workloadColumns],
        cells: (o, now) => {
          const completions = at<number>(o, 'spec', 'completions');
          const parallelism = at<number>(o, 'spec', 'parallelism') ?? 1;
          const succeeded = at<number>(o, 'status', 'succeeded') ?? 0;
          const completionsText = completions !== undefined ? `${succeeded}/${completions}` : parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
          return [jobStatusText(o), completionsText, jobDuration(o, now), age(o, now), ...containersAndImages(at(o, 'spec', 'template', 'spec')), selectorCell(o)];
        },
      },
    }),
    defineStrategy(workload('batch', 'cronjobs'), def('batch', 'v1', 'CronJob'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        const spec = specOf(o) as { concurrencyPolicy?: string; suspend?: boolean; successfulJobsHistoryLimit?: number; failedJobsHistoryLimit?: number; jobTemplate?: { spec?: WorkloadSpec } };
        spec.concurrencyPolicy ??= 'Allow';
        spec.suspend ??= false;
        spec.successfulJobsHistoryLimit ??= 3;
        spec.failedJobsHistoryLimit ??= 1;
        if (spec.jobTemplate?.spec) defaultTemplate(spec.jobTemplate.spec);
      },
      validate: (o) => validateCronJob(o),
      validateUpdate: (o) => validateCronJob(o),
      table: {
        columns: [col('Schedule', 'The schedule for running the job.'), col('Timezone', 'The time zone for the schedule.'), col('Suspend', 'Whether this cronjob is suspended.', 0, 'boolean'), col('Active', 'Number of running jobs.', 0, 'integer'), col('Last Schedule', 'When the last job was scheduled.'), AGE_COLUMN, col('Containers', '', 1), col('Images', '', 1), col('Selector', '', 1)],
        cells: (o, now) => {
          const last = at<string>(o, 'status', 'lastScheduleTime');
          return [at(o, 'spec', 'schedule') ?? '', at(o, 'spec', 'timeZone') ?? '<none>', at<boolean>(o, 'spec', 'suspend') ?? false, (at<unknown[]>(o, 'status', 'active') ?? []).length, last ? humanAge(last, now) : '<none>', age(o, now), ...containersAndImages(at(o, 'spec', 'jobTemplate', 'spec', 'template', 'spec')), '<none>'];
        },
      },
    }),
    defineStrategy(workload('autoscaling', 'horizontalpodautoscalers'), def('autoscaling', 'v2', 'HorizontalPodAutoscaler'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        delete o['status'];
        const spec = specOf(o) as { minReplicas?: number };
        spec.minReplicas ??= 1;
      },
      validate: validateHpa,
      validateUpdate: validateHpa,
      table: {
        columns: [col('Reference'), col('Targets'), col('MinPods', '', 0, 'integer'), col('MaxPods', '', 0, 'integer'), col('Replicas', '', 0, 'integer'), AGE_COLUMN],
        cells: (o, now) => {
          const ref = at<{ kind?: string; name?: string }>(o, 'spec', 'scaleTargetRef') ?? {};
          return [`${ref.kind ?? ''}/${ref.name ?? ''}`, hpaTargets(o), at(o, 'spec', 'minReplicas') ?? 1, at(o, 'spec', 'maxReplicas') ?? 0, at(o, 'status', 'currentReplicas') ?? 0, age(o, now)];
        },
      },
    }),
    defineStrategy(workload('policy', 'poddisruptionbudgets'), def('policy', 'v1', 'PodDisruptionBudget'), {
      tracksGeneration: true,
      prepareForCreate: (o) => {
        o['status'] = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
      },
      validate: (o) => {
        const errs: FieldError[] = [];
        if (at(o, 'spec', 'minAvailable') !== undefined && at(o, 'spec', 'maxUnavailable') !== undefined) errs.push(invalidValue('spec', at(o, 'spec') ?? {}, 'minAvailable and maxUnavailable cannot be both set'));
        return errs;
      },
      table: {
        columns: [col('Min Available'), col('Max Unavailable'), col('Allowed Disruptions', '', 0, 'integer'), AGE_COLUMN],
        cells: (o, now) => [at(o, 'spec', 'minAvailable') ?? 'N/A', at(o, 'spec', 'maxUnavailable') ?? 'N/A', at(o, 'status', 'disruptionsAllowed') ?? 0, age(o, now)],
      },
    }),
  ];
}

function validateCronJob(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const schedule = at<string>(o, 'spec', 'schedule');
  if (!schedule) errs.push(required('spec.schedule'));
  else if (!isValidCronSchedule(schedule)) errs.push(invalidValue('spec.schedule', schedule, 'unparseable cron schedule'));
  const tz = at<string>(o, 'spec', 'timeZone');
  if (tz !== undefined && !isValidTimeZone(tz)) errs.push(invalidValue('spec.timeZone', tz, 'unknown time zone'));
  if ((o.metadata.name ?? '').length > 52) errs.push(invalidValue('metadata.name', o.metadata.name, 'must be no more than 52 characters'));
  const cp = at<string>(o, 'spec', 'concurrencyPolicy');
  if (cp !== undefined && !['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(notSupported('spec.concurrencyPolicy', cp, ['Allow', 'Forbid', 'Replace']));
  const tmpl = at<TemplateLike>(o, 'spec', 'jobTemplate', 'spec', 'template');
  if (!tmpl) errs.push(required('spec.jobTemplate.spec.template'));
  else {
    errs.push(...validatePodSpec(tmpl.spec, 'spec.jobTemplate.spec.template.spec'));
    const rp = tmpl.spec?.restartPolicy ?? 'Always';
    if (rp !== 'OnFailure' && rp !== 'Never') errs.push(notSupported('spec.jobTemplate.spec.template.spec.restartPolicy', rp, ['OnFailure', 'Never']));
  }
  return errs;
}

function validateHpa(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const min = at<number>(o, 'spec', 'minReplicas') ?? 1;
  const max = at<number>(o, 'spec', 'maxReplicas');
  if (max === undefined) errs.push(required('spec.maxReplicas'));
  else if (max < min) errs.push(invalidValue('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  if (min < 1) errs.push(invalidValue('spec.minReplicas', min, 'must be greater than or equal to 1'));
  const ref = at<{ kind?: string; name?: string }>(o, 'spec', 'scaleTargetRef');
  if (!ref?.kind) errs.push(required('spec.scaleTargetRef.kind'));
  if (!ref?.name) errs.push(required('spec.scaleTargetRef.name'));
  return errs;
}

function hpaTargets(o: KubeObject): string {
  const metrics = at<{ type: string; resource?: { name: string; target?: { averageUtilization?: number; averageValue?: string } } }[]>(o, 'spec', 'metrics') ?? [];
  const current = at<{ type: string; resource?: { name: string; current?: { averageUtilization?: number; averageValue?: string } } }[]>(o, 'status', 'currentMetrics') ?? [];
  if (metrics.length === 0) return '<none>';
  return metrics
    .map((m) => {
      if (m.type !== 'Resource' || !m.resource) return `<unknown>/<unknown>`;
      const cur = current.find((c) => c.type === 'Resource' && c.resource?.name === m.resource!.name)?.resource?.current;
      const t = m.resource.target;
      if (t?.averageUtilization !== undefined) return `${m.resource.name}: ${cur?.averageUtilization !== undefined ? `${cur.averageUtilization}%` : '<unknown>'}/${t.averageUtilization}%`;
      return `${m.resource.name}: ${cur?.averageValue ?? '<unknown>'}/${t?.averageValue ?? '<unknown>'}`;
    })
    .join(', ');
}

