/**
 * kubectl 1.32+ sends the bodies of its imperative commands (`create <kind>`, `create token`, `run`,
 * `autoscale`, `auth can-i`) as Kubernetes protobuf. Each such kubectl on the machine runs the same commands as the
 * newest kubectl that still sends JSON, each in a namespace of its own, and the objects they create
 * must be the same. Skipped with a printed reason without both kinds of kubectl.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, stopApiServerWithClient, type ApiServerProcess } from './harness/apiserver.js';
import { Kubectl, kubectlVersions } from './harness/kubectl.js';
import { tempDir } from './harness/processes.js';

const minor = (name: string) => (/^1\.(\d+)$/.exec(name) ? Number(name.slice(2)) : undefined);
const versions = kubectlVersions().filter((v) => minor(v.name) !== undefined);
const protobufKubectls = versions.filter((v) => minor(v.name)! >= 32);
const jsonKubectl = versions.filter((v) => minor(v.name)! <= 31).at(-1);
const skip = protobufKubectls.length === 0 || !jsonKubectl;
if (skip) console.warn('skipping kubectl protobuf tests: needs kubectl >= 1.32 and kubectl <= 1.31 (kubectl.1.NN binaries)');

/** The imperative commands, in namespace `ns`, cluster-scoped names suffixed with `tag`. */
function commands(ns: string, tag: string): string[][] {
  return [
    ['create', 'namespace', ns],
    ['-n', ns, 'create', 'configmap', 'settings', '--from-literal=mode=blue', '--from-literal=count=3'],
    ['-n', ns, 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cr3t\n'],
    ['-n', ns, 'create', 'secret', 'docker-registry', 'pull', '--docker-server=registry.local', '--docker-username=u', '--docker-password=p'],
    ['-n', ns, 'create', 'deployment', 'web', '--image=busybox', '--replicas=0', '--port=8080'],
    ['-n', ns, 'create', 'service', 'clusterip', 'web', '--tcp=80:8080'],
    ['-n', ns, 'create', 'service', 'nodeport', 'edge', '--tcp=81:8081'],
    ['-n', ns, 'create', 'service', 'externalname', 'outside', '--external-name=db.example'],
    ['-n', ns, 'autoscale', 'deployment', 'web', '--min=1', '--max=3', '--cpu-percent=50'],
    ['-n', ns, 'create', 'job', 'once', '--image=busybox', '--', 'sleep', '1'],
    ['-n', ns, 'create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/5 * * * *', '--', 'date'],
    ['-n', ns, 'create', 'serviceaccount', 'robot'],
    ['-n', ns, 'create', 'role', 'reader', '--verb=get,list', '--resource=pods,configmaps'],
    ['-n', ns, 'create', 'rolebinding', 'readers', '--role=reader', '--user=bob', `--serviceaccount=${ns}:robot`],
    ['-n', ns, 'create', 'quota', 'small', '--hard=pods=5,services=5,count/configmaps=10'],
    ['-n', ns, 'create', 'poddisruptionbudget', 'web', '--selector=app=web', '--min-available=0'],
    ['-n', ns, 'create', 'ingress', 'site', '--rule=a.example/x*=web:80,tls=site-cert', '--rule=b.example/=edge:81'],
    ['-n', ns, 'run', 'one', '--image=busybox', '--restart=Never', '--env=A=1', '--labels=x=y', '--', 'sleep', '1'],
    ['create', 'clusterrole', `nodes-${tag}`, '--verb=list', '--resource=nodes'],
    ['create', 'clusterrolebinding', `nodes-${tag}`, `--clusterrole=nodes-${tag}`, '--group=ops'],
    ['create', 'priorityclass', `high-${tag}`, '--value=1000', '--description=important'],
  ];
}

/** The objects the commands create: [resource, name, namespaced]. */
const OBJECTS: [string, string, boolean][] = [
  ['configmaps', 'settings', true],
  ['secrets', 'creds', true],
  ['secrets', 'pull', true],
  ['deployments.apps', 'web', true],
  ['services', 'web', true],
  ['services', 'edge', true],
  ['services', 'outside', true],
  ['horizontalpodautoscalers.autoscaling', 'web', true],
  ['jobs.batch', 'once', true],
  ['cronjobs.batch', 'tick', true],
  ['serviceaccounts', 'robot', true],
  ['roles.rbac.authorization.k8s.io', 'reader', true],
  ['rolebindings.rbac.authorization.k8s.io', 'readers', true],
  ['resourcequotas', 'small', true],
  ['poddisruptionbudgets.policy', 'web', true],
  ['ingresses.networking.k8s.io', 'site', true],
  ['pods', 'one', true],
  ['clusterroles.rbac.authorization.k8s.io', 'nodes', false],
  ['clusterrolebindings.rbac.authorization.k8s.io', 'nodes', false],
  ['priorityclasses.scheduling.k8s.io', 'high', false],
];

/** An object without what differs between two creations (identity, times, server-assigned addresses and names). */
function comparable(text: string, ns: string, tag: string): unknown {
  const o = JSON.parse(text) as Record<string, any>;
  const { metadata } = o;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'namespace', 'selfLink']) delete metadata[k];
  metadata.name = String(metadata.name).replace(`-${tag}`, '');
  delete o['status'];
  if (o['kind'] === 'Service') {
    for (const k of ['clusterIP', 'clusterIPs']) delete o['spec'][k];
    for (const p of o['spec'].ports ?? []) delete p.nodePort;
  }
  if (o['kind'] === 'Job') {
    // The selector and template labels carry the Job's uid.
    delete o['spec'].selector;
    delete o['spec'].template.metadata.labels;
  }
  // The service account admission names a pod's token volume with a random suffix.
  return JSON.parse(JSON.stringify(o).replaceAll(ns, 'NS').replaceAll(`-${tag}`, '').replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-*'));
}

describe.skipIf(skip)('kubectl protobuf request bodies', () => {
  let server: ApiServerProcess;
  let dir: ReturnType<typeof tempDir>;
  let admin: Kubectl;

  beforeAll(async () => {
    dir = tempDir('kubectl-protobuf');
    server = await startApiServer(join(dir.path, 'data'));
    admin = new Kubectl(jsonKubectl!.path, server.kubeconfig, join(dir.path, 'json'));
    for (const args of commands('via-json', 'json')) await admin.ok(args);
  });

  afterAll(() => stopApiServerWithClient({ server, dir }));

  for (const v of protobufKubectls) {
    describe(`kubectl ${v.name}`, () => {
      const ns = `via-${v.name.replace('.', '-')}`;
      const tag = `v${v.name.replace('.', '')}`;
      let kubectl: Kubectl;

      beforeAll(() => {
        kubectl = new Kubectl(v.path, server.kubeconfig, join(dir.path, v.name));
      });

      it('sends protobuf, and each imperative create succeeds', async () => {
        const verbose = await kubectl.run(['create', 'namespace', `probe-${tag}`, '-v=8']);
        expect(verbose.code, verbose.stderr).toBe(0);
        expect(verbose.stderr).toMatch(/Content-Type: application\/vnd\.kubernetes\.protobuf/);
        for (const args of commands(ns, tag)) {
          const r = await kubectl.run(args);
          expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
        }
      });

      it('creates the same objects as the JSON kubectl', async () => {
        for (const [resource, name, namespaced] of OBJECTS) {
          const get = (namespace: string, suffix: string) => admin.ok([...(namespaced ? ['-n', namespace] : []), 'get', resource, namespaced ? name : `${name}-${suffix}`, '-o', 'json', '--show-managed-fields']);
          const viaJson = comparable(await get('via-json', 'json'), 'via-json', 'json');
          const viaProtobuf = comparable(await get(ns, tag), ns, tag);
          expect(viaProtobuf, `${resource}/${name}`).toEqual(viaJson);
        }
      });

      it('requests tokens and access reviews', async () => {
        const token = (await kubectl.ok(['-n', ns, 'create', 'token', 'robot', '--duration=10m', '--audience=api'])).trim();
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { aud: string[]; exp: number; iat: number; sub: string };
        expect(claims.sub).toBe(`system:serviceaccount:${ns}:robot`);
        expect(claims.aud).toEqual(['api']);
        expect(claims.exp - claims.iat).toBe(600);
        expect((await kubectl.ok(['auth', 'can-i', 'list', 'pods', '-n', ns])).trim()).toBe('yes');
        const bob = await kubectl.run(['auth', 'can-i', 'delete', 'pods', '-n', ns, '--as=bob']);
        expect(bob.stdout.trim()).toBe('no');
        expect((await kubectl.ok(['auth', 'can-i', 'list', 'pods', '-n', ns, '--as=bob'])).trim()).toBe('yes');
      });

      it('deletes with a protobuf DeleteOptions body', async () => {
        await kubectl.ok(['-n', ns, 'delete', 'configmap', 'settings', '--grace-period=0']);
        const gone = await admin.run(['-n', ns, 'get', 'configmap', 'settings']);
        expect(gone.stderr).toMatch(/NotFound/);
      });
    });
  }
});
