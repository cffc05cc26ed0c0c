/**
 * The scheduler as a real process with hollow nodes, through a real API server: fit by resources,
 * node selectors and affinity, taints and tolerations, pod (anti-)affinity, topology spread, host
 * ports, volumes (bound PVs' node affinity, WaitForFirstConsumer claims get the selected node, missing
 * claims); unschedulable pods get their reason and are bound when a fitting node appears; identical
 * pods spread evenly; a standby scheduler takes over when the leader is killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { loadClientConfig, res, RestClient } from '@flotilla/client';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { startHollowNodes, startScheduler } from './harness/cluster.js';
import { killAll, tempDir, type RunningProcess } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const NODES = res('nodes');
const PVCS = res('persistentvolumeclaims');
const PVS = res('persistentvolumes');
let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let client: RestClient;
let scheduler: RunningProcess;

interface PodView extends KubeObject {
  spec: { nodeName?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

function pod(name: string, spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): KubeObject {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', ...((spec['container'] as object) ?? {}) }], ...Object.fromEntries(Object.entries(spec).filter(([k]) => k !== 'container')) } };
}

async function nodeOf(ns: string, name: string, timeoutMs = 15_000): Promise<string> {
  return waitFor(`pod ${name} bound`, async () => (await client.get<PodView>(PODS, ns, name)).spec.nodeName, { timeoutMs });
}

async function unschedulableMessage(ns: string, name: string): Promise<string> {
  return waitFor(`pod ${name} marked unschedulable`, async () => {
    const p = await client.get<PodView>(PODS, ns, name);
    const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'Unschedulable');
    return c?.message;
  });
}

async function namespace(name: string): Promise<string> {
  await client.create(res('namespaces'), '', { metadata: { name } });
  return name;
}

beforeAll(async () => {
  dir = tempDir('scheduler');
  server = await startApiServer(dir.path);
  client = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }));
  // Three fleets: small general nodes, one big node, one tainted GPU node.
  await startHollowNodes(server.kubeconfig, 3, ['--name-prefix', 'small-', '--cpu', '2', '--memory', '4Gi', '--node-labels', 'size=small']);
  await startHollowNodes(server.kubeconfig, 1, ['--name-prefix', 'big-', '--cpu', '16', '--memory', '64Gi', '--node-labels', 'size=big']);
  await startHollowNodes(server.kubeconfig, 1, ['--name-prefix', 'gpu-', '--cpu', '8', '--memory', '32Gi', '--node-labels', 'size=gpu', '--register-with-taints', 'gpu=true:NoSchedule']);
  scheduler = await startScheduler(server.kubeconfig);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await killAll();
  dir?.remove();
});

describe('scheduling decisions', () => {
  it('places pods by resource requests and reports what does not fit', async () => {
    const ns = await namespace('fit');
    await client.create(PODS, ns, pod('needs-8', { container: { resources: { requests: { cpu: '8' } } } }));
    expect(await nodeOf(ns, 'needs-8')).toBe('big-0');
    await client.create(PODS, ns, pod('needs-100', { container: { resources: { requests: { cpu: '100' } } } }));
    const msg = await unschedulableMessage(ns, 'needs-100');
    expect(msg).toBe('0/5 nodes are available: 1 node(s) had untolerated taint {gpu: true}, 4 Insufficient cpu.');
    // The scheduler records the event on its own, after the pod's condition.
    const events = await waitFor('a FailedScheduling event', async () => {
      const list = await client.list(res('events'), { namespace: ns, fieldSelector: 'involvedObject.name=needs-100,reason=FailedScheduling' });
      return list.items.length > 0 ? list.items : undefined;
    });
    expect(events.length).toBeGreaterThan(0);
    await client.delete(PODS, ns, 'needs-100');
  });

  it('honours nodeSelector and required and preferred node affinity', async () => {
    const ns = await namespace('affinity');
    await client.create(PODS, ns, pod('sel', { nodeSelector: { size: 'big' } }));
    expect(await nodeOf(ns, 'sel')).toBe('big-0');
    await client.create(PODS, ns, pod('req', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'size', operator: 'In', values: ['small'] }] }] } } } }));
    expect(await nodeOf(ns, 'req')).toMatch(/^small-/);
    await client.create(PODS, ns, pod('pref', { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['small-2'] }] } }] } } }));
    expect(await nodeOf(ns, 'pref')).toBe('small-2');
    await client.create(PODS, ns, pod('nowhere', { nodeSelector: { size: 'huge' } }));
    expect(await unschedulableMessage(ns, 'nowhere')).toContain("node(s) didn't match Pod's node affinity/selector");
  });

  it('keeps pods off tainted nodes unless they tolerate the taint', async () => {
    const ns = await namespace('taints');
    await client.create(PODS, ns, pod('no-toleration', { nodeSelector: { size: 'gpu' } }));
    expect(await unschedulableMessage(ns, 'no-toleration')).toContain('1 node(s) had untolerated taint {gpu: true}');
    await client.create(PODS, ns, pod('tolerates', { nodeSelector: { size: 'gpu' }, tolerations: [{ key: 'gpu', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] }));
    expect(await nodeOf(ns, 'tolerates')).toBe('gpu-0');
  });

  it('spreads pods with required anti-affinity one per node and co-locates with affinity', async () => {
    const ns = await namespace('podaffinity');
    const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } }] } };
    const placed = new Set<string>();
    for (let i = 0; i < 3; i++) {
      await client.create(PODS, ns, pod(`db-${i}`, { affinity: anti, nodeSelector: { size: 'small' } }, { app: 'db' }));
      placed.add(await nodeOf(ns, `db-${i}`));
    }
    expect(placed.size).toBe(3);
    await client.create(PODS, ns, pod('db-3', { affinity: anti, nodeSelector: { size: 'small' } }, { app: 'db' }));
    // Existing pods' anti-affinity is checked first, as in kube-scheduler.
    expect(await unschedulableMessage(ns, 'db-3')).toBe("0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {gpu: true}, 3 node(s) didn't satisfy existing pods anti-affinity rules.");
    await client.create(PODS, ns, pod('cache', { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } }] } } }, { app: 'cache' }));
    expect(placed.has(await nodeOf(ns, 'cache'))).toBe(true);
  });

  it('keeps topology spread within maxSkew across zones', async () => {
    const ns = await namespace('spread');
    const constraint = [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } }];
    const zones = new Map<string, number>();
    const nodes = (await client.list(NODES)).items;
    const zoneOf = new Map(nodes.map((n) => [n.metadata.name!, n.metadata.labels!['topology.kubernetes.io/zone']!]));
    for (let i = 0; i < 9; i++) {
      await client.create(PODS, ns, pod(`web-${i}`, { topologySpreadConstraints: constraint, nodeSelector: { size: 'small' } }, { app: 'web' }));
      const z = zoneOf.get(await nodeOf(ns, `web-${i}`))!;
      zones.set(z, (zones.get(z) ?? 0) + 1);
    }
    const counts = [...zones.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('does not put two pods with the same host port on one node', async () => {
    const ns = await namespace('ports');
    const withPort = { container: { ports: [{ containerPort: 8080, hostPort: 18080 }] }, nodeSelector: { size: 'big' } };
    await client.create(PODS, ns, pod('first', withPort));
    expect(await nodeOf(ns, 'first')).toBe('big-0');
    await client.create(PODS, ns, pod('second', withPort));
    expect(await unschedulableMessage(ns, 'second')).toContain("didn't have free ports for the requested pod ports");
  });

  it('places pods by their volumes: bound PV node affinity, WaitForFirstConsumer claims, missing claims', async () => {
    const ns = await namespace('volumes');
    await client.create(res('storageclasses.storage.k8s.io'), '', { metadata: { name: 'wffc' }, provisioner: 'flotilla.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' } as KubeObject);
    const claimSpec = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'wffc' };
    const withClaim = (name: string, claimName: string) => pod(name, { volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }] });

    // A claim bound to a volume that lives on small-1 (the API server does not bind; statuses set by hand).
    await client.create(PVS, '', {
      metadata: { name: 'pv-small-1' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'wffc',
        hostPath: { path: '/tmp/pv-small-1' },
        claimRef: { namespace: ns, name: 'pinned' },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['small-1'] }] }] } },
      },
    });
    await client.create(PVCS, ns, { metadata: { name: 'pinned' }, spec: { ...claimSpec, volumeName: 'pv-small-1' } });
    await client.patch(PVS, '', 'pv-small-1', { status: { phase: 'Bound' } }, 'merge', { subresource: 'status' });
    await client.patch(PVCS, ns, 'pinned', { status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } }, 'merge', { subresource: 'status' });
    for (let i = 0; i < 3; i++) {
      await client.create(PODS, ns, withClaim(`pinned-${i}`, 'pinned'));
      expect(await nodeOf(ns, `pinned-${i}`)).toBe('small-1');
    }

    // An unbound WaitForFirstConsumer claim: the pod goes anywhere, the claim learns where.
    await client.create(PVCS, ns, { metadata: { name: 'fresh' }, spec: claimSpec });
    await client.create(PODS, ns, withClaim('fresh-user', 'fresh'));
    const node = await nodeOf(ns, 'fresh-user');
    const fresh = await client.get(PVCS, ns, 'fresh');
    expect(fresh.metadata.annotations?.['volume.kubernetes.io/selected-node']).toBe(node);

    // A missing claim: unschedulable until it is created.
    await client.create(PODS, ns, withClaim('late-user', 'late'));
    expect(await unschedulableMessage(ns, 'late-user')).toMatch(/^0\/\d+ nodes are available: persistentvolumeclaim "late" not found\.$/);
    await client.create(PVCS, ns, { metadata: { name: 'late' }, spec: claimSpec });
    const lateNode = await nodeOf(ns, 'late-user', 20_000);
    expect((await client.get(PVCS, ns, 'late')).metadata.annotations?.['volume.kubernetes.io/selected-node']).toBe(lateNode);
  });

  it('binds a waiting pod once a node that fits appears', async () => {
    const ns = await namespace('later');
    await client.create(PODS, ns, pod('waits', { nodeSelector: { size: 'xl' } }));
    await unschedulableMessage(ns, 'waits');
    await startHollowNodes(server.kubeconfig, 1, ['--name-prefix', 'xl-', '--node-labels', 'size=xl']);
    expect(await nodeOf(ns, 'waits', 20_000)).toBe('xl-0');
  });
});

describe('priority', () => {
  it('takes spec.priority from the PriorityClass and refuses unknown classes', async () => {
    const ns = await namespace('priority');
    await client.create(res('priorityclasses'), '', { metadata: { name: 'high' }, value: 1000 } as KubeObject);
    const created = await client.create<KubeObject & { spec: { priority: number } }>(PODS, ns, pod('important', { priorityClassName: 'high' }));
    expect(created.spec.priority).toBe(1000);
    await expect(client.create(PODS, ns, pod('unknown-class', { priorityClassName: 'nope' }))).rejects.toMatchObject({ code: 403, message: expect.stringContaining('no PriorityClass with name nope was found') });
    expect(await nodeOf(ns, 'important')).toBeTruthy();
  });
});

describe('spreading identical pods', () => {
  it('spreads 200 pods over 20 nodes evenly (max - min <= 1)', async () => {
    await startHollowNodes(server.kubeconfig, 20, ['--name-prefix', 'even-', '--node-labels', 'pool=even', '--cpu', '32', '--memory', '128Gi']);
    const ns = await namespace('even');
    await Promise.all(Array.from({ length: 200 }, (_, i) => client.create(PODS, ns, pod(`p-${i}`, { nodeSelector: { pool: 'even' }, container: { resources: { requests: { cpu: '100m', memory: '64Mi' } } } }))));
    const perNode = await waitFor(
      '200 pods bound',
      async () => {
        const items = (await client.list<PodView>(PODS, { namespace: ns })).items;
        if (items.some((p) => !p.spec.nodeName)) return undefined;
        const m = new Map<string, number>();
        for (const p of items) m.set(p.spec.nodeName!, (m.get(p.spec.nodeName!) ?? 0) + 1);
        return m;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(perNode.size).toBe(20);
    const counts = [...perNode.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });
});

describe('leader election', () => {
  it('lets a standby take over within 20 s when the leader is killed', async () => {
    const standby = await startScheduler(server.kubeconfig);
    const lease = await client.get<KubeObject & { spec: { holderIdentity: string } }>(res('leases'), 'kube-system', 'kube-scheduler');
    const leaderPid = Number(lease.spec.holderIdentity.split('_').pop());
    const leader = leaderPid === scheduler.child.pid ? scheduler : standby;
    const other = leader === scheduler ? standby : scheduler;
    expect(leader.child.pid).toBe(leaderPid);
    await leader.stop('SIGKILL');
    const ns = await namespace('failover');
    const started = Date.now();
    await client.create(PODS, ns, pod('after-failover', { nodeSelector: { size: 'big' } }));
    expect(await nodeOf(ns, 'after-failover', 25_000)).toBe('big-0');
    expect(Date.now() - started).toBeLessThan(20_000);
    const after = await client.get<KubeObject & { spec: { holderIdentity: string } }>(res('leases'), 'kube-system', 'kube-scheduler');
    expect(after.spec.holderIdentity.split('_').pop()).toBe(String(other.child.pid));
  }, 60_000);
});
