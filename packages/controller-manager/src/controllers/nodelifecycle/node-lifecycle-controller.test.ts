import { formatTime, type KubeObject } from '@flotilla/api';
import { res } from '@flotilla/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodView } from '../../pod-utils.js';
import { testContext, type TestContext } from '../../testing/test-context.js';
import { evictionTime, NodeLifecycleController, NOT_READY, UNREACHABLE } from './node-lifecycle-controller.js';

const NODES = res('nodes');
const LEASES = res('leases.coordination.k8s.io');
const PODS = res('pods');

const GRACE = 40_000;

interface Taint {
  key: string;
  effect: string;
  value?: string;
  timeAdded?: string;
}
interface NodeView extends KubeObject {
  spec?: { taints?: Taint[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string; lastHeartbeatTime?: string; lastTransitionTime?: string }[] };
}

const T0 = Date.UTC(2024, 0, 1); // the FakeClock's start
const iso = (ms: number) => formatTime(new Date(ms));

function node(name: string, ready: 'True' | 'False' | 'Unknown', taints: Taint[] = []): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-${name}` },
    spec: { taints },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: iso(T0) },
        { type: 'Ready', status: ready, reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady', lastHeartbeatTime: iso(T0), lastTransitionTime: iso(T0 - 3600_000) },
      ],
    },
  };
}

function lease(name: string, renewTime = T0): KubeObject {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name, renewTime: new Date(renewTime).toISOString() } };
}

function pod(name: string, tolerations: Record<string, unknown>[] = [], nodeName = 'n1'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { nodeName, tolerations, containers: [{ name: 'c', image: 'a' }] },
    status: { phase: 'Running', conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }] },
  };
}

const tolerate = (key: string, seconds?: number) => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}) });

describe('evictionTime', () => {
  const taint = (key: string, addedMs: number): Taint => ({ key, effect: 'NoExecute', timeAdded: iso(addedMs) });
  const now = T0 + 10_000;

  it('is now without a matching toleration, never when tolerated forever', () => {
    expect(evictionTime(pod('a') as PodView, [taint(UNREACHABLE, T0)], now)).toBe(now);
    expect(evictionTime(pod('a', [tolerate(NOT_READY, 60)]) as PodView, [taint(UNREACHABLE, T0)], now)).toBe(now);
    expect(evictionTime(pod('a', [tolerate(UNREACHABLE)]) as PodView, [taint(UNREACHABLE, T0)], now)).toBeUndefined();
    expect(evictionTime(pod('a', [{ operator: 'Exists' }]) as PodView, [taint(UNREACHABLE, T0)], now)).toBeUndefined();
  });

  it('counts tolerationSeconds from the taint timeAdded, the smallest across taints', () => {
    expect(evictionTime(pod('a', [tolerate(UNREACHABLE, 300)]) as PodView, [taint(UNREACHABLE, T0)], now)).toBe(T0 + 300_000);
    const both = pod('a', [tolerate(UNREACHABLE, 300), tolerate(NOT_READY, 30)]) as PodView;
    expect(evictionTime(both, [taint(UNREACHABLE, T0), taint(NOT_READY, T0 + 5000)], now)).toBe(T0 + 35_000);
    expect(evictionTime(pod('a', [tolerate(UNREACHABLE, -5)]) as PodView, [taint(UNREACHABLE, T0)], now)).toBe(T0);
  });

  it('ignores taints other than NoExecute and matches values with operator Equal', () => {
    expect(evictionTime(pod('a') as PodView, [{ key: UNREACHABLE, effect: 'NoSchedule' }], now)).toBeUndefined();
    const eq = pod('a', [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoExecute' }]) as PodView;
    expect(evictionTime(eq, [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }], now)).toBeUndefined();
    expect(evictionTime(eq, [{ key: 'dedicated', value: 'cpu', effect: 'NoExecute' }], now)).toBe(now);
  });
});

describe('NodeLifecycleController', () => {
  let t: TestContext;
  afterEach(() => t?.stop());

  async function setup(nodes: KubeObject[], pods: KubeObject[] = [], leases: KubeObject[] = nodes.map((n) => lease(n.metadata.name!))): Promise<NodeLifecycleController> {
    t = testContext([{ resource: NODES, objects: nodes }, { resource: LEASES, objects: leases }, { resource: PODS, objects: pods }], { nodeMonitorGracePeriodMs: GRACE });
    const c = new NodeLifecycleController(t.ctx);
    await t.start();
    return c;
  }

  const getNode = (name = 'n1') => t.client.peek<NodeView>(NODES, '', name)!;
  const healthTaints = (name = 'n1') => (getNode(name).spec?.taints ?? []).filter((x) => x.key === UNREACHABLE || x.key === NOT_READY);
  const podNames = () => t.client.all(PODS).map((p) => p.metadata.name).sort();
  const ready = (p: string) => t.client.peek<PodView>(PODS, 'default', p)?.status?.conditions?.find((c) => c.type === 'Ready')?.status;

  /** Syncs a node until it writes nothing more (each write is seen by the informers first). */
  async function converge(c: NodeLifecycleController, name = 'n1'): Promise<void> {
    for (let i = 0; i < 6; i++) {
      const before = t.client.writes().length;
      await c.sync(name);
      await t.settle();
      if (t.client.writes().length === before) return;
    }
  }

  it('leaves a healthy node alone', async () => {
    const c = await setup([node('n1', 'True')], [pod('p')]);
    await t.clock.advance(GRACE);
    await converge(c);
    expect(t.client.writes()).toEqual([]);
  });

  it('marks a node whose lease stopped being renewed Ready=Unknown and taints it unreachable', async () => {
    const c = await setup([node('n1', 'True'), node('n2', 'True')]);
    await t.clock.advance(GRACE / 2);
    // n2 keeps renewing its lease; n1 is silent.
    await t.client.patch(LEASES, 'kube-node-lease', 'n2', { spec: { renewTime: new Date(t.clock.now()).toISOString() } }, 'merge');
    await t.settle();
    await t.clock.advance(GRACE / 2 + 1000);
    await converge(c, 'n2');
    expect(healthTaints('n2')).toEqual([]);
    expect(getNode('n2').status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');

    await c.sync('n1');
    const n = getNode();
    const readyCond = n.status!.conditions!.find((x) => x.type === 'Ready')!;
    expect(readyCond).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: iso(t.clock.now()) });
    expect(n.status!.conditions!.find((x) => x.type === 'MemoryPressure')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    await t.settle();
    await converge(c);
    expect(healthTaints()).toEqual([
      { key: UNREACHABLE, effect: 'NoSchedule' },
      { key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(t.clock.now()) },
    ]);
  });

  it('keeps other taints and does not rewrite the taints on later syncs', async () => {
    const c = await setup([node('n1', 'True', [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }])]);
    await t.clock.advance(GRACE + 1);
    await converge(c);
    expect(getNode().spec?.taints?.map((x) => `${x.key}:${x.effect}`)).toEqual(['dedicated:NoSchedule', `${UNREACHABLE}:NoSchedule`, `${UNREACHABLE}:NoExecute`]);
    const writes = t.client.writes().length;
    await t.clock.advance(10_000);
    await converge(c);
    expect(t.client.writes()).toHaveLength(writes);
  });

  it('taints a node reporting Ready=False not-ready, and removes the taints when it is Ready again', async () => {
    const c = await setup([node('n1', 'False')]);
    await converge(c);
    expect(healthTaints()).toEqual([
      { key: NOT_READY, effect: 'NoSchedule' },
      { key: NOT_READY, effect: 'NoExecute', timeAdded: iso(T0) },
    ]);
    // The kubelet reports Ready again (a new heartbeat).
    const n = getNode();
    n.status!.conditions = n.status!.conditions!.map((x) => (x.type === 'Ready' ? { ...x, status: 'True', reason: 'KubeletReady', lastHeartbeatTime: iso(T0 + 10_000) } : x));
    await t.client.updateStatus(NODES, n);
    await t.settle();
    await converge(c);
    expect(healthTaints()).toEqual([]);
  });

  it('removes the unreachable taints when a silent node comes back', async () => {
    const c = await setup([node('n1', 'True')]);
    await t.clock.advance(GRACE + 1);
    await converge(c);
    expect(healthTaints().map((x) => x.key)).toEqual([UNREACHABLE, UNREACHABLE]);
    // The agent is back: lease renewed and Ready posted.
    await t.client.patch(LEASES, 'kube-node-lease', 'n1', { spec: { renewTime: new Date(t.clock.now()).toISOString() } }, 'merge');
    const n = getNode();
    n.status!.conditions = n.status!.conditions!.map((x) => ({ ...x, status: x.type === 'Ready' ? 'True' : 'False', lastHeartbeatTime: iso(t.clock.now()) }));
    await t.client.updateStatus(NODES, n);
    await t.settle();
    await converge(c);
    expect(healthTaints()).toEqual([]);
    expect(getNode().status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
  });

  it('turns not-ready into unreachable when a NotReady node also goes silent', async () => {
    const c = await setup([node('n1', 'False')]);
    await converge(c);
    expect(healthTaints().map((x) => x.key)).toEqual([NOT_READY, NOT_READY]);
    await t.clock.advance(GRACE + 1);
    await converge(c);
    expect(healthTaints()).toEqual([
      { key: UNREACHABLE, effect: 'NoSchedule' },
      { key: UNREACHABLE, effect: 'NoExecute', timeAdded: iso(t.clock.now()) },
    ]);
  });

  it('evicts pods from an unreachable node: intolerant at once, tolerationSeconds after timeAdded, tolerant-forever never', async () => {
    const c = await setup(
      [node('n1', 'True'), node('n2', 'True')],
      [pod('plain'), pod('short', [tolerate(UNREACHABLE, 30)]), pod('long', [tolerate(UNREACHABLE, 300)]), pod('forever', [tolerate(UNREACHABLE)]), pod('elsewhere', [], 'n2')],
    );
    // n2 stays alive.
    const keepAlive = async () => {
      await t.client.patch(LEASES, 'kube-node-lease', 'n2', { spec: { renewTime: new Date(t.clock.now()).toISOString() } }, 'merge');
      await t.settle();
    };
    await t.clock.advance(GRACE / 2);
    await keepAlive();
    await t.clock.advance(GRACE / 2 + 1000);
    await keepAlive();
    await converge(c);
    const tainted = t.clock.now();
    expect(healthTaints().find((x) => x.effect === 'NoExecute')?.timeAdded).toBe(iso(tainted));
    expect(podNames()).toEqual(['elsewhere', 'forever', 'long', 'short']);
    const podDeletes = () => t.client.writes().filter((w) => w.verb === 'delete' && w.resource === 'pods').map((w) => w.name);
    expect(podDeletes()).toEqual(['plain']);

    // The controller looks again when the first toleration runs out.
    await t.clock.advance(29_000);
    await converge(c);
    expect(podNames()).toEqual(['elsewhere', 'forever', 'long', 'short']);
    await t.clock.advance(1_000);
    await keepAlive();
    await converge(c);
    expect(podNames()).toEqual(['elsewhere', 'forever', 'long']);
    await t.clock.advance(270_000);
    await keepAlive();
    await converge(c);
    expect(podNames()).toEqual(['elsewhere', 'forever']);
    await t.clock.advance(3600_000);
    await keepAlive();
    await converge(c);
    await converge(c, 'n2');
    expect(podNames()).toEqual(['elsewhere', 'forever']);
    expect(podDeletes()).toEqual(['plain', 'short', 'long']);
  });

  it('requeues the node for the next eviction', async () => {
    const c = await setup([node('n1', 'False')], [pod('short', [tolerate(NOT_READY, 30)])]);
    await converge(c);
    while (c.queue.len() > 0) c.queue.done((await c.queue.get())!);
    await t.clock.advance(30_000);
    expect(c.queue.len()).toBe(0);
    await t.clock.advance(100);
    expect(c.queue.len()).toBe(1);
    expect(await c.queue.get()).toBe('n1');
  });

  it('sets the Ready condition of pods on an unreachable node to False', async () => {
    const c = await setup([node('n1', 'True'), node('n2', 'True')], [pod('p', [tolerate(UNREACHABLE)]), pod('q', [tolerate(UNREACHABLE)], 'n2')]);
    await t.clock.advance(GRACE + 1);
    await converge(c);
    expect(ready('p')).toBe('False');
    const p = t.client.peek<PodView>(PODS, 'default', 'p')!;
    expect(p.status?.conditions?.find((x) => x.type === 'Ready')?.lastTransitionTime).toBe(iso(t.clock.now()));
    expect(p.status?.conditions?.find((x) => x.type === 'ContainersReady')?.status).toBe('True');
    expect(p.status?.phase).toBe('Running');
    // Only the pods of that node.
    expect(ready('q')).toBe('True');
  });

  it('does not mark pods not ready on a node that reports NotReady itself', async () => {
    const c = await setup([node('n1', 'False')], [pod('p', [tolerate(NOT_READY)])]);
    await converge(c);
    expect(ready('p')).toBe('True');
  });

  it('checks every node periodically while running', async () => {
    const c = await setup([node('n1', 'True')], [pod('plain')]);
    const abort = new AbortController();
    const running = c.run(abort.signal);
    await t.settle();
    for (let i = 0; i < 12; i++) {
      await t.clock.advance(5_000);
      await t.settle();
    }
    expect(getNode().status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('Unknown');
    expect(healthTaints().map((x) => `${x.key}:${x.effect}`)).toEqual([`${UNREACHABLE}:NoSchedule`, `${UNREACHABLE}:NoExecute`]);
    expect(podNames()).toEqual([]);
    abort.abort();
    c.queue.shutDown();
    await running;
  });
});
