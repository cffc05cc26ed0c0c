/**
 * The service accounts controller (Kubernetes' `serviceaccount`): every active namespace has the
 * ServiceAccount `default`, recreated when it is deleted. A namespace that is not Active (being
 * deleted) gets nothing, and no other account is ever touched.
 */
import { isAlreadyExists, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { isNamespaceTerminating } from '../../namespace-terminating.js';

const NAMESPACES = res('namespaces');
const SERVICEACCOUNTS = res('serviceaccounts');

/** The accounts every namespace gets (Kubernetes' DefaultServiceAccountsControllerOptions). */
export const DEFAULT_SERVICE_ACCOUNTS: readonly string[] = ['default'];

interface NamespaceView extends KubeObject {
  status?: { phase?: string };
}

/** Ensures the default service accounts in every active namespace. */
export class ServiceAccountsController implements Controller {
  readonly name = 'serviceaccount-controller';
  readonly queue: WorkQueue<string>;
  private readonly namespaces: SharedInformer<NamespaceView>;
  private readonly serviceAccounts: SharedInformer<KubeObject>;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly accounts: readonly string[] = DEFAULT_SERVICE_ACCOUNTS,
  ) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.namespaces = ctx.informers.informerFor<NamespaceView>(NAMESPACES);
    // Only the ensured accounts matter; with one account the API server filters the rest out.
    this.serviceAccounts = ctx.informers.informerFor(SERVICEACCOUNTS, accounts.length === 1 ? { fieldSelector: `metadata.name=${accounts[0]}` } : {});
    this.namespaces.addEventHandler({
      onAdd: (ns) => this.queue.add(ns.metadata.name ?? ''),
      onUpdate: (_old, ns) => this.queue.add(ns.metadata.name ?? ''),
    });
    this.serviceAccounts.addEventHandler({
      onDelete: (sa) => {
        const o = deletedObject(sa);
        if (this.accounts.includes(o.metadata.name ?? '')) this.queue.add(o.metadata.namespace ?? '');
      },
    });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.namespaces.waitForSync(signal), this.serviceAccounts.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Creates the missing accounts of an active namespace. */
  async sync(namespace: string): Promise<void> {
    const ns = this.namespaces.lister.get('', namespace);
    if (!ns || ns.status?.phase !== 'Active') return;
    const failures: unknown[] = [];
    for (const name of this.accounts) {
      if (this.serviceAccounts.lister.get(namespace, name)) continue;
      try {
        await this.ctx.client.create(SERVICEACCOUNTS, namespace, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
        this.ctx.logger.debug({ namespace, serviceAccount: name }, 'created service account');
      } catch (err) {
        // A lagging cache (it exists) and a namespace deleted meanwhile are both fine.
        if (!isAlreadyExists(err) && !isNamespaceTerminating(err)) failures.push(err);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `creating service accounts in namespace ${namespace} failed`);
  }
}
