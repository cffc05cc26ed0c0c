/**
 * The official Kubernetes client (@kubernetes/client-node 1.4) against a real flotilla-apiserver
 * process: create, get, list with selectors, patch, replace with a stale version (409), delete,
 * watch, and its informer seeing ADDED/MODIFIED/DELETED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { startApiServer, type ApiServerProcess } from './harness/apiserver.js';
import { killAll, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

let server: ApiServerProcess;
let dir: ReturnType<typeof tempDir>;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
const ns = 'client-node';

beforeAll(async () => {
  dir = tempDir('client-node');
  server = await startApiServer(dir.path);
  kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  await server?.stop();
  await killAll();
  dir?.remove();
});

function configMap(name: string, labels: Record<string, string>, data: Record<string, string> = {}): k8s.V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data };
}

describe('client-node against flotilla-apiserver', () => {
  it('creates, gets and lists with label and field selectors', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: ns, body: configMap('one', { app: 'web', tier: 'front' }, { k: 'v' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('two', { app: 'web', tier: 'back' }) });
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('three', { app: 'db' }) });

    const got = await core.readNamespacedConfigMap({ name: 'one', namespace: ns });
    expect(got.data).toEqual({ k: 'v' });

    const web = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=web' });
    expect(web.items.map((i) => i.metadata?.name).sort()).toEqual(['one', 'two']);
    const setBased = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app in (web,db),tier notin (back)' });
    expect(setBased.items.map((i) => i.metadata?.name).sort()).toEqual(['one', 'three']);
    const byName = await core.listNamespacedConfigMap({ namespace: ns, fieldSelector: 'metadata.name=two' });
    expect(byName.items.map((i) => i.metadata?.name)).toEqual(['two']);
    expect(Number(web.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(created.metadata?.resourceVersion));

    const paged = await core.listNamespacedConfigMap({ namespace: ns, limit: 2 });
    expect(paged.items).toHaveLength(2);
    expect(paged.metadata?._continue).toBeTruthy();
    const rest = await core.listNamespacedConfigMap({ namespace: ns, limit: 2, _continue: paged.metadata!._continue });
    expect(rest.items).toHaveLength(1);
    expect(rest.metadata?._continue).toBeFalsy();
  });

  it('patches with JSON patch and merge patch', async () => {
    const jsonPatched = await core.patchNamespacedConfigMap({ name: 'one', namespace: ns, body: [{ op: 'add', path: '/data/added', value: 'yes' }] });
    expect(jsonPatched.data).toEqual({ k: 'v', added: 'yes' });
    const merged = await core.patchNamespacedConfigMap(
      { name: 'one', namespace: ns, body: { metadata: { labels: { tier: null, extra: 'x' } }, data: { k: null } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.labels).toEqual({ app: 'web', extra: 'x' });
    expect(merged.data).toEqual({ added: 'yes' });
  });

  it('refuses a replace with a stale resourceVersion with 409 Conflict', async () => {
    const cur = await core.readNamespacedConfigMap({ name: 'two', namespace: ns });
    const stale = structuredClone(cur);
    cur.data = { changed: '1' };
    const replaced = await core.replaceNamespacedConfigMap({ name: 'two', namespace: ns, body: cur });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(stale.metadata?.resourceVersion));
    stale.data = { lost: 'update' };
    const err = await core.replaceNamespacedConfigMap({ name: 'two', namespace: ns, body: stale }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(k8s.ApiException);
    expect((err as k8s.ApiException<string>).code).toBe(409);
    const status = JSON.parse((err as k8s.ApiException<string>).body) as { reason: string; message: string };
    expect(status.reason).toBe('Conflict');
    expect(status.message).toContain('the object has been modified');
    expect((await core.readNamespacedConfigMap({ name: 'two', namespace: ns })).data).toEqual({ changed: '1' });
  });

  it('deletes, and a second delete is 404', async () => {
    await core.deleteNamespacedConfigMap({ name: 'three', namespace: ns });
    const err = await core.readNamespacedConfigMap({ name: 'three', namespace: ns }).catch((e: unknown) => e);
    expect((err as k8s.ApiException<string>).code).toBe(404);
    const again = await core.deleteNamespacedConfigMap({ name: 'three', namespace: ns }).catch((e: unknown) => e);
    expect((again as k8s.ApiException<string>).code).toBe(404);
  });

  it('watches ADDED, MODIFIED and DELETED with Watch', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: ns });
    const seen: { type: string; name: string; rv: string }[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion, labelSelector: 'watched=yes' },
      (type, obj: k8s.V1ConfigMap) => seen.push({ type, name: obj.metadata!.name!, rv: obj.metadata!.resourceVersion! }),
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('w1', { watched: 'yes' }) });
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('ignored', { watched: 'no' }) });
    await core.patchNamespacedConfigMap({ name: 'w1', namespace: ns, body: [{ op: 'add', path: '/data', value: { a: 'b' } }] });
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace: ns });
    await waitFor('three watch events', () => seen.length >= 3);
    req.abort();
    expect(seen.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    const rvs = seen.map((e) => Number(e.rv));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
  });

  it('feeds an informer with ADDED, MODIFIED and DELETED', async () => {
    const events: string[] = [];
    const informer = k8s.makeInformer(kc, `/apis/apps/v1/namespaces/${ns}/deployments`, () => apps.listNamespacedDeployment({ namespace: ns }));
    informer.on('add', (d: k8s.V1Deployment) => events.push(`add ${d.metadata?.name}`));
    informer.on('update', (d: k8s.V1Deployment) => events.push(`update ${d.metadata?.name} ${d.spec?.replicas}`));
    informer.on('delete', (d: k8s.V1Deployment) => events.push(`delete ${d.metadata?.name}`));
    informer.on('error', () => {});
    await informer.start();
    const body: k8s.V1Deployment = {
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } },
      },
    };
    const created = await apps.createNamespacedDeployment({ namespace: ns, body });
    expect(created.metadata?.generation).toBe(1);
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');
    await waitFor('informer add', () => events.includes('add web'));
    const scaled = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: ns, body: { spec: { replicas: 3 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    expect(scaled.metadata?.generation).toBe(2);
    await waitFor('informer update', () => events.includes('update web 3'));
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: ns });
    await waitFor('informer delete', () => events.includes('delete web'));
    await informer.stop();
    expect(events.filter((e) => e.startsWith('add') || e.startsWith('delete'))).toEqual(['add web', 'delete web']);
  });
});
