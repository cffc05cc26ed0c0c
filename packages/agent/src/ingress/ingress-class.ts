/**
 * Which Ingresses this proxy serves: those of the `flotilla` IngressClass (or of any class whose
 * controller is `flotilla.io/ingress`), and those without a class while such a class is the
 * cluster's default. The class itself is created at start unless it exists.
 */
import { isAlreadyExists, type Ingress, type IngressClass, type KubeObject } from '@flotilla/api/core';
import { res, type KubeClient } from '@flotilla/client';

/** The IngressClass the agents create and serve. */
export const INGRESS_CLASS_NAME = 'flotilla';
/** `spec.controller` of the classes served here. */
export const INGRESS_CONTROLLER = 'flotilla.io/ingress';
/** The annotation that makes a class the default of Ingresses without one. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The pre-v1 class annotation, still honoured when set. */
const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

const INGRESSCLASSES = res('ingressclasses.networking.k8s.io');

/** Creates the `flotilla` IngressClass (default class) unless it exists; an existing one is left as the admin made it. */
export async function ensureIngressClass(client: KubeClient): Promise<void> {
  const ic: IngressClass = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: INGRESS_CLASS_NAME, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    spec: { controller: INGRESS_CONTROLLER },
  };
  try {
    await client.create(INGRESSCLASSES, '', ic as KubeObject);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** True when the class is served by this controller. */
function isOurClass(c: Readonly<IngressClass> | undefined): boolean {
  return c?.spec?.controller === INGRESS_CONTROLLER;
}

/**
 * True when this proxy serves the Ingress, given the cluster's IngressClasses. A class named by the
 * Ingress that does not exist (yet) counts as ours only under the name `flotilla`.
 */
export function isIngressServed(ing: Readonly<Ingress>, classes: readonly Readonly<IngressClass>[]): boolean {
  const name = ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (name) {
    const c = classes.find((x) => x.metadata.name === name);
    return c ? isOurClass(c) : name === INGRESS_CLASS_NAME;
  }
  const defaults = classes.filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  // With several defaults the API server would refuse new class-less Ingresses; serve them only if ours is among them.
  return defaults.some(isOurClass);
}
