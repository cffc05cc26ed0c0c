/**
 * Computes a pod's status from what the agent observes of its containers, the way the kubelet
 * does: phase, the PodScheduled / Initialized / ContainersReady / Ready conditions and container
 * statuses. Shared by the real agent (observations from the runtime) and hollow nodes (simulated).
 */
import { formatTime, type KubeObject } from '@flotilla/api/core';

/** What the agent knows about one container. */
export interface ContainerObservation {
  name: string;
  state: 'waiting' | 'running' | 'terminated';
  /** waiting/terminated reason (ContainerCreating, CrashLoopBackOff, Completed, Error, OOMKilled...). */
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  signal?: number;
  ready: boolean;
  started: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  /** The previous termination, if the container restarted. */
  lastTerminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string; signal?: number };
}

/** What the agent knows about a pod. */
export interface PodObservation {
  hostIP: string;
  podIP?: string;
  startTime: string;
  init: ContainerObservation[];
  containers: ContainerObservation[];
  /** Ephemeral containers (kubectl debug); they count for no condition or phase. */
  ephemeral?: ContainerObservation[];
  /** A pod-level failure (e.g. DeadlineExceeded, Evicted). */
  failure?: { reason: string; message: string };
}

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

interface PodSpecView {
  restartPolicy?: string;
  containers?: { name: string; image?: string }[];
  initContainers?: { name: string; image?: string; restartPolicy?: string }[];
  ephemeralContainers?: { name: string; image?: string }[];
  readinessGates?: { conditionType: string }[];
}

function containerStatus(o: ContainerObservation): Record<string, unknown> {
  const state: Record<string, unknown> =
    o.state === 'running'
      ? { running: { startedAt: o.startedAt } }
      : o.state === 'terminated'
        ? { terminated: { exitCode: o.exitCode ?? 0, ...(o.signal ? { signal: o.signal } : {}), reason: o.reason ?? (o.exitCode === 0 ? 'Completed' : 'Error'), ...(o.message ? { message: o.message } : {}), startedAt: o.startedAt, finishedAt: o.finishedAt, ...(o.containerID ? { containerID: o.containerID } : {}) } }
        : { waiting: { reason: o.reason ?? 'ContainerCreating', ...(o.message ? { message: o.message } : {}) } };
  const s: Record<string, unknown> = {
    name: o.name,
    state,
    lastState: o.lastTerminated ? { terminated: { ...o.lastTerminated, reason: o.lastTerminated.reason ?? (o.lastTerminated.exitCode === 0 ? 'Completed' : 'Error') } } : {},
    ready: o.ready,
    restartCount: o.restartCount,
    image: o.image,
    imageID: o.imageID,
    started: o.started,
  };
  if (o.containerID) s['containerID'] = o.containerID;
  return s;
}

/** The phase, following the kubelet's rules. */
export function podPhase(spec: PodSpecView, obs: PodObservation): string {
  if (obs.failure) return 'Failed';
  const restart = spec.restartPolicy ?? 'Always';
  const regularInits = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always');
  let pendingInit = 0;
  for (const ic of regularInits) {
    const o = obs.init.find((x) => x.name === ic.name);
    if (o?.state === 'terminated' && o.exitCode === 0) continue;
    if (o?.state === 'terminated' && restart === 'Never') return 'Failed';
    pendingInit++;
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  let unknown = 0;
  for (const c of spec.containers ?? []) {
    const o = obs.containers.find((x) => x.name === c.name);
    if (!o) unknown++;
    else if (o.state === 'running') running++;
    else if (o.state === 'terminated') {
      stopped++;
      if (o.exitCode === 0) succeeded++;
    } else if (o.lastTerminated) stopped++;
    else waiting++;
  }
  if (pendingInit > 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (restart === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restart === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function setCondition(list: Cond[], type: string, ok: boolean, reason: string | undefined, now: string): void {
  const status = ok ? 'True' : 'False';
  const prev = list.find((c) => c.type === type);
  const next: Cond = { type, status, lastProbeTime: null, lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
  if (!ok && reason) next.reason = reason;
  const i = list.findIndex((c) => c.type === type);
  if (i >= 0) list[i] = next;
  else list.push(next);
}

/** The status the agent reports for `pod` given what it observed. */
export function computePodStatus(pod: KubeObject, obs: PodObservation, now: Date): Record<string, unknown> {
  const spec = (pod['spec'] ?? {}) as PodSpecView;
  const prev = (pod['status'] ?? {}) as { conditions?: Cond[]; qosClass?: string };
  const t = formatTime(now);
  const phase = podPhase(spec, obs);
  const conditions: Cond[] = (prev.conditions ?? []).map((c) => ({ ...c }));
  const regularInits = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always');
  const initialized = regularInits.every((ic) => obs.init.some((o) => o.name === ic.name && o.state === 'terminated' && o.exitCode === 0));
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const containersReady = !terminal && (spec.containers ?? []).every((c) => obs.containers.some((o) => o.name === c.name && o.ready));
  const gates = spec.readinessGates ?? [];
  const gatesOk = gates.every((g) => conditions.some((c) => c.type === g.conditionType && c.status === 'True'));
  if (!conditions.some((c) => c.type === 'PodScheduled')) setCondition(conditions, 'PodScheduled', true, undefined, t);
  setCondition(conditions, 'Initialized', initialized, 'ContainersNotInitialized', t);
  setCondition(conditions, 'ContainersReady', containersReady, terminal ? 'PodCompleted' : 'ContainersNotReady', t);
  setCondition(conditions, 'Ready', containersReady && gatesOk, terminal ? 'PodCompleted' : containersReady ? 'ReadinessGatesNotReady' : 'ContainersNotReady', t);
  const status: Record<string, unknown> = {
    phase,
    conditions,
    hostIP: obs.hostIP,
    hostIPs: [{ ip: obs.hostIP }],
    startTime: obs.startTime,
    containerStatuses: (spec.containers ?? []).map((c) => containerStatus(obs.containers.find((o) => o.name === c.name) ?? { name: c.name, state: 'waiting', reason: 'ContainerCreating', ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: '' })),
  };
  if (obs.podIP) {
    status['podIP'] = obs.podIP;
    status['podIPs'] = [{ ip: obs.podIP }];
  }
  if ((spec.initContainers ?? []).length > 0) {
    status['initContainerStatuses'] = (spec.initContainers ?? []).map((c) => containerStatus(obs.init.find((o) => o.name === c.name) ?? { name: c.name, state: 'waiting', reason: 'PodInitializing', ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: '' }));
  }
  if ((spec.ephemeralContainers ?? []).length > 0) {
    status['ephemeralContainerStatuses'] = (spec.ephemeralContainers ?? []).map((c) => containerStatus((obs.ephemeral ?? []).find((o) => o.name === c.name) ?? { name: c.name, state: 'waiting', reason: 'ContainerCreating', ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: '' }));
  }
  if (prev.qosClass) status['qosClass'] = prev.qosClass;
  if (obs.failure) {
    status['reason'] = obs.failure.reason;
    status['message'] = obs.failure.message;
  }
  return status;
}
