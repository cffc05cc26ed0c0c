/**
 * One worker per pod: compares the pod's spec with the containers the runtime has for it and
 * converges, level-triggered — sandbox, init containers in order, app containers with their restart
 * policy and back-off, probes, hooks, graceful termination — then reports the pod's status when it
 * changed. Every sync starts from what the runtime reports (container labels), so a restarted agent
 * adopts what it finds and never starts a duplicate.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { formatTime, isNotFound, parseQuantity, type Container, type Pod, type Probe } from '@flotilla/api/core';
import { res, type EventRecorder, type KubeClient } from '@flotilla/client';
import type { Logger } from 'pino';
import { containerEnv, EnvError, expandCommand, type EnvSources } from '../containers/env.js';
import { Prober, runProbe } from '../containers/probes.js';
import type { ContainerConfig, ContainerInfo, ContainerRuntime, ContainerStatus, PodSandboxConfig } from '../runtime/runtime.js';
import { containerMounts, VolumeError, type VolumeManager } from '../volumes/index.js';
import { authForImage } from '../images/pull-secrets.js';
import { ProvisioningError } from '../storage/local-path.js';
import { Backoff } from './backoff.js';
import { computePodStatus, type ContainerObservation } from './pod-status.js';

const PODS = res('pods');
/** A container that ran this long has its restart back-off forgotten (kubelet: 10 minutes). */
const BACKOFF_RESET_MS = 10 * 60_000;

/** What every pod worker shares. */
export interface PodWorkerDeps {
  client: KubeClient;
  runtime: ContainerRuntime;
  volumes: VolumeManager;
  sources: EnvSources;
  recorder: EventRecorder;
  logger: Logger;
  nodeName: string;
  hostIP: string;
  /** Restart back-off (shared so it outlives a worker's syncs). */
  restartBackoff: Backoff;
  pullBackoff: Backoff;
  /** DNS settings of pods with dnsPolicy ClusterFirst (nameservers, searches). */
  clusterDns?: { servers: string[]; domain: string };
  /** Provisions local-path claims of a pod before its volumes are set up. */
  provisioner?: { provisionFor(pod: Pod): Promise<void> };
  /**
   * Environment variables describing Services: the API server's `kubernetes` Service always, the
   * namespace's Services too when `links` (the pod's enableServiceLinks).
   */
  serviceEnv?: (namespace: string, links: boolean) => Record<string, string>;
  /** Called after every sync (its garbage can be collected once syncs go quiet). */
  synced?: () => void;
}

type ContainerKind = 'init' | 'app' | 'ephemeral';

/** Probe state of one running container instance. */
interface ProbeSet {
  containerId: string;
  startup?: Prober;
  liveness?: Prober;
  readiness?: Prober;
  /** Set when liveness failed: the container is restarted on the next sync. */
  livenessFailed?: string;
  startupFailed?: string;
}

/** Why a container is waiting, remembered between syncs. */
interface Waiting {
  reason: string;
  message?: string;
}

/** The kubelet's hash of a container spec: a change (e.g. a new image) restarts the container. */
export function containerHash(c: Container): string {
  return createHash('sha256').update(JSON.stringify(c)).digest('hex').slice(0, 16);
}

function milli(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  return Number(parseQuantity(String(q)).toMilli());
}

function bytes(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  return Number(parseQuantity(String(q)).value());
}

function latest(list: ContainerInfo[]): ContainerInfo | undefined {
  return [...list].sort((a, b) => b.restartCount - a.restartCount || b.createdAt - a.createdAt)[0];
}

/** Converges one pod. Create with the pod; `update` on every change; `stop` when the pod is gone. */
export class PodWorker {
  private pod: Pod;
  private podGone = false;
  private running = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly probes = new Map<string, ProbeSet>();
  private readonly waiting = new Map<string, Waiting>();
  private lastStatus: unknown;
  private sandboxId: string | undefined;
  private podIP: string | undefined;
  private startTime: string | undefined;
  private finished = false;
  private readonly log: Logger;
  /** Resolves when the worker has cleaned up after the pod was deleted. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    pod: Pod,
    private readonly deps: PodWorkerDeps,
  ) {
    this.pod = pod;
    this.log = deps.logger.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid: pod.metadata.uid });
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  get uid(): string {
    return this.pod.metadata.uid ?? '';
  }

  /** A new version of the pod from the API. */
  update(pod: Pod): void {
    const prev = this.pod;
    this.pod = pod;
    // The worker's own status writes come back here: only spec and metadata changes need a sync.
    const meta = (p: Pod) => ({ ...p.metadata, resourceVersion: undefined, managedFields: undefined });
    if (isDeepStrictEqual(prev.spec, pod.spec) && isDeepStrictEqual(meta(prev), meta(pod))) return;
    this.trigger();
  }

  /** The pod object is gone from the API: stop and remove everything of it. */
  podDeleted(): void {
    this.podGone = true;
    this.trigger();
  }

  /** Asks for a sync (coalesced; one sync at a time). */
  trigger(delayMs = 0): void {
    if (this.finished) return;
    if (delayMs > 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.trigger();
      }, delayMs);
      return;
    }
    this.dirty = true;
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.finished) {
        this.dirty = false;
        try {
          await this.sync();
        } catch (err) {
          this.log.warn({ err }, 'pod sync failed; retrying');
          this.scheduleRetry(2_000);
        }
        this.deps.synced?.();
      }
    } finally {
      this.running = false;
    }
  }

  private scheduleRetry(ms: number): void {
    if (this.finished) return;
    if (this.timer) return;
    this.trigger(ms);
  }

  private key(name: string): string {
    return `${this.uid}/${name}`;
  }

  private sandboxConfig(attempt: number): PodSandboxConfig {
    const spec = this.pod.spec ?? { containers: [] };
    const hostNetwork = spec.hostNetwork === true;
    const ports = [...(spec.initContainers ?? []), ...spec.containers].flatMap((c) => c.ports ?? []).filter((p) => p.hostPort);
    const dnsPolicy = spec.dnsPolicy ?? 'ClusterFirst';
    const ns = this.pod.metadata.namespace ?? 'default';
    let dns: PodSandboxConfig['dns'];
    if (dnsPolicy === 'None') dns = { servers: spec.dnsConfig?.nameservers ?? [], searches: spec.dnsConfig?.searches ?? [], options: (spec.dnsConfig?.options ?? []).map((o) => (o.value ? `${o.name}:${o.value}` : o.name ?? '')) };
    else if ((dnsPolicy === 'ClusterFirst' || (dnsPolicy === 'ClusterFirstWithHostNet' && hostNetwork)) && this.deps.clusterDns && !(hostNetwork && dnsPolicy === 'ClusterFirst')) {
      const d = this.deps.clusterDns.domain;
      dns = { servers: this.deps.clusterDns.servers, searches: [`${ns}.svc.${d}`, `svc.${d}`, d], options: ['ndots:5'] };
    }
    return {
      name: this.pod.metadata.name ?? '',
      namespace: ns,
      uid: this.uid,
      attempt,
      hostname: spec.hostname ?? (hostNetwork ? undefined : (this.pod.metadata.name ?? '').slice(0, 63)),
      hostNetwork,
      hostPID: spec.hostPID === true,
      hostIPC: spec.hostIPC === true,
      shareProcessNamespace: spec.shareProcessNamespace === true,
      ...(dns ? { dns } : {}),
      ...(spec.hostAliases ? { hostAliases: spec.hostAliases.map((a) => ({ ip: a.ip ?? '', hostnames: a.hostnames ?? [] })) } : {}),
      portMappings: ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort!, protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP', ...(p.hostIP ? { hostIP: p.hostIP } : {}) })),
      labels: this.pod.metadata.labels ?? {},
    };
  }

  private async sync(): Promise<void> {
    const spec = this.pod.spec;
    if (!spec) return;
    if (this.podGone || this.pod.metadata.deletionTimestamp) {
      await this.terminate();
      return;
    }
    const phase = this.pod.status?.phase;
    const all = await this.deps.runtime.listContainers({ podUid: this.uid, all: true });
    if (phase === 'Succeeded' || phase === 'Failed') {
      // A finished pod's containers never run again.
      await this.stopAll(all.filter((c) => c.state === 'running'), 0);
      this.stopProbes();
      return;
    }
    const deadline = spec.activeDeadlineSeconds;
    if (deadline !== undefined && this.pod.status?.startTime && Date.now() - Date.parse(this.pod.status.startTime) >= deadline * 1000) {
      await this.stopAll(all.filter((c) => c.state === 'running'), spec.terminationGracePeriodSeconds ?? 30);
      await this.report(all, { reason: 'DeadlineExceeded', message: `Pod was active on the node longer than the specified deadline` });
      return;
    }

    // 1. Volumes (every sync, so configMap and secret contents follow their objects).
    let volumes;
    try {
      await this.deps.provisioner?.provisionFor(this.pod);
      volumes = await this.deps.volumes.setUp(this.pod);
    } catch (err) {
      if (!(err instanceof VolumeError) && !(err instanceof ProvisioningError)) throw err;
      this.deps.recorder.event(this.pod, 'Warning', err instanceof ProvisioningError ? err.reason : 'FailedMount', err.message);
      for (const c of spec.containers) this.waiting.set(this.key(c.name), { reason: 'ContainerCreating' });
      await this.report(all);
      this.scheduleRetry(2_000);
      return;
    }

    // `all` stays the pod's container list until this sync stops or removes something (then it
    // is listed again) or starts something (then the status is computed from a fresh list).
    let removed = false;
    let changed = false;

    // 2. The sandbox: adopt a ready one, else (re)create it and restart every container in it.
    const sandboxes = await this.deps.runtime.listPodSandboxes({ podUid: this.uid });
    const ready = sandboxes.filter((s) => s.state === 'ready').sort((a, b) => b.attempt - a.attempt);
    let sandbox = ready[0];
    for (const extra of ready.slice(1)) {
      await this.deps.runtime.removeSandbox(extra.id);
      removed = changed = true;
    }
    if (!sandbox) {
      const running = all.filter((c) => c.state === 'running');
      if (running.length > 0) await this.stopAll(running, spec.terminationGracePeriodSeconds ?? 30);
      for (const s of sandboxes) await this.deps.runtime.removeSandbox(s.id);
      if (running.length > 0 || sandboxes.length > 0) removed = true;
      changed = true;
      const attempt = sandboxes.reduce((m, s) => Math.max(m, s.attempt + 1), 0);
      const neverRestarts = spec.restartPolicy === 'Never' && all.some((c) => c.state === 'exited');
      if (neverRestarts && attempt > 0) {
        // The kubelet does not restart a Never pod whose sandbox died after its containers ran.
        await this.report(all);
        return;
      }
      const created = await this.deps.runtime.runSandbox(this.sandboxConfig(attempt));
      if (sandboxes.length > 0) this.deps.recorder.event(this.pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      this.sandboxId = created.id;
      this.podIP = spec.hostNetwork ? this.deps.hostIP : created.ip;
    } else if (this.sandboxId !== sandbox.id || this.podIP === undefined) {
      const st = await this.deps.runtime.sandboxStatus(sandbox.id);
      this.sandboxId = sandbox.id;
      this.podIP = spec.hostNetwork ? this.deps.hostIP : st.ip;
    }
    this.startTime ??= this.pod.status?.startTime ?? formatTime(new Date());
    const sandboxId = this.sandboxId!;
    const sbConfig = this.sandboxConfig(sandbox?.attempt ?? 0);
    let containers = (removed ? await this.deps.runtime.listContainers({ podUid: this.uid, all: true }) : all).filter((c) => c.sandboxId === sandboxId || c.state === 'exited');
    // Containers of an older sandbox are history only (for restart counts).
    const inSandbox = (name: string) => containers.filter((c) => c.name === name);

    // 3. Init containers, one at a time.
    let initDone = true;
    for (const ic of spec.initContainers ?? []) {
      if (ic.restartPolicy === 'Always') continue;
      const cur = latest(inSandbox(ic.name));
      if (cur?.state === 'exited') {
        const st = await this.deps.runtime.containerStatus(cur.id);
        if (st.exitCode === 0) continue;
        initDone = false;
        if (spec.restartPolicy === 'Never') break;
        changed = true;
        await this.restartOrBackOff(ic, 'init', cur, st, sandboxId, sbConfig, volumes);
        break;
      }
      initDone = false;
      if (cur?.state === 'running') break;
      changed = true;
      if (cur?.state === 'created') await this.deps.runtime.startContainer(cur.id);
      else await this.startContainer(ic, 'init', (cur?.restartCount ?? -1) + 1, sandboxId, sbConfig, volumes);
      break;
    }

    // 4. App containers.
    if (initDone) {
      for (const c of spec.containers) {
        const cur = latest(inSandbox(c.name));
        if (!cur) {
          changed = true;
          const prior = latest(all.filter((x) => x.name === c.name));
          await this.startContainer(c, 'app', prior ? prior.restartCount + 1 : 0, sandboxId, sbConfig, volumes);
          continue;
        }
        if (cur.state === 'created') {
          changed = true;
          await this.deps.runtime.startContainer(cur.id).catch((err: unknown) => this.log.warn({ err, container: c.name }, 'start of a created container failed'));
          continue;
        }
        if (cur.state === 'running') {
          const probes = this.probes.get(c.name);
          const why = probes?.containerId === cur.id ? (probes.livenessFailed ?? probes.startupFailed) : undefined;
          if (cur.hash !== undefined && cur.hash !== containerHash(c)) {
            this.deps.recorder.event(this.pod, 'Normal', 'Killing', `Container ${c.name} definition changed, will be restarted`);
            await this.killContainer(c, cur.id);
          } else if (why) {
            this.deps.recorder.event(this.pod, 'Normal', 'Killing', `Container ${c.name} failed ${why}, will be restarted`);
            await this.killContainer(c, cur.id);
          } else {
            this.ensureProbes(c, cur.id);
            continue;
          }
          changed = true;
          containers = (await this.deps.runtime.listContainers({ podUid: this.uid, all: true })).filter((x) => x.sandboxId === sandboxId);
        }
        const now = latest(containers.filter((x) => x.name === c.name)) ?? cur;
        const st = await this.deps.runtime.containerStatus(now.id);
        const policy = spec.restartPolicy ?? 'Always';
        const restart = policy === 'Always' || (policy === 'OnFailure' && st.exitCode !== 0);
        if (restart) {
          changed = true;
          await this.restartOrBackOff(c, 'app', now, st, sandboxId, sbConfig, volumes);
        }
      }
    }
    // 5. Ephemeral containers (kubectl debug): started once, even before initialization is done,
    // never restarted; one with a target joins that container's process namespace.
    for (const ec of spec.ephemeralContainers ?? []) {
      if (containers.some((x) => x.name === ec.name) || all.some((x) => x.name === ec.name)) continue;
      const target = ec.targetContainerName ? latest(inSandbox(ec.targetContainerName).filter((x) => x.state === 'running')) : undefined;
      changed = true;
      await this.startContainer(ec as Container, 'ephemeral', 0, sandboxId, sbConfig, volumes, target?.id);
    }
    const after = changed ? await this.deps.runtime.listContainers({ podUid: this.uid, all: true }) : all;
    await this.report(after);
  }

  /** Restarts an exited container unless its back-off is running (then it waits, CrashLoopBackOff). */
  private async restartOrBackOff(c: Container, kind: ContainerKind, cur: ContainerInfo, st: ContainerStatus, sandboxId: string, sb: PodSandboxConfig, volumes: Awaited<ReturnType<VolumeManager['setUp']>>): Promise<void> {
    const key = this.key(c.name);
    const ranFor = st.startedAt && st.finishedAt ? Date.parse(st.finishedAt) - Date.parse(st.startedAt) : 0;
    if (ranFor >= BACKOFF_RESET_MS) this.deps.restartBackoff.reset(key);
    const left = this.deps.restartBackoff.remaining(key);
    if (left > 0) {
      const delay = this.deps.restartBackoff.delay(key);
      this.waiting.set(key, { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.name} pod=${this.pod.metadata.name}_${this.pod.metadata.namespace}(${this.uid})` });
      this.deps.recorder.event(this.pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${this.pod.metadata.name}_${this.pod.metadata.namespace}(${this.uid})`);
      this.scheduleRetry(left + 50);
      return;
    }
    // The first restart happens at once and starts the back-off; every later one waits it out.
    this.deps.restartBackoff.next(key);
    await this.startContainer(c, kind, cur.restartCount + 1, sandboxId, sb, volumes);
    // Keep the previous instance (lastState) and remove older ones.
    const older = (await this.deps.runtime.listContainers({ podUid: this.uid, all: true })).filter((x) => x.name === c.name && x.state === 'exited' && x.id !== cur.id);
    for (const o of older) await this.deps.runtime.removeContainer(o.id);
  }

  private async ensureImage(c: Container): Promise<boolean> {
    const image = c.image ?? '';
    const key = `${this.uid}/image/${image}`;
    const policy = c.imagePullPolicy ?? (image.endsWith(':latest') || !image.split('/').pop()!.includes(':') ? 'Always' : 'IfNotPresent');
    const present = await this.deps.runtime.imageStatus(image);
    const alreadyPresent = () => {
      this.deps.recorder.event(this.pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return true;
    };
    if (policy === 'Never') {
      if (present) return alreadyPresent();
      this.waiting.set(this.key(c.name), { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` });
      this.deps.recorder.event(this.pod, 'Warning', 'ErrImageNeverPull', `Container image "${image}" is not present with pull policy of Never`);
      return false;
    }
    if (present && policy === 'IfNotPresent') return alreadyPresent();
    const left = this.deps.pullBackoff.remaining(key);
    if (left > 0) {
      const prev = this.waiting.get(this.key(c.name));
      this.waiting.set(this.key(c.name), { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"${prev?.message && prev.reason !== 'ImagePullBackOff' ? `: ${prev.message}` : prev?.reason === 'ImagePullBackOff' ? prev.message?.replace(/^Back-off pulling image "[^"]*"/, '') ?? '' : ''}` });
      this.scheduleRetry(left + 50);
      return false;
    }
    this.deps.recorder.event(this.pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    try {
      const t0 = Date.now();
      const secrets = [];
      for (const ref of this.pod.spec?.imagePullSecrets ?? []) {
        const secret = ref.name ? await this.deps.sources.getSecret(this.pod.metadata.namespace ?? '', ref.name) : undefined;
        if (secret) secrets.push(secret);
      }
      await this.deps.runtime.pullImage(image, authForImage(image, secrets));
      this.deps.pullBackoff.reset(key);
      this.deps.recorder.event(this.pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${Date.now() - t0}ms`);
      return true;
    } catch (err) {
      const message = `Failed to pull image "${image}": ${(err as Error).message}`;
      this.deps.pullBackoff.next(key);
      this.waiting.set(this.key(c.name), { reason: 'ErrImagePull', message });
      this.deps.recorder.event(this.pod, 'Warning', 'Failed', message);
      // A sync soon after reports ImagePullBackOff (as the kubelet's next sync does); the pull is
      // retried when the back-off ends.
      this.scheduleRetry(Math.min(1_000, this.deps.pullBackoff.remaining(key) + 50));
      return false;
    }
  }

  private async startContainer(c: Container, kind: ContainerKind, restartCount: number, sandboxId: string, sb: PodSandboxConfig, volumes: Awaited<ReturnType<VolumeManager['setUp']>>, pidNamespaceOf?: string): Promise<void> {
    const key = this.key(c.name);
    if (!(await this.ensureImage(c))) return;
    let env: { name: string; value: string }[];
    try {
      env = await containerEnv(this.pod, c, this.deps.sources, {
        nodeName: this.deps.nodeName,
        hostIP: this.deps.hostIP,
        ...(this.podIP ? { podIP: this.podIP, podIPs: [this.podIP] } : {}),
        ...(this.deps.serviceEnv ? { serviceEnv: this.deps.serviceEnv(this.pod.metadata.namespace ?? '', this.pod.spec?.enableServiceLinks !== false) } : {}),
      });
    } catch (err) {
      if (!(err instanceof EnvError)) throw err;
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: err.message });
      this.deps.recorder.event(this.pod, 'Warning', 'Failed', `Error: ${err.message}`);
      this.scheduleRetry(5_000);
      return;
    }
    const envMap = new Map(env.map((e) => [e.name, e.value]));
    const { command, args } = expandCommand(c, envMap);
    let mounts;
    try {
      mounts = containerMounts(c, volumes, envMap);
    } catch (err) {
      if (!(err instanceof VolumeError)) throw err;
      this.waiting.set(key, { reason: 'CreateContainerConfigError', message: err.message });
      this.deps.recorder.event(this.pod, 'Warning', 'Failed', `Error: ${err.message}`);
      this.scheduleRetry(5_000);
      return;
    }
    const sc = { ...(this.pod.spec?.securityContext ?? {}), ...(c.securityContext ?? {}) } as NonNullable<Container['securityContext']> & { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] };
    const limits = c.resources?.limits ?? {};
    const requests = c.resources?.requests ?? {};
    const config: ContainerConfig = {
      name: c.name,
      image: c.image ?? '',
      ...(command ? { command } : {}),
      ...(args ? { args } : {}),
      env,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      mounts,
      resources: {
        ...(milli(requests['cpu'] ?? limits['cpu']) !== undefined ? { cpuRequestMilli: milli(requests['cpu'] ?? limits['cpu'])! } : {}),
        ...(limits['cpu'] !== undefined ? { cpuLimitMilli: milli(limits['cpu'])! } : {}),
        ...(limits['memory'] !== undefined ? { memoryLimitBytes: bytes(limits['memory'])! } : {}),
      },
      securityContext: {
        ...(sc.runAsUser !== undefined ? { runAsUser: sc.runAsUser } : {}),
        ...(sc.runAsGroup !== undefined ? { runAsGroup: sc.runAsGroup } : {}),
        ...(this.pod.spec?.securityContext?.supplementalGroups ? { supplementalGroups: this.pod.spec.securityContext.supplementalGroups } : {}),
        ...(sc.privileged ? { privileged: true } : {}),
        ...(sc.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
        ...(sc.capabilities ? { capabilities: { ...(sc.capabilities.add ? { add: sc.capabilities.add } : {}), ...(sc.capabilities.drop ? { drop: sc.capabilities.drop } : {}) } } : {}),
        ...(sc.allowPrivilegeEscalation === false ? { noNewPrivileges: true } : {}),
      },
      tty: c.tty === true,
      stdin: c.stdin === true,
      stdinOnce: c.stdinOnce === true,
      ...(pidNamespaceOf ? { pidNamespaceOf } : {}),
      restartCount,
      hash: containerHash(c),
      terminationMessagePath: c.terminationMessagePath ?? '/dev/termination-log',
      terminationMessagePolicy: c.terminationMessagePolicy ?? 'File',
      terminationGracePeriodSeconds: this.pod.spec?.terminationGracePeriodSeconds ?? 30,
      labels: { 'io.flotilla.container.kind': kind },
    };
    let id: string;
    try {
      id = await this.deps.runtime.createContainer(sandboxId, config, sb);
      this.deps.recorder.event(this.pod, 'Normal', 'Created', `Created container ${c.name}`);
      await this.deps.runtime.startContainer(id);
    } catch (err) {
      const message = (err as Error).message;
      this.waiting.set(key, { reason: 'CreateContainerError', message });
      this.deps.recorder.event(this.pod, 'Warning', 'Failed', `Error: ${message}`);
      this.scheduleRetry(5_000);
      return;
    }
    this.waiting.delete(key);
    this.deps.recorder.event(this.pod, 'Normal', 'Started', `Started container ${c.name}`);
    const postStart = c.lifecycle?.postStart;
    if (postStart) {
      const r = await runProbe(postStart as Probe, this.probeTarget(id), c);
      if (!r.ok) {
        this.deps.recorder.event(this.pod, 'Warning', 'FailedPostStartHook', `PostStartHook failed: ${r.message ?? ''}`.trim());
        await this.deps.runtime.stopContainer(id, 0);
        return;
      }
    }
    if (kind === 'app') this.ensureProbes(c, id);
  }

  private probeTarget(containerId: string) {
    return {
      hostIP: this.deps.hostIP,
      ...(this.podIP ? { podIP: this.podIP } : {}),
      exec: (cmd: string[], timeoutMs: number) => this.deps.runtime.exec(containerId, cmd, timeoutMs),
    };
  }

  /** Probers follow the running instance of a container. */
  private ensureProbes(c: Container, containerId: string): void {
    const existing = this.probes.get(c.name);
    if (existing?.containerId === containerId) return;
    if (existing) this.stopProbeSet(existing);
    const set: ProbeSet = { containerId };
    const startedAt = Date.now();
    const make = (kind: 'liveness' | 'readiness' | 'startup', probe: Probe) =>
      new Prober({
        kind,
        probe,
        container: c,
        target: this.probeTarget(containerId),
        startedAt,
        logger: this.log,
        onChange: (ok, message) => {
          if (kind === 'startup') {
            if (ok) {
              set.liveness?.start();
              set.readiness?.start();
            } else set.startupFailed = 'startup probe';
          }
          if (kind === 'liveness' && !ok) {
            set.livenessFailed = 'liveness probe';
            this.deps.recorder.event(this.pod, 'Warning', 'Unhealthy', `Liveness probe failed: ${message ?? ''}`.trim());
          }
          if (kind === 'readiness' && !ok && message) this.deps.recorder.event(this.pod, 'Warning', 'Unhealthy', `Readiness probe failed: ${message}`);
          this.trigger();
        },
      });
    if (c.startupProbe) set.startup = make('startup', c.startupProbe);
    if (c.livenessProbe) set.liveness = make('liveness', c.livenessProbe);
    if (c.readinessProbe) set.readiness = make('readiness', c.readinessProbe);
    this.probes.set(c.name, set);
    if (set.startup) set.startup.start();
    else {
      set.liveness?.start();
      set.readiness?.start();
    }
  }

  private stopProbeSet(set: ProbeSet): void {
    set.startup?.stop();
    set.liveness?.stop();
    set.readiness?.stop();
  }

  private stopProbes(): void {
    for (const s of this.probes.values()) this.stopProbeSet(s);
    this.probes.clear();
  }

  /** Runs the preStop hook, then stops the container within the grace period. */
  private async killContainer(c: Container | undefined, id: string, graceSeconds?: number): Promise<void> {
    const grace = graceSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const started = Date.now();
    const preStop = c?.lifecycle?.preStop;
    if (preStop && grace > 0) {
      if (preStop.sleep) await new Promise((r) => setTimeout(r, Math.min(grace, preStop.sleep!.seconds) * 1000));
      else {
        const r = await Promise.race([runProbe({ ...(preStop as Probe), timeoutSeconds: grace }, this.probeTarget(id), c!), new Promise<{ ok: boolean; message?: string }>((resolve) => setTimeout(() => resolve({ ok: false, message: 'timed out' }), grace * 1000))]);
        if (!r.ok) this.deps.recorder.event(this.pod, 'Warning', 'FailedPreStopHook', `PreStopHook failed: ${r.message ?? ''}`.trim());
      }
    }
    const left = Math.max(0, grace - Math.floor((Date.now() - started) / 1000));
    await this.deps.runtime.stopContainer(id, left);
    const p = c ? this.probes.get(c.name) : undefined;
    if (p?.containerId === id) {
      this.stopProbeSet(p);
      this.probes.delete(c!.name);
    }
  }

  private async stopAll(list: ContainerInfo[], graceSeconds: number): Promise<void> {
    const spec = this.pod.spec;
    for (const ci of list) this.deps.recorder.event(this.pod, 'Normal', 'Killing', `Stopping container ${ci.name}`);
    await Promise.all(list.map((ci) => this.killContainer([...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].find((c) => c.name === ci.name), ci.id, graceSeconds)));
  }

  /** Graceful termination: hooks, stop within the grace period, final status, delete the pod, clean up. */
  private async terminate(): Promise<void> {
    const grace = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const all = await this.deps.runtime.listContainers({ podUid: this.uid, all: true });
    await this.stopAll(all.filter((c) => c.state === 'running'), grace);
    this.stopProbes();
    for (const s of await this.deps.runtime.listPodSandboxes({ podUid: this.uid })) await this.deps.runtime.stopSandbox(s.id);
    if (!this.podGone) {
      // Final status, then finish the API's graceful deletion (the agent's part of it).
      await this.report(await this.deps.runtime.listContainers({ podUid: this.uid, all: true })).catch(() => undefined);
      try {
        await this.deps.client.delete(PODS, this.pod.metadata.namespace ?? '', this.pod.metadata.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (!isNotFound(err) && code !== 409) throw err;
      }
    }
    for (const s of await this.deps.runtime.listPodSandboxes({ podUid: this.uid })) await this.deps.runtime.removeSandbox(s.id);
    for (const c of await this.deps.runtime.listContainers({ podUid: this.uid, all: true })) await this.deps.runtime.removeContainer(c.id);
    await this.deps.volumes.tearDown(this.uid);
    this.deps.restartBackoff.resetPrefix(`${this.uid}/`);
    this.deps.pullBackoff.resetPrefix(`${this.uid}/`);
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.resolveDone();
  }

  /** Stops the worker without touching containers (agent shutdown). */
  shutdown(): void {
    this.stopProbes();
    this.finish();
  }

  private async observe(list: ContainerInfo[], specs: Container[], init: boolean): Promise<ContainerObservation[]> {
    const out: ContainerObservation[] = [];
    for (const c of specs) {
      const mine = list.filter((x) => x.name === c.name).sort((a, b) => b.restartCount - a.restartCount || b.createdAt - a.createdAt);
      const cur = mine[0];
      const key = this.key(c.name);
      const w = this.waiting.get(key);
      if (!cur) {
        out.push({ name: c.name, state: 'waiting', reason: w?.reason ?? (init ? 'PodInitializing' : 'ContainerCreating'), ...(w?.message ? { message: w.message } : {}), ready: false, started: false, restartCount: 0, image: c.image ?? '', imageID: '' });
        continue;
      }
      const st = await this.deps.runtime.containerStatus(cur.id).catch((err: unknown) => (isNotFoundLike(err) ? undefined : Promise.reject(err)));
      if (!st) continue;
      const prev = mine[1] ? await this.deps.runtime.containerStatus(mine[1].id).catch(() => undefined) : undefined;
      const last = prev && prev.state === 'exited' ? { exitCode: prev.exitCode ?? 0, ...(prev.reason ? { reason: prev.reason } : {}), ...(prev.startedAt ? { startedAt: prev.startedAt } : {}), ...(prev.finishedAt ? { finishedAt: prev.finishedAt } : {}), containerID: `${this.deps.runtime.name}://${prev.id}` } : undefined;
      const probes = this.probes.get(c.name);
      const current = probes?.containerId === cur.id ? probes : undefined;
      const started = st.state === 'running' && (c.startupProbe ? current?.startup?.state === true : true);
      const ready = !init && st.state === 'running' && started && (c.readinessProbe ? current?.readiness?.state === true : true);
      const base = { name: c.name, restartCount: cur.restartCount, image: c.image ?? '', imageID: st.imageRef, containerID: `${this.deps.runtime.name}://${st.id}`, ...(last ? { lastTerminated: last } : {}) };
      if (st.state === 'running') {
        if (w && w.reason !== 'CrashLoopBackOff') this.waiting.delete(key);
        out.push({ ...base, state: 'running', ...(st.startedAt ? { startedAt: st.startedAt } : {}), ready, started });
      } else if (st.state === 'exited' && w && (w.reason === 'CrashLoopBackOff' || w.reason.startsWith('ErrImage') || w.reason === 'ImagePullBackOff' || w.reason.startsWith('Create'))) {
        // Waiting to restart: the exited instance becomes the last state.
        const lt = { exitCode: st.exitCode ?? 0, ...(st.reason ? { reason: st.reason } : {}), ...(st.message ? { message: st.message } : {}), ...(st.startedAt ? { startedAt: st.startedAt } : {}), ...(st.finishedAt ? { finishedAt: st.finishedAt } : {}), containerID: `${this.deps.runtime.name}://${st.id}` };
        out.push({ ...base, state: 'waiting', reason: w.reason, ...(w.message ? { message: w.message } : {}), ready: false, started: false, lastTerminated: lt });
      } else if (st.state === 'exited') {
        const message = await this.terminationMessage(st);
        out.push({ ...base, state: 'terminated', exitCode: st.exitCode ?? 0, reason: st.reason ?? (st.exitCode === 0 ? 'Completed' : 'Error'), ...(message ? { message } : {}), ...(st.startedAt ? { startedAt: st.startedAt } : {}), ...(st.finishedAt ? { finishedAt: st.finishedAt } : {}), ready: false, started: false });
      } else {
        out.push({ ...base, state: 'waiting', reason: w?.reason ?? 'ContainerCreating', ready: false, started: false });
      }
    }
    return out;
  }

  private async terminationMessage(st: ContainerStatus): Promise<string | undefined> {
    const path = st.terminationMessagePath;
    if (!path) return undefined;
    const data = await this.deps.runtime.readFile(st.id, path, 4096).catch(() => undefined);
    if (data && data.length > 0) return data.toString('utf8');
    if (st.terminationMessagePolicy === 'FallbackToLogsOnError' && st.exitCode !== 0) {
      let text = '';
      for await (const chunk of this.deps.runtime.logs(st.id, { tail: 80 })) text += chunk.data.toString('utf8');
      return text.slice(-2048) || undefined;
    }
    return undefined;
  }

  /** Computes the status from the runtime and writes it when it changed. */
  private async report(list: ContainerInfo[], failure?: { reason: string; message: string }): Promise<void> {
    if (this.podGone) return;
    const spec = this.pod.spec!;
    const init = await this.observe(list, (spec.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always'), true);
    const containers = await this.observe(list, spec.containers, false);
    // Ephemeral containers are never ready (they have no readiness), as the kubelet reports them.
    const ephemeral = (await this.observe(list, (spec.ephemeralContainers ?? []) as Container[], false)).map((o) => ({ ...o, ready: false }));
    const now = new Date();
    const status = computePodStatus(this.pod, { hostIP: this.deps.hostIP, ...(this.podIP ? { podIP: this.podIP } : {}), startTime: this.startTime ?? this.pod.status?.startTime ?? formatTime(now), init, containers, ephemeral, ...(failure ? { failure } : {}) }, now);
    if (!status['qosClass']) status['qosClass'] = qosClass(spec);
    const comparable = { ...status, conditions: (status['conditions'] as { lastProbeTime?: unknown }[]).map((c) => ({ ...c, lastProbeTime: null })) };
    const previous = this.pod.status ? { ...this.pod.status, conditions: (this.pod.status.conditions ?? []).map((c) => ({ ...c, lastProbeTime: null })) } : undefined;
    if (isDeepStrictEqual(comparable, this.lastStatus) || isDeepStrictEqual(JSON.parse(JSON.stringify(comparable)), JSON.parse(JSON.stringify(previous ?? null)))) return;
    try {
      const updated = await this.deps.client.patch<Pod>(PODS, this.pod.metadata.namespace ?? '', this.pod.metadata.name ?? '', { metadata: { uid: this.uid }, status }, 'merge', { subresource: 'status' });
      this.lastStatus = comparable;
      if (updated.metadata.uid === this.uid) this.pod = { ...this.pod, status: updated.status! };
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

function isNotFoundLike(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'NotFound';
}

/** The pod's QoS class, as Kubernetes computes it. */
export function qosClass(spec: { containers: Container[]; initContainers?: Container[] }): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const all = [...spec.containers, ...(spec.initContainers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      const l = lim[r];
      const q = req[r] ?? l;
      if (l === undefined || q === undefined || String(l) !== String(q)) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
