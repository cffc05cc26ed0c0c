/**
 * Subresources with their own semantics: `scale` (autoscaling/v1 Scale of deployments, replicasets,
 * statefulsets, replicationcontrollers), `pods/binding`, `pods/eviction` (policy/v1, honouring
 * PodDisruptionBudgets) and `namespaces/finalize`.
 */
import {
  ApiError,
  badRequest,
  conflict,
  formatLabelSelector,
  formatTime,
  invalid,
  labelSelectorFromObject,
  successStatus,
  tooManyRequests,
  type KubeObject,
  type LabelSelectorObject,
  type PodDisruptionBudgetStatus,
} from '@flotilla/api';
import { checkTypeMeta } from '../http/body.js';
import type { GenericStore, WriteOptions } from './generic-store.js';
import type { RequestContext } from './strategy.js';

interface ScalableSpec {
  replicas?: number;
  selector?: LabelSelectorObject | Record<string, string>;
}

function selectorString(obj: KubeObject): string {
  const sel = (obj['spec'] as ScalableSpec | undefined)?.selector;
  if (!sel) return '';
  if ('matchLabels' in sel || 'matchExpressions' in sel) return formatLabelSelector(sel as LabelSelectorObject);
  // ReplicationController: a plain map selector.
  return Object.entries(sel as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The autoscaling/v1 Scale view of a scalable object. */
export function scaleOf(obj: KubeObject): Record<string, unknown> {
  const spec = (obj['spec'] ?? {}) as ScalableSpec;
  const status = (obj['status'] ?? {}) as { replicas?: number };
  const m = obj.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(obj) },
  };
}

/** Validates a Scale body and returns its replicas and optional resourceVersion precondition. */
export function readScale(body: unknown, name: string): { replicas: number; resourceVersion?: string } {
  if (body === null || typeof body !== 'object') throw badRequest('the body must be an autoscaling/v1 Scale object');
  const b = body as { kind?: string; metadata?: { name?: string; resourceVersion?: string }; spec?: { replicas?: unknown } };
  checkTypeMeta(b, 'Scale');
  if (b.metadata?.name && b.metadata.name !== name) throw badRequest(`the name of the object (${b.metadata.name}) does not match the name on the URL (${name})`);
  const replicas = b.spec?.replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas)) throw badRequest('Scale in version "v1" cannot be handled as a Scale: spec.replicas must be an integer');
  if (replicas < 0) throw invalid('Scale', name, 'autoscaling', [{ type: 'FieldValueInvalid', field: 'spec.replicas', message: `${replicas}: must be greater than or equal to 0` }]);
  const out: { replicas: number; resourceVersion?: string } = { replicas };
  if (b.metadata?.resourceVersion) out.resourceVersion = b.metadata.resourceVersion;
  return out;
}

/** Sets spec.replicas through the owner's normal update path and returns the new Scale. */
export async function updateScale(store: GenericStore, namespace: string, name: string, body: unknown, options: WriteOptions, ctx: RequestContext): Promise<Record<string, unknown>> {
  const { replicas, resourceVersion } = readScale(body, name);
  const res = await store.guaranteedUpdate(
    namespace,
    name,
    options,
    ctx,
    '',
    (cur) => {
      const spec = (cur['spec'] ?? (cur['spec'] = {})) as ScalableSpec;
      spec.replicas = replicas;
      return cur;
    },
    resourceVersion,
  );
  return scaleOf(res.object);
}

interface BindingBody {
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string };
  target?: { kind?: string; name?: string; apiVersion?: string };
}

/** `POST pods/NAME/binding` (or `POST bindings`): assigns an unbound pod to a node. */
export async function bindPod(pods: GenericStore, namespace: string, podName: string, body: unknown, dryRun: boolean, ctx: RequestContext): Promise<Record<string, unknown>> {
  if (body === null || typeof body !== 'object') throw badRequest('the body must be a Binding object');
  const b = body as BindingBody;
  checkTypeMeta(b, 'Binding');
  const name = podName || b.metadata?.name || '';
  if (!name) throw invalid('Binding', '', '', [{ type: 'FieldValueRequired', field: 'metadata.name', message: 'name or generateName is required' }]);
  if (b.metadata?.name && podName && b.metadata.name !== podName) throw badRequest(`the name of the object (${b.metadata.name}) does not match the name on the URL (${podName})`);
  const node = b.target?.name ?? '';
  if (!node) throw invalid('Binding', name, '', [{ type: 'FieldValueRequired', field: 'target.name', message: '' }]);
  if (b.target?.kind && b.target.kind !== 'Node') throw invalid('Binding', name, '', [{ type: 'FieldValueNotSupported', field: 'target.kind', message: `"${b.target.kind}": supported values: "Node"` }]);
  const subject = { qualifiedResource: 'pods/binding', name };
  await pods.rawUpdate(
    namespace,
    name,
    (pod) => {
      const spec = (pod['spec'] ?? (pod['spec'] = {})) as { nodeName?: string };
      if (pod.metadata.deletionTimestamp) throw conflict(subject, `pod ${name} is being deleted, cannot be assigned to a host`);
      if (b.metadata?.uid && b.metadata.uid !== pod.metadata.uid) throw conflict(subject, `Precondition failed: UID in precondition: ${b.metadata.uid}, UID in object meta: ${pod.metadata.uid ?? ''}`);
      if (spec.nodeName) throw conflict(subject, `pod ${name} is already assigned to node "${spec.nodeName}"`);
      spec.nodeName = node;
      const status = (pod['status'] ?? (pod['status'] = {})) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ?? []).filter((c) => c['type'] !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: formatTime(ctx.now) });
      status.conditions = conditions;
      return pod;
    },
    { dryRun },
  );
  return { ...successStatus(), code: 201 };
}

/**
 * `POST pods/NAME/eviction`: deletes the pod unless a PodDisruptionBudget selecting it allows no
 * disruption (429). Pods that are not running or already being deleted are evicted without
 * consulting budgets. A running pod that is not Ready does not use up the budget: it is evicted
 * when the budget is healthy anyway (unhealthyPodEvictionPolicy IfHealthyBudget, the default) or
 * always (AlwaysAllow), as Kubernetes does.
 */
export async function evictPod(pods: GenericStore, pdbs: GenericStore, namespace: string, name: string, body: unknown, ctx: RequestContext): Promise<Record<string, unknown>> {
  const ev = (body ?? {}) as { kind?: string; metadata?: { name?: string }; deleteOptions?: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string }; dryRun?: string[] } };
  checkTypeMeta(ev, 'Eviction');
  if (ev.metadata?.name && ev.metadata.name !== name) throw badRequest(`name in URL does not match name in Eviction object`);
  const pod = pods.get(namespace, name);
  const phase = (pod['status'] as { phase?: string } | undefined)?.phase;
  const dryRun = (ev.deleteOptions?.dryRun ?? []).includes('All');
  if ((phase === 'Running' || phase === undefined) && !pod.metadata.deletionTimestamp) {
    const labels = pod.metadata.labels ?? {};
    const matching = pdbs.cache.list({ namespace }, 0).items.map((o) => JSON.parse(o.json) as KubeObject).filter((pdb) => {
      const sel = (pdb['spec'] as { selector?: LabelSelectorObject } | undefined)?.selector;
      return sel !== undefined && labelSelectorFromObject(sel).matches(labels);
    });
    if (matching.length > 1) throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    const pdb = matching[0];
    const st = (pdb?.['status'] ?? {}) as PodDisruptionBudgetStatus;
    const current = (st.observedGeneration ?? 0) >= (pdb?.metadata.generation ?? 1);
    const ready = ((pod['status'] as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    const policy = (pdb?.['spec'] as { unhealthyPodEvictionPolicy?: string } | undefined)?.unhealthyPodEvictionPolicy ?? 'IfHealthyBudget';
    const unhealthyMayGo = !ready && (policy === 'AlwaysAllow' || ((st.desiredHealthy ?? 0) > 0 && (st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0)));
    if (pdb && !unhealthyMayGo) {
      if (!current || (st.disruptionsAllowed ?? 0) < 1) {
        const err = tooManyRequests('Cannot evict pod as it would violate the pod\'s disruption budget.', 10);
        err.details!.causes = [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name ?? ''} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently` }];
        throw err;
      }
      if (!dryRun) {
        await pdbs.guaranteedUpdate(namespace, pdb.metadata.name!, { dryRun: false, fieldValidation: 'Ignore' }, ctx, 'status', (cur) => {
          const s = (cur['status'] ?? (cur['status'] = {})) as PodDisruptionBudgetStatus;
          if ((s.disruptionsAllowed ?? 0) < 1) throw tooManyRequests('Cannot evict pod as it would violate the pod\'s disruption budget.', 10);
          s.disruptionsAllowed = (s.disruptionsAllowed ?? 0) - 1;
          s.disruptedPods = { ...(s.disruptedPods ?? {}), [name]: formatTime(ctx.now) };
          return cur;
        }, undefined);
      }
    }
  }
  const deleteOptions: Parameters<GenericStore['delete']>[2] = { dryRun };
  if (ev.deleteOptions?.gracePeriodSeconds !== undefined) deleteOptions.gracePeriodSeconds = ev.deleteOptions.gracePeriodSeconds;
  if (ev.deleteOptions?.preconditions) deleteOptions.preconditions = ev.deleteOptions.preconditions;
  await pods.delete(namespace, name, deleteOptions, ctx);
  return { ...successStatus(), code: 201 };
}

/** `PUT namespaces/NAME/finalize`: replaces spec.finalizers; a deleting namespace with none left goes away. */
export async function finalizeNamespace(namespaces: GenericStore, name: string, body: unknown, dryRun: boolean): Promise<string> {
  const b = (body ?? {}) as { metadata?: { name?: string; resourceVersion?: string }; spec?: { finalizers?: unknown } };
  if (b.metadata?.name && b.metadata.name !== name) throw badRequest(`the name of the object (${b.metadata.name}) does not match the name on the URL (${name})`);
  const finalizers = b.spec?.finalizers ?? [];
  if (!Array.isArray(finalizers) || !finalizers.every((f) => typeof f === 'string')) throw badRequest('spec.finalizers must be a list of strings');
  const opts: { dryRun: boolean; preconditionRv?: string } = { dryRun };
  if (b.metadata?.resourceVersion) opts.preconditionRv = b.metadata.resourceVersion;
  const res = await namespaces.rawUpdate('', name, (ns) => {
    const spec = (ns['spec'] ?? (ns['spec'] = {})) as { finalizers?: string[] };
    spec.finalizers = [...new Set(finalizers as string[])];
    return ns;
  }, opts);
  return res.json;
}
