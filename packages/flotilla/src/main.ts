/**
 * `flotilla`: the launcher. `flotilla server` runs a single-machine cluster; `flotilla agent` runs
 * a node agent; `flotilla version`. Each command loads what it needs when it runs: `flotilla agent`
 * stays beside the agent it starts, and joining's X.509 library or the server's components would
 * otherwise keep ~35 MiB resident in it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { componentBin, launcherVersion } from './components.js';

const USAGE = `Usage: flotilla COMMAND [flags]

Commands:
  server     run a single-machine cluster: API server, scheduler, controller manager and a local
             node agent, as supervised child processes
  agent      run a node agent: join a cluster with --server URL --token TOKEN, or --kubeconfig FILE
             (flotilla-agent's flags)
  version    print the version

Run 'flotilla COMMAND --help' for a command's flags.
`;

const SERVER_USAGE = `Usage: flotilla server [flags]

Runs a single-machine cluster: starts flotilla-apiserver, then flotilla-scheduler and
flotilla-controller-manager with DATA_DIR/admin.kubeconfig (the controller manager also signs
service account token Secrets with DATA_DIR/pki/sa.key), then (unless --disable-agent, and if
Docker is available) flotilla-agent registering this machine as a node. Each runs as a child process
whose output is passed through to stderr prefixed with its name; a component that exits is restarted
with back-off (1s doubling to 30s). SIGTERM or Ctrl-C stops them in reverse order.

Flags:
  --data-dir DIR           state of the cluster (default ./data): database, certificates,
                           admin.kubeconfig, the join token (token), agent state (agent/), PID files (run/)
  --secure-port PORT       HTTPS port of the API server (default 6443; 0 picks a free port)
  --bind-address ADDR      address the API server listens on (default 127.0.0.1; 0.0.0.0 for every interface)
  --node-name NAME         name of the local node (default: the hostname)
  --disable-agent          run the control plane only
  --pod-infra-image IMAGE  the local agent's pod sandbox image (default: build ${'flotilla/pause:1'} from a
                           static busybox through the Docker Engine API)
  --docker-socket PATH     Docker Engine API socket (default /var/run/docker.sock)
  --agent-port PORT        port of the agent's /healthz, /metrics and logs (default 10250; 0 picks one)
  --agent-arg ARG          extra argument for the agent, repeatable; use the = form for flags, e.g.
                           --agent-arg=--node-labels=zone=a
  --log-level LEVEL        trace, debug, info, warn, error (default info), for every component
  -h, --help               show this help
`;

function usageError(message: string, usage: string): never {
  process.stderr.write(`flotilla: ${message}\n\n${usage}`);
  process.exit(2);
}

async function server(argv: string[]): Promise<void> {
  const { checkFlags, enumFlag, intFlag, parseCommandLine } = await import('@flotilla/client');
  const values = parseCommandLine('flotilla', SERVER_USAGE, argv, {
    'data-dir': { type: 'string', default: './data' },
    'secure-port': { type: 'string', default: '6443' },
    'bind-address': { type: 'string' },
    'node-name': { type: 'string' },
    'disable-agent': { type: 'boolean', default: false },
    'pod-infra-image': { type: 'string' },
    'docker-socket': { type: 'string', default: '/var/run/docker.sock' },
    'agent-port': { type: 'string', default: '10250' },
    'agent-arg': { type: 'string', multiple: true },
    'log-level': { type: 'string', default: 'info' },
  });
  if (!values) return;
  const config = checkFlags('flotilla', () => ({
    dataDir: values['data-dir']!,
    securePort: intFlag(values['secure-port']!, 'secure-port', 0, 65535),
    ...(values['bind-address'] ? { bindAddress: values['bind-address'] } : {}),
    nodeName: values['node-name'] ?? hostname().toLowerCase(),
    disableAgent: values['disable-agent']!,
    ...(values['pod-infra-image'] ? { podInfraImage: values['pod-infra-image'] } : {}),
    logLevel: enumFlag(values['log-level']!, 'log-level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const),
    agentPort: intFlag(values['agent-port']!, 'agent-port', 0, 65535),
    agentArgs: values['agent-arg'] ?? [],
    dockerSocket: values['docker-socket']!,
  }));
  await (await import('./server.js')).runServer(config);
}

const AGENT_USAGE = `Usage: flotilla agent [--server https://HOST:PORT --token TOKEN] [flotilla-agent flags]

Runs flotilla-agent. With --server and --token (the join token printed by 'flotilla server', in its
DATA_DIR/token, or made with 'flctl token create') it joins the cluster first: checks the server's CA
against the token, obtains a node certificate (system:node:NAME) with the token and writes
DATA_DIR/kubeconfig (DATA_DIR = --data-dir, default ./agent-data). Later starts reuse that kubeconfig
and need no token (with or without --server/--token). Otherwise the agent's flags are passed through
unchanged (--kubeconfig).

Joining flags:
  --server URL     the API server, https://HOST:PORT
  --token TOKEN    the join token, K10<ca hash>::<id>.<secret>
Every other flag goes to flotilla-agent ('flotilla agent --help-agent' lists them).
`;

/** Removes `--name VALUE` / `--name=VALUE` from argv; returns the value (the last one wins). */
function takeFlag(argv: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; ) {
    const a = argv[i]!;
    if (a === `--${name}`) {
      value = argv[i + 1];
      argv.splice(i, 2);
    } else if (a.startsWith(`--${name}=`)) {
      value = a.slice(name.length + 3);
      argv.splice(i, 1);
    } else i++;
  }
  return value;
}

/** The value of `--name` in argv without removing it. */
function peekFlag(argv: readonly string[], name: string): string | undefined {
  return takeFlag([...argv], name);
}

/** `flotilla agent`: flotilla-agent with the same flags, in a child process; joins first with --server/--token. */
async function agent(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(AGENT_USAGE);
    return;
  }
  const args = argv.map((a) => (a === '--help-agent' ? '--help' : a));
  const server = takeFlag(args, 'server');
  const token = takeFlag(args, 'token');
  if (server !== undefined || token !== undefined) {
    if (!server || !token) usageError('joining needs both --server and --token', AGENT_USAGE);
    if (peekFlag(args, 'kubeconfig') !== undefined) usageError('--kubeconfig cannot be combined with --server/--token (joining writes DATA_DIR/kubeconfig)', AGENT_USAGE);
    const dataDir = resolve(peekFlag(args, 'data-dir') ?? './agent-data');
    let nodeName = peekFlag(args, 'node-name');
    if (nodeName === undefined) {
      nodeName = hostname().toLowerCase();
      args.push('--node-name', nodeName);
    }
    const kubeconfig = join(dataDir, 'kubeconfig');
    if (existsSync(kubeconfig)) {
      process.stderr.write(`flotilla agent: using the node credentials in ${kubeconfig} (joined before; the token is not needed)\n`);
    } else {
      const { joinCluster, JoinError } = await import('./join.js');
      try {
        await joinCluster({ server, token, nodeName, kubeconfigPath: kubeconfig });
      } catch (err) {
        process.stderr.write(`flotilla agent: cannot join the cluster at ${server}: ${err instanceof JoinError ? err.message : String(err)}\n`);
        process.exit(1);
      }
      process.stderr.write(`flotilla agent: joined the cluster at ${server} as node ${nodeName}; credentials in ${kubeconfig}\n`);
    }
    args.unshift('--kubeconfig', kubeconfig);
  } else if (peekFlag(args, 'kubeconfig') === undefined) {
    // Joined before: the node credentials are used without --server/--token.
    const joined = join(resolve(peekFlag(args, 'data-dir') ?? './agent-data'), 'kubeconfig');
    if (existsSync(joined)) args.unshift('--kubeconfig', joined);
  }
  const child = spawn(process.execPath, [componentBin('agent', 'flotilla-agent'), ...args], { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
}

/** Runs the launcher with command-line arguments. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return server(rest);
    case 'agent':
      return agent(rest);
    case 'version':
    case '--version':
      process.stdout.write(`flotilla ${launcherVersion()} (node ${process.version})\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      usageError(`unknown command "${command}"`, USAGE);
  }
}
