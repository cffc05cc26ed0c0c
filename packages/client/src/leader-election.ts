/**
 * Leader election on a coordination.k8s.io/v1 Lease (client-go `leaderelection`): candidates try to
 * acquire or renew the lease every retry period; a lease whose holder stopped renewing for
 * leaseDuration (as observed on this candidate's own clock) can be taken over; the leader steps
 * down when it cannot renew within the renew deadline.
 */
import { componentAbortController } from './abort.js';
import { formatMicroTime, isConflict, isNotFound, isAlreadyExists, type KubeObject } from '@flotilla/api/core';
import type { Logger } from 'pino';
import { realClock, type Clock } from './clock.js';
import { res, type KubeClient } from './rest-client.js';

/** The Lease object. */
export interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** Options of a leader elector. */
export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  clock?: Clock;
  /** Runs while leading; its signal aborts when leadership is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
}

const LEASES = res('leases.coordination.k8s.io');

/** Elects one leader among candidates sharing a lease. */
export class LeaderElector {
  private observed: { holder: string; renewTime: string; rv: string } | undefined;
  private observedAt = 0;
  private leading = false;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(private readonly o: LeaderElectorOptions) {
    this.clock = o.clock ?? realClock;
    this.leaseMs = (o.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
  }

  /** True while this candidate holds the lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** One attempt to acquire or renew. Returns true when this candidate holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    const nowText = formatMicroTime(new Date(now));
    let lease: Lease;
    try {
      lease = await this.o.client.get<Lease>(LEASES, this.o.namespace, this.o.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { holderIdentity: this.o.identity, leaseDurationSeconds: this.leaseMs / 1000, acquireTime: nowText, renewTime: nowText, leaseTransitions: 0 },
      };
      try {
        const created = await this.o.client.create(LEASES, this.o.namespace, fresh);
        this.observe(created, now);
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    this.observe(lease, now);
    const expired = this.observedAt + (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000 <= now;
    if (holder !== '' && holder !== this.o.identity && !expired) return false;
    const next: Lease = structuredClone(lease);
    next.spec = {
      ...spec,
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.leaseMs / 1000,
      renewTime: nowText,
      acquireTime: holder === this.o.identity ? spec.acquireTime ?? nowText : nowText,
      leaseTransitions: holder === this.o.identity ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = await this.o.client.update(LEASES, next);
      this.observe(updated, now);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private observe(lease: Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const renew = lease.spec?.renewTime ?? '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renew) {
      if (this.observed?.holder !== holder && holder) this.o.onNewLeader?.(holder);
      this.observed = { holder, renewTime: renew, rv: lease.metadata.resourceVersion ?? '' };
      this.observedAt = now;
    }
  }

  /** Campaigns, leads and re-campaigns until the signal aborts; releases the lease on the way out. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Acquire.
      for (;;) {
        if (signal.aborted) return;
        let ok = false;
        try {
          ok = await this.tryAcquireOrRenew();
        } catch (err) {
          this.o.logger.warn({ err, lease: this.o.name }, 'leader election attempt failed');
        }
        if (ok) break;
        try {
          await this.clock.sleep(this.retryMs * (1 + Math.random() * 0.2), signal);
        } catch {
          return;
        }
      }
      this.leading = true;
      this.o.logger.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
      const leadership = componentAbortController();
      const stopLeading = () => leadership.abort();
      signal.addEventListener('abort', stopLeading, { once: true });
      const work = Promise.resolve()
        .then(() => this.o.onStartedLeading(leadership.signal))
        .catch((err: unknown) => this.o.logger.error({ err }, 'leader work failed'));
      // Renew until a renewal fails past the deadline or we are stopped.
      let lastRenew = this.clock.now();
      while (!leadership.signal.aborted) {
        try {
          await this.clock.sleep(this.retryMs, leadership.signal);
        } catch {
          break;
        }
        let ok = false;
        try {
          ok = await this.tryAcquireOrRenew();
        } catch (err) {
          this.o.logger.warn({ err }, 'lease renewal failed');
        }
        if (ok) lastRenew = this.clock.now();
        else if (this.clock.now() - lastRenew >= this.renewDeadlineMs || this.observed?.holder !== this.o.identity) {
          this.o.logger.warn({ lease: this.o.name }, 'lost leadership');
          break;
        }
      }
      leadership.abort();
      signal.removeEventListener('abort', stopLeading);
      this.leading = false;
      await work;
      this.o.onStoppedLeading?.();
      if (signal.aborted) await this.release();
    }
  }

  /** Gives the lease up so another candidate can take it at once. */
  async release(): Promise<void> {
    try {
      const lease = await this.o.client.get<Lease>(LEASES, this.o.namespace, this.o.name);
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const next = structuredClone(lease);
      next.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: formatMicroTime(new Date(this.clock.now())) };
      await this.o.client.update(LEASES, next);
    } catch (err) {
      this.o.logger.debug({ err }, 'releasing the lease failed');
    }
  }
}

/** How a component elects its leader (from its `--leader-elect*` flags). */
export interface LeaderElectionConfig {
  /** Without election the component acts at once (a single instance). */
  leaderElect: boolean;
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** What a leader-elected component runs: its work while leading, with or without an election. */
export interface LeadingOptions extends Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'> {
  /** Without election the work runs at once (a single instance). */
  leaderElect: boolean;
  /** The work; its signal aborts when leadership is lost or the component stops. */
  lead(signal: AbortSignal): Promise<void>;
  /** Told when leadership starts (true) and ends (false), e.g. for a metric. */
  onLeadership?(leading: boolean): void;
}

/** Runs `lead` while this instance leads (or always, without election) until `signal` aborts. */
export function runWhileLeading(o: LeadingOptions, signal: AbortSignal): { done: Promise<void>; isLeader(): boolean } {
  let leading = false;
  const lead = async (s: AbortSignal) => {
    leading = true;
    o.onLeadership?.(true);
    try {
      await o.lead(s);
    } finally {
      leading = false;
      o.onLeadership?.(false);
    }
  };
  const { leaderElect, lead: _work, onLeadership: _notify, ...elector } = o;
  const done = leaderElect
    ? new LeaderElector({ ...elector, onStartedLeading: lead, onStoppedLeading: () => o.logger.info({ identity: o.identity }, 'stopped leading') }).run(signal)
    : lead(signal);
  return { done, isLeader: () => leading };
}
