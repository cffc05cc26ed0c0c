/**
 * Pods: status reset on create, QoS class, graceful deletion (the agent finishes it), spec
 * immutability except images and a few fields, and the `kubectl get pods` columns.
 */
import deepEqual from 'fast-deep-equal';
import { findResource, parseQuantity, type FieldError, type KubeObject } from '@flotilla/api';
import { AGE_COLUMN, defineStrategy, humanAge, type Strategy, type SubresourceSection } from '../strategy.js';
import { forbiddenField } from '../validation.js';
import { DEFAULT_TOLERATION_SECONDS, defaultContainer, defaultPodSpec, validatePodSpec, type ContainerLike, type DefaultTolerationSeconds, type PodSpecLike } from './pod-spec.js';

interface ContainerState {
  waiting?: { reason?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode?: number; signal?: number; finishedAt?: string };
}

interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
  started?: boolean;
}

interface PodStatus {
  phase?: string;
  reason?: string;
  conditions?: { type: string; status: string; reason?: string }[];
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
  podIP?: string;
  podIPs?: { ip: string }[];
  nominatedNodeName?: string;
  qosClass?: string;
}

function specOf(obj: KubeObject): PodSpecLike {
  return (obj['spec'] ?? {}) as PodSpecLike;
}

function statusOf(obj: KubeObject): PodStatus {
  return (obj['status'] ?? {}) as PodStatus;
}

function isZeroOrAbsent(v: string | number | undefined): boolean {
  if (v === undefined) return true;
  try {
    return parseQuantity(v).sign() === 0;
  } catch {
    return false;
  }
}

/** The QoS class Kubernetes derives from requests and limits. */
export function qosClassOf(spec: PodSpecLike): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers: ContainerLike[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  let anySet = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      if (!isZeroOrAbsent(req[r]) || !isZeroOrAbsent(lim[r])) anySet = true;
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || q === undefined) {
        guaranteed = false;
        continue;
      }
      try {
        if (parseQuantity(q).cmp(parseQuantity(l)) !== 0) guaranteed = false;
      } catch {
        guaranteed = false;
      }
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function isTerminal(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The STATUS / READY / RESTARTS cells of `kubectl get pods`, following Kubernetes' printer. */
export function podSummary(pod: KubeObject, now: Date): { ready: string; reason: string; restarts: string } {
  const spec = specOf(pod);
  const st = statusOf(pod);
  let restarts = 0;
  let readyContainers = 0;
  let lastRestart = 0;
  let reason = st.reason || st.phase || '';
  const noteRestart = (c: ContainerStatus) => {
    const t = c.lastState?.terminated?.finishedAt;
    if (t) lastRestart = Math.max(lastRestart, Date.parse(t));
  };
  let initializing = false;
  const inits = st.initContainerStatuses ?? [];
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i]!;
    restarts += c.restartCount ?? 0;
    noteRestart(c);
    const term = c.state?.terminated;
    const wait = c.state?.waiting;
    if (term && term.exitCode === 0) continue;
    if (term) {
      reason = term.reason ? `Init:${term.reason}` : term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode ?? 0}`;
    } else if (wait?.reason && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`;
    } else {
      reason = `Init:${i}/${(spec.initContainers ?? []).length}`;
    }
    initializing = true;
    break;
  }
  const initialized = (st.conditions ?? []).some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = 0;
    let hasRunning = false;
    const cs = st.containerStatuses ?? [];
    for (let i = cs.length - 1; i >= 0; i--) {
      const c = cs[i]!;
      restarts += c.restartCount ?? 0;
      noteRestart(c);
      const term = c.state?.terminated;
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (term?.reason) reason = term.reason;
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = (st.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp && st.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && !isTerminal(st.phase)) reason = 'Terminating';
  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestart > 0) restartsText = `${restarts} (${humanAge(new Date(lastRestart).toISOString(), now)} ago)`;
  return { ready: `${readyContainers}/${(spec.containers ?? []).length}`, reason, restarts: restartsText };
}

const MUTABLE_SPEC_FIELDS = new Set(['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds', 'schedulingGates', 'containers', 'initContainers']);

function containersEqualIgnoringImage(a: ContainerLike[] | undefined, b: ContainerLike[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    if (!deepEqual({ ...x[i], image: undefined }, { ...y[i], image: undefined })) return false;
  }
  return true;
}

/** True when two pod specs differ only in fields that may change after creation. */
function onlyMutableFieldsChanged(a: PodSpecLike, b: PodSpecLike): boolean {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (MUTABLE_SPEC_FIELDS.has(k)) continue;
    if (!deepEqual(a[k], b[k])) return false;
  }
  return containersEqualIgnoringImage(a.containers, b.containers) && containersEqualIgnoringImage(a.initContainers, b.initContainers);
}

/**
 * pods/ephemeralcontainers (kubectl debug): a write there changes spec.ephemeralContainers only;
 * containers may be added, never removed or changed, and a static pod gets none.
 */
const EPHEMERAL_CONTAINERS: SubresourceSection = {
  take: (desired, into) => {
    const list = specOf(desired).ephemeralContainers;
    const spec = specOf(into);
    if (list === undefined) delete spec.ephemeralContainers;
    else spec.ephemeralContainers = list;
    for (const c of list ?? []) defaultContainer(c, true);
  },
  validate: (obj, old) => {
    if (old.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return [forbiddenField('', 'static pods do not support ephemeral containers')];
    const errs = validatePodSpec(specOf(obj), 'spec');
    const now = new Map((specOf(obj).ephemeralContainers ?? []).map((c) => [c.name, c]));
    for (const before of specOf(old).ephemeralContainers ?? []) {
      const after = now.get(before.name);
      if (!after) errs.push(forbiddenField('spec.ephemeralContainers', `existing ephemeral containers "${before.name ?? ''}" may not be removed\n`));
      else if (!deepEqual(after, before)) errs.push(forbiddenField('spec.ephemeralContainers', `existing ephemeral containers "${before.name ?? ''}" may not be changed\n`));
    }
    return errs;
  },
};

/** Options of the pods strategy. */
export interface PodStrategyOptions {
  /** tolerationSeconds of the default not-ready/unreachable tolerations (300 each by default). */
  tolerationSeconds?: DefaultTolerationSeconds;
}

/** The pods strategy. */
export function podStrategy(definitionName: string, options: PodStrategyOptions = {}): Strategy {
  const tolerationSeconds = options.tolerationSeconds ?? DEFAULT_TOLERATION_SECONDS;
  return defineStrategy(findResource('', 'v1', 'pods')!, definitionName, {
    selectableFields: {
      'spec.nodeName': (o) => specOf(o).nodeName,
      'spec.restartPolicy': (o) => specOf(o).restartPolicy,
      'spec.schedulerName': (o) => specOf(o)['schedulerName'] as string | undefined,
      'spec.serviceAccountName': (o) => specOf(o).serviceAccountName,
      'spec.hostNetwork': (o) => String(specOf(o).hostNetwork ?? false),
      'status.phase': (o) => statusOf(o).phase,
      'status.podIP': (o) => statusOf(o).podIP,
      'status.nominatedNodeName': (o) => statusOf(o).nominatedNodeName,
    },
    indexField: 'spec.nodeName',
    prepareForCreate: (obj) => {
      const spec = specOf(obj);
      obj['spec'] = spec;
      defaultPodSpec(spec, true, tolerationSeconds);
      obj['status'] = { phase: 'Pending', qosClass: qosClassOf(spec) };
    },
    prepareForUpdate: (obj, old) => {
      // Status is carried over by the store; QoS is fixed at creation.
      void old;
      defaultPodSpec(specOf(obj), true, tolerationSeconds);
    },
    validate: (obj) => {
      const errs = validatePodSpec(specOf(obj), 'spec');
      if ((specOf(obj).ephemeralContainers ?? []).length > 0) errs.push(forbiddenField('spec.ephemeralContainers', 'cannot be set on create'));
      return errs;
    },
    sections: { ephemeralcontainers: EPHEMERAL_CONTAINERS },
    validateUpdate: (obj, old) => {
      const errs: FieldError[] = validatePodSpec(specOf(obj), 'spec');
      const a = specOf(obj);
      const b = specOf(old);
      if (!onlyMutableFieldsChanged(a, b)) {
        errs.push(forbiddenField('spec', 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'));
      }
      const oldTolerations = b.tolerations ?? [];
      if (!oldTolerations.every((t) => (a.tolerations ?? []).some((n) => deepEqual(n, t)))) {
        errs.push(forbiddenField('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
      }
      return errs;
    },
    validateStatusUpdate: () => [],
    gracePeriodSeconds: (obj, requested) => {
      const spec = specOf(obj);
      if (!spec.nodeName) return 0;
      if (isTerminal(statusOf(obj).phase)) return 0;
      if (requested !== undefined) return requested;
      return spec.terminationGracePeriodSeconds ?? 30;
    },
    table: {
      columns: [
        { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.' },
        { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.' },
        { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.' },
        AGE_COLUMN,
        { name: 'IP', type: 'string', priority: 1, description: 'IP address allocated to the pod.' },
        { name: 'Node', type: 'string', priority: 1, description: 'The node the pod is bound to.' },
        { name: 'Nominated Node', type: 'string', priority: 1, description: 'The node the scheduler nominated for this pod.' },
        { name: 'Readiness Gates', type: 'string', priority: 1, description: 'Readiness gates that are true, out of all of them.' },
      ],
      cells: (pod, now) => {
        const s = podSummary(pod, now);
        const spec = specOf(pod);
        const st = statusOf(pod);
        const gates = (spec['readinessGates'] as { conditionType: string }[] | undefined) ?? [];
        const gatesText = gates.length === 0 ? '<none>' : `${gates.filter((g) => (st.conditions ?? []).some((c) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}`;
        return [s.ready, s.reason, s.restarts, humanAge(pod.metadata.creationTimestamp, now), st.podIPs?.[0]?.ip || st.podIP || '<none>', spec.nodeName || '<none>', st.nominatedNodeName || '<none>', gatesText];
      },
    },
  });
}
