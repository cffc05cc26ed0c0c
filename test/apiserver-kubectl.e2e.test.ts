/**
 * Stock kubectl (the dispatcher picks the version matching our /version) against a real
 * flotilla-apiserver: apply of a multi-document YAML and a changed re-apply (3-way merge), get in
 * its output formats, get all, get -w, label, annotate, scale, api-resources, explain, server-side
 * apply, diff, auth can-i (--list) / whoami, debug (refused cleanly), delete -f.
 * Skipped with a printed reason when kubectl is not installed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { shopManifest } from './harness/manifests.js';
import { tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const kubectlPath = findKubectl();
if (!kubectlPath) console.warn('skipping kubectl end-to-end tests: no kubectl on PATH');

const manifest = (replicas: number, mode: string, stale: boolean) => shopManifest({ namespace: 'kubectl-e2e', replicas, mode, stale, withNamespace: true });

describe.skipIf(!kubectlPath)('kubectl against flotilla-apiserver', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let kubectl: Kubectl;
  let file: string;

  beforeAll(async () => {
    dir = tempDir('kubectl');
    server = await startApiServer(join(dir.path, 'data'));
    kubectl = new Kubectl(kubectlPath!, server.kubeconfig, dir.path);
    file = join(dir.path, 'app.yaml');
  });

  afterAll(() => stopApiServerWithClient({ server, dir }));

  it('reports a server version kubectl understands', async () => {
    const out = await kubectl.ok(['version', '-o', 'json']);
    const v = JSON.parse(out) as { serverVersion: { major: string; minor: string } };
    expect(v.serverVersion.major).toBe('1');
    expect(Number(v.serverVersion.minor)).toBeGreaterThanOrEqual(27);
  });

  it('applies a multi-document YAML', async () => {
    writeFileSync(file, manifest(2, 'blue', true));
    const out = await kubectl.ok(['apply', '-f', file]);
    expect(out).toContain('namespace/kubectl-e2e created');
    expect(out).toContain('configmap/settings created');
    expect(out).toContain('deployment.apps/shop created');
    expect(out).toContain('service/shop created');
    const again = await kubectl.ok(['apply', '-f', file]);
    expect(again).toContain('configmap/settings unchanged');
  });

  it('re-applies a changed file with a 3-way merge', async () => {
    // A field set by someone else survives; fields removed from the file are removed.
    await kubectl.ok(['-n', 'kubectl-e2e', 'label', 'configmap', 'settings', 'owner=ops']);
    writeFileSync(file, manifest(3, 'green', false));
    const out = await kubectl.ok(['apply', '-f', file]);
    expect(out).toContain('configmap/settings configured');
    expect(out).toContain('deployment.apps/shop configured');
    const cm = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'configmap', 'settings', '-o', 'json'])) as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(cm.data).toEqual({ mode: 'green' });
    expect(cm.metadata.labels).toEqual({ app: 'shop', owner: 'ops' });
    const dep = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployment', 'shop', '-o', 'json'])) as { spec: { replicas: number; template: { spec: { containers: { env: { value: string }[] }[] } } }; metadata: { generation: number } };
    expect(dep.spec.replicas).toBe(3);
    expect(dep.spec.template.spec.containers[0]!.env[0]!.value).toBe('green');
    expect(dep.metadata.generation).toBe(2);
  });

  it('prints tables, wide tables, YAML and JSON', async () => {
    const table = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployments']);
    expect(table).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    expect(table).toMatch(/shop\s+0\/3\s+0\s+0\s+\d+s/);
    const wide = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployments', '-o', 'wide']);
    expect(wide).toMatch(/CONTAINERS\s+IMAGES\s+SELECTOR/);
    expect(wide).toContain('busybox:1.36');
    const svc = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'svc']);
    expect(svc).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
    const yaml = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'configmap', 'settings', '-o', 'yaml']);
    expect(yaml).toContain('kind: ConfigMap');
    expect(yaml).toContain('mode: green');
    const nsTable = await kubectl.ok(['get', 'namespaces']);
    expect(nsTable).toMatch(/kube-system\s+Active/);
    expect(nsTable).toMatch(/default\s+Active/);
  });

  it('gets all', async () => {
    const out = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'all']);
    expect(out).toContain('service/shop');
    expect(out).toContain('deployment.apps/shop');
  });

  it('sees a change with get -w', async () => {
    const w = kubectl.spawn(['-n', 'kubectl-e2e', 'get', 'configmap', 'settings', '-w', '-o', 'jsonpath={.data.mode}{"\\n"}']);
    try {
      await waitFor('initial watch output', () => w.output().includes('green'));
      await kubectl.ok(['-n', 'kubectl-e2e', 'patch', 'configmap', 'settings', '--type', 'merge', '-p', '{"data":{"mode":"red"}}']);
      await waitFor('watched change', () => w.output().includes('red'));
    } finally {
      w.child.kill();
    }
  });

  it('labels, annotates and scales', async () => {
    await kubectl.ok(['-n', 'kubectl-e2e', 'label', 'deployment', 'shop', 'team=checkout']);
    await kubectl.ok(['-n', 'kubectl-e2e', 'annotate', 'deployment', 'shop', 'note=hello world']);
    const scaled = await kubectl.ok(['-n', 'kubectl-e2e', 'scale', 'deployment', 'shop', '--replicas=5']);
    expect(scaled).toContain('deployment.apps/shop scaled');
    const dep = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployment', 'shop', '-o', 'json'])) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { replicas: number } };
    expect(dep.metadata.labels['team']).toBe('checkout');
    expect(dep.metadata.annotations['note']).toBe('hello world');
    expect(dep.spec.replicas).toBe(5);
    const byLabel = await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployments', '-l', 'team=checkout', '-o', 'name']);
    expect(byLabel.trim()).toBe('deployment.apps/shop');
  });

  it('lists api-resources and explains a field', async () => {
    const out = await kubectl.ok(['api-resources']);
    expect(out).toMatch(/pods\s+po\s+v1\s+true\s+Pod/);
    expect(out).toMatch(/deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    expect(out).toMatch(/nodes\s+no\s+v1\s+false\s+Node/);
    const explain = await kubectl.ok(['explain', 'pods.spec.containers.image']);
    expect(explain).toContain('FIELD: image');
  });

  it('rejects unknown fields on apply (server-side field validation)', async () => {
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: kubectl-e2e\ndata:\n  a: b\nbogus: 1\n');
    const r = await kubectl.run(['apply', '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown field "bogus"/);
  });

  it('applies server-side, reports conflicts with other managers and forces them', async () => {
    const ssa = join(dir.path, 'ssa.yaml');
    const write = (replicas: number) =>
      writeFileSync(ssa, `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\n  namespace: kubectl-e2e\nspec:\n  replicas: ${replicas}\n  selector:\n    matchLabels:\n      app: ssa\n  template:\n    metadata:\n      labels:\n        app: ssa\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.36\n`);
    write(2);
    expect(await kubectl.ok(['apply', '--server-side', '-f', ssa])).toContain('deployment.apps/ssa serverside-applied');
    await kubectl.ok(['-n', 'kubectl-e2e', 'scale', 'deployment', 'ssa', '--replicas=4']);
    write(3);
    const conflict = await kubectl.run(['apply', '--server-side', '-f', ssa]);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/conflict/i);
    expect(conflict.stderr).toContain('.spec.replicas');
    await kubectl.ok(['apply', '--server-side', '--force-conflicts', '-f', ssa]);
    const dep = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'deployment', 'ssa', '-o', 'json', '--show-managed-fields'])) as { spec: { replicas: number }; metadata: { managedFields: { manager: string; operation: string }[] } };
    expect(dep.spec.replicas).toBe(3);
    expect(dep.metadata.managedFields.some((m) => m.manager === 'kubectl' && m.operation === 'Apply')).toBe(true);
  });

  it('diffs a file against what server-side apply made of it: no change, then the edit', async () => {
    const f = join(dir.path, 'diff.yaml');
    const write = (value: string) => writeFileSync(f, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: diffed\n  namespace: kubectl-e2e\ndata:\n  key: "${value}"\n`);
    write('one');
    await kubectl.ok(['apply', '--server-side', '-f', f]);
    // kubectl diff dry-runs a client-side apply patch (it adds an empty annotations map), which
    // must come back as the same object: exit code 0, nothing printed.
    const same = await kubectl.run(['diff', '-f', f]);
    expect(same.stdout).toBe('');
    expect(same.code).toBe(0);
    write('two');
    const changed = await kubectl.run(['diff', '-f', f]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain('-  key: one');
    expect(changed.stdout).toContain('+  key: two');
  });

  it('answers auth can-i and auth whoami for the admin, a bootstrap token and an impersonated user', async () => {
    expect((await kubectl.ok(['auth', 'can-i', 'delete', 'nodes'])).trim()).toBe('yes');
    expect(await kubectl.ok(['auth', 'whoami'])).toMatch(/Groups\s+\[system:masters system:authenticated\]/);
    await kubectl.ok(['-n', 'kube-system', 'create', 'secret', 'generic', 'bootstrap-token-canitk', '--type', 'bootstrap.kubernetes.io/token',
      '--from-literal=token-id=canitk', '--from-literal=token-secret=0123456789abcdef', '--from-literal=usage-bootstrap-authentication=true']);
    const asBootstrap = ['--token', 'canitk.0123456789abcdef'];
    // kubectl prints "no" and exits 1 for a denied question.
    const denied = await kubectl.run([...asBootstrap, 'auth', 'can-i', 'create', 'pods']);
    expect(denied.stdout.trim()).toBe('no');
    expect(denied.code).toBe(1);
    expect(await kubectl.ok([...asBootstrap, 'auth', 'whoami'])).toMatch(/Username\s+system:bootstrap:canitk/);
    expect(await kubectl.ok([...asBootstrap, 'auth', 'can-i', '--list'])).toMatch(/^nodecredentials\.flotilla\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    expect(await kubectl.ok(['auth', 'can-i', '--list'])).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
    // Impersonation (--as): the admin may ask as someone else; a bootstrap token may not.
    const asBob = await kubectl.run(['auth', 'can-i', 'create', 'pods', '--as=bob', '--as-group=devs']);
    expect(asBob.stdout.trim()).toBe('no');
    expect(await kubectl.ok(['auth', 'whoami', '--as=bob', '--as-group=devs'])).toMatch(/Username\s+bob\s+Groups\s+\[devs system:authenticated\]/);
    const asNode = ['--as=system:node:n1', '--as-group=system:nodes'];
    expect((await kubectl.ok(['auth', 'can-i', 'list', 'endpointslices.discovery.k8s.io', ...asNode])).trim()).toBe('yes');
    expect((await kubectl.run(['auth', 'can-i', 'delete', 'deployments', ...asNode])).stdout.trim()).toBe('no');
    const refused = await kubectl.run([...asBootstrap, 'get', 'pods', '--as=admin']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('cannot impersonate resource "users"');
  });

  it('kubectl debug adds an ephemeral container through pods/ephemeralcontainers, which refuses changing it', async () => {
    await kubectl.ok(['-n', 'kubectl-e2e', 'run', 'debugged', '--image=busybox:1.36', '--', 'sleep', '3600']);
    const out = await kubectl.ok(['-n', 'kubectl-e2e', 'debug', 'debugged', '--image=busybox:1.36', '-c', 'dbg', '--target=debugged', '--', 'true']);
    expect(out).toContain('Targeting container "debugged"');
    const pod = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'pod', 'debugged', '-o', 'json'])) as { spec: { ephemeralContainers?: Record<string, unknown>[] } };
    expect(pod.spec.ephemeralContainers).toEqual([expect.objectContaining({ name: 'dbg', image: 'busybox:1.36', targetContainerName: 'debugged', command: ['true'], imagePullPolicy: 'IfNotPresent' })]);
    // A PUT to the subresource that changes it is refused.
    const edited = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'pod', 'debugged', '-o', 'json'])) as { spec: { ephemeralContainers: { command: string[] }[] } };
    edited.spec.ephemeralContainers[0]!.command = ['false'];
    const editedFile = join(dir.path, 'debugged.json');
    writeFileSync(editedFile, JSON.stringify(edited));
    const changed = await kubectl.run(['replace', '--raw', '/api/v1/namespaces/kubectl-e2e/pods/debugged/ephemeralcontainers', '-f', editedFile]);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('The Pod "debugged" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be changed');
  });

  it('serves HorizontalPodAutoscalers at autoscaling/v1 too: kubectl autoscale, get, apply, server-side apply and watch', async () => {
    const ns = ['-n', 'kubectl-e2e'];
    expect(await kubectl.ok([...ns, 'autoscale', 'deployment', 'shop', '--min=2', '--max=5', '--cpu-percent=60'])).toContain('horizontalpodautoscaler.autoscaling/shop autoscaled');
    const v2 = JSON.parse(await kubectl.ok([...ns, 'get', 'hpa', 'shop', '-o', 'json'])) as { apiVersion: string; spec: { metrics: unknown[]; minReplicas: number } };
    expect(v2.apiVersion).toBe('autoscaling/v2');
    expect(v2.spec.minReplicas).toBe(2);
    expect(v2.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
    const table = await kubectl.ok([...ns, 'get', 'hpa']);
    expect(table).toMatch(/shop\s+Deployment\/shop\s+cpu: <unknown>\/60%\s+2\s+5/);
    // A v2-only metric survives a v1 read-modify-write (it rides in an annotation there).
    await kubectl.ok([...ns, 'patch', 'hpa', 'shop', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/metrics/-', value: { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } } }])]);
    const v1 = JSON.parse(await kubectl.ok([...ns, 'get', 'horizontalpodautoscalers.v1.autoscaling', 'shop', '-o', 'json'])) as { apiVersion: string; metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
    expect(v1.apiVersion).toBe('autoscaling/v1');
    expect(v1.spec['targetCPUUtilizationPercentage']).toBe(60);
    expect(JSON.parse(v1.metadata.annotations['autoscaling.alpha.kubernetes.io/metrics']!)).toEqual([{ type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } }]);
    await kubectl.ok([...ns, 'patch', 'horizontalpodautoscalers.v1.autoscaling', 'shop', '-p', '{"spec":{"targetCPUUtilizationPercentage":70}}']);
    const after = JSON.parse(await kubectl.ok([...ns, 'get', 'hpa', 'shop', '-o', 'json'])) as { spec: { metrics: { resource: { name: string; target: Record<string, unknown> } }[] } };
    expect(after.spec.metrics.map((m) => [m.resource.name, m.resource.target['averageUtilization'] ?? m.resource.target['averageValue']])).toEqual([['cpu', 70], ['memory', '100Mi']]);

    // An autoscaling/v1 manifest: client-side apply (create, then a 3-way merge patch), then server-side apply.
    const hpaFile = join(dir.path, 'hpa-v1.yaml');
    const hpa = (max: number) => `apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: api, namespace: kubectl-e2e}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: shop}\n  maxReplicas: ${max}\n  targetCPUUtilizationPercentage: 50\n`;
    const watch = kubectl.spawn([...ns, 'get', 'horizontalpodautoscalers.v1.autoscaling', '--watch', '--output-watch-events', '-o', 'jsonpath={.type} {.object.apiVersion} {.object.metadata.name} {.object.spec.maxReplicas}{"\\n"}']);
    try {
      writeFileSync(hpaFile, hpa(4));
      expect(await kubectl.ok(['apply', '-f', hpaFile])).toContain('horizontalpodautoscaler.autoscaling/api created');
      writeFileSync(hpaFile, hpa(6));
      expect(await kubectl.ok(['apply', '-f', hpaFile])).toContain('horizontalpodautoscaler.autoscaling/api configured');
      writeFileSync(hpaFile, hpa(7));
      expect(await kubectl.ok(['apply', '--server-side', '--force-conflicts', '-f', hpaFile])).toContain('serverside-applied');
      await waitFor('v1 watch events', () => watch.output().includes('MODIFIED autoscaling/v1 api 7'), { timeoutMs: 10_000 });
      expect(watch.output()).toContain('ADDED autoscaling/v1 api 4');
    } finally {
      watch.child.kill();
    }
    const applied = JSON.parse(await kubectl.ok([...ns, 'get', 'hpa', 'api', '-o', 'json'])) as { spec: { maxReplicas: number; minReplicas: number } };
    expect(applied.spec).toMatchObject({ maxReplicas: 7, minReplicas: 1 });
    // A replace at v1 reports unknown fields as the stored version would (fieldValidation=Warn).
    writeFileSync(hpaFile, hpa(7).replace('  targetCPUUtilizationPercentage: 50\n', '  targetCPUUtilizationPercentage: 50\n  bogus: 1\n'));
    const replaced = await kubectl.run(['replace', '--validate=warn', '-f', hpaFile]);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toContain('unknown field "spec.bogus"');
    expect(await kubectl.ok([...ns, 'delete', 'horizontalpodautoscalers.v1.autoscaling', 'api'])).toContain('deleted');
    const v1Discovery = JSON.parse(await kubectl.ok(['get', '--raw', '/apis/autoscaling'])) as { versions: { version: string }[]; preferredVersion: { version: string } };
    expect(v1Discovery.versions.map((v) => v.version)).toEqual(['v2', 'v1']);
    expect(v1Discovery.preferredVersion.version).toBe('v2');
  });

  it('serves core Events as events.k8s.io/v1 too (note, regarding, reportingController), with its field selectors', async () => {
    const ev = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'checked.1', namespace: 'kubectl-e2e' }, eventTime: '2026-12-01T07:00:00.000000Z', reportingController: 'example.com/checker', reportingInstance: 'checker-1', action: 'Check', reason: 'Checked', type: 'Normal', note: 'all good', regarding: { kind: 'Deployment', namespace: 'kubectl-e2e', name: 'shop', apiVersion: 'apps/v1' } };
    const evFile = join(dir.path, 'event.json');
    writeFileSync(evFile, JSON.stringify(ev));
    expect(await kubectl.ok(['create', '-f', evFile])).toContain('event.events.k8s.io/checked.1 created');
    const core = JSON.parse(await kubectl.ok(['-n', 'kubectl-e2e', 'get', 'events', 'checked.1', '-o', 'json'])) as Record<string, unknown>;
    expect(core).toMatchObject({ apiVersion: 'v1', message: 'all good', reportingComponent: 'example.com/checker', involvedObject: { kind: 'Deployment', name: 'shop' } });
    const listed = JSON.parse(await kubectl.ok(['get', '--raw', '/apis/events.k8s.io/v1/namespaces/kubectl-e2e/events?fieldSelector=regarding.name=shop,reportingController=example.com/checker'])) as { apiVersion: string; items: Record<string, unknown>[] };
    expect(listed.apiVersion).toBe('events.k8s.io/v1');
    expect(listed.items).toEqual([expect.objectContaining({ note: 'all good', regarding: ev.regarding, reportingController: 'example.com/checker', action: 'Check' })]);
    expect(await kubectl.ok(['-n', 'kubectl-e2e', 'events', '--for', 'deployment/shop'])).toMatch(/Normal\s+Checked\s+Deployment\/shop\s+all good/);
  });

  it('deletes what the file created', async () => {
    const out = await kubectl.ok(['delete', '-f', file, '--wait=false']);
    expect(out).toContain('configmap "settings" deleted');
    expect(out).toContain('deployment.apps "shop" deleted');
    const left = await kubectl.run(['-n', 'kubectl-e2e', 'get', 'configmap', 'settings']);
    expect(left.code).not.toBe(0);
    expect(left.stderr).toContain('NotFound');
    const ns = JSON.parse(await kubectl.ok(['get', 'namespace', 'kubectl-e2e', '-o', 'json'])) as { status: { phase: string } };
    expect(ns.status.phase).toBe('Terminating');
  });
});
