/**
 * The root CA certificate publisher (Kubernetes' `root-ca-cert-publisher`): every namespace has the
 * ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA bundle (PEM) that in-cluster clients
 * verify the API server with, annotated with Kubernetes' description. It is recreated when deleted,
 * and its data is restored when edited (other keys are dropped), as is the description when removed
 * (a changed description is left alone, as in Kubernetes).
 */
import { isNotFound, type KubeObject } from '@flotilla/api';
import { deletedObject, res, runWorkers, WorkQueue, type SharedInformer } from '@flotilla/client';
import type { Controller, ControllerContext } from '../../controller-context.js';
import { isNamespaceTerminating } from '../../namespace-terminating.js';

const NAMESPACES = res('namespaces');
const CONFIGMAPS = res('configmaps');

/** Name of the ConfigMap published in every namespace. */
export const ROOT_CA_CONFIGMAP_NAME = 'kube-root-ca.crt';
/** The key holding the CA bundle. */
export const ROOT_CA_KEY = 'ca.crt';
/** The annotation describing the ConfigMap. */
export const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
/** Its value, word for word as Kubernetes sets it. */
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. ' +
  'No other usage is guaranteed across distributions of Kubernetes clusters.';

interface NamespaceView extends KubeObject {
  status?: { phase?: string };
}

interface ConfigMapView extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** True when `data` is exactly `{ [ROOT_CA_KEY]: rootCa }`. */
function hasOnlyCa(data: Readonly<Record<string, string>> | undefined, rootCa: string): boolean {
  const keys = Object.keys(data ?? {});
  return keys.length === 1 && keys[0] === ROOT_CA_KEY && data?.[ROOT_CA_KEY] === rootCa;
}

/** Publishes the cluster CA bundle into every namespace. */
export class RootCaCertPublisher implements Controller {
  readonly name = 'root-ca-certificate-publisher-controller';
  readonly queue: WorkQueue<string>;
  private readonly namespaces: SharedInformer<NamespaceView>;
  private readonly configMaps: SharedInformer<ConfigMapView>;

  /** `rootCa` is the PEM bundle to publish (the `--root-ca-file`, else the kubeconfig's CA). */
  constructor(
    private readonly ctx: ControllerContext,
    private readonly rootCa: string,
  ) {
    this.queue = new WorkQueue<string>({ clock: ctx.clock });
    this.namespaces = ctx.informers.informerFor<NamespaceView>(NAMESPACES);
    // Only one ConfigMap per namespace matters: the API server filters the others out.
    this.configMaps = ctx.informers.informerFor<ConfigMapView>(CONFIGMAPS, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP_NAME}` });
    this.namespaces.addEventHandler({
      onAdd: (ns) => this.queue.add(ns.metadata.name ?? ''),
      onUpdate: (_old, ns) => {
        if (ns.status?.phase === 'Active') this.queue.add(ns.metadata.name ?? '');
      },
    });
    const consider = (cm: ConfigMapView) => {
      if (cm.metadata.name === ROOT_CA_CONFIGMAP_NAME && cm.metadata.namespace) this.queue.add(cm.metadata.namespace);
    };
    this.configMaps.addEventHandler({ onUpdate: (_old, cm) => consider(cm), onDelete: (cm) => consider(deletedObject(cm)) });
    ctx.queueDepth?.(this.name, () => this.queue.len());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.namespaces.waitForSync(signal), this.configMaps.waitForSync(signal)]);
    await runWorkers({ name: this.name, queue: this.queue, workers: this.ctx.options.workers, sync: (k) => this.sync(k), logger: this.ctx.logger, signal, ...(this.ctx.observer ? { observer: this.ctx.observer } : {}) });
  }

  /** Creates or restores the namespace's `kube-root-ca.crt`. */
  async sync(namespace: string): Promise<void> {
    const cm = this.configMaps.lister.get(namespace, ROOT_CA_CONFIGMAP_NAME);
    if (!cm) {
      try {
        await this.ctx.client.create(CONFIGMAPS, namespace, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: ROOT_CA_CONFIGMAP_NAME, namespace, annotations: { [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION } },
          data: { [ROOT_CA_KEY]: this.rootCa },
        });
        this.ctx.logger.debug({ namespace }, 'published root CA');
      } catch (err) {
        // Gone or being deleted: nothing to publish into. Anything else (AlreadyExists from a lagging cache included) is retried.
        if (!isNotFound(err) && !isNamespaceTerminating(err)) throw err;
      }
      return;
    }
    if (hasOnlyCa(cm.data, this.rootCa) && (cm.metadata.annotations?.[DESCRIPTION_ANNOTATION] ?? '') !== '') return;
    const next = structuredClone(cm) as ConfigMapView;
    next.data = { [ROOT_CA_KEY]: this.rootCa };
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION };
    // Carries the cached resourceVersion: a stale cache gets a Conflict and the key is retried.
    await this.ctx.client.update(CONFIGMAPS, next);
    this.ctx.logger.debug({ namespace }, 'restored root CA');
  }
}
