/**
 * `flotilla server`: the whole single-machine cluster as supervised child processes — API server,
 * scheduler, controller manager and (with Docker) a local agent — started in that order and
 * stopped in reverse.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_PAUSE_IMAGE, DockerClient, ensurePauseImage } from '@flotilla/agent';
import pino, { type Logger } from 'pino';
import { componentBin } from './components.js';
import { Supervised, type ComponentSpec } from './supervisor.js';
import { completeJoinToken, ensureJoinToken, joinTokenPath } from './token.js';

/** Options of {@link runServer}. */
export interface ServerOptions {
  dataDir: string;
  /** 0 picks a free port (kept across API server restarts). */
  securePort: number;
  bindAddress?: string;
  nodeName: string;
  disableAgent: boolean;
  /** The agent's sandbox image; without it `flotilla/pause:1` is built locally. */
  podInfraImage?: string;
  logLevel: string;
  agentPort: number;
  /** Extra arguments appended to the agent's. */
  agentArgs: string[];
  dockerSocket: string;
  /** How long each component has to come up (default 60 s). */
  startTimeoutMs?: number;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

function externalIPv4s(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => !!a && a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

/** Why the local agent cannot run here, or undefined when it can (the pause image is then ready). */
async function prepareAgent(options: ServerOptions, logger: Logger): Promise<{ image: string } | { reason: string }> {
  if (!existsSync(options.dockerSocket)) return { reason: `Docker is not available (no socket at ${options.dockerSocket})` };
  const client = new DockerClient({ socketPath: options.dockerSocket, requestTimeoutMs: 5_000 });
  try {
    try {
      await client.ping();
    } catch (err) {
      return { reason: `Docker is not available at ${options.dockerSocket}: ${(err as Error).message}` };
    }
    if (options.podInfraImage) return { image: options.podInfraImage };
    try {
      logger.info({ image: DEFAULT_PAUSE_IMAGE }, 'making sure the pause image exists');
      return { image: await ensurePauseImage(client, DEFAULT_PAUSE_IMAGE) };
    } catch (err) {
      return { reason: `could not build the pause image ${DEFAULT_PAUSE_IMAGE}: ${(err as Error).message}` };
    }
  } finally {
    await client.close();
  }
}

/** Runs the cluster until SIGTERM/SIGINT/SIGHUP, then exits the process (0 after a clean stop). */
export async function runServer(options: ServerOptions): Promise<void> {
  const dataDir = resolve(options.dataDir);
  const runDir = join(dataDir, 'run');
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  mkdirSync(runDir, { recursive: true });
  const logger = pino({ level: options.logLevel, base: { component: 'flotilla' } }, pino.destination(2));
  const bootstrapToken = ensureJoinToken(dataDir);

  const started: Supervised[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    for (const s of [...started].reverse()) await s.stop();
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing the components');
      for (const s of started) s.killNow();
      return;
    }
    stopping = true;
    logger.info({ signal }, 'stopping the components');
    void stopAll(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, onSignal);
  // Never leave children behind, whatever ends the launcher.
  process.on('exit', () => {
    for (const s of started) s.killNow();
  });
  const supervise = (spec: ComponentSpec): Supervised => {
    const s = new Supervised(spec, { logger, runDir });
    started.push(s);
    s.start();
    return s;
  };
  const fail = async (err: unknown): Promise<never> => {
    // A signal arrived during start-up: the stop already in progress decides the exit code.
    if (stopping) return new Promise<never>(() => undefined);
    logger.fatal({ err }, 'the cluster did not come up');
    process.stderr.write(`flotilla: ${(err as Error).message}\n`);
    stopping = true;
    return stopAll(1);
  };
  const common = ['--log-level', options.logLevel];
  const wildcard = options.bindAddress !== undefined && WILDCARDS.has(options.bindAddress);
  const externals = wildcard ? externalIPv4s() : [];

  // 1. The API server; with --secure-port 0 the port it picked is kept for its restarts.
  let port = options.securePort;
  const apiserver = supervise({
    name: 'apiserver',
    script: componentBin('apiserver', 'flotilla-apiserver'),
    args: () => [
      '--data-dir', dataDir,
      '--secure-port', String(port),
      ...(options.bindAddress ? ['--bind-address', options.bindAddress] : []),
      ...externals.flatMap((ip) => ['--tls-san', ip]),
      '--join-token-file', joinTokenPath(dataDir),
      ...common,
    ],
    ready: /listening on (https:\/\/\S+)/,
  });
  let apiUrl: string;
  let token: string;
  try {
    apiUrl = (await apiserver.waitReady(startTimeoutMs))[1]!;
    if (!existsSync(kubeconfig)) throw new Error(`the API server did not write ${kubeconfig}`);
    // The CA exists now: the token file gets its secure form, which pins it.
    token = completeJoinToken(dataDir, bootstrapToken, readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8'));
  } catch (err) {
    return fail(err);
  }
  port = Number(new URL(apiUrl).port);
  apiserver.supervise = true;
  if (stopping) return;

  // 2. Scheduler and controller manager.
  const clientArgs = ['--kubeconfig', kubeconfig, '--port', '0', ...common];
  // The controller manager signs long-lived service account tokens with the API server's key.
  const controllerManagerArgs = [...clientArgs, '--service-account-private-key-file', join(dataDir, 'pki', 'sa.key')];
  for (const [name, pkg, bin, ready, args] of [
    ['scheduler', 'scheduler', 'flotilla-scheduler', /scheduler running/, clientArgs],
    ['controller-manager', 'controller-manager', 'flotilla-controller-manager', /controller manager running/, controllerManagerArgs],
  ] as const) {
    const s = supervise({ name, script: componentBin(pkg, bin), args: () => args, ready });
    try {
      await s.waitReady(startTimeoutMs);
    } catch (err) {
      return fail(err);
    }
    s.supervise = true;
    if (stopping) return;
  }

  // 3. The local agent, if Docker is here.
  let agentLine: string;
  if (options.disableAgent) {
    agentLine = 'disabled (--disable-agent)';
  } else {
    const prepared = await prepareAgent(options, logger);
    if (stopping) return;
    if ('reason' in prepared) {
      logger.warn({ reason: prepared.reason }, 'running without the local agent');
      agentLine = `not started: ${prepared.reason}. The control plane runs without it; no pods will run on this machine.`;
      process.stderr.write(`flotilla: WARNING: ${prepared.reason}; running without the local agent (the control plane still works)\n`);
    } else {
      const agent = supervise({
        name: 'agent',
        script: componentBin('agent', 'flotilla-agent'),
        args: () => [
          '--kubeconfig', kubeconfig,
          '--node-name', options.nodeName,
          '--data-dir', join(dataDir, 'agent'),
          '--port', String(options.agentPort),
          '--pod-infra-image', prepared.image,
          '--docker-socket', options.dockerSocket,
          ...common,
          ...options.agentArgs,
        ],
        ready: /agent running/,
      });
      // The agent is not essential to the control plane: it is supervised from the start.
      agent.supervise = true;
      try {
        await agent.waitReady(startTimeoutMs);
        agentLine = `node ${options.nodeName} (agent pid ${agent.pid})`;
      } catch (err) {
        logger.warn({ err }, 'the local agent did not come up; it is restarted with back-off');
        agentLine = `not up yet (${(err as Error).message.split('\n')[0]}); restarting with back-off`;
      }
      if (stopping) return;
    }
  }

  const advertise = wildcard ? (externals[0] ?? '127.0.0.1') : (options.bindAddress ?? '127.0.0.1');
  const hostPort = advertise.includes(':') ? `[${advertise}]:${port}` : `${advertise}:${port}`;
  const loopbackOnly = /^127\.|^::1$|^localhost$/.test(advertise);
  process.stdout.write(
    [
      'Flotilla server running',
      `  API server:       ${apiUrl}`,
      `  Admin kubeconfig: ${kubeconfig}`,
      `  Local agent:      ${agentLine}`,
      `  Data directory:   ${dataDir} (PID files in ${runDir})`,
      '',
      'Use it:',
      `  export KUBECONFIG=${kubeconfig}`,
      '  kubectl get nodes',
      '',
      `Join another machine (the token is also in ${joinTokenPath(dataDir)}):`,
      `  flotilla agent --server https://${hostPort} --token ${token}`,
      ...(loopbackOnly ? ['  (the API server listens on loopback only: start with --bind-address 0.0.0.0 to accept other machines)'] : []),
      '',
      'Stop with Ctrl-C (or SIGTERM).',
      '',
    ].join('\n'),
  );
}
