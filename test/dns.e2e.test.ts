/**
 * Cluster DNS served by the agent, end to end: an API server, the controller manager (which keeps
 * EndpointSlices) and the agent as real processes; pods on the real Docker engine resolve service,
 * headless and pod names with busybox `nslookup` through the agent's DNS server, which forwards other
 * names to a fake upstream resolver on 127.0.0.1 (never a real outside resolver). The test process
 * also queries the server directly over UDP and TCP.
 *
 * The agent listens on the node's own address (`--dns-bind-address`) rather than the bridge gateway,
 * so that another agent holding port 53 on the gateway does not collide with this one. Every
 * container the agent creates carries `io.flotilla.test=true` and this run's node name; the suite
 * removes exactly those.
 */
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeObject } from '@flotilla/api';
import { res, RestClient } from '@flotilla/client';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { detectNodeIP } from '../packages/agent/src/agent.js';
import { dockerBridgeGateway } from '../packages/agent/src/dns/node-dns.js';
import { UpstreamForwarder } from '../packages/agent/src/dns/upstream-forwarder.js';
import { DockerTestCluster } from './harness/agent.js';
import { type ApiServerProcess } from './harness/apiserver.js';
import { startControllerManager } from './harness/cluster.js';
import { startFakeUpstream, type FakeUpstream } from './harness/fake-dns-upstream.js';
import { hasDockerSocket, TEST_IMAGE } from './harness/test-image.js';
import { waitFor } from './harness/wait-for.js';

const PODS = res('pods');
const SERVICES = res('services');
const NAMESPACES = res('namespaces');

const docker = hasDockerSocket();
const NODE = `dns-e2e-${process.pid}`;
const NS = 'dns';

interface PodView extends KubeObject {
  status?: { phase?: string; podIP?: string; containerStatuses?: { containerID?: string; ready: boolean }[] };
}

const cluster = new DockerTestCluster('dns', NODE);
const engine = cluster.engine;
let server: ApiServerProcess;
let client: RestClient;
let upstream: FakeUpstream;
let dnsIP: string;

function pod(name: string, labels: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject {
  return { metadata: { name, labels }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: TEST_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }], ...spec } };
}

async function runningPod(name: string): Promise<PodView> {
  return waitFor(`pod ${name} running`, async () => {
    const p = await client.get<PodView>(PODS, NS, name);
    return p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready && p.status.podIP ? p : undefined;
  }, { timeoutMs: 60_000 });
}

/** `nslookup ARGS` inside the client pod's container. */
async function nslookup(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const p = await client.get<PodView>(PODS, NS, 'client');
  const id = p.status!.containerStatuses![0]!.containerID!.replace('docker://', '');
  return engine.exec(id, ['nslookup', ...args], { timeoutMs: 30_000 });
}

/** The addresses in busybox nslookup's answer section (after the server's own lines). */
function answered(stdout: string): string[] {
  const body = stdout.split(/\n\s*\n/).slice(1).join('\n');
  return [...body.matchAll(/^Address:\s*(\S+)/gm)].map((m) => m[1]!).sort();
}

async function query(name: string, type: 'A' | 'SRV', tcp: boolean): Promise<DecodedPacket & { rcode?: string }> {
  const msg = dnsPacket.encode({ id: 99, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] });
  return dnsPacket.decode(await new UpstreamForwarder([{ address: dnsIP, port: 53 }], { timeoutMs: 3000 }).forward(msg, { tcp }));
}

describe.skipIf(!docker)('cluster DNS served by the agent', () => {
  let webIP: string;
  let dbIPs: string[];

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    ({ server, client } = await cluster.start());
    await startControllerManager(server.kubeconfig);
    dnsIP = detectNodeIP();
    const agent = (await cluster.startAgent(['--enable-dns', 'true', '--dns-bind-address', dnsIP, '--dns-upstreams', `127.0.0.1:${upstream.port}`])).process;
    expect(agent.stderr()).not.toMatch(/cluster dns not started/);

    await client.create(NAMESPACES, '', { metadata: { name: NS } });
    await client.create(SERVICES, NS, { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    await client.create(SERVICES, NS, { metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] } });
    await client.create(PODS, NS, pod('web-a', { app: 'web' }));
    await client.create(PODS, NS, pod('db-0', { app: 'db' }, { hostname: 'db-0', subdomain: 'db' }));
    await client.create(PODS, NS, pod('db-1', { app: 'db' }, { hostname: 'db-1', subdomain: 'db' }));
    await client.create(PODS, NS, pod('client', { app: 'client' }));
    webIP = (await client.get<KubeObject & { spec: { clusterIP: string } }>(SERVICES, NS, 'web')).spec.clusterIP;
    dbIPs = (await Promise.all(['db-0', 'db-1', 'web-a', 'client'].map(runningPod))).slice(0, 2).map((p) => p.status!.podIP!).sort();
  }, 180_000);

  afterAll(async () => {
    await cluster.stop();
    await upstream?.close();
  });

  it('finds the Docker bridge gateway as the default listen address', async () => {
    const gw = await dockerBridgeGateway(engine);
    expect(gw && isIPv4(gw)).toBe(true);
    // When the engine runs on this machine, the gateway is one of its addresses (so the agent can bind it).
    const local = Object.values(networkInterfaces()).flatMap((l) => l ?? []).map((a) => a.address);
    if (local.some((a) => a.startsWith('172.17.'))) expect(local).toContain(gw);
  });

  it('gives pods a resolv.conf naming the agent, the search path and ndots:5', async () => {
    const p = await client.get<PodView>(PODS, NS, 'client');
    const r = await engine.exec(p.status!.containerStatuses![0]!.containerID!.replace('docker://', ''), ['cat', '/etc/resolv.conf']);
    expect(r.stdout).toContain(`nameserver ${dnsIP}`);
    expect(r.stdout).toMatch(new RegExp(`search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`));
    expect(r.stdout).toContain('ndots:5');
  });

  it('resolves a service by its full name and through the search path', async () => {
    // busybox nslookup applies the search path to dotless names only.
    for (const name of [`web.${NS}.svc.cluster.local`, 'web']) {
      const r = await waitFor(`nslookup ${name}`, async () => {
        const out = await nslookup(name);
        return answered(out.stdout).includes(webIP) ? out : undefined;
      }, { timeoutMs: 20_000 });
      expect(answered(r.stdout), name).toEqual([webIP]);
    }
  });

  it('resolves a headless service to its pods and a pod by hostname.subdomain', async () => {
    const all = await waitFor('headless endpoints', async () => {
      const out = await nslookup(`db.${NS}.svc.cluster.local`);
      return answered(out.stdout).length === 2 ? out : undefined;
    }, { timeoutMs: 30_000 });
    expect(answered(all.stdout)).toEqual(dbIPs);
    const one = await client.get<PodView>(PODS, NS, 'db-0');
    expect(answered((await nslookup(`db-0.db.${NS}.svc.cluster.local`)).stdout)).toEqual([one.status!.podIP!]);
    expect(answered((await nslookup(`${one.status!.podIP!.replace(/\./g, '-')}.${NS}.pod.cluster.local`)).stdout)).toEqual([one.status!.podIP!]);
  });

  it('answers NXDOMAIN for an unknown name in the cluster domain', async () => {
    const r = await nslookup(`nope.${NS}.svc.cluster.local`);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/NXDOMAIN/);
  });

  it('forwards other names to the upstream resolver', async () => {
    const r = await nslookup('www.example.test');
    expect(answered(r.stdout)).toEqual(['192.0.2.7']);
    expect(upstream.queries).toContainEqual(expect.stringMatching(/^(udp|tcp) www\.example\.test A$/));
  });

  it('answers the test process directly over UDP and TCP', async () => {
    for (const tcp of [false, true]) {
      const a = await query(`web.${NS}.svc.cluster.local`, 'A', tcp);
      expect(a.rcode).toBe('NOERROR');
      expect(a.answers?.map((x) => x.data)).toEqual([webIP]);
      const srv = await query(`_http._tcp.web.${NS}.svc.cluster.local`, 'SRV', tcp);
      expect(srv.answers?.map((x) => x.data)).toEqual([expect.objectContaining({ port: 80, target: `web.${NS}.svc.cluster.local` })]);
      const nx = await query(`nope.${NS}.svc.cluster.local`, 'A', tcp);
      expect(nx.rcode).toBe('NXDOMAIN');
      expect(nx.authorities?.[0]?.type).toBe('SOA');
      const fwd = await query('api.example.test', 'A', tcp);
      expect(fwd.answers?.map((x) => x.data)).toEqual(['192.0.2.7']);
    }
  });
});
