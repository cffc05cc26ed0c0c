/**
 * `flctl port-forward TYPE/NAME [LOCAL:]REMOTE ...`: local listeners (127.0.0.1 and ::1 for
 * `localhost`, or `--address`), and for each accepted connection one WebSocket to the pod's
 * pods/portforward (`?ports=REMOTE`, `v4.channel.k8s.io`). Channel 0 carries data and channel 1
 * errors; the server starts each channel with the port (2 bytes, little endian), which is dropped.
 * `svc/NAME` forwards to a pod of the service with the service port translated to the targetPort,
 * as kubectl does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { res, resourcePath, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { resolveResource } from '../resource-args.js';
import { channelDispatcher, createChannelSocket, frame, messageBytes, PORT_FORWARD_PROTOCOLS } from '../ws-channel.js';

interface PfPod {
  metadata: { name: string; namespace?: string; creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string; containers?: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount?: number }[] };
}

interface PfService {
  metadata: { name: string };
  spec?: { selector?: Record<string, string>; clusterIP?: string; ports?: { name?: string; port: number; targetPort?: number | string }[] };
}

/** One forwarding: local port (0 = any) and the pod's port. */
export interface PortPair {
  local: number;
  remote: number;
}

function splitPort(spec: string): [string, string] {
  const parts = spec.split(':');
  if (parts.length === 2) return [parts[0]!, parts[1]!];
  return [parts[0]!, parts[0]!];
}

/** `LOCAL:REMOTE`, `REMOTE`, `:REMOTE` (any local port) after name translation; throws like kubectl. */
export function parsePortPairs(specs: readonly string[]): PortPair[] {
  return specs.map((spec) => {
    const parts = spec.split(':');
    if (parts.length > 2) throw new CliError(`invalid port format '${spec}'`);
    const [localText, remoteText] = parts.length === 2 ? [parts[0]!, parts[1]!] : [parts[0]!, parts[0]!];
    let local = 0;
    if (localText !== '') {
      if (!/^\d+$/.test(localText) || Number(localText) > 65535) throw new CliError(`error parsing local port '${localText}': strconv.ParseUint: parsing "${localText}": invalid syntax`);
      local = Number(localText);
    }
    if (!/^\d+$/.test(remoteText) || Number(remoteText) > 65535) throw new CliError(`error parsing remote port '${remoteText}': strconv.ParseUint: parsing "${remoteText}": invalid syntax`);
    const remote = Number(remoteText);
    if (remote === 0) throw new CliError(`Remote port must be > 0`);
    return { local, remote };
  });
}

/** A named container port of the pod (`Pod 'x' does not have a named port 'y'`). */
function containerPortByName(pod: PfPod, name: string): number {
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  throw new CliError(`Pod '${pod.metadata.name}' does not have a named port '${name}'`);
}

/** Pod ports given by container port name become numbers (kubectl's convertPodNamedPortToNumber). */
export function convertPodNamedPorts(specs: readonly string[], pod: PfPod): string[] {
  return specs.map((spec) => {
    const [local, remote] = splitPort(spec);
    const number = /^\d+$/.test(remote) ? remote : String(containerPortByName(pod, remote));
    return local !== remote ? `${local}:${number}` : number;
  });
}

/** Service ports become the pod's target ports (kubectl's translateServicePortToTargetPort). */
export function translateServicePorts(specs: readonly string[], svc: PfService, pod: PfPod): string[] {
  return specs.map((spec) => {
    let [local, remote] = splitPort(spec);
    let portnum: number;
    if (/^\d+$/.test(remote)) portnum = Number(remote);
    else {
      const named = (svc.spec?.ports ?? []).find((p) => p.name === remote);
      if (!named) throw new CliError(`Service '${svc.metadata.name}' does not have a named port '${remote}'`);
      portnum = named.port;
      if (local === remote) local = String(portnum);
    }
    const sp = (svc.spec?.ports ?? []).find((p) => p.port === portnum);
    if (!sp) throw new CliError(`Service ${svc.metadata.name} does not have a service port ${portnum}`);
    let container: number;
    if (svc.spec?.clusterIP === 'None') container = portnum;
    else if (sp.targetPort === undefined || sp.targetPort === 0 || sp.targetPort === '') container = sp.port;
    else if (typeof sp.targetPort === 'number' || /^\d+$/.test(sp.targetPort)) container = Number(sp.targetPort);
    else container = containerPortByName(pod, sp.targetPort);
    remote = String(container);
    return local !== remote ? `${local}:${remote}` : remote;
  });
}

/** kubectl's ByLogging order: scheduled, running, ready, more restarts, newer first. */
export function pickPod(pods: readonly PfPod[]): PfPod | undefined {
  const ready = (p: PfPod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  const phaseRank = (p: PfPod) => ({ Pending: 0, Unknown: 1, Running: 2 })[p.status?.phase ?? ''] ?? -1;
  const restarts = (p: PfPod) => (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  return [...(live.length > 0 ? live : pods)].sort((a, b) => {
    if (!!a.spec?.nodeName !== !!b.spec?.nodeName) return a.spec?.nodeName ? -1 : 1;
    if (phaseRank(a) !== phaseRank(b)) return phaseRank(b) - phaseRank(a);
    if (ready(a) !== ready(b)) return ready(a) ? -1 : 1;
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
    return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
  })[0];
}

function selectorString(sel: Record<string, string> | undefined): string {
  return Object.entries(sel ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The pod to forward to and the port specs translated for it. */
async function resolveTarget(ctx: CliContext, client: RestClient, arg: string, specs: string[], namespace: string): Promise<{ pod: PfPod; specs: string[] }> {
  const slash = arg.indexOf('/');
  if (slash < 0) {
    const pod = (await client.get(res('pods'), namespace, arg)) as unknown as PfPod;
    return { pod, specs: convertPodNamedPorts(specs, pod) };
  }
  const r = await resolveResource(ctx, arg.slice(0, slash));
  const name = arg.slice(slash + 1);
  if (r.kind === 'Pod') {
    const pod = (await client.get(r, namespace, name)) as unknown as PfPod;
    return { pod, specs: convertPodNamedPorts(specs, pod) };
  }
  const owner = (await client.get(r, namespace, name)) as unknown as PfService & { spec?: { selector?: { matchLabels?: Record<string, string> } | Record<string, string> } };
  const rawSel = owner.spec?.selector as { matchLabels?: Record<string, string> } | Record<string, string> | undefined;
  const labels = r.kind === 'Service' ? (rawSel as Record<string, string> | undefined) : rawSel && 'matchLabels' in rawSel ? rawSel.matchLabels : (rawSel as Record<string, string> | undefined);
  const selector = selectorString(labels as Record<string, string> | undefined);
  if (!selector) throw new CliError(`cannot attach to ${r.kind} ${name}: it has no selector`);
  const pods = (await client.list(res('pods'), { namespace, labelSelector: selector })).items as unknown as PfPod[];
  const pod = pickPod(pods);
  if (!pod) throw new CliError(`timed out waiting for the condition`);
  if (r.kind === 'Service') return { pod, specs: translateServicePorts(specs, owner, pod) };
  return { pod, specs: convertPodNamedPorts(specs, pod) };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** Runs `port-forward`; returns when interrupted. */
export async function runPortForward(ctx: CliContext, target: string | undefined, portSpecs: string[], opts: { address?: string[] }): Promise<number> {
  if (!target || portSpecs.length === 0) throw new CliError('TYPE/NAME and list of ports are required for port-forward');
  const client = await ctx.client();
  const namespace = await ctx.namespace();
  const resolved = await resolveTarget(ctx, client, target, portSpecs, namespace);
  const pairs = parsePortPairs(resolved.specs);
  const pod = resolved.pod;
  if (pod.status?.phase !== 'Running') throw new CliError(`unable to forward port because pod is not running. Current status=${pod.status?.phase ?? 'Unknown'}`);

  const config = await ctx.config();
  const dispatcher = channelDispatcher(config);
  const podPath = resourcePath(res('pods'), pod.metadata.namespace ?? namespace, pod.metadata.name, 'portforward');
  const addresses = (opts.address && opts.address.length > 0 ? opts.address : ['localhost']).flatMap((a) => a.split(',')).filter((a) => a !== '');
  const hosts: { host: string; optional: boolean }[] = [];
  for (const a of addresses) {
    if (a === 'localhost') hosts.push({ host: '127.0.0.1', optional: false }, { host: '::1', optional: true });
    else hosts.push({ host: a, optional: false });
  }
  const servers: Server[] = [];
  const sockets = new Set<Socket>();

  const handle = (local: number, remote: number, socket: Socket) => {
    ctx.out(`Handling connection for ${local}\n`);
    sockets.add(socket);
    const ws = createChannelSocket(config, dispatcher, `${podPath}?ports=${remote}`, PORT_FORWARD_PROTOCOLS);
    const pending: Buffer[] = [];
    // The server starts each channel with the port number (2 bytes).
    const prefixLeft = [2, 2];
    let errorText = '';
    let closed = false;
    const closeWs = () => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        try {
          ws.close();
        } catch {
          // already closing
        }
      }
    };
    ws.addEventListener('open', () => {
      for (const d of pending) ws.send(frame(0, d));
      pending.length = 0;
    });
    ws.addEventListener('message', (ev) => {
      const data = messageBytes(ev.data);
      if (data.length === 0) return;
      const channel = data[0]!;
      let payload = data.subarray(1);
      if (channel < 2 && prefixLeft[channel]! > 0) {
        const skip = Math.min(prefixLeft[channel]!, payload.length);
        prefixLeft[channel]! -= skip;
        payload = payload.subarray(skip);
      }
      if (payload.length === 0) return;
      if (channel === 0) {
        if (!socket.destroyed) socket.write(payload);
      } else if (channel === 1) {
        errorText += payload.toString('utf8');
      }
    });
    const finish = () => {
      if (closed) return;
      closed = true;
      if (errorText) ctx.err(`error: an error occurred forwarding ${local} -> ${remote}: ${errorText.trim()}\n`);
      if (!socket.destroyed) socket.end();
    };
    ws.addEventListener('close', finish);
    ws.addEventListener('error', (ev) => {
      if (!closed && !errorText) errorText = `error upgrading connection: ${(ev as Event & { message?: string }).message ?? 'the connection failed'}`;
      finish();
    });
    socket.on('data', (d: Buffer) => {
      if (ws.readyState === ws.OPEN) {
        ws.send(frame(0, d));
        if (ws.bufferedAmount > 4 * 1024 * 1024) {
          socket.pause();
          const t = setInterval(() => {
            if (ws.bufferedAmount < 1024 * 1024 || ws.readyState !== ws.OPEN) {
              clearInterval(t);
              socket.resume();
            }
          }, 20);
        }
      } else if (ws.readyState === ws.CONNECTING) pending.push(d);
    });
    // A local half-close keeps the stream until the pod side is done; a full close ends it.
    socket.on('close', () => {
      sockets.delete(socket);
      closeWs();
    });
    socket.on('error', () => closeWs());
  };

  try {
    for (const pair of pairs) {
      let port = pair.local;
      let listened = 0;
      for (const { host, optional } of hosts) {
        const server = createServer({ allowHalfOpen: true, pauseOnConnect: false });
        try {
          port = await listen(server, host, port);
        } catch (err) {
          if (optional) continue;
          throw new CliError(`unable to listen on port ${pair.local === 0 ? port : pair.local}: Listeners failed to create with the following errors: [unable to create listener: Error listen tcp4 ${host}:${pair.local}: bind: ${(err as Error).message}]`);
        }
        listened++;
        servers.push(server);
        const remote = pair.remote;
        const local = port;
        server.on('connection', (s) => handle(local, remote, s));
        ctx.out(`Forwarding from ${host.includes(':') ? `[${host}]` : host}:${port} -> ${pair.remote}\n`);
      }
      if (listened === 0) throw new CliError(`unable to listen on any of the requested ports: [{${pair.local} ${pair.remote}}]`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  } finally {
    for (const s of servers) s.close();
    for (const s of sockets) s.destroy();
    await dispatcher.destroy().catch(() => undefined);
  }
}
