/**
 * flctl against a real flotilla-apiserver with a controller manager, scheduler and hollow nodes:
 * multi-document apply and a changed re-apply (3-way merge), get in every output format (headers
 * compared with stock kubectl when installed), label/annotate/scale, describe with Events, rollout
 * history/undo, wait --for=delete, delete -f, errors and exit codes, logs (skipped until the API
 * server serves pods/log).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager, startHollowNodes, startScheduler } from './harness/cluster.js';
import { findKubectl, Kubectl } from './harness/kubectl.js';
import { shopManifest } from './harness/manifests.js';
import { REPO_ROOT, tempDir } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';

const FLCTL = join(REPO_ROOT, 'packages', 'cli', 'bin', 'flctl.js');
const NS = 'flctl-e2e';
const kubectlPath = findKubectl();

const manifest = (replicas: number, mode: string, stale: boolean) => shopManifest({ namespace: NS, replicas, mode, stale, staleEnv: true });

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('flctl against flotilla', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let kubectl: Kubectl | undefined;

  const run = (args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<Result> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, [FLCTL, '--kubeconfig', server.kubeconfig, ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await run(args, input);
    if (r.code !== 0) throw new Error(`flctl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  beforeAll(async () => {
    dir = tempDir('flctl');
    server = await startApiServer(join(dir.path, 'data'));
    await startHollowNodes(server.kubeconfig, 2, ['--name-prefix', 'flctl-node-', '--pod-start-delay', '50']);
    await startScheduler(server.kubeconfig);
    await startControllerManager(server.kubeconfig, ['--controllers', '*,-cronjob']);
    if (kubectlPath) kubectl = new Kubectl(kubectlPath, server.kubeconfig, dir.path);
    file = join(dir.path, 'app.yaml');
    await ok(['create', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n`);
  }, 180_000);

  afterAll(() => stopApiServerWithClient({ server, dir }));

  it('applies a multi-document YAML, then re-applies a changed file with a 3-way merge', async () => {
    writeFileSync(file, manifest(2, 'blue', true));
    const out = await ok(['apply', '-f', file]);
    expect(out).toBe('configmap/settings created\ndeployment.apps/shop created\nservice/shop created\n');
    expect(await ok(['apply', '-f', file])).toContain('configmap/settings unchanged');
    await ok(['-n', NS, 'label', 'configmap', 'settings', 'owner=ops']);
    writeFileSync(file, manifest(3, 'green', false));
    const again = await ok(['apply', '-f', file]);
    expect(again).toContain('configmap/settings configured');
    expect(again).toContain('deployment.apps/shop configured');
    expect(again).toContain('service/shop unchanged');
    const cm = JSON.parse(await ok(['-n', NS, 'get', 'cm', 'settings', '-o', 'json'])) as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(cm.metadata.labels).toEqual({ app: 'shop', owner: 'ops' });
    expect(cm.data).toEqual({ mode: 'green' });
    const env = await ok(['-n', NS, 'get', 'deploy', 'shop', '-o', 'jsonpath={.spec.template.spec.containers[0].env[*].name} {.spec.replicas}']);
    expect(env).toBe('MODE 3');
    if (kubectl) expect(await kubectl.ok(['apply', '-f', file])).toContain('configmap/settings unchanged');
  });

  it('prints the same table headers as kubectl', async () => {
    const cases = [['deployments'], ['svc'], ['cm'], ['nodes'], ['pods'], ['deployments', '-o', 'wide'], ['pods', '-o', 'wide']];
    await waitFor('pods', async () => (await ok(['-n', NS, 'get', 'pods', '-o', 'name'])).trim() !== '');
    for (const c of cases) {
      const mine = (await ok(['-n', NS, 'get', ...c])).split('\n')[0]!;
      expect(mine).toMatch(/^NAME\s/);
      if (kubectl) expect(mine.split(/\s{3,}/)).toEqual((await kubectl.ok(['-n', NS, 'get', ...c])).split('\n')[0]!.split(/\s{3,}/));
    }
    const deps = await ok(['-n', NS, 'get', 'deployments']);
    expect(deps).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nshop\s+\d\/3\s+\d\s+\d\s+\d+s\n$/);
    const multi = await ok(['-n', NS, 'get', 'deploy,svc']);
    expect(multi).toMatch(/deployment\.apps\/shop/);
    expect(multi).toMatch(/\n\nNAME\s+TYPE\s+CLUSTER-IP/);
    const all = await ok(['get', 'all', '-A']);
    expect(all).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS/);
    expect(all).toContain('service/kubernetes');
    const sorted = await ok(['get', 'ns', '--sort-by=.metadata.name', '-o', 'name']);
    expect(sorted.trim().split('\n')).toEqual([...sorted.trim().split('\n')].sort());
  });

  it('prints yaml, json, name, jsonpath and selected objects', async () => {
    expect(await ok(['-n', NS, 'get', 'cm', 'settings', '-o', 'yaml'])).toMatch(/^apiVersion: v1\ndata:\n  mode: green\nkind: ConfigMap\n/);
    const list = JSON.parse(await ok(['-n', NS, 'get', 'deploy,svc', '-o', 'json'])) as { kind: string; items: { kind: string }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.kind)).toEqual(['Deployment', 'Service']);
    expect(await ok(['-n', NS, 'get', 'deploy,svc,cm', '-l', 'app=shop', '-o', 'name'])).toBe('configmap/settings\n');
    expect(await ok(['-n', NS, 'get', 'svc', '--field-selector', 'metadata.name=shop', '-o', 'jsonpath={range .items[*]}{.metadata.name}:{.spec.ports[0].port}{"\\n"}{end}'])).toBe('shop:80\n');
    const none = await run(['-n', NS, 'get', 'secrets', '-l', 'nothing=here']);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toBe(`No resources found in ${NS} namespace.\n`);
  });

  it('labels, annotates and scales', async () => {
    expect(await ok(['-n', NS, 'label', 'svc/shop', 'tier=web'])).toBe('service/shop labeled\n');
    const clash = await run(['-n', NS, 'label', 'svc/shop', 'tier=db']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe("error: 'tier' already has a value (web), and --overwrite is false\n");
    expect(await ok(['-n', NS, 'label', 'svc/shop', 'tier=db', '--overwrite'])).toBe('service/shop labeled\n');
    expect(await ok(['-n', NS, 'annotate', 'svc', 'shop', 'note=hello'])).toBe('service/shop annotated\n');
    expect(await ok(['-n', NS, 'get', 'svc', 'shop', '-o', 'jsonpath={.metadata.labels.tier} {.metadata.annotations.note}'])).toBe('db hello');
    expect(await ok(['-n', NS, 'label', 'svc/shop', 'tier-'])).toBe('service/shop labeled\n');
    expect(await ok(['-n', NS, 'scale', 'deployment', 'shop', '--replicas=2'])).toBe('deployment.apps/shop scaled\n');
    expect(await ok(['-n', NS, 'get', 'deploy', 'shop', '-o', 'jsonpath={.spec.replicas}'])).toBe('2');
  });

  it('waits for a rollout, shows history and undoes to the previous revision', async () => {
    const status = await ok(['-n', NS, 'rollout', 'status', 'deployment/shop', '--timeout=90s']);
    expect(status).toContain('deployment "shop" successfully rolled out');
    const hist = await ok(['-n', NS, 'rollout', 'history', 'deployment/shop']);
    expect(hist).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
    expect(await ok(['-n', NS, 'rollout', 'undo', 'deployment/shop'])).toBe('deployment.apps/shop rolled back\n');
    await waitFor('rolled back template', async () => (await ok(['-n', NS, 'get', 'deploy', 'shop', '-o', 'jsonpath={.spec.template.spec.containers[0].env[*].name}'])) === 'MODE OLD');
    await ok(['-n', NS, 'rollout', 'status', 'deploy', 'shop', '--timeout=90s']);
    expect(await ok(['-n', NS, 'rollout', 'history', 'deploy/shop'])).toMatch(/2\s+<none>\n3\s+<none>/);
    expect(await ok(['-n', NS, 'rollout', 'restart', 'deploy/shop'])).toBe('deployment.apps/shop restarted\n');
  });

  it('edits an object in $EDITOR, cancels when nothing changed, and refuses a stale edit', async () => {
    await ok(['-n', NS, 'create', '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edited\ndata:\n  color: blue\n`);
    const edit = await run(['-n', NS, 'edit', 'configmap', 'edited'], undefined, { KUBE_EDITOR: "sed -i 's/color: blue/color: green/'" });
    expect(edit.stdout).toBe('configmap/edited edited\n');
    expect(await ok(['-n', NS, 'get', 'cm', 'edited', '-o', 'jsonpath={.data.color}'])).toBe('green');
    const unchanged = await run(['-n', NS, 'edit', 'cm/edited'], undefined, { EDITOR: 'true' });
    expect(unchanged.code).toBe(0);
    expect(unchanged.stderr).toContain('Edit cancelled, no changes made.');
    // The object changes while the editor is open: the edit is refused with a conflict.
    const stale = await run(['-n', NS, 'edit', 'cm/edited'], undefined, { EDITOR: `sh -c 'node ${FLCTL} --kubeconfig ${server.kubeconfig} -n ${NS} label cm edited touched=yes >/dev/null && sed -i "s/color: green/color: red/" "$0"'` });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/Conflict|the object has been modified/);
    expect(await ok(['-n', NS, 'get', 'cm', 'edited', '-o', 'jsonpath={.data.color}'])).toBe('green');
  });

  it('describes a deployment and a pod with their Events', async () => {
    const d = await ok(['-n', NS, 'describe', 'deployment', 'shop']);
    expect(d).toMatch(/^Name:\s+shop\nNamespace:\s+flctl-e2e\n/);
    expect(d).toMatch(/Replicas:\s+\d+ desired \| \d+ updated/);
    await waitFor('deployment events', async () => /ScalingReplicaSet/.test(await ok(['-n', NS, 'describe', 'deploy/shop'])));
    const pod = (await ok(['-n', NS, 'get', 'pods', '-o', 'name'])).split('\n')[0]!;
    await waitFor('pod events', async () => /Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n[\s\S]*Scheduled/.test(await ok(['-n', NS, 'describe', pod])));
    expect(await ok(['-n', NS, 'describe', 'svc', 'shop'])).toMatch(/Port:\s+http\s+80\/TCP/);
  });

  it('reports errors like kubectl with exit code 1', async () => {
    const missing = await run(['-n', NS, 'get', 'pod', 'nope']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('Error from server (NotFound): pods "nope" not found\n');
    const unknown = await run(['get', 'frobs']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: the server doesn\'t have a resource type "frobs"\n');
    const dup = await run(['create', '-f', file]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^Error from server \(AlreadyExists\): error when creating ".*app\.yaml": configmaps "settings" already exists\n/);
    expect((await run(['-n', NS, 'get', 'pod', 'nope', '--ignore-not-found'])).code).toBe(0);
  });

  it('streams logs when the server serves pods/log', async (ctx) => {
    await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Pod\nmetadata:\n  name: talker\n  namespace: ${NS}\nspec:\n  containers:\n  - name: main\n    image: busybox:1.36\n`);
    await ok(['-n', NS, 'wait', '--for=condition=Ready', 'pod/talker', '--timeout=60s']);
    const r = await run(['-n', NS, 'logs', 'talker', '--tail=5']);
    // Servers without pods/log answer 404/405/503; hollow nodes run no agent to proxy logs from.
    if (r.code !== 0 && /\((NotFound|MethodNotAllowed|ServiceUnavailable)\)|no agent address/.test(r.stderr)) ctx.skip();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('waits for deletion and deletes from a file', async () => {
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: doomed\n  namespace: ${NS}\n`;
    await ok(['apply', '-f', '-'], cm);
    const waiter = run(['-n', NS, 'wait', '--for=delete', 'configmap/doomed', '--timeout=30s']);
    await ok(['-n', NS, 'delete', 'configmap', 'doomed']);
    expect(await waiter).toMatchObject({ code: 0, stdout: 'configmap/doomed condition met\n' });
    const timeout = await run(['-n', NS, 'wait', '--for=delete', 'svc/shop', '--timeout=1s']);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toBe('error: timed out waiting for the condition on services/shop\n');
    const del = await ok(['delete', '-f', file]);
    expect(del).toBe('configmap "settings" deleted\ndeployment.apps "shop" deleted\nservice "shop" deleted\n');
    expect(await ok(['-n', NS, 'get', 'deploy,svc,cm', '-l', 'app=shop', '-o', 'name'])).toBe('');
  });
});
