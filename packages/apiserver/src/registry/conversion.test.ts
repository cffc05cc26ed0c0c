import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@flotilla/api';
import { renameFieldLabels } from '../http/resource-handler.js';
import { eventCoreToV1, eventV1ToCore, hpaV1ToV2, hpaV2ToV1 } from './conversion.js';

const META = { name: 'web', namespace: 'ns', uid: 'u1', resourceVersion: '7', annotations: { owner: 'team-a' } };
const TARGET = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };

describe('autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler', () => {
  it('maps the CPU target and current value to the v1 fields', () => {
    const v2: KubeObject = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: META,
      spec: { scaleTargetRef: TARGET, minReplicas: 2, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }] },
      status: { observedGeneration: 1, currentReplicas: 2, desiredReplicas: 3, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 75, averageValue: '150m' } } }] },
    };
    const v1 = hpaV2ToV1(v2);
    expect(v1).toEqual({
      apiVersion: 'autoscaling/v1',
      kind: 'HorizontalPodAutoscaler',
      metadata: META,
      spec: { scaleTargetRef: TARGET, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 60 },
      status: { observedGeneration: 1, currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 75 },
    });
    const back = hpaV1ToV2(v1);
    expect(back.spec).toEqual(v2['spec']);
    expect(back.metadata).toEqual(META);
  });

  it('a v1 object without a CPU target means 80%, as the HPA controller reads it', () => {
    const v2 = hpaV1ToV2({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec: { scaleTargetRef: TARGET, maxReplicas: 3 } });
    expect(v2['spec']).toEqual({ scaleTargetRef: TARGET, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }] });
  });

  it('keeps what v1 cannot express in annotations, so a v1 round trip loses nothing', () => {
    const spec = {
      scaleTargetRef: TARGET,
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } } },
        { type: 'Pods', pods: { metric: { name: 'requests_per_second', selector: { matchLabels: { a: 'b' } } }, target: { type: 'AverageValue', averageValue: '10' } } },
        { type: 'Object', object: { describedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' }, metric: { name: 'hits' }, target: { type: 'Value', value: '2k' } } },
        { type: 'External', external: { metric: { name: 'queue_depth' }, target: { type: 'AverageValue', averageValue: '30' } } },
        { type: 'ContainerResource', containerResource: { name: 'cpu', container: 'app', target: { type: 'Utilization', averageUtilization: 70 } } },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 60, policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] } },
    };
    const status = {
      currentReplicas: 3,
      desiredReplicas: 3,
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 40, averageValue: '80m' } } },
        { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, current: { averageValue: '7' } } },
      ],
      conditions: [{ type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    };
    const v2: KubeObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: META, spec, status };
    const v1 = hpaV2ToV1(v2);
    expect((v1['spec'] as Record<string, unknown>)['targetCPUUtilizationPercentage']).toBe(50);
    const annotations = v1.metadata.annotations!;
    expect(annotations['owner']).toBe('team-a');
    expect(JSON.parse(annotations['autoscaling.alpha.kubernetes.io/metrics']!)).toEqual([
      { type: 'Resource', resource: { name: 'memory', targetAverageValue: '500Mi' } },
      { type: 'Pods', pods: { metricName: 'requests_per_second', targetAverageValue: '10', selector: { matchLabels: { a: 'b' } } } },
      { type: 'Object', object: { target: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'main' }, metricName: 'hits', targetValue: '2k' } },
      { type: 'External', external: { metricName: 'queue_depth', targetAverageValue: '30' } },
      { type: 'ContainerResource', containerResource: { name: 'cpu', container: 'app', targetAverageUtilization: 70 } },
    ]);
    expect(JSON.parse(annotations['autoscaling.alpha.kubernetes.io/behavior']!)).toEqual(spec.behavior);
    expect(JSON.parse(annotations['autoscaling.alpha.kubernetes.io/conditions']!)).toEqual(status.conditions);
    expect(JSON.parse(annotations['autoscaling.alpha.kubernetes.io/current-metrics']!)).toEqual([{ type: 'Pods', pods: { metricName: 'requests_per_second', currentAverageValue: '7' } }]);

    const back = hpaV1ToV2(v1);
    expect(back.metadata.annotations).toEqual({ owner: 'team-a' });
    // The CPU target comes first after a round trip (v1 has it in its own field); the rest keep their order.
    const metrics = (back['spec'] as { metrics: unknown[] }).metrics;
    expect(metrics[0]).toEqual(spec.metrics[5]);
    expect(metrics.slice(1)).toEqual(spec.metrics.slice(0, 5));
    expect((back['spec'] as Record<string, unknown>)['behavior']).toEqual(spec.behavior);
    const st = back['status'] as typeof status;
    expect(st.conditions).toEqual(status.conditions);
    expect(st.currentMetrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 40 } } }, { type: 'Pods', pods: { metric: { name: 'requests_per_second' }, current: { averageValue: '7' } } }]);
  });

  it('ignores a malformed annotation', () => {
    const v2 = hpaV1ToV2({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', annotations: { 'autoscaling.alpha.kubernetes.io/metrics': '{not json' } }, spec: { scaleTargetRef: TARGET, maxReplicas: 3, targetCPUUtilizationPercentage: 90 } });
    expect((v2['spec'] as { metrics: unknown[] }).metrics).toHaveLength(1);
    expect(v2.metadata.annotations).toBeUndefined();
  });
});

describe('events.k8s.io/v1 <-> core/v1 Event', () => {
  const core: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web.1', namespace: 'ns', resourceVersion: '9' },
    involvedObject: { kind: 'Pod', namespace: 'ns', name: 'web', uid: 'u1', apiVersion: 'v1' },
    reason: 'Started',
    message: 'Started container main',
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: '2026-01-01T00:00:00Z',
    lastTimestamp: '2026-01-01T00:01:00Z',
    count: 3,
    type: 'Normal',
    eventTime: null,
    reportingComponent: 'kubelet',
    reportingInstance: 'node-1',
  };

  it('renames the fields and drops nulls, and converts back to the same object', () => {
    const v1 = eventCoreToV1(core);
    expect(v1).toEqual({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: core.metadata,
      regarding: core['involvedObject'],
      note: 'Started container main',
      reportingController: 'kubelet',
      reportingInstance: 'node-1',
      deprecatedSource: core['source'],
      deprecatedFirstTimestamp: '2026-01-01T00:00:00Z',
      deprecatedLastTimestamp: '2026-01-01T00:01:00Z',
      deprecatedCount: 3,
      reason: 'Started',
      type: 'Normal',
    });
    const { eventTime: _dropped, ...withoutNull } = core;
    void _dropped;
    expect(eventV1ToCore(v1)).toEqual(withoutNull);
  });

  it('renames served field selector labels to the stored ones', () => {
    expect(renameFieldLabels('regarding.name=web,type=Warning,reportingController!=kubelet', { 'regarding.name': 'involvedObject.name', reportingController: 'reportingComponent' })).toBe('involvedObject.name=web,type=Warning,reportingComponent!=kubelet');
    expect(renameFieldLabels('regarding.name==a\\,b', { 'regarding.name': 'involvedObject.name' })).toBe('involvedObject.name==a\\,b');
  });
});
