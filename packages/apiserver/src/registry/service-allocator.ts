/**
 * Service ClusterIP and NodePort allocation (kube-apiserver's `registry/core/service/ipallocator`,
 * `portallocator` and their repair controllers), as write hooks of the services store.
 *
 * Design — correct with several API servers sharing one storage (etcd):
 * every allocated value is its own storage key, `/registry/ranges/serviceips/<ip>` or
 * `/registry/ranges/servicenodeports/<port>`, whose value names the owning Service (namespace,
 * name, uid). This is Kubernetes' newer scheme (one `IPAddress` object per ClusterIP,
 * networking.k8s.io/v1) rather than its older single bitmap object; both rest on the same
 * guarantee, an atomic conditional write in storage:
 * - Allocating is `storage.create(key)`, which fails with KeyExists when the key is live, on
 *   LevelDB and on etcd (a transaction on create revision 0). Two requests — in one process or in
 *   two API servers — can therefore never both get a value. Each server keeps a local view of the
 *   live keys (listed at start, then followed through the storage subscription, which on etcd
 *   carries every server's writes) only to *pick* candidates; a stale view just costs a retry.
 *   Unlike a bitmap, concurrent allocations of different values never contend on one key.
 * - The record is written before the Service. When the Service write fails, the record is
 *   deleted again (FinishWrite(false)); on update the values the Service no longer uses are
 *   released only after the update is committed; on delete after the Service is gone.
 * - Releasing deletes a record only if it still names the same owner uid, at the modRevision
 *   read, so a late or repeated release can never free a value another Service now holds.
 * - Records survive restarts with the rest of storage. A crash between the record and the Service
 *   write leaves a record without a Service; `repair()` (at start-up and periodically) deletes
 *   such records — at once when this server owns the storage alone (LevelDB is single-process, and
 *   this server's own in-flight allocations are excluded), and with shared storage only when the
 *   same record was already orphaned one repair interval earlier and a direct read of the owner's
 *   namespace in storage confirms no Service holds it (Kubernetes' repair controller likewise
 *   waits several runs before freeing a leak). Repair also writes the missing records of
 *   Services that hold values without one (data from before allocation existed).
 */
import { internalError, invalid, type FieldError, type KubeObject } from '@flotilla/api';
import type { Logger } from 'pino';
import { StorageError, type KeyValue, type Storage, type StorageEvent } from '../storage/storage.js';
import type { FinishWrite, WriteHooks } from './generic-store.js';
import { invalidValue } from './validation.js';

/** An IPv4 service range. */
export interface ServiceCidr {
  /** As given, normalised: `10.43.0.0/16`. */
  text: string;
  /** The network address as an unsigned 32-bit number. */
  network: number;
  prefixLength: number;
  /** The broadcast address. */
  broadcast: number;
}

/** An inclusive port range. */
export interface PortRange {
  min: number;
  max: number;
  /** `30000-32767`. */
  text: string;
}

/** Parses a dotted IPv4 address to a number, or undefined. */
export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const b = Number(part);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

/** Formats a number as a dotted IPv4 address. */
export function formatIPv4(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/**
 * Parses `--service-cluster-ip-range`: one IPv4 CIDR with a prefix length between 12 and 30 (at
 * most 2^20 addresses, as Kubernetes allows, and room for the `kubernetes` Service plus one more).
 * Throws an Error with a user-facing message.
 */
export function parseServiceCidr(text: string): ServiceCidr {
  const t = text.trim();
  if (t.includes(',')) throw new Error(`dual-stack service ranges are not supported; give one IPv4 CIDR, got ${text}`);
  const m = /^([^/]+)\/(\d{1,2})$/.exec(t);
  if (!m) throw new Error(`service cluster IP range must be a CIDR such as 10.43.0.0/16, got ${text}`);
  if (m[1]!.includes(':')) throw new Error(`IPv6 service ranges are not supported; give an IPv4 CIDR, got ${text}`);
  const ip = parseIPv4(m[1]!);
  const prefixLength = Number(m[2]);
  if (ip === undefined || prefixLength > 32) throw new Error(`service cluster IP range must be a CIDR such as 10.43.0.0/16, got ${text}`);
  if (prefixLength < 12 || prefixLength > 30) throw new Error(`service cluster IP range must have a prefix length between /12 and /30, got ${text}`);
  const size = 2 ** (32 - prefixLength);
  const network = ip - (ip % size);
  return { text: `${formatIPv4(network)}/${prefixLength}`, network, prefixLength, broadcast: network + size - 1 };
}

/** Parses `--service-node-port-range` (`30000-32767`). Throws an Error with a user-facing message. */
export function parsePortRange(text: string): PortRange {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const min = m ? Number(m[1]) : NaN;
  const max = m ? Number(m[2]) : NaN;
  if (!m || min < 1 || max > 65535 || min > max) throw new Error(`service node port range must be MIN-MAX with 1 <= MIN <= MAX <= 65535, got ${text}`);
  return { min, max, text: `${min}-${max}` };
}

/** The first address of the range (network + 1): the `kubernetes` Service's ClusterIP. */
export function kubernetesServiceIP(cidr: ServiceCidr): string {
  return formatIPv4(cidr.network + 1);
}

/**
 * Size of the static band at the bottom of a range of `size` values: size/step, within
 * [min, max], and none for ranges of at most `min` values (Kubernetes' calculateRangeOffset).
 */
export function staticBandSize(size: number, min: number, max: number, step: number): number {
  if (size <= min) return 0;
  return Math.min(max, Math.max(min, Math.floor(size / step)));
}

/** Who holds an allocated value. */
export interface AllocationOwner {
  namespace: string;
  name: string;
  uid: string;
}

interface AllocationRecord {
  kind: 'ServiceAllocation';
  value: string;
  owner: AllocationOwner;
}

/** Why an allocation failed. */
export class AllocationError extends Error {
  override readonly name = 'AllocationError';
  constructor(
    readonly code: 'NotInRange' | 'Allocated' | 'Full',
    message: string,
  ) {
    super(message);
  }
}

/** What a range allocates: how values map to keys and to text. */
interface RangeShape {
  /** Storage key prefix, ending in `/`. */
  prefix: string;
  min: number;
  max: number;
  /** Lowest value handed out automatically (values below are only given on request). */
  autoMin: number;
  /**
   * First value of the upper ("dynamic") band, which automatic allocation uses first; the values
   * below it are the static band, left to explicit requests until the dynamic band is full
   * (Kubernetes' ServiceIPStaticSubrange and ServiceNodePortStaticSubrange).
   */
  dynamicMin: number;
  format(n: number): string;
  parse(text: string): number | undefined;
  /** Error messages, Kubernetes' wording. */
  allocatedMessage: string;
  notInRangeMessage: string;
}

function parseRecord(kv: KeyValue): AllocationRecord | undefined {
  try {
    const r = JSON.parse(kv.value) as AllocationRecord;
    return r && typeof r === 'object' && r.owner && typeof r.owner.uid === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One range of values (IPs or ports) allocated as one storage key per value. See the module
 * comment for why this is safe with several API servers.
 */
export class AllocationRange {
  /** Values with a live record in storage, as far as this server has seen. */
  private readonly used = new Set<number>();
  /**
   * Values this server allocated for writes not yet finished (from before their record is created
   * until `settle`): never handed out twice locally and never repaired away.
   */
  private readonly pending = new Set<number>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly storage: Storage,
    readonly shape: RangeShape,
  ) {}

  /** Follows the records in storage. Call before allocating. */
  async start(): Promise<void> {
    // Subscribe first so that no commit falls between the list and the subscription.
    this.unsubscribe = this.storage.subscribe((events) => this.apply(events));
    for (const kv of await this.listRecords()) {
      const n = this.valueOfKey(kv.key);
      if (n !== undefined) this.used.add(n);
    }
  }

  /** Stops following storage. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Every live record (one snapshot, paged). */
  async listRecords(): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.storage.list(this.shape.prefix, { ...(startAfter !== undefined ? { startAfter } : {}), limit: 10_000 });
      out.push(...page.items);
      if (!page.more || page.items.length === 0) return out;
      startAfter = page.items[page.items.length - 1]!.key;
    }
  }

  private apply(events: readonly StorageEvent[]): void {
    for (const e of events) {
      if (!e.key.startsWith(this.shape.prefix)) continue;
      const n = this.valueOfKey(e.key);
      if (n === undefined) continue;
      if (e.type === 'delete') this.used.delete(n);
      else this.used.add(n);
    }
  }

  /** The storage key of a value. */
  keyOf(n: number): string {
    return this.shape.prefix + this.shape.format(n);
  }

  /** The value a key stands for. */
  valueOfKey(key: string): number | undefined {
    return this.shape.parse(key.slice(this.shape.prefix.length));
  }

  /** Whether a value lies in the range. */
  contains(n: number): boolean {
    return n >= this.shape.min && n <= this.shape.max;
  }

  /** Whether this server believes the value is taken (exact for a single server). */
  isUsed(n: number): boolean {
    return this.used.has(n) || this.pending.has(n);
  }

  /** Number of values this server believes are taken. */
  get usedCount(): number {
    return this.used.size;
  }

  /**
   * A value that looks free for automatic allocation, from a random offset in the dynamic band,
   * then in the static band; undefined when full.
   */
  pickFree(): number | undefined {
    const { autoMin, dynamicMin, max } = this.shape;
    return this.pickIn(Math.max(autoMin, dynamicMin), max) ?? this.pickIn(autoMin, Math.min(max, dynamicMin - 1));
  }

  private pickIn(low: number, high: number): number | undefined {
    const span = high - low + 1;
    if (span <= 0) return undefined;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const n = low + ((start + i) % span);
      if (!this.used.has(n) && !this.pending.has(n)) return n;
    }
    return undefined;
  }

  private record(n: number, owner: AllocationOwner): string {
    const r: AllocationRecord = { kind: 'ServiceAllocation', value: this.shape.format(n), owner };
    return JSON.stringify(r);
  }

  /** Whether `n` is allocated by a write of this server that has not finished. */
  isPending(n: number): boolean {
    return this.pending.has(n);
  }

  /**
   * Creates the record of `n` for `owner`; AllocationError when out of range or taken. On success
   * `n` stays pending until `settle(n)`.
   */
  async allocate(n: number, owner: AllocationOwner): Promise<void> {
    if (!this.contains(n)) throw new AllocationError('NotInRange', this.shape.notInRangeMessage);
    if (this.pending.has(n)) throw new AllocationError('Allocated', this.shape.allocatedMessage);
    this.pending.add(n);
    try {
      await this.storage.create(this.keyOf(n), this.record(n, owner));
    } catch (err) {
      this.pending.delete(n);
      if (err instanceof StorageError && err.code === 'KeyExists') {
        this.used.add(n);
        throw new AllocationError('Allocated', this.shape.allocatedMessage);
      }
      throw err;
    }
  }

  /** Ends the pending state of a value allocated by `allocate`/`allocateNext`. */
  settle(n: number): void {
    this.pending.delete(n);
  }

  /** Allocates any free value for `owner`; AllocationError 'Full' when none is left. */
  async allocateNext(owner: AllocationOwner): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const n = this.pickFree();
      if (n === undefined) break;
      try {
        await this.allocate(n, owner);
        return n;
      } catch (err) {
        // Taken by another server since our view was updated: try another value.
        if (err instanceof AllocationError && err.code === 'Allocated') continue;
        throw err;
      }
    }
    throw new AllocationError('Full', 'range is full');
  }

  /**
   * Deletes the record of `n` if it still belongs to `ownerUid`. A record that changed meanwhile
   * (released and taken again) is left alone.
   */
  async release(n: number, ownerUid: string): Promise<void> {
    const key = this.keyOf(n);
    const kv = await this.storage.get(key);
    if (!kv || parseRecord(kv)?.owner.uid !== ownerUid) return;
    await this.deleteRecord(kv);
  }

  /** Deletes a record at the revision read; a concurrent change or delete wins. */
  async deleteRecord(kv: KeyValue): Promise<boolean> {
    try {
      await this.storage.delete(kv.key, kv.modRevision);
      return true;
    } catch (err) {
      if (err instanceof StorageError && (err.code === 'Conflict' || err.code === 'NotFound')) return false;
      throw err;
    }
  }

  /** Writes the record of a value a Service already holds; false when another record exists. */
  async adopt(n: number, owner: AllocationOwner): Promise<boolean> {
    try {
      await this.storage.create(this.keyOf(n), this.record(n, owner));
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.code === 'KeyExists') return false;
      throw err;
    }
  }

  /** The owner named by a record. */
  ownerOf(kv: KeyValue): AllocationOwner | undefined {
    return parseRecord(kv)?.owner;
  }
}

interface ServicePortView {
  name?: string;
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface ServiceSpecView {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  ports?: ServicePortView[];
  allocateLoadBalancerNodePorts?: boolean;
  externalTrafficPolicy?: string;
  healthCheckNodePort?: number;
}

function specOf(svc: KubeObject): ServiceSpecView {
  return (svc['spec'] ?? {}) as ServiceSpecView;
}

/** Whether the Service type has a ClusterIP (everything but ExternalName; headless holds "None"). */
export function needsClusterIP(svc: KubeObject): boolean {
  return specOf(svc).type !== 'ExternalName';
}

/** Whether the Service type may have node ports (NodePort, LoadBalancer). */
export function mayHaveNodePorts(svc: KubeObject): boolean {
  const t = specOf(svc).type;
  return t === 'NodePort' || t === 'LoadBalancer';
}

/** Whether ports without a nodePort get one automatically. */
function allocatesNodePorts(svc: KubeObject): boolean {
  const s = specOf(svc);
  return s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
}

/** Whether the Service needs a healthCheckNodePort (LoadBalancer with externalTrafficPolicy Local). */
export function needsHealthCheckNodePort(svc: KubeObject): boolean {
  const s = specOf(svc);
  return s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
}

/** Every node port a Service holds (ports and healthCheckNodePort). */
function nodePortsOf(svc: KubeObject): Set<number> {
  const out = new Set<number>();
  if (!mayHaveNodePorts(svc)) return out;
  const s = specOf(svc);
  for (const p of s.ports ?? []) if (typeof p.nodePort === 'number' && p.nodePort > 0) out.add(p.nodePort);
  if (needsHealthCheckNodePort(svc) && typeof s.healthCheckNodePort === 'number' && s.healthCheckNodePort > 0) out.add(s.healthCheckNodePort);
  return out;
}

/** The allocated ClusterIP of a Service as a number, if it has one ("None" and "" are not). */
function clusterIPOf(svc: KubeObject): number | undefined {
  if (!needsClusterIP(svc)) return undefined;
  const ip = specOf(svc).clusterIP;
  return ip ? parseIPv4(ip) : undefined;
}

function ownerOf(svc: KubeObject): AllocationOwner {
  return { namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '' };
}

/** What one write allocated and what it gives up once committed. */
class AllocationTxn {
  readonly added: { range: AllocationRange; n: number }[] = [];
  readonly releasedOnCommit: { range: AllocationRange; n: number }[] = [];
}

/** Dependencies of the allocator. */
export interface ServiceAllocatorOptions {
  storage: Storage;
  serviceCidr: ServiceCidr;
  nodePortRange: PortRange;
  logger: Logger;
  /** True when other API servers may write the same storage (etcd). */
  sharedStorage: boolean;
  /** The stored Services (from the cache). */
  listServices: () => KubeObject[];
  /** The Services of a namespace read directly from storage (authoritative). */
  readNamespaceServices: (namespace: string) => Promise<KubeObject[]>;
  /** How often repair runs (default 3 minutes, like Kubernetes). */
  repairIntervalMs?: number;
}

/** Allocates ClusterIPs and node ports for Services; used as the services store's write hooks. */
export class ServiceAllocator implements WriteHooks {
  readonly ips: AllocationRange;
  readonly nodePorts: AllocationRange;
  private readonly log: Logger;
  /** Orphaned records seen by the previous repair (key -> modRevision), for shared storage. */
  private suspects = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private repairing: Promise<void> | undefined;

  constructor(private readonly options: ServiceAllocatorOptions) {
    this.log = options.logger.child({ subsystem: 'service-allocator' });
    const cidr = options.serviceCidr;
    this.ips = new AllocationRange(options.storage, {
      prefix: '/registry/ranges/serviceips/',
      min: cidr.network + 1,
      max: cidr.broadcast - 1,
      // network + 1 is the kubernetes Service's, given only on request.
      autoMin: cidr.network + 2,
      dynamicMin: cidr.network + 1 + staticBandSize(cidr.broadcast - cidr.network + 1, 16, 256, 16),
      format: formatIPv4,
      parse: parseIPv4,
      allocatedMessage: 'provided IP is already allocated',
      notInRangeMessage: `provided IP is not in the valid range. The range of valid IPs is ${cidr.text}`,
    });
    const ports = options.nodePortRange;
    this.nodePorts = new AllocationRange(options.storage, {
      prefix: '/registry/ranges/servicenodeports/',
      min: ports.min,
      max: ports.max,
      autoMin: ports.min,
      dynamicMin: ports.min + staticBandSize(ports.max - ports.min + 1, 16, 128, 32),
      format: String,
      parse: (t) => (/^\d{1,5}$/.test(t) ? Number(t) : undefined),
      allocatedMessage: 'provided port is already allocated',
      notInRangeMessage: `provided port is not in the valid range. The range of valid ports is ${ports.text}`,
    });
  }

  /** Loads the allocation records, repairs them against the stored Services and starts periodic repair. */
  async start(): Promise<void> {
    await this.ips.start();
    await this.nodePorts.start();
    await this.repair();
    const interval = this.options.repairIntervalMs ?? 3 * 60_000;
    this.timer = setInterval(() => {
      this.repair().catch((err: unknown) => this.log.warn({ err }, 'allocation repair failed'));
    }, interval);
    this.timer.unref();
  }

  /** Stops periodic repair and following storage. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.ips.stop();
    this.nodePorts.stop();
  }

  private invalid(svc: KubeObject, errors: FieldError[]): never {
    throw invalid('Service', svc.metadata.name ?? svc.metadata.generateName ?? '', '', errors);
  }

  private fieldError(svc: KubeObject, field: string, value: unknown, err: unknown): never {
    if (err instanceof AllocationError) {
      if (err.code === 'Full') throw internalError(`failed to allocate a ${field === 'spec.clusterIP' ? 'serviceIP' : 'nodePort'}: range is full`);
      this.invalid(svc, [invalidValue(field, value, err.message)]);
    }
    throw err;
  }

  /** See WriteHooks.beginCreate. */
  async beginCreate(svc: KubeObject, options: { dryRun: boolean }): Promise<FinishWrite> {
    return this.begin(svc, undefined, options.dryRun);
  }

  /** See WriteHooks.beginUpdate. */
  async beginUpdate(svc: KubeObject, old: KubeObject, options: { dryRun: boolean }): Promise<FinishWrite> {
    return this.begin(svc, old, options.dryRun);
  }

  /** See WriteHooks.afterDelete: releases everything the Service held. */
  async afterDelete(svc: KubeObject): Promise<void> {
    const uid = svc.metadata.uid ?? '';
    const ip = clusterIPOf(svc);
    const work: Promise<void>[] = [];
    if (ip !== undefined) work.push(this.ips.release(ip, uid));
    for (const p of nodePortsOf(svc)) work.push(this.nodePorts.release(p, uid));
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: r.reason, service: `${svc.metadata.namespace}/${svc.metadata.name}` }, 'releasing service allocations failed; repair will free them');
  }

  private async begin(svc: KubeObject, old: KubeObject | undefined, dryRun: boolean): Promise<FinishWrite> {
    const txn = new AllocationTxn();
    try {
      await this.allocateClusterIP(svc, old, txn, dryRun);
      await this.allocateNodePorts(svc, old, txn, dryRun);
    } catch (err) {
      await this.revert(txn, svc);
      throw err;
    }
    return async (committed) => {
      if (dryRun) return;
      if (!committed) {
        await this.revert(txn, svc);
        return;
      }
      for (const a of txn.added) a.range.settle(a.n);
      const uid = (old ?? svc).metadata.uid ?? '';
      const results = await Promise.allSettled(txn.releasedOnCommit.map((r) => r.range.release(r.n, uid)));
      for (const r of results) if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'releasing service allocations failed; repair will free them');
    };
  }

  private async revert(txn: AllocationTxn, svc: KubeObject): Promise<void> {
    const uid = svc.metadata.uid ?? '';
    const results = await Promise.allSettled(txn.added.map((a) => a.range.release(a.n, uid)));
    for (const a of txn.added) a.range.settle(a.n);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'releasing service allocations failed; repair will free them');
  }

  /** Allocates `n` (explicit) or any value (n undefined) in `range`, recording it in `txn`. */
  private async take(range: AllocationRange, n: number | undefined, svc: KubeObject, txn: AllocationTxn, dryRun: boolean): Promise<number> {
    if (dryRun) {
      // Check without writing (Kubernetes' dry-run allocator).
      if (n === undefined) {
        const free = range.pickFree();
        if (free === undefined) throw new AllocationError('Full', 'range is full');
        return free;
      }
      if (!range.contains(n)) throw new AllocationError('NotInRange', range.shape.notInRangeMessage);
      if (range.isUsed(n)) throw new AllocationError('Allocated', range.shape.allocatedMessage);
      return n;
    }
    const owner = ownerOf(svc);
    let value: number;
    if (n === undefined) value = await range.allocateNext(owner);
    else {
      await range.allocate(n, owner);
      value = n;
    }
    txn.added.push({ range, n: value });
    return value;
  }

  private async allocateClusterIP(svc: KubeObject, old: KubeObject | undefined, txn: AllocationTxn, dryRun: boolean): Promise<void> {
    const spec = specOf(svc);
    const oldIP = old ? clusterIPOf(old) : undefined;
    if (!needsClusterIP(svc)) {
      if (oldIP !== undefined) txn.releasedOnCommit.push({ range: this.ips, n: oldIP });
      return;
    }
    const errors: FieldError[] = [];
    if (spec.ipFamilyPolicy === 'RequireDualStack') errors.push(invalidValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
    (spec.ipFamilies ?? []).forEach((f, i) => {
      if (f !== 'IPv4') errors.push(invalidValue(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
    });
    if (errors.length > 0) this.invalid(svc, errors);
    const ip = spec.clusterIP;
    if (ip === 'None') {
      spec.clusterIPs = ['None'];
      if (oldIP !== undefined) txn.releasedOnCommit.push({ range: this.ips, n: oldIP });
      return;
    }
    let n: number | undefined;
    if (ip) {
      n = parseIPv4(ip);
      if (n === undefined) this.invalid(svc, [invalidValue('spec.clusterIP', ip, this.ips.shape.notInRangeMessage)]);
      if (n === oldIP) {
        spec.clusterIPs = [ip];
        return;
      }
    }
    try {
      n = await this.take(this.ips, n, svc, txn, dryRun);
    } catch (err) {
      this.fieldError(svc, 'spec.clusterIP', ip, err);
    }
    spec.clusterIP = formatIPv4(n);
    spec.clusterIPs = [spec.clusterIP];
    if (oldIP !== undefined) txn.releasedOnCommit.push({ range: this.ips, n: oldIP });
  }

  private async allocateNodePorts(svc: KubeObject, old: KubeObject | undefined, txn: AllocationTxn, dryRun: boolean): Promise<void> {
    const spec = specOf(svc);
    const oldPorts = old ? nodePortsOf(old) : new Set<number>();
    const held = new Set<number>();
    if (mayHaveNodePorts(svc)) {
      const ports = spec.ports ?? [];
      // Ports with the same port number (e.g. TCP and UDP 53) share one node port, as in Kubernetes.
      const byPort = new Map<number, number>();
      const claim = async (n: number, field: string): Promise<void> => {
        if (held.has(n)) return;
        if (!oldPorts.has(n)) {
          try {
            await this.take(this.nodePorts, n, svc, txn, dryRun);
          } catch (err) {
            this.fieldError(svc, field, n, err);
          }
        }
        held.add(n);
      };
      for (let i = 0; i < ports.length; i++) {
        const p = ports[i]!;
        if (typeof p.nodePort !== 'number' || p.nodePort === 0) continue;
        await claim(p.nodePort, `spec.ports[${i}].nodePort`);
        if (p.port !== undefined && !byPort.has(p.port)) byPort.set(p.port, p.nodePort);
      }
      if (allocatesNodePorts(svc)) {
        for (let i = 0; i < ports.length; i++) {
          const p = ports[i]!;
          if (typeof p.nodePort === 'number' && p.nodePort !== 0) continue;
          let n = p.port !== undefined ? byPort.get(p.port) : undefined;
          if (n === undefined) {
            try {
              n = await this.take(this.nodePorts, undefined, svc, txn, dryRun);
            } catch (err) {
              this.fieldError(svc, `spec.ports[${i}].nodePort`, 0, err);
            }
            held.add(n);
            if (p.port !== undefined) byPort.set(p.port, n);
          }
          p.nodePort = n;
        }
      }
      if (needsHealthCheckNodePort(svc)) {
        const hc = spec.healthCheckNodePort;
        if (typeof hc === 'number' && hc !== 0) await claim(hc, 'spec.healthCheckNodePort');
        else {
          let n: number;
          try {
            n = await this.take(this.nodePorts, undefined, svc, txn, dryRun);
          } catch (err) {
            this.fieldError(svc, 'spec.healthCheckNodePort', 0, err);
          }
          held.add(n);
          spec.healthCheckNodePort = n;
        }
      }
    }
    for (const n of oldPorts) if (!held.has(n)) txn.releasedOnCommit.push({ range: this.nodePorts, n });
  }

  /**
   * Reconciles the records with the stored Services: writes missing records of values Services
   * hold, and deletes records no Service holds (see the module comment for when). Runs one at a time.
   */
  repair(): Promise<void> {
    this.repairing ??= this.repairOnce().finally(() => {
      this.repairing = undefined;
    });
    return this.repairing;
  }

  private async repairOnce(): Promise<void> {
    // Records first, then Services. A record whose Service is not written yet looks orphaned: it
    // is pending on this server, or (shared storage) must stay orphaned for a whole repair
    // interval, and a direct storage read must confirm it. A Service written after the listing
    // may look like it misses its record; adopting then finds the record and changes nothing.
    const ipRecords = await this.ips.listRecords();
    const portRecords = await this.nodePorts.listRecords();
    const services = this.options.listServices();
    const holders = new Map<string, KubeObject>();
    for (const svc of services) {
      const ip = clusterIPOf(svc);
      if (ip !== undefined) holders.set(this.ips.keyOf(ip), svc);
      for (const p of nodePortsOf(svc)) holders.set(this.nodePorts.keyOf(p), svc);
    }
    const suspects = new Map<string, number>();
    let freed = 0;
    let adopted = 0;
    const check = async (range: AllocationRange, records: KeyValue[]) => {
      const present = new Set<string>();
      for (const kv of records) {
        present.add(kv.key);
        const owner = range.ownerOf(kv);
        const holder = holders.get(kv.key);
        if (holder && owner && holder.metadata.uid === owner.uid) continue;
        const n = range.valueOfKey(kv.key);
        if (n === undefined || range.isPending(n)) continue;
        if (holder && !owner) continue;
        if (this.options.sharedStorage && this.suspects.get(kv.key) !== kv.modRevision) {
          suspects.set(kv.key, kv.modRevision);
          continue;
        }
        if (owner && (await this.isHeldInStorage(range, n, owner))) continue;
        if (await range.deleteRecord(kv)) {
          freed++;
          this.log.warn({ key: kv.key, owner }, 'freed a service allocation no service holds');
        }
      }
      for (const [key, svc] of holders) {
        if (!key.startsWith(range.shape.prefix) || present.has(key)) continue;
        const n = range.valueOfKey(key);
        if (n === undefined || !range.contains(n)) continue;
        if (await range.adopt(n, ownerOf(svc))) adopted++;
      }
    };
    await check(this.ips, ipRecords);
    await check(this.nodePorts, portRecords);
    this.suspects = suspects;
    if (freed > 0 || adopted > 0) this.log.info({ freed, adopted }, 'repaired service allocations');
  }

  /** Whether a Service in storage (not the cache) with the owner's uid holds the value. */
  private async isHeldInStorage(range: AllocationRange, n: number, owner: AllocationOwner): Promise<boolean> {
    const services = await this.options.readNamespaceServices(owner.namespace);
    const svc = services.find((s) => s.metadata.uid === owner.uid);
    if (!svc) return false;
    if (range === this.ips) return clusterIPOf(svc) === n;
    return nodePortsOf(svc).has(n);
  }
}
