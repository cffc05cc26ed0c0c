/**
 * The agent's service proxy end to end, in both modes (userspace, and iptables: kernel DNAT): a real API server, controller manager (for
 * EndpointSlices) and agent on the Docker engine; three busybox httpd pods that answer their own
 * name behind a NodePort Service. The ClusterIP is a local address on the proxy's link; requests
 * from the node and from inside a pod (busybox `nc`) reach every pod; the NodePort answers on
 * 127.0.0.1; a deleted pod and a pod turning not-ready leave the rotation; a LoadBalancer Service
 * gets the node's InternalIP as ingress and answers there; a pod reaches the API server through the
 * `kubernetes` Service with its service account token (a static kubectl mounted into it, in-cluster
 * config, RBAC deciding); deleting a Service removes its VIP.
 *
 * Each mode's agent uses a link of its own (`--proxy-interface`) and a node name of its own (which
 * names its iptables chains); the link, and the iptables chains and jumps of that node only, are
 * removed at the end, so agents of other test runs on this machine are not disturbed. Needs root (for `ip`) and Docker.
 * PROXY_E2E_LOG=debug prints the agent's log (endpoint changes, refused connections) at the end.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { res, RestClient } from '@flotilla/client';
import { detectNodeIP } from '../packages/agent/src/agent.js';
import { cleanupIptables } from '../packages/agent/src/proxy/iptables-rules.js';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import { findStandaloneKubectl } from './harness/kubectl.js';
import { type RunningProcess } from './harness/processes.js';
import { hasDockerSocket, TEST_IMAGE, TEST_LABEL } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const SERVICES = res('services');
const NAMESPACES = res('namespaces');
const NODES = res('nodes');
const SERVICEACCOUNTS = res('serviceaccounts');
const ROLES = res('roles.rbac.authorization.k8s.io');
const ROLEBINDINGS = res('rolebindings.rbac.authorization.k8s.io');
const standaloneKubectl = findStandaloneKubectl();

const isRoot = process.getuid?.() === 0;
const docker = hasDockerSocket();
const NS = 'proxy-e2e';
/** Port 80, served on the VIP next to the Ingress proxy (which listens on the node IP and loopback only). */
const SERVICE_PORT = 80;

interface ServiceView extends KubeObject {
  spec: { clusterIP: string; ports: { port: number; nodePort?: number }[] };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

for (const mode of ['userspace', 'iptables'] as const) {
  const NODE = `proxy-e2e-${mode === 'iptables' ? 'ipt-' : ''}${process.pid}`;
  const IFACE = `fl${mode === 'iptables' ? 'i' : 'p'}${process.pid % 1_000_000}`;
  // A service range of this mode's own: the VIPs (the `kubernetes` Service's first of all) differ from
  // those of other clusters an e2e test runs on this machine at the same time, whose iptables proxy
  // would otherwise also claim them.
  const RANGE_PREFIX = mode === 'iptables' ? '10.97.' : '10.96.';
  const cluster = new DockerTestCluster(`proxy-${mode}`, NODE, { apiServerArgs: ['--service-cluster-ip-range', `${RANGE_PREFIX}0.0/16`] });
  const engine = cluster.engine;
  let server: ApiServerProcess;
  let client: RestClient;
  let agentProcess: RunningProcess | undefined;

  function linkAddresses(): string {
    try {
      return execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', IFACE], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }

  function webPod(name: string): KubeObject {
    return {
      metadata: { name, labels: { app: 'web' } },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: TEST_IMAGE,
            imagePullPolicy: 'Never',
            command: ['sh', '-c', 'mkdir -p /www && echo "$POD_NAME" > /www/index.html && touch /tmp/ready && exec httpd -f -p 80 -h /www'],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [{ containerPort: 80 }],
            readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      },
    };
  }

  /** GET http://host:port/ -> body (trimmed), or `ERR <reason>`. */
  async function get(host: string, port: number): Promise<string> {
    try {
      const r = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(5000) });
      return (await r.text()).trim();
    } catch (err) {
      return `ERR ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`;
    }
  }

  async function getMany(host: string, port: number, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await get(host, port));
    return out;
  }

  /**
 * Answers of `sample` until each of `want` was seen (at most `max`): iptables mode picks endpoints at
 * random (userspace: round robin), so a fixed handful of requests need not reach every pod.
 */
async function spread(sample: () => Promise<string>, want: readonly string[], max = 45): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < max && !want.every((w) => seen.has(w)); i++) seen.add(await sample());
  return seen;
}

async function containerOf(pod: string): Promise<string> {
    const list = (await engine.listContainers({ filters: { label: [`${TEST_LABEL}=true`, `io.kubernetes.pod.namespace=${NS}`, `io.kubernetes.pod.name=${pod}`, 'io.kubernetes.container.name=main'] } })) as { Id: string }[];
    if (!list[0]) throw new Error(`no container of pod ${pod}`);
    return list[0].Id;
  }

  describe.skipIf(!docker || !isRoot)(`service proxy (${mode}) with the Docker engine`, () => {
    let svc: ServiceView;

    beforeAll(async () => {
      ({ server, client } = await cluster.start());
      await startControllerManager(server.kubeconfig);
      const agent = (await cluster.startAgent([
        '--proxy-mode', mode,
        '--proxy-interface', IFACE,
        // Cluster DNS on the node's address, so pods reach the service by name; nothing is forwarded
        // off the machine (the only upstream is a closed loopback port).
        '--enable-dns', 'true',
        '--dns-bind-address', detectNodeIP(),
        '--dns-upstreams', '127.0.0.1:9',
        '--log-level', process.env['PROXY_E2E_LOG'] ?? 'warn',
      ])).process;
      agentProcess = agent;
      await client.create(NAMESPACES, '', { metadata: { name: NS } });
      for (const name of ['web-0', 'web-1', 'web-2']) await client.create(PODS, NS, webPod(name));
      await client.create(PODS, NS, { metadata: { name: 'client' }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } });
      svc = await client.create<ServiceView>(SERVICES, NS, { metadata: { name: 'web' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 80 }] } } as unknown as ServiceView);
    }, 180_000);

    afterAll(async () => {
      if (process.env['PROXY_E2E_LOG']) console.log(agentProcess?.stderr());
      await cluster.stop();
      // iptables mode keeps its rules when the agent stops (like kube-proxy): remove exactly this node's.
      if (mode === 'iptables') await cleanupIptables(NODE);
      // The link is this run's own; nothing else uses it.
      if (linkAddresses() !== '' || execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).includes(`${IFACE}:`)) {
        try {
          execFileSync('ip', ['link', 'del', 'dev', IFACE]);
        } catch {
          // Already gone.
        }
      }
    });

    it('assigns the ClusterIP to the local link and spreads requests from the node over every pod', async () => {
      expect(svc.spec.clusterIP.startsWith(RANGE_PREFIX)).toBe(true);
      await waitFor('the VIP on the proxy link', () => linkAddresses().includes(`inet ${svc.spec.clusterIP}/32`), { timeoutMs: 30_000 });
      await waitFor('all three pods behind the ClusterIP', async () => [...new Set(await getMany(svc.spec.clusterIP, SERVICE_PORT, 9))].sort().join() === 'web-0,web-1,web-2', { timeoutMs: 60_000, intervalMs: 300 });
      const answers = await getMany(svc.spec.clusterIP, SERVICE_PORT, 30);
      expect(new Set(answers)).toEqual(new Set(['web-0', 'web-1', 'web-2']));
    });

    it('serves the ClusterIP to other pods on the bridge', async () => {
      const id = await waitFor('the client container', () => containerOf('client').catch(() => undefined));
      const seen = await spread(async () => {
        const r = await engine.exec(id, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${svc.spec.clusterIP} ${SERVICE_PORT}`], { timeoutMs: 10_000 });
        expect(r.stdout).toMatch(/^HTTP\/1\.[01] 200/);
        return r.stdout.split('\r\n\r\n')[1]?.trim() ?? '';
      }, ['web-0', 'web-1', 'web-2']);
      expect(seen).toEqual(new Set(['web-0', 'web-1', 'web-2']));
    });
    it('serves the ClusterIP to a pod behind it (hairpin)', async () => {
      const id = await containerOf('web-2');
      const seen = new Set<string>();
      // Until it reached itself (1 in 3 per request), every request answered.
      for (let i = 0; i < 30 && !seen.has('web-2'); i++) {
        const r = await engine.exec(id, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${svc.spec.clusterIP} ${SERVICE_PORT}`], { timeoutMs: 10_000 });
        expect(r.stdout).toMatch(/^HTTP\/1\.[01] 200/);
        seen.add(r.stdout.split('\r\n\r\n')[1]?.trim() ?? '');
      }
      expect(seen).toContain('web-2');
    });

    it('serves the service to other pods by its DNS names', async () => {
      const id = await containerOf('client');
      for (const name of [`web.${NS}.svc.cluster.local`, 'web']) {
        const r = await engine.exec(id, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${name} ${SERVICE_PORT}`], { timeoutMs: 10_000 });
        expect(r.stdout).toMatch(/^HTTP\/1\.[01] 200/);
        expect(r.stdout.split('\r\n\r\n')[1]?.trim()).toMatch(/^web-\d$/);
      }
    });

    it('serves the NodePort on 127.0.0.1', async () => {
      const nodePort = svc.spec.ports[0]!.nodePort!;
      expect(nodePort).toBeGreaterThanOrEqual(30000);
      await waitFor('the NodePort', async () => (await getMany('127.0.0.1', nodePort, 6)).every((x) => /^web-\d$/.test(x)));
      const answers = await spread(() => get('127.0.0.1', nodePort), ['web-0', 'web-1', 'web-2']);
      expect(answers).toEqual(new Set(['web-0', 'web-1', 'web-2']));
    });

    it('takes a deleted pod out of rotation within 2 s, with no errors after', async () => {
      await client.delete(PODS, NS, 'web-0');
      const started = Date.now();
      // 15 requests: with random picks (iptables mode) 4 could all miss a pod still in rotation.
      await waitFor('web-0 out of rotation', async () => !(await getMany(svc.spec.clusterIP, SERVICE_PORT, 15)).includes('web-0'), { timeoutMs: 2000, intervalMs: 50 });
      expect(Date.now() - started).toBeLessThan(2500);
      const after = await getMany(svc.spec.clusterIP, SERVICE_PORT, 30);
      expect(new Set(after)).toEqual(new Set(['web-1', 'web-2']));
    });

    it('takes a pod whose readiness probe fails out of rotation', async () => {
      const id = await containerOf('web-1');
      const r = await engine.exec(id, ['rm', '/tmp/ready'], { timeoutMs: 10_000 });
      expect(r.exitCode).toBe(0);
      await waitFor('web-1 out of rotation', async () => !(await getMany(svc.spec.clusterIP, SERVICE_PORT, 15)).includes('web-1'), { timeoutMs: 20_000, intervalMs: 200 });
      const after = await getMany(svc.spec.clusterIP, SERVICE_PORT, 12);
      expect(new Set(after)).toEqual(new Set(['web-2']));
    });

    it('gives a LoadBalancer service the node InternalIP as ingress and serves it there', async () => {
      const node = await client.get<KubeObject & { status: { addresses: { type: string; address: string }[] } }>(NODES, '', NODE);
      const nodeIP = node.status.addresses.find((a) => a.type === 'InternalIP')!.address;
      const port = 20000 + (process.pid % 9000);
      await client.create(SERVICES, NS, { metadata: { name: 'web-lb' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ name: 'http', port, targetPort: 80 }] } });
      const lb = await waitFor('the load balancer ingress', async () => {
        const s = await client.get<ServiceView>(SERVICES, NS, 'web-lb');
        return s.status?.loadBalancer?.ingress?.length ? s : undefined;
      });
      expect(lb.status!.loadBalancer!.ingress!.map((i) => i.ip)).toContain(nodeIP);
      expect(await waitFor('the LB address', async () => {
        const a = await get(nodeIP, port);
        return a === 'web-2' && a;
      })).toBe('web-2');
      expect(await waitFor('the LB NodePort', async () => {
        const a = await get('127.0.0.1', lb.spec.ports[0]!.nodePort!);
        return a === 'web-2' && a;
      })).toBe('web-2');
    });

    it.skipIf(!standaloneKubectl)('lets a pod reach the API server through the kubernetes Service as its service account (kubectl in-cluster)', async () => {
      await client.create(SERVICEACCOUNTS, NS, { metadata: { name: 'reader' } });
      await client.create(PODS, NS, {
        metadata: { name: 'incluster' },
        spec: {
          nodeName: NODE,
          serviceAccountName: 'reader',
          terminationGracePeriodSeconds: 0,
          volumes: [{ name: 'kubectl', hostPath: { path: standaloneKubectl!, type: 'File' } }],
          containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'], env: [{ name: 'HOME', value: '/tmp' }], volumeMounts: [{ name: 'kubectl', mountPath: '/usr/local/bin/kubectl', readOnly: true }] }],
        },
      });
      const id = await waitFor('the in-cluster container', () => containerOf('incluster').catch(() => undefined), { timeoutMs: 60_000 });
      // No kubeconfig: kubectl uses KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA, and verifies the certificate for the ClusterIP.
      const listPods = () => engine.exec(id, ['/usr/local/bin/kubectl', 'get', 'pods', '-o', 'name'], { timeoutMs: 30_000 });
      const denied = await waitFor('an answer from the API server', async () => {
        const r = await listPods();
        return r.stderr.includes('forbidden') ? r : undefined;
      }, { timeoutMs: 30_000 });
      expect(denied.stderr).toContain(`pods is forbidden: User "system:serviceaccount:${NS}:reader" cannot list resource "pods" in API group "" in the namespace "${NS}"`);
      await client.create(ROLES, NS, { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] });
      await client.create(ROLEBINDINGS, NS, { metadata: { name: 'reader-reads-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }] });
      const allowed = await listPods();
      expect(allowed.exitCode).toBe(0);
      expect(allowed.stdout).toContain('pod/incluster');
    }, 120_000);

    it('removes the VIP from the link when the service is deleted', async () => {
      const lb = await client.get<ServiceView>(SERVICES, NS, 'web-lb');
      await client.delete(SERVICES, NS, 'web');
      await waitFor('the VIP removed', () => !linkAddresses().includes(`inet ${svc.spec.clusterIP}/32`), { timeoutMs: 10_000 });
      expect(linkAddresses()).toContain(`inet ${lb.spec.clusterIP}/32`);
      // Not local any more: whatever answers (nothing, or this machine's egress), it is no pod.
      expect(await get(svc.spec.clusterIP, SERVICE_PORT)).not.toMatch(/^web-/);
      if (mode === 'iptables') {
        const nat = execFileSync('iptables', ['-w', '-t', 'nat', '-S'], { encoding: 'utf8' });
        expect(nat).not.toContain(`-d ${svc.spec.clusterIP}/32`);
        expect(nat).toContain(`-d ${lb.spec.clusterIP}/32`);
      }
    });
  });
}
