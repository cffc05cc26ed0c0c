import { describe, expect, it } from 'vitest';
import type { KubeObject } from './meta.js';
import { podResourceTotals, quotaMatches, quotaMissingResources, quotaUsage, quotaUsed, type QuotaView } from './resource-quota.js';

const PODS = { group: '', plural: 'pods' };
const show = (m: Map<string, { toString(): string }>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));

function pod(containers: { name: string; requests?: Record<string, string>; limits?: Record<string, string> }[], extra: Record<string, unknown> = {}, init: typeof containers = []): KubeObject {
  const c = (x: (typeof containers)[number]) => ({ name: x.name, image: 'i', resources: { ...(x.requests ? { requests: x.requests } : {}), ...(x.limits ? { limits: x.limits } : {}) } });
  return { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: containers.map(c), initContainers: init.map(c), ...extra } };
}

describe('quotaUsage', () => {
  it('counts a pod and its requests and limits; a request defaults to its limit', () => {
    const p = pod([
      { name: 'a', requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
      { name: 'b', limits: { cpu: '300m', memory: '1Gi' } },
    ]);
    expect(show(quotaUsage(PODS, p))).toEqual({
      'count/pods': '1',
      pods: '1',
      'requests.cpu': '400m',
      cpu: '400m',
      'requests.memory': '1088Mi',
      memory: '1088Mi',
      'limits.cpu': '500m',
      'limits.memory': '1152Mi',
    });
  });

  it('takes the largest init container when it exceeds the app containers, and adds the overhead', () => {
    const p = pod([{ name: 'a', requests: { cpu: '100m' } }], { overhead: { cpu: '10m' } }, [{ name: 'init', requests: { cpu: '1' } }]);
    expect(podResourceTotals(p, 'requests').get('cpu')!.toString()).toBe('1010m');
  });

  it('counts a finished pod only in count/pods (object counts track every stored pod)', () => {
    const p = pod([{ name: 'a', requests: { cpu: '1' }, limits: { memory: '1Gi' } }]);
    expect(show(quotaUsage(PODS, { ...p, status: { phase: 'Succeeded' } }))).toEqual({ 'count/pods': '1' });
    expect(show(quotaUsage(PODS, { ...p, status: { phase: 'Failed' } }))).toEqual({ 'count/pods': '1' });
    expect(quotaUsage(PODS, { ...p, status: { phase: 'Running' } }).get('pods')?.toString()).toBe('1');
    const q: QuotaView = { metadata: { name: 'q' }, spec: { hard: { pods: '5', 'count/pods': '5', 'requests.cpu': '5' } } };
    expect(show(quotaUsed(q, PODS, [p, { ...p, status: { phase: 'Succeeded' } }]))).toEqual({ pods: '1', 'count/pods': '2', 'requests.cpu': '1' });
  });

  it('adds the overhead to every request but only to the limits a container sets', () => {
    const p = pod([{ name: 'a', requests: { cpu: '100m' } }], { overhead: { cpu: '10m', memory: '20Mi' } });
    expect(show(podResourceTotals(p, 'requests'))).toEqual({ cpu: '110m', memory: '20Mi' });
    expect(show(podResourceTotals(p, 'limits'))).toEqual({});
  });

  it('counts only the explicit node ports of a load balancer that allocates none', () => {
    const svc = (extra: Record<string, unknown>) => ({ metadata: {}, spec: { type: 'LoadBalancer', ports: [{ port: 1, nodePort: 30001 }, { port: 2 }], ...extra } });
    expect(quotaUsage({ group: '', plural: 'services' }, svc({ allocateLoadBalancerNodePorts: false })).get('services.nodeports')?.toString()).toBe('1');
    expect(quotaUsage({ group: '', plural: 'services' }, svc({ allocateLoadBalancerNodePorts: true })).get('services.nodeports')?.toString()).toBe('2');
    expect(quotaUsage({ group: '', plural: 'services' }, { metadata: {}, spec: { type: 'ClusterIP', ports: [{ port: 1 }] } }).has('services.nodeports')).toBe(false);
  });

  it('stops counting a pod stuck terminating past its grace period, except in count/pods', () => {
    const going = { ...pod([{ name: 'a', requests: { cpu: '1' } }]), metadata: { name: 'p', namespace: 'ns', deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 30 } };
    const before = Date.parse('2026-01-01T00:00:20Z');
    const after = Date.parse('2026-01-01T00:00:31Z');
    expect(show(quotaUsage(PODS, going, before))).toMatchObject({ pods: '1', 'requests.cpu': '1' });
    expect(show(quotaUsage(PODS, going, after))).toEqual({ 'count/pods': '1' });
  });

  it('counts services, node ports, load balancers and claims by class', () => {
    expect(show(quotaUsage({ group: '', plural: 'services' }, { metadata: {}, spec: { type: 'LoadBalancer', ports: [{ port: 1 }, { port: 2 }] } }))).toEqual({
      'count/services': '1',
      services: '1',
      'services.loadbalancers': '1',
      'services.nodeports': '2',
    });
    expect(show(quotaUsage({ group: '', plural: 'persistentvolumeclaims' }, { metadata: {}, spec: { storageClassName: 'fast', resources: { requests: { storage: '1Gi' } } } }))).toEqual({
      'count/persistentvolumeclaims': '1',
      persistentvolumeclaims: '1',
      'requests.storage': '1Gi',
      'fast.storageclass.storage.k8s.io/persistentvolumeclaims': '1',
      'fast.storageclass.storage.k8s.io/requests.storage': '1Gi',
    });
    expect(show(quotaUsage({ group: 'apps', plural: 'deployments' }, { metadata: {} }))).toEqual({ 'count/deployments.apps': '1' });
  });
});

describe('quota scopes and sums', () => {
  const quota = (spec: QuotaView['spec']): QuotaView => ({ metadata: { name: 'q' }, spec });

  it('applies scopes to pods only', () => {
    const bestEffort = pod([{ name: 'a' }]);
    const burstable = pod([{ name: 'a', requests: { cpu: '1' } }], { activeDeadlineSeconds: 10, priorityClassName: 'high' });
    expect(quotaMatches(quota({ scopes: ['BestEffort'] }), PODS, bestEffort)).toBe(true);
    expect(quotaMatches(quota({ scopes: ['BestEffort'] }), PODS, burstable)).toBe(false);
    expect(quotaMatches(quota({ scopes: ['NotBestEffort', 'Terminating'] }), PODS, burstable)).toBe(true);
    expect(quotaMatches(quota({ scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } }), PODS, burstable)).toBe(true);
    expect(quotaMatches(quota({ scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator: 'In', values: ['high'] }] } }), PODS, bestEffort)).toBe(false);
    // The QoS class looks at cpu and memory only: an ephemeral-storage request alone is still BestEffort.
    expect(quotaMatches(quota({ scopes: ['BestEffort'] }), PODS, pod([{ name: 'a', requests: { 'ephemeral-storage': '1Gi' } }]))).toBe(true);
    expect(quotaMatches(quota({ scopes: ['BestEffort'] }), { group: '', plural: 'configmaps' }, { metadata: {} })).toBe(false);
    expect(quotaMatches(quota({}), { group: '', plural: 'configmaps' }, { metadata: {} })).toBe(true);
  });

  it('sums the hard names only, with zero for unused ones', () => {
    const q = quota({ hard: { pods: '10', 'requests.cpu': '2', 'count/configmaps': '5' } });
    const used = quotaUsed(q, PODS, [pod([{ name: 'a', requests: { cpu: '250m' } }]), pod([{ name: 'a', limits: { cpu: '1' } }])]);
    expect(show(used)).toEqual({ pods: '2', 'requests.cpu': '1250m', 'count/configmaps': '0' });
    // Sums start from zero but print in the form of what they add up (binary memory stays binary).
    const memory = quotaUsed(quota({ hard: { 'requests.memory': '1Gi', 'limits.memory': '2Gi' } }), PODS, [pod([{ name: 'a', requests: { memory: '64Mi' }, limits: { memory: '1Gi' } }]), pod([{ name: 'a', limits: { memory: '128Mi' } }])]);
    expect(show(memory)).toEqual({ 'requests.memory': '192Mi', 'limits.memory': '1152Mi' });
  });

  it('names the containers that leave out a resource the quota tracks', () => {
    const q = quota({ hard: { 'limits.memory': '1Gi', cpu: '2' } });
    expect(quotaMissingResources(q, pod([{ name: 'a', requests: { cpu: '1' } }, { name: 'b', limits: { cpu: '1', memory: '1Mi' } }]))).toEqual(['limits.memory for: a']);
    expect(quotaMissingResources(q, pod([{ name: 'a' }]))).toEqual(['cpu for: a', 'limits.memory for: a']);
  });
});
