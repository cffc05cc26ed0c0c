/**
 * The controller manager as a real process with the API server, the scheduler and hollow nodes:
 * a Deployment rolls A -> B without dropping below replicas - maxUnavailable ready pods (sampled by a
 * watch) and `kubectl rollout undo` returns it to A; a rollout does not wait out the grace period of
 * the pods it replaces; scaling 10 -> 50 -> 0; a namespace deletion
 * cascades; a node that stops heartbeating goes NotReady and its pods are replaced elsewhere; Jobs
 * honour backoffLimit and completions and replace a pod they removed without waiting out its grace; a CronJob fires on an accelerated clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, type KubeObject } from '@flotilla/api';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager, startHollowNodes, startScheduler } from './harness/cluster.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { killAll, tempDir, type RunningProcess } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const NODES = res('nodes');
const DEPLOYMENTS = res('deployments.apps');
const REPLICASETS = res('replicasets.apps');
const JOBS = res('jobs.batch');
const CRONJOBS = res('cronjobs.batch');
const NAMESPACES = res('namespaces');
const CONFIGMAPS = res('configmaps');
const SERVICES = res('services');

interface PodView extends KubeObject {
  spec: { nodeName?: string; containers: { image: string }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface DeploymentView extends KubeObject {
  spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
  status?: { replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number; conditions?: { type: string; status: string; reason?: string }[] };
}
interface JobView extends KubeObject {
  status?: { active?: number; succeeded?: number; failed?: number; conditions?: { type: string; status: string; reason?: string }[] };
}

let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let client: RestClient;
const kubectlBinary = findKubectl();
let kubectl: Kubectl | undefined;

beforeAll(async () => {
  dir = tempDir('controller-manager');
  server = await startApiServer(dir.path);
  client = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }));
  if (kubectlBinary) kubectl = new Kubectl(kubectlBinary, server.kubeconfig, dir.path);
  await startHollowNodes(server.kubeconfig, 10, ['--name-prefix', 'worker-', '--cpu', '32', '--memory', '64Gi', '--pods', '110', '--pod-start-delay', '50']);
  await startScheduler(server.kubeconfig);
  await startControllerManager(server.kubeconfig, ['--node-monitor-grace-period', '4s', '--job-backoff-base', '500ms', '--controllers', '*,-cronjob']);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await killAll();
  dir?.remove();
});

async function namespace(name: string): Promise<string> {
  await client.create(NAMESPACES, '', { metadata: { name } });
  return name;
}

function deployment(name: string, replicas: number, image: string, extra: { strategy?: unknown; podSpec?: Record<string, unknown> } = {}): KubeObject {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      ...(extra.strategy ? { strategy: extra.strategy } : {}),
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }], ...(extra.podSpec ?? {}) } },
    },
  };
}

async function rolledOut(ns: string, name: string, replicas: number, timeoutMs = 30_000): Promise<DeploymentView> {
  return waitFor(`deployment ${name} rolled out to ${replicas}`, async () => {
    const d = await client.get<DeploymentView>(DEPLOYMENTS, ns, name);
    const s = d.status ?? {};
    const done = s.observedGeneration === d.metadata.generation && (s.updatedReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && (s.availableReplicas ?? 0) === replicas;
    return done ? d : undefined;
  }, { timeoutMs });
}

function isReady(p: PodView): boolean {
  return !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

async function pods(ns: string, labelSelector?: string): Promise<PodView[]> {
  return (await client.list<PodView>(PODS, { namespace: ns, ...(labelSelector ? { labelSelector } : {}) })).items;
}

describe('Deployments', () => {
  it('rolls from image A to B without dropping below replicas - maxUnavailable ready pods, and undo returns to A', async () => {
    const ns = await namespace('rollout');
    await client.create(DEPLOYMENTS, ns, deployment('web', 10, 'app:A', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2, maxSurge: 3 } } }));
    await rolledOut(ns, 'web', 10);

    // Sample readiness from a watch for the whole rollout.
    // uid -> ready; terminating pods are dropped (they count neither as ready nor against the surge,
    // as in Kubernetes).
    const ready = new Map<string, boolean>();
    for (const p of await pods(ns)) ready.set(p.metadata.uid!, isReady(p));
    let minReady = [...ready.values()].filter(Boolean).length;
    let maxPods = ready.size;
    const abort = new AbortController();
    const list = await client.list<PodView>(PODS, { namespace: ns });
    const watching = (async () => {
      try {
        for await (const ev of client.watch<PodView>(PODS, { namespace: ns, resourceVersion: list.metadata.resourceVersion, signal: abort.signal })) {
          if (ev.type === 'DELETED' || ev.object.metadata.deletionTimestamp) ready.delete(ev.object.metadata.uid!);
          else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') ready.set(ev.object.metadata.uid!, isReady(ev.object));
          else continue;
          minReady = Math.min(minReady, [...ready.values()].filter(Boolean).length);
          maxPods = Math.max(maxPods, ready.size);
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    })();
    expect(minReady).toBe(10);

    await client.patch(DEPLOYMENTS, ns, 'web', { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:B' }] } } } }, 'strategic');
    await rolledOut(ns, 'web', 10);
    await waitFor('old pods gone', async () => (await pods(ns)).length === 10);
    const images = (await pods(ns)).map((p) => p.spec.containers[0]!.image);
    expect(new Set(images)).toEqual(new Set(['app:B']));
    abort.abort();
    await watching;
    expect(minReady).toBeGreaterThanOrEqual(10 - 2);
    expect(maxPods).toBeLessThanOrEqual(10 + 3);

    const rss = (await client.list<KubeObject>(REPLICASETS, { namespace: ns })).items;
    expect(rss).toHaveLength(2);
    expect(rss.map((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision']).sort()).toEqual(['1', '2']);

    if (!kubectl) {
      console.warn('kubectl not installed: rollout undo through kubectl skipped; undoing by template');
      await client.patch(DEPLOYMENTS, ns, 'web', { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:A' }] } } } }, 'strategic');
    } else {
      const status = await kubectl.run(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=30s']);
      expect(status.stdout).toContain('successfully rolled out');
      // The Deployment's annotations reach its current ReplicaSet, so the history shows the change cause.
      await kubectl.ok(['-n', ns, 'annotate', 'deployment/web', 'kubernetes.io/change-cause=image B']);
      await waitFor('change cause on the new ReplicaSet', async () => (await client.list<KubeObject>(REPLICASETS, { namespace: ns })).items.some((r) => r.metadata.annotations?.['kubernetes.io/change-cause'] === 'image B'));
      const history = await kubectl.run(['-n', ns, 'rollout', 'history', 'deployment/web']);
      expect(history.code).toBe(0);
      expect(history.stdout).toMatch(/1\s+<none>/);
      expect(history.stdout).toMatch(/2\s+image B/);
      const undo = await kubectl.run(['-n', ns, 'rollout', 'undo', 'deployment/web']);
      expect(undo.stderr).toBe('');
      expect(undo.stdout).toContain('rolled back');
    }
    await waitFor('deployment back on image A', async () => {
      const d = await client.get<DeploymentView>(DEPLOYMENTS, ns, 'web');
      return d.spec.template.spec.containers[0]!.image === 'app:A';
    });
    const back = await rolledOut(ns, 'web', 10);
    expect(back.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
    await waitFor('pods back on image A', async () => {
      const ps = await pods(ns);
      return ps.length === 10 && ps.every((p) => p.spec.containers[0]!.image === 'app:A' && isReady(p));
    });
    const d = await client.get<DeploymentView>(DEPLOYMENTS, ns, 'web');
    expect(d.status?.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
  }, 120_000);

  it('finishes a rollout while the replaced pods are still in their grace period (a graceful deletion counts at once)', async () => {
    const ns = await namespace('graceful-rollout');
    const d = deployment('slow', 4, 'app:A', { podSpec: { terminationGracePeriodSeconds: 600 } });
    // The hollow node lets these pods' deletions run their whole grace period, like a process that ignores SIGTERM.
    (d['spec'] as { template: { metadata: Record<string, unknown> } }).template.metadata['annotations'] = { 'hollow.flotilla.io/ignore-sigterm': 'true' };
    await client.create(DEPLOYMENTS, ns, d);
    await rolledOut(ns, 'slow', 4);
    await client.patch(DEPLOYMENTS, ns, 'slow', { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:B' }] } } } }, 'strategic');
    // Kubernetes' ReplicaSet controller counts a pod as gone once it is marked for deletion, so the
    // rollout does not wait out each old pod's 600 s.
    await rolledOut(ns, 'slow', 4);
    const all = await pods(ns);
    const terminating = all.filter((p) => p.metadata.deletionTimestamp);
    expect(terminating.map((p) => p.spec.containers[0]!.image)).toEqual(['app:A', 'app:A', 'app:A', 'app:A']);
    expect(all.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.image)).toEqual(['app:B', 'app:B', 'app:B', 'app:B']);
    for (const p of terminating) await client.delete(PODS, ns, p.metadata.name!, { gracePeriodSeconds: 0 });
  }, 60_000);

  it('scales 10 -> 50 -> 0', async () => {
    const ns = await namespace('scaling');
    await client.create(DEPLOYMENTS, ns, deployment('scaled', 10, 'app:A'));
    await rolledOut(ns, 'scaled', 10);
    await client.patch(DEPLOYMENTS, ns, 'scaled', { spec: { replicas: 50 } }, 'merge', { subresource: 'scale' });
    await rolledOut(ns, 'scaled', 50);
    expect((await pods(ns)).filter(isReady)).toHaveLength(50);
    // Spread by the scheduler over the ten nodes.
    const perNode = new Map<string, number>();
    for (const p of await pods(ns)) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
    expect(perNode.size).toBe(10);
    await client.patch(DEPLOYMENTS, ns, 'scaled', { spec: { replicas: 0 } }, 'merge', { subresource: 'scale' });
    await waitFor('no pods left', async () => (await pods(ns)).length === 0, { timeoutMs: 30_000 }).catch(async (err) => {
      console.error(JSON.stringify((await client.list(DEPLOYMENTS, { namespace: ns })).items.map((d) => [d.metadata.generation, d['spec'], d['status']])), JSON.stringify((await client.list(REPLICASETS, { namespace: ns })).items.map((d) => [d.metadata.annotations, d['spec'], d['status']])));
      throw err;
    });
    const d = await rolledOut(ns, 'scaled', 0);
    expect(d.status?.replicas ?? 0).toBe(0);
  }, 120_000);
});

describe('StatefulSets and DaemonSets', () => {
  it('creates StatefulSet pods in order with stable names and one claim each, and scales down from the top', async () => {
    const ns = await namespace('stateful');
    await client.create(res('statefulsets.apps'), ns, {
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        serviceName: 'web',
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'app:A', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'manual', resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    // Claims of class "manual" stay unbound and would block scheduling: bind them to throwaway PVs.
    await waitFor('three ready pods', async () => {
      const claims = (await client.list<KubeObject & { spec: { volumeName?: string } }>(res('persistentvolumeclaims'), { namespace: ns })).items;
      for (const c of claims.filter((x) => !x.spec.volumeName)) {
        const pvName = `pv-${c.metadata.uid}`;
        await client.create(res('persistentvolumes'), '', { metadata: { name: pvName }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'manual', hostPath: { path: `/tmp/${pvName}` }, claimRef: { namespace: ns, name: c.metadata.name, uid: c.metadata.uid } } }).catch(() => undefined);
        await client.patch(res('persistentvolumeclaims'), ns, c.metadata.name!, { spec: { volumeName: pvName } }, 'merge');
        await client.patch(res('persistentvolumeclaims'), ns, c.metadata.name!, { status: { phase: 'Bound' } }, 'merge', { subresource: 'status' });
      }
      return (await pods(ns)).filter(isReady).length === 3;
    }, { timeoutMs: 30_000 });
    const ps = await pods(ns);
    expect(ps.map((p) => p.metadata.name).sort()).toEqual(['web-0', 'web-1', 'web-2']);
    // Ordered: each pod was created after its predecessor was ready.
    const created = (n: string) => Date.parse(ps.find((p) => p.metadata.name === n)!.metadata.creationTimestamp!);
    expect(created('web-0')).toBeLessThanOrEqual(created('web-1'));
    expect(created('web-1')).toBeLessThanOrEqual(created('web-2'));
    const claims = (await client.list(res('persistentvolumeclaims'), { namespace: ns })).items.map((c) => c.metadata.name).sort();
    expect(claims).toEqual(['data-web-0', 'data-web-1', 'data-web-2']);
    await client.patch(res('statefulsets.apps'), ns, 'web', { spec: { replicas: 1 } }, 'merge');
    await waitFor('scaled down to web-0', async () => {
      const names = (await pods(ns)).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
      return names.length === 1 && names[0] === 'web-0';
    }, { timeoutMs: 30_000 });
    // Claims are kept.
    expect((await client.list(res('persistentvolumeclaims'), { namespace: ns })).items).toHaveLength(3);
  }, 60_000);

  it('runs one DaemonSet pod on every node that tolerates it', async () => {
    const ns = await namespace('daemons');
    await client.create(res('daemonsets.apps'), ns, {
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: 'app:A' }] } } },
    });
    const nodes = (await client.list<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(NODES)).items.filter((n) => n.metadata.name!.startsWith('worker-'));
    await waitFor('a ready daemon pod per worker node', async () => {
      const ps = (await pods(ns)).filter(isReady);
      const onWorkers = new Set(ps.map((p) => p.spec.nodeName).filter((n) => n?.startsWith('worker-')));
      return onWorkers.size === nodes.length;
    }, { timeoutMs: 30_000 });
    const ds = await waitFor('daemonset status', async () => {
      const d = await client.get<KubeObject & { status?: { desiredNumberScheduled?: number; numberReady?: number } }>(res('daemonsets.apps'), ns, 'agent');
      return d.status?.numberReady === d.status?.desiredNumberScheduled && (d.status?.desiredNumberScheduled ?? 0) >= nodes.length ? d : undefined;
    });
    const perNode = new Map<string, number>();
    for (const p of (await pods(ns)).filter((x) => !x.metadata.deletionTimestamp)) perNode.set(p.spec.nodeName ?? '', (perNode.get(p.spec.nodeName ?? '') ?? 0) + 1);
    expect([...perNode.values()].every((n) => n === 1)).toBe(true);
    expect(ds.status?.desiredNumberScheduled).toBe(perNode.size);
  }, 60_000);
});

describe('Namespaces and garbage collection', () => {
  it('deleting a namespace deletes everything in it, then the namespace', async () => {
    const ns = await namespace('doomed');
    await client.create(DEPLOYMENTS, ns, deployment('d', 3, 'app:A'));
    await client.create(CONFIGMAPS, ns, { metadata: { name: 'cm' }, data: { a: 'b' } });
    await client.create(SERVICES, ns, { metadata: { name: 'svc' }, spec: { selector: { app: 'd' }, ports: [{ port: 80 }] } });
    await rolledOut(ns, 'd', 3);
    await client.delete(NAMESPACES, '', ns);
    const terminating = await client.get<KubeObject & { status?: { phase?: string } }>(NAMESPACES, '', ns);
    expect(terminating.status?.phase).toBe('Terminating');
    await waitFor('namespace gone', async () => {
      try {
        await client.get(NAMESPACES, '', ns);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { timeoutMs: 30_000 });
    expect(await pods(ns)).toHaveLength(0);
    expect((await client.list(CONFIGMAPS, { namespace: ns })).items).toHaveLength(0);
    expect((await client.list(REPLICASETS, { namespace: ns })).items).toHaveLength(0);
  }, 60_000);

  it('cascades background and foreground deletion, and orphans on request', async () => {
    const ns = await namespace('gc');
    await client.create(DEPLOYMENTS, ns, deployment('bg', 2, 'app:A'));
    await client.create(DEPLOYMENTS, ns, deployment('fg', 2, 'app:A'));
    await client.create(DEPLOYMENTS, ns, deployment('orphan', 2, 'app:A'));
    await Promise.all(['bg', 'fg', 'orphan'].map((n) => rolledOut(ns, n, 2)));

    await client.delete(DEPLOYMENTS, ns, 'bg', { propagationPolicy: 'Background' });
    await waitFor('bg pods collected', async () => (await pods(ns, 'app=bg')).length === 0, { timeoutMs: 30_000 });

    await client.delete(DEPLOYMENTS, ns, 'fg', { propagationPolicy: 'Foreground' });
    // The owner stays (with the foregroundDeletion finalizer) until its dependents are gone.
    const owner = await client.get<KubeObject>(DEPLOYMENTS, ns, 'fg').catch(() => undefined);
    if (owner) expect(owner.metadata.finalizers).toContain('foregroundDeletion');
    await waitFor('fg deployment gone after its pods', async () => {
      try {
        await client.get(DEPLOYMENTS, ns, 'fg');
        return false;
      } catch (err) {
        return isNotFound(err) && (await pods(ns, 'app=fg')).length === 0;
      }
    }, { timeoutMs: 30_000 });

    await client.delete(DEPLOYMENTS, ns, 'orphan', { propagationPolicy: 'Orphan' });
    await waitFor('orphaned replica set released', async () => {
      const rs = (await client.list<KubeObject>(REPLICASETS, { namespace: ns, labelSelector: 'app=orphan' })).items;
      return rs.length === 1 && (rs[0]!.metadata.ownerReferences ?? []).length === 0;
    }, { timeoutMs: 30_000 });
    expect((await pods(ns, 'app=orphan')).length).toBe(2);
  }, 90_000);
});

describe('Endpoints', () => {
  it('lists ready and not-ready pods of a Service with named ports, in Endpoints and EndpointSlices', async () => {
    const ns = await namespace('endpoints');
    await client.create(SERVICES, ns, { metadata: { name: 'web', labels: { tier: 'front' } }, spec: { selector: { app: 'ep' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    await client.create(DEPLOYMENTS, ns, deployment('ep', 3, 'app:A', { podSpec: { containers: [{ name: 'app', image: 'app:A', ports: [{ name: 'http', containerPort: 8080 }] }] } }));
    await rolledOut(ns, 'ep', 3);
    type Subset = { addresses?: { ip: string; targetRef?: { name: string } }[]; notReadyAddresses?: { ip: string; targetRef?: { name: string } }[]; ports?: { name?: string; port: number }[] };
    const endpoints = () => client.get<KubeObject & { subsets?: Subset[] }>(res('endpoints'), ns, 'web');
    const names = (subsets: Subset[] | undefined, key: 'addresses' | 'notReadyAddresses') => (subsets ?? []).flatMap((s) => (s[key] ?? []).map((a) => a.targetRef?.name ?? '')).sort();
    const podNames = (await pods(ns, 'app=ep')).map((p) => p.metadata.name!).sort();
    const ep = await waitFor('three ready addresses', async () => {
      const e = await endpoints();
      return names(e.subsets, 'addresses').length === 3 ? e : undefined;
    });
    expect(names(ep.subsets, 'addresses')).toEqual(podNames);
    expect(ep.subsets?.[0]?.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(ep.metadata.labels).toMatchObject({ tier: 'front' });
    type Slice = KubeObject & { addressType: string; endpoints: { conditions?: { ready?: boolean }; targetRef?: { name: string } }[]; ports?: { name?: string; port: number }[] };
    const slices = async () => (await client.list<Slice>(res('endpointslices.discovery.k8s.io'), { namespace: ns, labelSelector: 'kubernetes.io/service-name=web' })).items;
    const sliceList = await waitFor('an EndpointSlice with three ready endpoints', async () => {
      const s = await slices();
      return s.flatMap((x) => x.endpoints ?? []).filter((e) => e.conditions?.ready).length === 3 ? s : undefined;
    });
    expect(sliceList[0]!.addressType).toBe('IPv4');
    expect(sliceList[0]!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);

    // A pod turning not ready moves to notReadyAddresses (and ready=false in its slice).
    const victim = podNames[0]!;
    await client.patch(PODS, ns, victim, { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'TestNotReady' }] } }, 'strategic', { subresource: 'status' });
    const after = await waitFor('pod listed as not ready', async () => {
      const e = await endpoints();
      return names(e.subsets, 'notReadyAddresses').includes(victim) ? e : undefined;
    }, { timeoutMs: 5_000, intervalMs: 20 });
    expect(names(after.subsets, 'addresses')).toEqual(podNames.filter((n) => n !== victim));
    await waitFor('slice endpoint not ready', async () => (await slices()).flatMap((x) => x.endpoints).some((e) => e.targetRef?.name === victim && e.conditions?.ready === false), { timeoutMs: 5_000, intervalMs: 20 });
  }, 60_000);
});

describe('Node lifecycle', () => {
  it('marks a silent node NotReady and taints it, and its pods are replaced elsewhere', async () => {
    const ns = await namespace('failover');
    const doomed: RunningProcess = await startHollowNodes(server.kubeconfig, 1, ['--name-prefix', 'doomed-', '--cpu', '64', '--memory', '128Gi', '--node-labels', 'doomed=yes', '--pod-start-delay', '50']);
    await client.create(
      DEPLOYMENTS,
      ns,
      deployment('victim', 3, 'app:A', {
        podSpec: {
          affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'doomed', operator: 'In', values: ['yes'] }] } }] } },
          tolerations: [
            { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 },
            { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 },
          ],
        },
      }),
    );
    await rolledOut(ns, 'victim', 3);
    const before = await pods(ns);
    expect(before.every((p) => p.spec.nodeName === 'doomed-0')).toBe(true);

    await doomed.stop('SIGKILL');
    const node = await waitFor('node Ready=Unknown with the unreachable taint', async () => {
      const n = await client.get<KubeObject & { spec?: { taints?: { key: string; effect: string }[] }; status?: { conditions?: { type: string; status: string }[] } }>(NODES, '', 'doomed-0');
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'Unknown' && (n.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute') ? n : undefined;
    }, { timeoutMs: 30_000 });
    expect(node).toBeDefined();
    await waitFor('replacement pods ready on other nodes', async () => {
      const ps = (await pods(ns)).filter(isReady);
      return ps.length === 3 && ps.every((p) => p.spec.nodeName !== 'doomed-0');
    }, { timeoutMs: 45_000 });
  }, 90_000);
});

describe('Jobs', () => {
  function job(name: string, spec: Record<string, unknown>, exitCode: number): KubeObject {
    return {
      metadata: { name },
      spec: {
        ...spec,
        template: {
          metadata: { annotations: { 'hollow.flotilla.io/run-seconds': '0.2', 'hollow.flotilla.io/exit-code': String(exitCode) } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'work', image: 'app:A' }] },
        },
      },
    };
  }

  it('runs completions with parallelism and reports Complete', async () => {
    const ns = await namespace('jobs-ok');
    await client.create(JOBS, ns, job('ok', { completions: 4, parallelism: 2 }, 0));
    const done = await waitFor('job complete', async () => {
      const j = await client.get<JobView>(JOBS, ns, 'ok');
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    }, { timeoutMs: 30_000 });
    expect(done.status?.succeeded).toBe(4);
    expect(done.status?.failed ?? 0).toBe(0);
    expect((await pods(ns)).filter((p) => p.status?.phase === 'Succeeded')).toHaveLength(4);
  }, 60_000);

  it('raises a lowered parallelism again while the pod it removed is still in its grace period', async () => {
    const ns = await namespace('jobs-graceful');
    await client.create(JOBS, ns, {
      metadata: { name: 'long' },
      spec: {
        parallelism: 2,
        template: {
          // Runs until deleted, and its deletion takes the whole grace period (SIGTERM ignored).
          metadata: { annotations: { 'hollow.flotilla.io/ignore-sigterm': 'true' } },
          spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 600, containers: [{ name: 'work', image: 'app:A' }] },
        },
      },
    });
    const running = async (n: number) => waitFor(`${n} running job pods`, async () => (await pods(ns)).filter(isReady).length === n, { timeoutMs: 20_000 });
    await running(2);
    await client.patch(JOBS, ns, 'long', { spec: { parallelism: 1 } }, 'merge');
    await waitFor('one job pod terminating', async () => (await pods(ns)).filter((p) => p.metadata.deletionTimestamp).length === 1, { timeoutMs: 20_000 });
    await running(1);
    // The Job controller observes its deletion at the deletionTimestamp and dates the failure at the
    // deletion request (for the back-off), so it does not wait out the 600 s.
    await client.patch(JOBS, ns, 'long', { spec: { parallelism: 2 } }, 'merge');
    await running(2);
    expect((await pods(ns)).filter((p) => p.metadata.deletionTimestamp)).toHaveLength(1);
  }, 60_000);

  it('stops after backoffLimit failures with BackoffLimitExceeded', async () => {
    const ns = await namespace('jobs-fail');
    await client.create(JOBS, ns, job('failing', { backoffLimit: 2 }, 1));
    const failed = await waitFor('job failed', async () => {
      const j = await client.get<JobView>(JOBS, ns, 'failing');
      return j.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') ? j : undefined;
    }, { timeoutMs: 30_000 });
    expect(failed.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    expect(failed.status?.failed).toBe(3);
    expect((await pods(ns)).filter((p) => p.status?.phase === 'Failed')).toHaveLength(3);
    expect(failed.status?.active ?? 0).toBe(0);
  }, 60_000);
});

describe('CronJobs', () => {
  it('fires on an accelerated clock and keeps the history limit', async () => {
    // A second controller manager runs only the CronJob controller, on a clock 60 times real time:
    // each minute of the schedule passes in one second.
    await startControllerManager(server.kubeconfig, ['--controllers', 'cronjob', '--clock-speed', '60', '--leader-elect-resource-name', 'cronjob-controller-manager']);
    const ns = await namespace('cron');
    await client.create(CRONJOBS, ns, {
      metadata: { name: 'tick' },
      spec: {
        schedule: '* * * * *',
        successfulJobsHistoryLimit: 2,
        jobTemplate: { spec: { template: { metadata: { annotations: { 'hollow.flotilla.io/run-seconds': '0' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'app:A' }] } } } },
      },
    });
    const seen = new Set<string>();
    await waitFor('four scheduled runs', async () => {
      for (const j of (await client.list<KubeObject>(JOBS, { namespace: ns })).items) seen.add(j.metadata.name!);
      return seen.size >= 4;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    for (const name of seen) expect(name).toMatch(/^tick-\d+$/);
    await waitFor('history trimmed to the limit', async () => {
      const jobs = (await client.list<JobView>(JOBS, { namespace: ns })).items;
      const finished = jobs.filter((j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
      return finished.length <= 2 && jobs.length <= 3;
    }, { timeoutMs: 15_000 });
    const cj = await client.get<KubeObject & { status?: { lastScheduleTime?: string; lastSuccessfulTime?: string } }>(CRONJOBS, ns, 'tick');
    expect(cj.status?.lastScheduleTime).toBeDefined();
  }, 60_000);
});
