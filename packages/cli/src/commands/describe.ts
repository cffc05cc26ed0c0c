/**
 * `flctl describe`: kubectl-like descriptions of Pods, Deployments, Nodes and Services (others get
 * a generic field listing), each followed by the Events whose involvedObject is the object.
 */
import type { KubeObject } from '@flotilla/api';
import { res, type RestClient } from '@flotilla/client';
import type { CliContext } from '../cli-context.js';
import { apiErrorCode, formatError } from '../cli-error.js';
import { collectTargets, type ObjectTarget } from '../object-targets.js';
import { ageOf } from '../printers/human-duration.js';
import { alignTabs } from '../printers/tab-writer.js';
import { parseResourceArgs, resolveResource } from '../resource-args.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Builds tab-separated describe text, with kubectl's indentation levels. */
class DescribeWriter {
  private text = '';
  line(level: number, ...cells: string[]): void {
    this.text += `${'  '.repeat(level)}${cells.join('\t')}\n`;
  }
  /** `Key:\tv1`, continuation lines `\tv2` (labels, annotations). */
  map(level: number, key: string, m: Record<string, string> | undefined, sep = '='): void {
    const entries = Object.entries(m ?? {})
      .filter(([k]) => k !== 'kubectl.kubernetes.io/last-applied-configuration')
      .sort(([a], [b]) => (a < b ? -1 : 1));
    if (entries.length === 0) return this.line(level, `${key}:`, '<none>');
    entries.forEach(([k, v], i) => this.line(level, i === 0 ? `${key}:` : '', sep === '=' ? `${k}=${v}` : `${k}: ${v}`));
  }
  toString(): string {
    return alignTabs(this.text, 2);
  }
}

/** RFC 1123 like Go's `time.RFC1123Z` (kubectl's describe timestamps). */
export function formatTime(ts: string | undefined): string {
  if (!ts) return '<unset>';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function header(w: DescribeWriter, o: Any, withNamespace: boolean): void {
  w.line(0, 'Name:', o.metadata.name);
  if (withNamespace) w.line(0, 'Namespace:', o.metadata.namespace ?? '');
}

function selectorText(sel: Any | undefined): string {
  if (!sel) return '<none>';
  const parts = Object.entries((sel.matchLabels ?? sel) as Record<string, string>)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${v}`);
  for (const e of (sel.matchExpressions ?? []) as Any[]) parts.push(`${e.key} ${String(e.operator).toLowerCase()} (${(e.values ?? []).join(',')})`);
  return parts.length ? parts.join(',') : '<none>';
}

function containers(w: DescribeWriter, level: number, list: Any[] | undefined, statuses: Any[] | undefined): void {
  for (const c of list ?? []) {
    const st = (statuses ?? []).find((s) => s.name === c.name);
    w.line(level, `${c.name}:`);
    const l = level + 1;
    if (st) w.line(l, 'Container ID:', st.containerID ?? '');
    w.line(l, 'Image:', c.image ?? '');
    if (st) w.line(l, 'Image ID:', st.imageID ?? '');
    const ports = (c.ports ?? []) as Any[];
    if (ports.length === 0) w.line(l, 'Port:', '<none>');
    else w.line(l, ports.length > 1 ? 'Ports:' : 'Port:', ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).join(', '));
    if (c.command) w.line(l, 'Command:', '', ...[]), (c.command as string[]).forEach((x) => w.line(l + 1, x));
    if (c.args) w.line(l, 'Args:'), (c.args as string[]).forEach((x) => w.line(l + 1, x));
    if (st) {
      const state = st.state ?? {};
      if (state.running) {
        w.line(l, 'State:', 'Running');
        w.line(l + 1, 'Started:', formatTime(state.running.startedAt));
      } else if (state.waiting) {
        w.line(l, 'State:', 'Waiting');
        w.line(l + 1, 'Reason:', state.waiting.reason ?? '');
      } else if (state.terminated) {
        w.line(l, 'State:', 'Terminated');
        w.line(l + 1, 'Reason:', state.terminated.reason ?? '');
        w.line(l + 1, 'Exit Code:', String(state.terminated.exitCode ?? ''));
      }
      w.line(l, 'Ready:', st.ready ? 'True' : 'False');
      w.line(l, 'Restart Count:', String(st.restartCount ?? 0));
    }
    const limits = c.resources?.limits as Record<string, string> | undefined;
    const requests = c.resources?.requests as Record<string, string> | undefined;
    if (limits) w.map(l, 'Limits', limits, ':');
    if (requests) w.map(l, 'Requests', requests, ':');
    const env = (c.env ?? []) as Any[];
    if (env.length === 0) w.line(l, 'Environment:', '<none>');
    else {
      w.line(l, 'Environment:');
      for (const e of env) w.line(l + 1, `${e.name}:`, e.value ?? (e.valueFrom ? '<set from a reference>' : ''));
    }
    const mounts = (c.volumeMounts ?? []) as Any[];
    if (mounts.length === 0) w.line(l, 'Mounts:', '<none>');
    else {
      w.line(l, 'Mounts:');
      for (const m of mounts) w.line(l + 1, `${m.mountPath} from ${m.name} (${m.readOnly ? 'ro' : 'rw'})`);
    }
  }
}

function describePod(w: DescribeWriter, p: Any): void {
  header(w, p, true);
  w.line(0, 'Priority:', String(p.spec?.priority ?? 0));
  w.line(0, 'Service Account:', p.spec?.serviceAccountName ?? 'default');
  w.line(0, 'Node:', p.spec?.nodeName ? `${p.spec.nodeName}/${p.status?.hostIP ?? ''}` : '<none>');
  if (p.status?.startTime) w.line(0, 'Start Time:', formatTime(p.status.startTime));
  w.map(0, 'Labels', p.metadata.labels);
  w.map(0, 'Annotations', p.metadata.annotations, ':');
  if (p.metadata.deletionTimestamp) w.line(0, 'Status:', `Terminating (lasts ${ageOf(p.metadata.deletionTimestamp)})`);
  else w.line(0, 'Status:', p.status?.phase ?? 'Unknown');
  if (p.status?.reason) w.line(0, 'Reason:', p.status.reason);
  if (p.status?.message) w.line(0, 'Message:', p.status.message);
  w.line(0, 'IP:', p.status?.podIP ?? '');
  const ips = (p.status?.podIPs ?? []) as Any[];
  if (ips.length === 0) w.line(0, 'IPs:', '<none>');
  else {
    w.line(0, 'IPs:');
    for (const ip of ips) w.line(1, 'IP:', ip.ip);
  }
  const owner = ((p.metadata.ownerReferences ?? []) as Any[]).find((o) => o.controller);
  if (owner) w.line(0, 'Controlled By:', `${owner.kind}/${owner.name}`);
  if (p.spec?.initContainers?.length) {
    w.line(0, 'Init Containers:');
    containers(w, 1, p.spec.initContainers, p.status?.initContainerStatuses);
  }
  w.line(0, 'Containers:');
  containers(w, 1, p.spec?.containers, p.status?.containerStatuses);
  const conds = (p.status?.conditions ?? []) as Any[];
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type', 'Status');
    for (const c of conds) w.line(1, c.type, c.status);
  }
  const vols = (p.spec?.volumes ?? []) as Any[];
  if (vols.length === 0) w.line(0, 'Volumes:', '<none>');
  else {
    w.line(0, 'Volumes:');
    for (const v of vols) {
      w.line(1, `${v.name}:`);
      const type = Object.keys(v).find((k) => k !== 'name');
      if (type) w.line(2, 'Type:', `${type[0]!.toUpperCase()}${type.slice(1)}`);
    }
  }
  w.line(0, 'QoS Class:', p.status?.qosClass ?? 'BestEffort');
  w.line(0, 'Node-Selectors:', Object.entries((p.spec?.nodeSelector ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',') || '<none>');
  const tol = (p.spec?.tolerations ?? []) as Any[];
  if (tol.length === 0) w.line(0, 'Tolerations:', '<none>');
  tol.forEach((t, i) => w.line(0, i === 0 ? 'Tolerations:' : '', `${t.key ?? ''}${t.operator === 'Exists' ? '' : `=${t.value ?? ''}`}${t.effect ? `:${t.effect}` : ''}${t.tolerationSeconds !== undefined ? ` for ${t.tolerationSeconds}s` : ''}`.replace(/^=/, '')));
}

async function describeDeployment(w: DescribeWriter, d: Any, client: RestClient): Promise<void> {
  header(w, d, true);
  w.line(0, 'CreationTimestamp:', formatTime(d.metadata.creationTimestamp));
  w.map(0, 'Labels', d.metadata.labels);
  w.map(0, 'Annotations', d.metadata.annotations, ':');
  w.line(0, 'Selector:', selectorText(d.spec?.selector));
  const st = d.status ?? {};
  w.line(0, 'Replicas:', `${d.spec?.replicas ?? 1} desired | ${st.updatedReplicas ?? 0} updated | ${st.replicas ?? 0} total | ${st.availableReplicas ?? 0} available | ${st.unavailableReplicas ?? 0} unavailable`);
  w.line(0, 'StrategyType:', d.spec?.strategy?.type ?? 'RollingUpdate');
  w.line(0, 'MinReadySeconds:', String(d.spec?.minReadySeconds ?? 0));
  const ru = d.spec?.strategy?.rollingUpdate;
  if (ru) w.line(0, 'RollingUpdateStrategy:', `${ru.maxUnavailable ?? '25%'} max unavailable, ${ru.maxSurge ?? '25%'} max surge`);
  w.line(0, 'Pod Template:');
  w.map(1, 'Labels', d.spec?.template?.metadata?.labels);
  if (d.spec?.template?.metadata?.annotations) w.map(1, 'Annotations', d.spec.template.metadata.annotations, ':');
  w.line(1, 'Containers:');
  containers(w, 2, d.spec?.template?.spec?.containers, undefined);
  const conds = (st.conditions ?? []) as Any[];
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type', 'Status', 'Reason');
    w.line(1, '----', '------', '------');
    for (const c of conds) w.line(1, c.type, c.status, c.reason ?? '');
  }
  const rsList = await client.listAll(res('replicasets'), { namespace: d.metadata.namespace });
  const owned = (rsList.items as Any[]).filter((rs) => (rs.metadata.ownerReferences ?? []).some((o: Any) => o.uid === d.metadata.uid && o.controller));
  const rev = d.metadata.annotations?.['deployment.kubernetes.io/revision'];
  const newRs = owned.find((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === rev);
  const old = owned.filter((rs) => rs !== newRs && (rs.spec?.replicas ?? 0) > 0);
  const rsText = (rs: Any) => `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 0} replicas created)`;
  w.line(0, 'OldReplicaSets:', old.length ? old.map(rsText).join(', ') : '<none>');
  w.line(0, 'NewReplicaSet:', newRs ? rsText(newRs) : '<none>');
}

function describeService(w: DescribeWriter, s: Any, endpoints: Any | undefined): void {
  header(w, s, true);
  w.map(0, 'Labels', s.metadata.labels);
  w.map(0, 'Annotations', s.metadata.annotations, ':');
  w.line(0, 'Selector:', Object.entries((s.spec?.selector ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',') || '<none>');
  w.line(0, 'Type:', s.spec?.type ?? 'ClusterIP');
  w.line(0, 'IP Family Policy:', s.spec?.ipFamilyPolicy ?? 'SingleStack');
  w.line(0, 'IP Families:', (s.spec?.ipFamilies ?? ['IPv4']).join(','));
  w.line(0, 'IP:', s.spec?.clusterIP ?? '');
  w.line(0, 'IPs:', (s.spec?.clusterIPs ?? [s.spec?.clusterIP ?? '']).join(','));
  const addrs = ((endpoints?.subsets ?? []) as Any[]).flatMap((ss) => ((ss.addresses ?? []) as Any[]).map((a) => a.ip));
  for (const p of (s.spec?.ports ?? []) as Any[]) {
    w.line(0, 'Port:', p.name || '<unset>', `${p.port}/${p.protocol ?? 'TCP'}`);
    w.line(0, 'TargetPort:', `${p.targetPort ?? p.port}/${p.protocol ?? 'TCP'}`);
    if (p.nodePort) w.line(0, 'NodePort:', p.name || '<unset>', `${p.nodePort}/${p.protocol ?? 'TCP'}`);
    w.line(0, 'Endpoints:', addrs.length ? addrs.map((ip) => `${ip}:${typeof p.targetPort === 'number' ? p.targetPort : p.port}`).join(',') : '<none>');
  }
  w.line(0, 'Session Affinity:', s.spec?.sessionAffinity ?? 'None');
}

function describeNode(w: DescribeWriter, n: Any): void {
  header(w, n, false);
  const labels = (n.metadata.labels ?? {}) as Record<string, string>;
  const roles = Object.keys(labels).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  w.line(0, 'Roles:', roles.join(',') || '<none>');
  w.map(0, 'Labels', n.metadata.labels);
  w.map(0, 'Annotations', n.metadata.annotations, ':');
  w.line(0, 'CreationTimestamp:', formatTime(n.metadata.creationTimestamp));
  const taints = (n.spec?.taints ?? []) as Any[];
  if (taints.length === 0) w.line(0, 'Taints:', '<none>');
  taints.forEach((t, i) => w.line(0, i === 0 ? 'Taints:' : '', `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`));
  w.line(0, 'Unschedulable:', String(n.spec?.unschedulable ?? false));
  const conds = (n.status?.conditions ?? []) as Any[];
  w.line(0, 'Conditions:');
  w.line(1, 'Type', 'Status', 'LastHeartbeatTime', 'LastTransitionTime', 'Reason', 'Message');
  w.line(1, '----', '------', '-----------------', '------------------', '------', '-------');
  for (const c of conds) w.line(1, c.type, c.status, formatTime(c.lastHeartbeatTime), formatTime(c.lastTransitionTime), c.reason ?? '', c.message ?? '');
  w.line(0, 'Addresses:');
  for (const a of (n.status?.addresses ?? []) as Any[]) w.line(1, `${a.type}:`, a.address);
  for (const [title, m] of [['Capacity', n.status?.capacity], ['Allocatable', n.status?.allocatable]] as const) {
    w.line(0, `${title}:`);
    for (const [k, v] of Object.entries((m ?? {}) as Record<string, string>)) w.line(1, `${k}:`, String(v));
  }
  const info = (n.status?.nodeInfo ?? {}) as Record<string, string>;
  w.line(0, 'System Info:');
  for (const [k, label] of [['machineID', 'Machine ID'], ['systemUUID', 'System UUID'], ['bootID', 'Boot ID'], ['kernelVersion', 'Kernel Version'], ['osImage', 'OS Image'], ['operatingSystem', 'Operating System'], ['architecture', 'Architecture'], ['containerRuntimeVersion', 'Container Runtime Version'], ['kubeletVersion', 'Kubelet Version']] as const) w.line(1, `${label}:`, info[k] ?? '');
  if (n.spec?.podCIDR) w.line(0, 'PodCIDR:', n.spec.podCIDR);
}

function describeGeneric(w: DescribeWriter, o: Any, namespaced: boolean): void {
  header(w, o, namespaced);
  w.map(0, 'Labels', o.metadata.labels);
  w.map(0, 'Annotations', o.metadata.annotations, ':');
  const walk = (level: number, v: unknown, key: string): void => {
    const label = `${key[0]!.toUpperCase()}${key.slice(1)}:`;
    if (Array.isArray(v)) {
      w.line(level, label);
      for (const item of v) {
        if (item && typeof item === 'object') for (const [k, x] of Object.entries(item)) walk(level + 1, x, k);
        else w.line(level + 1, String(item));
      }
    } else if (v && typeof v === 'object') {
      w.line(level, label);
      for (const [k, x] of Object.entries(v)) walk(level + 1, x, k);
    } else w.line(level, label, String(v));
  };
  w.line(0, 'API Version:', String(o.apiVersion ?? ''));
  w.line(0, 'Kind:', String(o.kind ?? ''));
  for (const [k, v] of Object.entries(o)) if (!['apiVersion', 'kind', 'metadata'].includes(k)) walk(0, v, k);
}

/** Appends the Events block (kubectl's `Events:` table, newest last). */
async function describeEvents(w: DescribeWriter, client: RestClient, o: KubeObject, namespace: string): Promise<void> {
  const fields = [`involvedObject.name=${o.metadata.name}`, `involvedObject.uid=${o.metadata.uid ?? ''}`];
  if (namespace) fields.push(`involvedObject.namespace=${namespace}`);
  let events: Any[] = [];
  try {
    const list = await client.listAll(res('events'), { ...(namespace ? { namespace } : {}), fieldSelector: fields.join(',') });
    events = list.items as Any[];
  } catch (err) {
    if (apiErrorCode(err) !== 404) throw err;
  }
  if (events.length === 0) {
    w.line(0, 'Events:', '<none>');
    return;
  }
  const time = (e: Any) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
  events.sort((a, b) => Date.parse(time(a)) - Date.parse(time(b)));
  w.line(0, 'Events:');
  w.line(1, 'Type', 'Reason', 'Age', 'From', 'Message');
  w.line(1, '----', '------', '----', '----', '-------');
  for (const e of events) {
    const count = e.count ?? e.series?.count ?? 1;
    const first = e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
    const age = count > 1 ? `${ageOf(time(e))} (x${count} over ${ageOf(first)})` : ageOf(time(e));
    const from = e.source?.component ? `${e.source.component}${e.source.host ? `, ${e.source.host}` : ''}` : e.reportingComponent ?? '';
    w.line(1, e.type ?? 'Normal', e.reason ?? '', age, from, String(e.message ?? '').trim());
  }
}

async function describeOne(client: RestClient, t: ObjectTarget, showEvents: boolean): Promise<string> {
  const o = (await client.get(t.r, t.namespace, t.name)) as Any;
  o.apiVersion ??= t.r.group ? `${t.r.group}/${t.r.version}` : t.r.version;
  o.kind ??= t.r.kind;
  const w = new DescribeWriter();
  if (t.r.group === '' && t.r.kind === 'Pod') describePod(w, o);
  else if (t.r.group === 'apps' && t.r.kind === 'Deployment') await describeDeployment(w, o, client);
  else if (t.r.group === '' && t.r.kind === 'Service') {
    const ep = await client.get(res('endpoints'), t.namespace, t.name).catch(() => undefined);
    describeService(w, o, ep);
  } else if (t.r.group === '' && t.r.kind === 'Node') describeNode(w, o);
  else describeGeneric(w, o, t.r.namespaced);
  if (showEvents && t.r.kind !== 'Event') await describeEvents(w, client, o as KubeObject, t.namespace);
  return w.toString();
}

/** Runs `describe`. */
export async function runDescribe(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const client = await ctx.client();
  let targets: ObjectTarget[];
  const requests = parseResourceArgs(args);
  if (!opts['filename'] && requests.length > 0 && requests.every((r) => r.names.length === 0)) {
    // `describe pods` describes every pod (matching -l) in the namespace.
    targets = await collectTargets(ctx, args, { ...(opts['selector'] ? { selector: String(opts['selector']) } : {}), all: true, allNamespaces: opts['allNamespaces'] === true });
    if (targets.length === 0) {
      const r = await resolveResource(ctx, requests[0]!.type);
      ctx.err(r.namespaced && !opts['allNamespaces'] ? `No resources found in ${await ctx.namespace()} namespace.\n` : 'No resources found\n');
      return 0;
    }
  } else targets = await collectTargets(ctx, args, opts);
  let failed = false;
  const blocks: string[] = [];
  for (const t of targets) {
    try {
      blocks.push(await describeOne(client, t, opts['showEvents'] !== false));
    } catch (err) {
      if (blocks.length) ctx.out(blocks.splice(0).join('\n\n\n'));
      ctx.err(`${formatError(err)}\n`);
      failed = true;
    }
  }
  if (blocks.length) ctx.out(blocks.join('\n\n'));
  return failed ? 1 : 0;
}
