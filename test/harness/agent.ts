/**
 * A real agent for end-to-end tests, isolated from whatever else runs on the machine: its containers
 * carry the test label and its own node name (so cleanup removes exactly them), it listens on a port
 * of its own on loopback, and the host-wide features a test did not ask for — the service proxy's VIPs,
 * cluster DNS on the bridge gateway, the Ingress proxy's ports 80/443 — stay off unless its extra
 * arguments turn them on.
 */
import { join } from 'node:path';
import { DockerClient } from '../../packages/agent/src/runtime/docker-client.js';
import { binPath, startProcess, type RunningProcess } from './processes.js';
import { PAUSE_IMAGE, TEST_LABEL } from './test-image.js';

/** A started agent. */
export interface TestAgent {
  process: RunningProcess;
  nodeName: string;
  /** `https://127.0.0.1:PORT` of its endpoint. */
  url: string;
}

/** Flags that keep an agent from touching host-wide state; a test's own flags override them. */
const ISOLATION: Record<string, string> = {
  '--node-ip': '127.0.0.1',
  '--bind-address': '127.0.0.1',
  '--port': '0',
  '--proxy-mode': 'none',
  '--enable-dns': 'false',
  '--ingress-http-port': '0',
  '--ingress-https-port': '0',
  '--log-level': 'warn',
};

/** Starts `flotilla-agent` for `nodeName` with its state in `dataDir`; resolves once it runs. */
export async function startTestAgent(kubeconfig: string, nodeName: string, dataDir: string, extraArgs: string[] = []): Promise<TestAgent> {
  const given = new Set(extraArgs.filter((a) => a.startsWith('--')));
  const defaults = Object.entries(ISOLATION).filter(([flag]) => !given.has(flag)).flat();
  const p = startProcess(binPath('agent', 'flotilla-agent'), [
    '--kubeconfig', kubeconfig,
    '--node-name', nodeName,
    '--data-dir', join(dataDir, 'agent'),
    '--pod-infra-image', PAUSE_IMAGE,
    '--container-labels', `${TEST_LABEL}=true`,
    ...defaults,
    ...extraArgs,
  ]);
  const m = await p.waitForOutput(/agent running on (https?:\/\/\S+)/, 90_000);
  return { process: p, nodeName, url: m[1]! };
}

/** The containers the test's agents made on `nodeName` (test label and node), optionally filtered further. */
export async function testContainers(engine: DockerClient, nodeName: string, extraLabels: string[] = []): Promise<{ Id: string; State: string; Labels: Record<string, string> }[]> {
  return (await engine.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=true`, `io.flotilla.node=${nodeName}`, ...extraLabels] } })) as never;
}

/** Removes exactly the containers `testContainers` lists. */
export async function removeTestContainers(engine: DockerClient, nodeName: string): Promise<void> {
  for (const c of await testContainers(engine, nodeName)) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
}
