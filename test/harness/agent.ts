/**
 * A real agent for end-to-end tests, isolated from whatever else runs on the machine: its containers
 * carry the test label and its own node name (so cleanup removes exactly them), it listens on a port
 * of its own on loopback, and the host-wide features a test did not ask for — the service proxy's VIPs,
 * cluster DNS on the bridge gateway, the Ingress proxy's ports 80/443 — stay off unless its extra
 * arguments turn them on.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientConfig, RestClient } from '@flotilla/client';
import { DockerClient } from '../../packages/agent/src/runtime/docker-client.js';
import { startApiServer, type ApiServerProcess } from './apiserver.js';
import { startControllerManager } from './cluster.js';
import { binPath, killAll, startProcess, tempDir, type RunningProcess } from './processes.js';
import { ensurePauseImage, ensureTestImage, PAUSE_IMAGE, TEST_LABEL } from './test-image.js';

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

/** Removes a test node's memory-backed volumes (the agent's default /dev/shm/flotilla/NODE_NAME, on tmpfs) once its pods are gone. */
export function removeMemoryVolumes(nodeName: string): void {
  rmSync(join('/dev/shm/flotilla', nodeName), { recursive: true, force: true });
}

/** Removes exactly the containers `testContainers` lists. */
export async function removeTestContainers(engine: DockerClient, nodeName: string): Promise<void> {
  for (const c of await testContainers(engine, nodeName)) await engine.removeContainer(c.Id, { force: true }).catch(() => undefined);
}

/**
 * What an agent test runs on: the Docker engine (a client made at once, so a test can look at the
 * engine before `start`), the test images, a temporary directory and an API server in it, and a
 * `RestClient` for that server (made on first use); agents started by `startAgent` run as
 * `nodeName`. `stop` undoes whatever of it was started: the client, every process the test started,
 * exactly the containers of `nodeName` (test label and node name), the engine client, the directory.
 */
export class DockerTestCluster {
  readonly engine = new DockerClient();
  dir!: ReturnType<typeof tempDir>;
  server!: ApiServerProcess;
  private restClient: RestClient | undefined;

  /** `dirPrefix` names the temporary directory; `apiServerSubdir` puts the API server's data in a folder of it; `apiServerArgs` are extra flags of the API server. */
  constructor(
    readonly dirPrefix: string,
    readonly nodeName: string,
    private readonly options: { apiServerSubdir?: string; apiServerArgs?: string[] } = {},
  ) {}

  /**
   * Builds (or reuses) the test images, makes the directory and starts the API server, with the
   * controller manager's service account and root CA publishers: pods mount a token volume, which
   * needs the namespace's `default` ServiceAccount and `kube-root-ca.crt` as on any cluster (a test
   * that starts a whole controller manager runs those two controllers twice, which they allow).
   */
  async start(): Promise<this> {
    await ensureTestImage();
    await ensurePauseImage();
    this.dir = tempDir(this.dirPrefix);
    this.server = await startApiServer(this.options.apiServerSubdir ? join(this.dir.path, this.options.apiServerSubdir) : this.dir.path, { extraArgs: this.options.apiServerArgs ?? [] });
    await startControllerManager(this.server.kubeconfig, ['--controllers', 'serviceaccount,root-ca-cert-publisher', '--leader-elect=false']);
    return this;
  }

  /** A client of the API server with its admin kubeconfig. */
  get client(): RestClient {
    return (this.restClient ??= new RestClient(loadClientConfig({ kubeconfig: this.server.kubeconfig })));
  }

  /** Starts an agent for `nodeName` against the API server (see `startTestAgent`). */
  startAgent(extraArgs: string[] = []): Promise<TestAgent> {
    return startTestAgent(this.server.kubeconfig, this.nodeName, this.dir.path, extraArgs);
  }

  /** The containers the agents made (see `testContainers`). */
  containers(extraLabels: string[] = []): ReturnType<typeof testContainers> {
    return testContainers(this.engine, this.nodeName, extraLabels);
  }

  /** Stops it all; `afterContainers` runs once the processes are gone and the containers removed, before the engine client closes. */
  async stop(afterContainers?: (engine: DockerClient) => Promise<void>): Promise<void> {
    // Processes first: closing the client waits for its requests, which a stuck test may have left open.
    await killAll();
    await this.restClient?.close();
    await removeTestContainers(this.engine, this.nodeName);
    await afterContainers?.(this.engine);
    await this.engine.close();
    this.dir?.remove();
    removeMemoryVolumes(this.nodeName);
  }
}
