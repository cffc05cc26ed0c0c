import { describe, expect, it } from 'vitest';
import { daemonPodTolerations, nodeNameAffinity, nodeShouldRunDaemonPod, targetNodeName, tolerates, type NodeView } from './node-eligibility.js';

const node = (name: string, labels: Record<string, string>, taints: { key: string; value?: string; effect: string }[] = []): NodeView => ({ metadata: { name, labels }, spec: { taints } });

describe('node eligibility', () => {
  it('matches tolerations like Kubernetes', () => {
    expect(tolerates({ key: 'a', operator: 'Equal', value: 'x', effect: 'NoSchedule' }, { key: 'a', value: 'x', effect: 'NoSchedule' })).toBe(true);
    expect(tolerates({ key: 'a', operator: 'Equal', value: 'y' }, { key: 'a', value: 'x', effect: 'NoSchedule' })).toBe(false);
    expect(tolerates({ operator: 'Exists' }, { key: 'anything', effect: 'NoExecute' })).toBe(true);
    expect(tolerates({ key: 'a', operator: 'Exists', effect: 'NoExecute' }, { key: 'a', effect: 'NoSchedule' })).toBe(false);
  });

  it('adds the daemon tolerations once, keeping the template own ones', () => {
    const t = daemonPodTolerations({ hostNetwork: true, tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] });
    expect(t.filter((x) => x.key === 'node.kubernetes.io/unreachable')).toEqual([{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }]);
    expect(t.map((x) => x.key)).toContain('node.kubernetes.io/network-unavailable');
    expect(t).toHaveLength(7);
  });

  it('separates should-run from should-continue-running', () => {
    const spec = { nodeSelector: { role: 'w' } };
    expect(nodeShouldRunDaemonPod(node('n', { role: 'w' }), spec)).toEqual({ shouldRun: true, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(node('n', { role: 'x' }), spec)).toEqual({ shouldRun: false, shouldContinueRunning: false });
    expect(nodeShouldRunDaemonPod(node('n', { role: 'w' }, [{ key: 'k', effect: 'NoSchedule' }]), spec)).toEqual({ shouldRun: false, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(node('n', { role: 'w' }, [{ key: 'k', effect: 'NoExecute' }]), spec)).toEqual({ shouldRun: false, shouldContinueRunning: false });
    expect(nodeShouldRunDaemonPod(node('n', { role: 'w' }, [{ key: 'k', effect: 'PreferNoSchedule' }]), spec)).toEqual({ shouldRun: true, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(node('n', { role: 'w' }, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]), spec).shouldRun).toBe(true);
    expect(nodeShouldRunDaemonPod(node('n', {}), { nodeName: 'other' }).shouldRun).toBe(false);
    const byName = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n'] }] }] } } } };
    expect(nodeShouldRunDaemonPod(node('n', {}), byName).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(node('m', {}), byName).shouldRun).toBe(true);
  });

  it('pins a pod to a node, keeping other affinity, and reads the node back', () => {
    const podAffinity = { requiredDuringSchedulingIgnoredDuringExecution: [] };
    const a = nodeNameAffinity({ podAffinity, nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1 }], requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'z', operator: 'Exists' }] }] } } }, 'n7');
    expect(a.podAffinity).toEqual(podAffinity);
    expect(a.nodeAffinity?.['preferredDuringSchedulingIgnoredDuringExecution']).toEqual([{ weight: 1 }]);
    expect(a.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual({ nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }] });
    expect(targetNodeName({ affinity: a })).toBe('n7');
    expect(targetNodeName({ nodeName: 'bound', affinity: a })).toBe('bound');
    expect(targetNodeName({})).toBeUndefined();
  });
});
