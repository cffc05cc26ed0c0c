/**
 * What a node (user `system:node:<name>`, group `system:nodes`) may do: Kubernetes' Node authorizer
 * and NodeRestriction admission, simplified to the calls the Flotilla agent makes. One table,
 * {@link NODE_RULES}; a rule applies when group, resource (with `/subresource`) and verb match and its
 * `when` condition holds. Simplifications (documented, deliberate):
 * - pods, services, endpoints(slices), nodes, PVs, PVCs, storage classes, ingresses and ingress
 *   classes are readable in full (Kubernetes limits PVC/PV reads to the node's pods' volumes);
 * - TLS Secrets may be listed and watched cluster-wide (`fieldSelector=type=kubernetes.io/tls` and
 *   nothing else): every agent serves Ingress HTTPS, as a cluster-wide ingress controller would;
 * - PVCs may be bound (patched) and their status written for any claim: the agent's local-path
 *   provisioner binds the claims it provisions; PVs only when labelled as this node's.
 */
import type { KubeObject } from '@flotilla/api';
import type { AuthorizationAttributes, AuthorizationDecision, ResourceAttributes } from './authorizer.js';

/** Group of node credentials. */
export const NODES_GROUP = 'system:nodes';
/** Prefix of a node's user name. */
export const NODE_USER_PREFIX = 'system:node:';
/** Namespace of node heartbeat Leases. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The agent's local-path provisioner labels each PV with the node holding it (the agent's LOCAL_PATH_NODE_LABEL). */
export const LOCAL_PATH_NODE_LABEL = 'flotilla.io/local-path-node';

/** Relations between a node and objects, read from the API server's object cache. */
export interface NodeGraph {
  /** `spec.nodeName` of a pod; undefined when it does not exist or is unbound. */
  podNodeName(namespace: string, name: string): string | undefined;
  /** True when a pod bound to `nodeName` references the Secret or ConfigMap (volumes, env, envFrom, imagePullSecrets). */
  isReferencedByNodePods(nodeName: string, resource: 'secrets' | 'configmaps', namespace: string, name: string): boolean;
  /** Labels of a PersistentVolume; undefined when it does not exist. */
  persistentVolumeLabels(name: string): Readonly<Record<string, string>> | undefined;
  /** True when a pod bound to `nodeName` runs as the ServiceAccount `namespace/name`. */
  isServiceAccountOfNodePods(nodeName: string, namespace: string, name: string): boolean;
}

/** What a rule's condition sees. */
export interface NodeRuleContext {
  node: string;
  attrs: AuthorizationAttributes;
  resource: ResourceAttributes;
  graph: NodeGraph;
}

/** One line of the node policy. */
export interface NodeRule {
  groups: readonly string[];
  /** Plural, or `plural/subresource`. */
  resources: readonly string[];
  verbs: readonly string[];
  /** Extra condition; without it the rule always applies. */
  when?: (c: NodeRuleContext) => boolean;
  /** Which part of the agent needs it. */
  why: string;
}

const READ = ['get', 'list', 'watch'] as const;
const WRITE = ['update', 'patch'] as const;

/** The name the request addresses: the URL's, or for create the body's. */
function targetName(c: NodeRuleContext): string | undefined {
  if (c.resource.name) return c.resource.name;
  return c.attrs.verb === 'create' ? c.attrs.object?.()?.metadata.name : undefined;
}
const isSelf = (c: NodeRuleContext): boolean => targetName(c) === c.node;
const isOwnLease = (c: NodeRuleContext): boolean => c.resource.namespace === NODE_LEASE_NAMESPACE && isSelf(c);
const isPodOnNode = (c: NodeRuleContext): boolean => c.graph.podNodeName(c.resource.namespace, c.resource.name) === c.node;
const isReferenced = (c: NodeRuleContext): boolean =>
  (c.resource.resource === 'secrets' || c.resource.resource === 'configmaps') && c.graph.isReferencedByNodePods(c.node, c.resource.resource, c.resource.namespace, c.resource.name);
const isAccountOfNodePod = (c: NodeRuleContext): boolean => c.graph.isServiceAccountOfNodePods(c.node, c.resource.namespace, c.resource.name);
const isTlsSecretSelection = (c: NodeRuleContext): boolean => (c.attrs.fieldSelector ?? '').replace(/\s/g, '') === 'type=kubernetes.io/tls';
const isOwnLocalPathVolume = (c: NodeRuleContext): boolean => {
  const labels = c.attrs.verb === 'create' ? c.attrs.object?.()?.metadata.labels : c.graph.persistentVolumeLabels(c.resource.name);
  return labels?.[LOCAL_PATH_NODE_LABEL] === c.node;
};

/** The node policy. */
export const NODE_RULES: readonly NodeRule[] = [
  { groups: [''], resources: ['pods', 'services', 'endpoints', 'nodes', 'persistentvolumes', 'persistentvolumeclaims'], verbs: READ, why: 'informers: pods, service proxy, DNS, node routes, volumes' },
  { groups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ, why: 'service proxy, DNS, ingress backends' },
  { groups: ['storage.k8s.io'], resources: ['storageclasses', 'csidrivers'], verbs: READ, why: 'local-path provisioner' },
  { groups: ['networking.k8s.io'], resources: ['ingresses', 'ingressclasses'], verbs: READ, why: 'ingress controller' },
  { groups: [''], resources: ['secrets', 'configmaps'], verbs: ['get'], when: isReferenced, why: "volumes, env and image pull secrets of the node's pods" },
  { groups: [''], resources: ['secrets'], verbs: ['list', 'watch'], when: isTlsSecretSelection, why: 'ingress controller: TLS certificates' },
  { groups: [''], resources: ['nodes'], verbs: ['create', ...WRITE], when: isSelf, why: 'registration of its own Node' },
  { groups: [''], resources: ['nodes/status'], verbs: ['get', ...WRITE], when: isSelf, why: 'its own Node status' },
  { groups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', ...WRITE], when: isOwnLease, why: 'heartbeat Lease in kube-node-lease' },
  { groups: [''], resources: ['pods/status'], verbs: WRITE, when: isPodOnNode, why: 'status of the pods bound to it' },
  { groups: [''], resources: ['pods'], verbs: ['delete'], when: isPodOnNode, why: 'final deletion of its terminated pods' },
  { groups: [''], resources: ['events'], verbs: ['create', 'patch'], why: 'event recorder' },
  // The TokenRequest handler adds NodeRestriction's part: bound to one of the node's pods, by uid.
  { groups: [''], resources: ['serviceaccounts/token'], verbs: ['create'], when: isAccountOfNodePod, why: "projected service account tokens of the node's pods" },
  { groups: [''], resources: ['persistentvolumes'], verbs: ['create', 'delete'], when: isOwnLocalPathVolume, why: 'local-path provisioner: its own volumes' },
  { groups: [''], resources: ['persistentvolumes/status'], verbs: WRITE, when: isOwnLocalPathVolume, why: 'local-path provisioner: volume phase' },
  { groups: [''], resources: ['persistentvolumeclaims', 'persistentvolumeclaims/status'], verbs: WRITE, why: 'local-path provisioner: binding claims' },
  { groups: [''], resources: ['services/status'], verbs: WRITE, why: 'service proxy: LoadBalancer status' },
  { groups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: WRITE, why: 'ingress controller: load balancer status' },
  { groups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['create'], why: 'the local-path StorageClass, when missing (409 otherwise)' },
  { groups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['create'], why: 'the flotilla IngressClass, when missing (409 otherwise)' },
];

/** Kubernetes' Node authorizer's reason when a rule matched but the object is not the node's. */
function noRelationship(node: string): string {
  return `no relationship found between node '${node}' and this object`;
}

/** Decides a request of a user in `system:nodes` by {@link NODE_RULES}. */
export function authorizeNode(attrs: AuthorizationAttributes, graph: NodeGraph, rules: readonly NodeRule[] = NODE_RULES): AuthorizationDecision {
  const user = attrs.user.name;
  const resource = attrs.resource;
  if (!user.startsWith(NODE_USER_PREFIX) || !resource) return { allowed: false };
  const node = user.slice(NODE_USER_PREFIX.length);
  if (node === '') return { allowed: false, reason: 'unknown node for user' };
  const key = resource.subresource ? `${resource.resource}/${resource.subresource}` : resource.resource;
  let matched = false;
  for (const r of rules) {
    if (!r.groups.includes(resource.group) || !r.resources.includes(key) || !r.verbs.includes(attrs.verb)) continue;
    matched = true;
    if (!r.when || r.when({ node, attrs, resource, graph })) return { allowed: true };
  }
  // Like Kubernetes, the reason is given for requests about one object only.
  return matched && resource.name ? { allowed: false, reason: noRelationship(node) } : { allowed: false };
}

/** A NodeGraph over the pods and PVs of the API server's cache (`pods` lists pods bound to a node in a namespace). */
export function podReferenceGraph(deps: {
  getPod: (namespace: string, name: string) => KubeObject | undefined;
  podsOnNode: (nodeName: string, namespace: string) => Iterable<KubeObject>;
  getPersistentVolume: (name: string) => KubeObject | undefined;
}): NodeGraph {
  return {
    podNodeName: (ns, name) => (deps.getPod(ns, name) as { spec?: { nodeName?: string } } | undefined)?.spec?.nodeName || undefined,
    isReferencedByNodePods: (node, resource, ns, name) => {
      for (const pod of deps.podsOnNode(node, ns)) if (podReferences(pod, resource).has(name)) return true;
      return false;
    },
    persistentVolumeLabels: (name) => deps.getPersistentVolume(name)?.metadata.labels,
    isServiceAccountOfNodePods: (node, ns, name) => {
      for (const pod of deps.podsOnNode(node, ns)) if ((pod as { spec?: { serviceAccountName?: string } }).spec?.serviceAccountName === name) return true;
      return false;
    },
  };
}

interface EnvSource {
  valueFrom?: { secretKeyRef?: { name?: string }; configMapKeyRef?: { name?: string } };
}
interface EnvFromSource {
  secretRef?: { name?: string };
  configMapRef?: { name?: string };
}
interface ContainerRefs {
  env?: EnvSource[];
  envFrom?: EnvFromSource[];
}
interface VolumeRefs {
  secret?: { secretName?: string };
  configMap?: { name?: string };
  projected?: { sources?: { secret?: { name?: string }; configMap?: { name?: string } }[] };
}
interface PodSpecRefs {
  volumes?: VolumeRefs[];
  containers?: ContainerRefs[];
  initContainers?: ContainerRefs[];
  ephemeralContainers?: ContainerRefs[];
  imagePullSecrets?: { name?: string }[];
}

/** Names of the Secrets or ConfigMaps a pod references, as Kubernetes' node graph collects them. */
export function podReferences(pod: KubeObject, resource: 'secrets' | 'configmaps'): Set<string> {
  const spec = ((pod as { spec?: PodSpecRefs }).spec ?? {}) as PodSpecRefs;
  const out = new Set<string>();
  const add = (n: string | undefined) => {
    if (n) out.add(n);
  };
  const secrets = resource === 'secrets';
  for (const v of spec.volumes ?? []) {
    add(secrets ? v.secret?.secretName : v.configMap?.name);
    for (const s of v.projected?.sources ?? []) add(secrets ? s.secret?.name : s.configMap?.name);
  }
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) add(secrets ? e.valueFrom?.secretKeyRef?.name : e.valueFrom?.configMapKeyRef?.name);
    for (const e of c.envFrom ?? []) add(secrets ? e.secretRef?.name : e.configMapRef?.name);
  }
  if (secrets) for (const s of spec.imagePullSecrets ?? []) add(s.name);
  return out;
}
