/**
 * The shared client against a real API server: kubeconfig loading, typed CRUD with Status errors,
 * informers, leader election between two candidates, and event aggregation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { isAlreadyExists, isConflict, isNotFound, type KubeObject } from '@flotilla/api';
import { EventRecorder, LeaderElector, RestClient, SharedInformer, deletedObject, loadClientConfig, res } from '@flotilla/client';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { killAll, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const log = pino({ level: 'silent' });
let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let client: RestClient;
const cms = res('configmaps');

beforeAll(async () => {
  dir = tempDir('client');
  server = await startApiServer(dir.path);
  client = new RestClient(loadClientConfig({ kubeconfig: server.kubeconfig }));
  await client.create(res('namespaces'), '', { metadata: { name: 'client' } });
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  await killAll();
  dir?.remove();
});

describe('RestClient', () => {
  it('creates, reads, updates with optimistic concurrency and deletes', async () => {
    const created = await client.create(cms, 'client', { metadata: { name: 'c1' }, data: { a: '1' } });
    expect(created.metadata.uid).toBeTruthy();
    await expect(client.create(cms, 'client', { metadata: { name: 'c1' } })).rejects.toSatisfy(isAlreadyExists);
    const updated = await client.update(cms, { ...created, data: { a: '2' } });
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    await expect(client.update(cms, { ...created, data: { a: '3' } })).rejects.toSatisfy(isConflict);
    const patched = await client.patch(cms, 'client', 'c1', { data: { b: 'x' } }, 'merge');
    expect(patched['data']).toEqual({ a: '2', b: 'x' });
    const page = await client.list(cms, { namespace: 'client', fieldSelector: 'metadata.name=c1' });
    expect(page.items.map((i) => i.metadata.name)).toEqual(['c1']);
    await client.delete(cms, 'client', 'c1');
    await expect(client.get(cms, 'client', 'c1')).rejects.toSatisfy(isNotFound);
  });
});

describe('SharedInformer', () => {
  it('keeps a cache in step and notifies handlers', async () => {
    const inf = new SharedInformer<KubeObject>(client, { resource: cms, namespace: 'client', logger: log });
    const events: string[] = [];
    inf.addEventHandler({
      onAdd: (o) => events.push(`add ${o.metadata.name}`),
      onUpdate: (a, b) => a.metadata.resourceVersion !== b.metadata.resourceVersion && events.push(`update ${b.metadata.name}`),
      onDelete: (o) => events.push(`delete ${deletedObject(o).metadata.name}`),
    });
    const ctl = new AbortController();
    const run = inf.run(ctl.signal);
    await inf.waitForSync();
    await client.create(cms, 'client', { metadata: { name: 'i1' } });
    await client.patch(cms, 'client', 'i1', { data: { k: 'v' } }, 'merge');
    await client.delete(cms, 'client', 'i1');
    await waitFor('informer events', () => events.length >= 3);
    expect(events).toEqual(['add i1', 'update i1', 'delete i1']);
    expect(inf.lister.get('client', 'i1')).toBeUndefined();
    ctl.abort();
    await run;
  });
});

describe('LeaderElector', () => {
  it('elects one leader and fails over when it stops', async () => {
    const leading = new Set<string>();
    const make = (id: string) =>
      new LeaderElector({
        client,
        namespace: 'client',
        name: 'election',
        identity: id,
        leaseDurationSeconds: 2,
        renewDeadlineMs: 1500,
        retryPeriodMs: 200,
        logger: log,
        onStartedLeading: (signal) => {
          leading.add(id);
          signal.addEventListener('abort', () => leading.delete(id));
        },
      });
    const a = new AbortController();
    const b = new AbortController();
    const ra = make('a').run(a.signal);
    await waitFor('a leads', () => leading.has('a'));
    const rb = make('b').run(b.signal);
    await new Promise((r) => setTimeout(r, 600));
    expect([...leading]).toEqual(['a']);
    a.abort();
    await ra;
    await waitFor('b takes over', () => leading.has('b'), { timeoutMs: 10_000 });
    const lease = await client.get<KubeObject & { spec: { holderIdentity: string; leaseTransitions: number } }>(res('leases'), 'client', 'election');
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    b.abort();
    await rb;
  });
});

describe('EventRecorder', () => {
  it('aggregates repeated events into one with a count', async () => {
    const target = await client.create(cms, 'client', { metadata: { name: 'evented' } });
    const rec = new EventRecorder({ client, component: 'test-controller', logger: log });
    for (let i = 0; i < 3; i++) rec.event(target, 'Warning', 'Exploded', 'it went bang');
    rec.event(target, 'Normal', 'Calmed', 'all fine');
    await rec.flush();
    const events = await client.list(res('events'), { namespace: 'client', fieldSelector: `involvedObject.name=evented` });
    const byReason = Object.fromEntries(events.items.map((e) => [e['reason'] as string, e['count'] as number]));
    expect(byReason).toEqual({ Exploded: 3, Calmed: 1 });
  });
});
