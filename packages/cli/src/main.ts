/**
 * flctl's entry point: commander wiring of kubectl's verbs and flags. Command modules are imported
 * only when their verb runs, so `flctl version --client` stays a cold start of a few modules.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliContext, type GlobalOptions } from './cli-context.js';
import { formatError } from './cli-error.js';
import { processIO, type CliIO } from './io.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function collectCsv(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter((v) => v !== '')];
}

/** `--flag`, `--flag=true|false` (kubectl's boolean flags with explicit values). */
export function parseBool(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new CommanderError(1, 'flctl.invalidArgument', `invalid boolean value "${value}"`);
}

function parseIntFlag(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CommanderError(1, 'flctl.invalidArgument', `invalid integer value "${value}"`);
  return n;
}

/** Builds the command tree; `run` receives each action's exit code. */
export function buildProgram(io: CliIO, contexts: CliContext[], setCode: (code: number) => void): Command {
  const program = new Command('flctl');
  program
    .description('flctl controls a Flotilla (Kubernetes-compatible) cluster.')
    .option('--kubeconfig <path>', 'path to the kubeconfig file to use')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'the namespace scope for this request')
    .option('-s, --server <url>', 'the address and port of the API server')
    .option('--token <token>', 'bearer token for authentication to the API server')
    .option('--insecure-skip-tls-verify', 'do not check the server certificate')
    .option('--request-timeout <duration>', 'how long to wait for a single request (0 = no timeout)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: (s, write) => write(s.replace(/^error: /, 'error: ')) })
    .showSuggestionAfterError()
    .helpCommand(true);

  const context = (cmd: Command): CliContext => {
    const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>(), io);
    contexts.push(ctx);
    return ctx;
  };
  const action =
    <A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<number> | number) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      setCode(await fn(context(cmd), ...(args.slice(0, -1) as A)));
    };

  program
    .command('get')
    .description('Display one or many resources')
    .argument('[resources...]', 'TYPE[,TYPE...] [NAME...] or TYPE/NAME...')
    .option('-o, --output <format>', 'json|yaml|wide|name|jsonpath=...|custom-columns=...')
    .option('-l, --selector <selector>', 'label selector')
    .option('--field-selector <selector>', 'field selector')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-w, --watch', 'watch for changes after listing')
    .option('--watch-only', 'watch for changes without listing first')
    .option('--sort-by <jsonpath>', 'sort by a JSONPath expression')
    .option('--show-labels', 'show labels as the last column')
    .option('-L, --label-columns <labels>', 'labels to show as columns', collectCsv)
    .option('--no-headers', 'do not print headers')
    .option('--ignore-not-found', 'treat "not found" as success')
    .option('--chunk-size <n>', 'page size of list requests', parseIntFlag)
    .action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runGet } = await import('./commands/get.js');
        return runGet(ctx, resources, { ...opts, noHeaders: opts['headers'] === false });
      }),
    );

  program
    .command('apply')
    .description('Apply a configuration to resources by file name or stdin')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('-R, --recursive', 'process directories recursively')
    .option('--server-side', 'apply on the server (server-side apply)')
    .option('--field-manager <name>', 'name of the field manager')
    .option('--force-conflicts', 'take ownership of conflicting fields (server-side apply)')
    .option('--dry-run <mode>', 'none|client|server')
    .option('-o, --output <format>', 'name|json|yaml')
    .action(
      action(async (ctx, opts: Record<string, unknown>) => {
        const { runApply } = await import('./commands/apply.js');
        return runApply(ctx, opts);
      }),
    );

  program
    .command('create')
    .description('Create resources from files or stdin')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('-R, --recursive', 'process directories recursively')
    .option('--dry-run <mode>', 'none|client|server')
    .option('--save-config', 'store the configuration in the last-applied annotation')
    .option('-o, --output <format>', 'name|json|yaml')
    .action(
      action(async (ctx, opts: Record<string, unknown>) => {
        const { runCreate } = await import('./commands/apply.js');
        return runCreate(ctx, opts);
      }),
    );

  program
    .command('delete')
    .description('Delete resources by names, file names, stdin or label selector')
    .argument('[resources...]')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('-R, --recursive', 'process directories recursively')
    .option('-l, --selector <selector>', 'label selector')
    .option('--field-selector <selector>', 'field selector')
    .option('--all', 'delete every object of the types')
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('--grace-period <seconds>', 'seconds given to the object to terminate gracefully (-1 = its default)', parseIntFlag)
    .option('--now', 'grace period 1 second')
    .option('--force', 'delete immediately (with --grace-period=0)')
    .option('--cascade <policy>', 'background|foreground|orphan', 'background')
    .addOption(new Option('--wait [bool]', 'wait until the objects are gone').argParser(parseBool).default(true))
    .option('--timeout <duration>', 'how long to wait (0 = a week)', '0s')
    .option('--ignore-not-found', 'treat "not found" as success')
    .option('-o, --output <format>', 'name')
    .action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runDelete } = await import('./commands/delete.js');
        return runDelete(ctx, resources, opts);
      }),
    );

  program
    .command('describe')
    .description('Show details of a resource or group of resources')
    .argument('[resources...]')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'across all namespaces')
    .addOption(new Option('--show-events [bool]', 'show events').argParser(parseBool).default(true))
    .action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runDescribe } = await import('./commands/describe.js');
        return runDescribe(ctx, resources, opts);
      }),
    );

  program
    .command('logs')
    .description('Print the logs of a container in a pod')
    .argument('[pod]', 'POD or TYPE/NAME')
    .argument('[container]')
    .option('-c, --container <name>', 'container name')
    .option('-f, --follow', 'stream the logs')
    .option('-p, --previous', 'the previous instance of the container')
    .option('--tail <lines>', 'lines of recent log to show (-1 = all)', parseIntFlag)
    .option('--since <duration>', 'only logs newer than a relative duration like 5s, 2m, 3h')
    .option('--since-time <time>', 'only logs after an RFC 3339 time')
    .option('--timestamps', 'include timestamps')
    .option('-l, --selector <selector>', 'label selector')
    .option('--all-containers', 'every container of the pods')
    .option('--prefix', 'prefix each line with the pod and container name')
    .option('--max-log-requests <n>', 'concurrent log streams with a selector', parseIntFlag)
    .action(
      action(async (ctx, pod: string | undefined, container: string | undefined, opts: Record<string, unknown>) => {
        const { runLogs } = await import('./commands/logs.js');
        return runLogs(ctx, pod, container, opts);
      }),
    );

  program
    .command('exec')
    .description('Execute a command in a container')
    .usage('POD [-c CONTAINER] [-i] [-t] -- COMMAND [args...]')
    .argument('[pod]', 'POD or TYPE/NAME')
    .argument('[command...]', 'the command and its arguments (after --)')
    .option('-c, --container <name>', 'container name (default: the default-container annotation, else the first)')
    .option('-i, --stdin', 'pass stdin to the container')
    .option('-t, --tty', 'stdin is a TTY')
    .option('-q, --quiet', 'only print output from the remote session')
    .action(
      action(async (ctx, pod: string | undefined, command: string[], opts: Record<string, unknown>) => {
        const { runExec } = await import('./commands/exec.js');
        return runExec(ctx, pod, command, opts);
      }),
    );

  program
    .command('attach')
    .description('Attach to a running container')
    .argument('[pod]', 'POD or TYPE/NAME')
    .option('-c, --container <name>', 'container name (default: the default-container annotation, else the first)')
    .option('-i, --stdin', 'pass stdin to the container')
    .option('-t, --tty', 'stdin is a TTY')
    .option('-q, --quiet', 'only print output from the remote session')
    .option('--pod-running-timeout <duration>', 'how long to wait until the pod is running', '1m0s')
    .action(
      action(async (ctx, pod: string | undefined, opts: Record<string, unknown>) => {
        const { runAttach } = await import('./commands/exec.js');
        return runAttach(ctx, pod, opts);
      }),
    );

  program
    .command('port-forward')
    .description('Forward one or more local ports to a pod')
    .usage('TYPE/NAME [options] [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]')
    .argument('[target]', 'POD, pod/NAME, svc/NAME or deployment/NAME')
    .argument('[ports...]', '[LOCAL:]REMOTE (LOCAL empty or 0 = any free port)')
    .option('--address <addresses>', 'addresses to listen on (comma separated; localhost = 127.0.0.1 and ::1)', collectCsv)
    .option('--pod-running-timeout <duration>', 'how long to wait until a pod is running', '1m0s')
    .action(
      action(async (ctx, target: string | undefined, ports: string[], opts: Record<string, unknown>) => {
        const { runPortForward } = await import('./commands/port-forward.js');
        return runPortForward(ctx, target, ports, opts as { address?: string[] });
      }),
    );

  const top = program.command('top').description('Display resource (CPU/memory) usage');
  top
    .command('node')
    .alias('nodes')
    .alias('no')
    .description('Display resource (CPU/memory) usage of nodes')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector')
    .option('--sort-by <field>', 'cpu or memory')
    .option('--no-headers', 'do not print headers')
    .option('--show-capacity', 'percentages of capacity instead of allocatable')
    .action(
      action(async (ctx, name: string | undefined, opts: Record<string, unknown>) => {
        const { runTopNode } = await import('./commands/top.js');
        return runTopNode(ctx, name, { ...opts, noHeaders: opts['headers'] === false });
      }),
    );
  top
    .command('pod')
    .alias('pods')
    .alias('po')
    .description('Display resource (CPU/memory) usage of pods')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector')
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('--containers', 'usage of each container')
    .option('--sort-by <field>', 'cpu or memory')
    .option('--no-headers', 'do not print headers')
    .action(
      action(async (ctx, name: string | undefined, opts: Record<string, unknown>) => {
        const { runTopPod } = await import('./commands/top.js');
        return runTopPod(ctx, name, { ...opts, noHeaders: opts['headers'] === false });
      }),
    );

  program
    .command('edit')
    .description('Edit a resource in $KUBE_EDITOR or $EDITOR')
    .argument('[resources...]', 'TYPE NAME or TYPE/NAME')
    .option('-f, --filename <path>', 'file naming the objects (repeatable)', collect)
    .action(
      action(async (ctx, args: string[], opts: Record<string, unknown>) => {
        const { runEdit } = await import('./commands/edit.js');
        return runEdit(ctx, args, opts);
      }),
    );

  for (const verb of ['label', 'annotate'] as const) {
    program
      .command(verb)
      .description(verb === 'label' ? 'Update the labels on a resource' : 'Update the annotations on a resource')
      .argument('<args...>', 'TYPE NAME KEY=VAL ... KEY- ...')
      .option('--overwrite', 'allow existing values to be overwritten')
      .option('-l, --selector <selector>', 'label selector')
      .option('--all', 'every object of the type')
      .option('-f, --filename <path>', 'file naming the objects (repeatable)', collect)
      .option('--resource-version <rv>', 'only update if the object is at this resourceVersion')
      .option('-o, --output <format>', 'name|json|yaml')
      .action(
        action(async (ctx, args: string[], opts: Record<string, unknown>) => {
          const { runLabel } = await import('./commands/label.js');
          return runLabel(ctx, verb, args, opts);
        }),
      );
  }

  program
    .command('scale')
    .description('Set a new size for a deployment, replica set, replication controller or stateful set')
    .argument('<resources...>')
    .requiredOption('--replicas <n>', 'the new number of replicas', parseIntFlag)
    .option('--current-replicas <n>', 'precondition on the current size', parseIntFlag)
    .option('-l, --selector <selector>', 'label selector')
    .option('-f, --filename <path>', 'file naming the objects (repeatable)', collect)
    .option('-o, --output <format>', 'name')
    .action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runScale } = await import('./commands/scale.js');
        return runScale(ctx, resources, opts);
      }),
    );

  const rollout = program.command('rollout').description('Manage the rollout of a resource');
  for (const sub of ['status', 'history', 'undo', 'restart', 'pause', 'resume'] as const) {
    const c = rollout.command(sub).argument('<resources...>', 'TYPE NAME or TYPE/NAME');
    if (sub === 'status') c.option('--timeout <duration>', 'how long to wait (0 = forever)', '0s').addOption(new Option('-w, --watch [bool]', 'watch until done').argParser(parseBool).default(true)).option('--revision <n>', 'pin to a revision', parseIntFlag);
    if (sub === 'history') c.option('--revision <n>', 'details of one revision', parseIntFlag).option('-o, --output <format>', 'yaml|json');
    if (sub === 'undo') c.option('--to-revision <n>', 'the revision to roll back to (0 = the previous one)', parseIntFlag, 0).option('--dry-run <mode>', 'none|client|server');
    c.action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runRollout } = await import('./commands/rollout.js');
        return runRollout(ctx, sub, resources, opts);
      }),
    );
  }

  program
    .command('wait')
    .description('Wait for a condition on one or many resources')
    .argument('[resources...]')
    .requiredOption('--for <condition>', 'delete | condition=NAME[=VALUE] | jsonpath={.x}=VALUE | create')
    .option('--timeout <duration>', 'how long to wait', '30s')
    .option('-l, --selector <selector>', 'label selector')
    .option('--all', 'every object of the type')
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('-f, --filename <path>', 'file naming the objects (repeatable)', collect)
    .action(
      action(async (ctx, resources: string[], opts: Record<string, unknown>) => {
        const { runWait } = await import('./commands/wait.js');
        return runWait(ctx, resources, opts);
      }),
    );

  program
    .command('cluster-info')
    .description('Display the address of the control plane')
    .action(
      action(async (ctx) => {
        const { runClusterInfo } = await import('./commands/cluster-info.js');
        return runClusterInfo(ctx);
      }),
    );

  program
    .command('api-resources')
    .description('Print the supported API resources on the server')
    .option('--namespaced [bool]', 'namespaced or cluster-scoped only')
    .option('--api-group <group>', 'only this API group ("" = core)')
    .option('--verbs <verbs>', 'only resources supporting these verbs', collectCsv)
    .option('-o, --output <format>', 'wide|name')
    .option('--no-headers', 'do not print headers')
    .action(
      action(async (ctx, opts: Record<string, unknown>) => {
        const { runApiResources } = await import('./commands/api-resources.js');
        return runApiResources(ctx, { ...opts, noHeaders: opts['headers'] === false } as Parameters<typeof runApiResources>[1]);
      }),
    );

  program
    .command('api-versions')
    .description('Print the supported API versions on the server, as group/version')
    .action(
      action(async (ctx) => {
        const { runApiVersions } = await import('./commands/explain.js');
        return runApiVersions(ctx);
      }),
    );

  program
    .command('explain')
    .description('Describe fields of a resource (from the server OpenAPI v3 schemas)')
    .argument('<field>', 'RESOURCE[.FIELD...]')
    .option('--recursive', 'print every field')
    .option('--api-version <gv>', 'the group/version of the resource')
    .action(
      action(async (ctx, field: string, opts: Record<string, unknown>) => {
        const { runExplain } = await import('./commands/explain.js');
        return runExplain(ctx, field, opts);
      }),
    );

  program
    .command('version')
    .description('Print the client and server version information')
    .option('--client', 'client version only (no server needed)')
    .option('-o, --output <format>', 'json|yaml')
    .action(
      action(async (ctx, opts: { client?: boolean; output?: string }) => {
        const { runVersion } = await import('./commands/version.js');
        return runVersion(ctx, opts);
      }),
    );

  const token = program.command('token').description('Manage bootstrap tokens (join tokens for flotilla agent --server --token)');
  token
    .command('create')
    .description('Create a bootstrap token and print the join token (K10<ca hash>::<id>.<secret>)')
    .option('--ttl <duration>', 'how long the token works, e.g. 24h, 30m; 0 = forever', '24h')
    .option('--description <text>', 'a human-readable description')
    .option('--groups <groups>', 'extra groups, comma-separated, each starting with system:bootstrappers:')
    .action(
      action(async (ctx, opts: { ttl?: string; description?: string; groups?: string }) => {
        const { runTokenCreate } = await import('./commands/token.js');
        return runTokenCreate(ctx, opts);
      }),
    );
  token
    .command('list')
    .description('List bootstrap tokens')
    .option('-o, --output <format>', 'json')
    .action(
      action(async (ctx, opts: { output?: string }) => {
        const { runTokenList } = await import('./commands/token.js');
        return runTokenList(ctx, opts);
      }),
    );
  token
    .command('delete')
    .description('Delete bootstrap tokens by ID (or whole token)')
    .argument('<id...>', 'token IDs')
    .action(
      action(async (ctx, ids: string[]) => {
        const { runTokenDelete } = await import('./commands/token.js');
        return runTokenDelete(ctx, ids);
      }),
    );

  const config = program.command('config').description('Inspect and modify kubeconfig files');
  config
    .command('view')
    .option('--raw', 'show certificates and tokens')
    .option('--minify', 'only the current context')
    .option('-o, --output <format>', 'yaml|json', 'yaml')
    .action(
      action(async (ctx, opts: Record<string, unknown>) => {
        const { runConfigView } = await import('./commands/config.js');
        return runConfigView(ctx, opts);
      }),
    );
  config
    .command('get-contexts')
    .argument('[names...]')
    .option('-o, --output <format>', 'name')
    .option('--no-headers', 'do not print headers')
    .action(
      action(async (ctx, names: string[], opts: Record<string, unknown>) => {
        const { runGetContexts } = await import('./commands/config.js');
        return runGetContexts(ctx, names, { ...opts, noHeaders: opts['headers'] === false });
      }),
    );
  config.command('current-context').action(
    action(async (ctx) => {
      const { runCurrentContext } = await import('./commands/config.js');
      return runCurrentContext(ctx);
    }),
  );
  config
    .command('use-context')
    .argument('<name>')
    .action(
      action(async (ctx, name: string) => {
        const { runUseContext } = await import('./commands/config.js');
        return runUseContext(ctx, name);
      }),
    );

  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash|zsh')
    .action(
      action(async (ctx, shell: string) => {
        const { runCompletion } = await import('./commands/completion.js');
        return runCompletion(ctx, shell, program);
      }),
    );

  return program;
}

/** Runs flctl with arguments (without `node` and the script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let code = 0;
  const contexts: CliContext[] = [];
  const program = buildProgram(io, contexts, (c) => (code = c));
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : err.exitCode || 1;
    io.stderr.write(`${formatError(err)}\n`);
    code = 1;
  } finally {
    await Promise.allSettled(contexts.map((c) => c.close()));
  }
  return code;
}
