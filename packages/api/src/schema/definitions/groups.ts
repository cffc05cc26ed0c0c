/**
 * Definitions of the non-core groups: apps, batch, autoscaling, coordination, discovery,
 * networking, policy, rbac, scheduling, storage.
 */
import { anyJson, bool, DefinitionSet, int32, int64, list, listByKey, map, num, obj, oneOf, ref, str, stringMap, withDefault } from '../dsl.js';
import { CORE } from './core.js';
import { CONDITION, INT_OR_STRING, LABEL_SELECTOR, MICRO_TIME, OBJECT_META, QUANTITY, RAW_EXTENSION, TIME } from './meta.js';

const core = (name: string) => `${CORE}.${name}`;

function conditionType(d: DefinitionSet, name: string, description: string, withUpdateTime = false): string {
  return d.add(
    name,
    obj(
      {
        type: str('Type of the condition.'),
        status: oneOf(['True', 'False', 'Unknown'], 'Status of the condition.'),
        ...(withUpdateTime ? { lastUpdateTime: ref(TIME, 'The last time this condition was updated.') } : { lastProbeTime: ref(TIME, 'The last time the condition was checked.') }),
        lastTransitionTime: ref(TIME, 'The last time the condition changed status.'),
        reason: str('CamelCase reason of the last transition.'),
        message: str('Human-readable details.'),
      },
      description,
      { required: ['type', 'status'] },
    ),
  );
}

/** apps/v1. */
export function addApps(d: DefinitionSet): void {
  const a = (n: string) => `io.k8s.api.apps.v1.${n}`;
  const gvk = (kind: string) => ({ group: 'apps', version: 'v1', kind });
  d.add(a('RollingUpdateDeployment'), obj({ maxUnavailable: withDefault(ref(INT_OR_STRING, 'Pods (count or percentage, rounded down) that may be unavailable during the update. Defaults to 25%.'), '25%'), maxSurge: withDefault(ref(INT_OR_STRING, 'Pods (count or percentage, rounded up) that may exist above the desired count. Defaults to 25%.'), '25%') }, 'Rolling update parameters.'));
  d.add(a('DeploymentStrategy'), obj({ type: withDefault(oneOf(['Recreate', 'RollingUpdate'], 'Recreate or RollingUpdate. Defaults to RollingUpdate.'), 'RollingUpdate'), rollingUpdate: ref(a('RollingUpdateDeployment'), 'Parameters of RollingUpdate.') }, 'How old pods are replaced by new ones.'));
  d.add(
    a('DeploymentSpec'),
    obj(
      {
        replicas: withDefault(int32('Desired number of pods. Defaults to 1.', { minimum: 0 }), 1),
        selector: ref(LABEL_SELECTOR, "Label selector of the pods; must match the template's labels. Immutable."),
        template: ref(core('PodTemplateSpec'), 'Template of the pods.'),
        strategy: withDefault(ref(a('DeploymentStrategy'), 'How old pods are replaced. Defaults to RollingUpdate with 25% surge and 25% unavailable.'), { type: 'RollingUpdate', rollingUpdate: {} }),
        minReadySeconds: int32('Seconds a new pod must be ready before it counts as available. Defaults to 0.', { minimum: 0 }),
        revisionHistoryLimit: withDefault(int32('Old ReplicaSets kept for rollback. Defaults to 10.', { minimum: 0 }), 10),
        paused: bool('Whether the deployment is paused.'),
        progressDeadlineSeconds: withDefault(int32('Seconds for the deployment to make progress before it is reported failed (ProgressDeadlineExceeded). Defaults to 600.'), 600),
      },
      'The desired state of a deployment.',
      { required: ['selector', 'template'] },
    ),
  );
  conditionType(d, a('DeploymentCondition'), 'A condition of a deployment (Available, Progressing, ReplicaFailure).', true);
  d.add(
    a('DeploymentStatus'),
    obj(
      {
        observedGeneration: int64('The generation observed by the deployment controller.'),
        replicas: int32('Pods targeted by this deployment (their labels match the selector).'),
        updatedReplicas: int32('Pods with the desired template.'),
        readyReplicas: int32('Pods with a Ready condition.'),
        availableReplicas: int32('Pods ready for at least minReadySeconds.'),
        unavailableReplicas: int32('Pods still needed for 100% availability.'),
        terminatingReplicas: int32(),
        conditions: listByKey(ref(a('DeploymentCondition')), 'type', 'Latest observations of the state of the deployment.'),
        collisionCount: int32('Counts hash collisions of new ReplicaSet names.'),
      },
      'The observed state of a deployment.',
    ),
  );
  d.kind(a('Deployment'), gvk('Deployment'), 'Runs a replicated application and rolls changes to its pod template out through ReplicaSets.', { spec: ref(a('DeploymentSpec'), 'Desired state of the deployment.'), status: ref(a('DeploymentStatus'), 'Observed state of the deployment. Read-only.') });
  d.add(
    a('ReplicaSetSpec'),
    obj(
      { replicas: withDefault(int32('Desired number of pods. Defaults to 1.', { minimum: 0 }), 1), minReadySeconds: int32('Seconds a new pod must be ready to count as available.', { minimum: 0 }), selector: ref(LABEL_SELECTOR, 'Label query over the pods it owns.'), template: ref(core('PodTemplateSpec'), 'Template of pods created when too few exist.') },
      'The desired state of a ReplicaSet.',
      { required: ['selector'] },
    ),
  );
  conditionType(d, a('ReplicaSetCondition'), 'A condition of a ReplicaSet.');
  d.add(
    a('ReplicaSetStatus'),
    obj(
      { replicas: int32('Most recently observed number of pods.'), fullyLabeledReplicas: int32(), readyReplicas: int32(), availableReplicas: int32(), terminatingReplicas: int32(), observedGeneration: int64(), conditions: listByKey(ref(a('ReplicaSetCondition')), 'type') },
      'The observed state of a ReplicaSet.',
    ),
  );
  d.kind(a('ReplicaSet'), gvk('ReplicaSet'), 'Keeps a stable set of replica pods running.', { spec: ref(a('ReplicaSetSpec')), status: ref(a('ReplicaSetStatus')) });
  d.add(a('RollingUpdateStatefulSetStrategy'), obj({ partition: int32('Pods with an ordinal at or above it are updated. Defaults to 0.', { minimum: 0 }), maxUnavailable: ref(INT_OR_STRING, 'Pods (count or percentage) that may be unavailable during the update. Defaults to 1.') }, 'Rolling update parameters of a StatefulSet.'));
  d.add(a('StatefulSetUpdateStrategy'), obj({ type: withDefault(oneOf(['RollingUpdate', 'OnDelete'], 'RollingUpdate or OnDelete. Defaults to RollingUpdate.'), 'RollingUpdate'), rollingUpdate: ref(a('RollingUpdateStatefulSetStrategy'), 'Parameters of RollingUpdate.') }, 'How pods of a StatefulSet are updated.'));
  d.add(a('StatefulSetPersistentVolumeClaimRetentionPolicy'), obj({ whenDeleted: withDefault(oneOf(['Retain', 'Delete'], 'What happens to the claims when the StatefulSet is deleted. Defaults to Retain.'), 'Retain'), whenScaled: withDefault(oneOf(['Retain', 'Delete'], 'What happens to the claims of pods removed by a scale-down. Defaults to Retain.'), 'Retain') }, 'What happens to claims from volumeClaimTemplates.'));
  d.add(a('StatefulSetOrdinals'), obj({ start: int32('First ordinal.') }, 'Ordinals of the pods.'));
  d.add(
    a('StatefulSetSpec'),
    obj(
      {
        replicas: withDefault(int32('Desired number of pods. Defaults to 1.', { minimum: 0 }), 1),
        selector: ref(LABEL_SELECTOR, 'Label query over the pods.'),
        template: ref(core('PodTemplateSpec'), 'Template of the pods; each gets a stable name <set>-<ordinal>.'),
        volumeClaimTemplates: list(ref(core('PersistentVolumeClaim')), 'Claims each pod gets (named <template>-<pod>).', { listType: 'atomic' }),
        serviceName: str('Headless service giving the pods their DNS names.'),
        podManagementPolicy: withDefault(oneOf(['OrderedReady', 'Parallel'], 'OrderedReady (one at a time, in order) or Parallel. Defaults to OrderedReady.'), 'OrderedReady'),
        updateStrategy: withDefault(ref(a('StatefulSetUpdateStrategy'), 'How pods are updated when the template changes. Defaults to RollingUpdate.'), {}),
        revisionHistoryLimit: withDefault(int32('Revisions kept in ControllerRevisions. Defaults to 10.', { minimum: 0 }), 10),
        minReadySeconds: int32('Seconds a new pod must be ready to count as available.', { minimum: 0 }),
        persistentVolumeClaimRetentionPolicy: withDefault(ref(a('StatefulSetPersistentVolumeClaimRetentionPolicy'), 'Whether claims from volumeClaimTemplates are deleted with the set or on scale-down. Defaults to Retain for both.'), {}),
        ordinals: ref(a('StatefulSetOrdinals'), 'Numbering of the pods.'),
      },
      'The desired state of a StatefulSet.',
      { required: ['selector', 'template'] },
    ),
  );
  conditionType(d, a('StatefulSetCondition'), 'A condition of a StatefulSet.');
  d.add(
    a('StatefulSetStatus'),
    obj(
      {
        observedGeneration: int64(),
        replicas: int32(),
        readyReplicas: int32(),
        currentReplicas: int32(),
        updatedReplicas: int32(),
        currentRevision: str(),
        updateRevision: str(),
        collisionCount: int32(),
        conditions: listByKey(ref(a('StatefulSetCondition')), 'type'),
        availableReplicas: int32(),
      },
      'The observed state of a StatefulSet.',
    ),
  );
  d.kind(a('StatefulSet'), gvk('StatefulSet'), 'Pods with stable identities and storage, created and updated in order.', { spec: ref(a('StatefulSetSpec')), status: ref(a('StatefulSetStatus')) });
  d.add(a('RollingUpdateDaemonSet'), obj({ maxUnavailable: ref(INT_OR_STRING, 'Daemon pods (count or percentage of nodes) that may be unavailable during the update. Defaults to 1.'), maxSurge: ref(INT_OR_STRING, 'Nodes (count or percentage) that may run an extra new pod during the update. Defaults to 0.') }, 'Rolling update parameters of a DaemonSet.'));
  d.add(a('DaemonSetUpdateStrategy'), obj({ type: withDefault(oneOf(['RollingUpdate', 'OnDelete'], 'RollingUpdate or OnDelete. Defaults to RollingUpdate.'), 'RollingUpdate'), rollingUpdate: ref(a('RollingUpdateDaemonSet'), 'Parameters of RollingUpdate.') }, 'How daemon pods are updated.'));
  d.add(
    a('DaemonSetSpec'),
    obj({ selector: ref(LABEL_SELECTOR, 'Label query over the daemon pods; must match the template labels.'), template: ref(core('PodTemplateSpec'), 'Template of the pod run on every eligible node.'), updateStrategy: withDefault(ref(a('DaemonSetUpdateStrategy'), 'How daemon pods are replaced when the template changes. Defaults to RollingUpdate.'), {}), minReadySeconds: int32('Seconds a new pod must be ready to count as available.', { minimum: 0 }), revisionHistoryLimit: withDefault(int32('Revisions kept for rollback. Defaults to 10.', { minimum: 0 }), 10) }, 'The desired state of a DaemonSet.', { required: ['selector', 'template'] }),
  );
  conditionType(d, a('DaemonSetCondition'), 'A condition of a DaemonSet.');
  d.add(
    a('DaemonSetStatus'),
    obj(
      {
        currentNumberScheduled: int32(),
        numberMisscheduled: int32(),
        desiredNumberScheduled: int32(),
        numberReady: int32(),
        observedGeneration: int64(),
        updatedNumberScheduled: int32(),
        numberAvailable: int32(),
        numberUnavailable: int32(),
        collisionCount: int32(),
        conditions: listByKey(ref(a('DaemonSetCondition')), 'type'),
      },
      'The observed state of a DaemonSet.',
    ),
  );
  d.kind(a('DaemonSet'), gvk('DaemonSet'), 'Runs a copy of a pod on every eligible node.', { spec: ref(a('DaemonSetSpec')), status: ref(a('DaemonSetStatus')) });
  d.kind(a('ControllerRevision'), gvk('ControllerRevision'), 'An immutable snapshot of state, used by StatefulSet and DaemonSet rollouts.', { data: ref(RAW_EXTENSION, 'The serialized state.'), revision: int64('The revision number.', { minimum: 0 }) });
}

/** batch/v1. */
export function addBatch(d: DefinitionSet): void {
  const b = (n: string) => `io.k8s.api.batch.v1.${n}`;
  const gvk = (kind: string) => ({ group: 'batch', version: 'v1', kind });
  d.add(b('UncountedTerminatedPods'), obj({ succeeded: list(str()), failed: list(str()) }, 'Finished pods not yet counted.'));
  d.add(
    b('JobSpec'),
    obj(
      {
        parallelism: int32('Pods that may run at once. Defaults to 1 (set by the server together with completions).', { minimum: 0 }),
        completions: int32('Successful pods needed to complete the job. Defaults to 1 when parallelism is unset too.', { minimum: 0 }),
        activeDeadlineSeconds: int64('Seconds the job may run before it is failed (DeadlineExceeded).', { minimum: 1 }),
        podFailurePolicy: anyJson('How pod failures are handled.'),
        successPolicy: anyJson(),
        backoffLimit: int32('Retries before the job is failed (BackoffLimitExceeded). Defaults to 6.', { minimum: 0 }),
        backoffLimitPerIndex: int32(),
        maxFailedIndexes: int32(),
        selector: ref(LABEL_SELECTOR, 'Pods of the job; generated unless manualSelector.'),
        manualSelector: bool(),
        template: ref(core('PodTemplateSpec'), 'Template of the pods (restartPolicy OnFailure or Never).'),
        ttlSecondsAfterFinished: int32('Seconds after finishing when the job is deleted.', { minimum: 0 }),
        completionMode: withDefault(oneOf(['NonIndexed', 'Indexed'], 'NonIndexed or Indexed. Defaults to NonIndexed.'), 'NonIndexed'),
        suspend: withDefault(bool('When true no pods are created (running ones are stopped). Defaults to false.'), false),
        podReplacementPolicy: str(),
        managedBy: str(),
      },
      'The desired behaviour of a job.',
      { required: ['template'] },
    ),
  );
  conditionType(d, b('JobCondition'), 'A condition of a job (Complete, Failed, Suspended...).');
  d.add(
    b('JobStatus'),
    obj(
      {
        conditions: listByKey(ref(b('JobCondition')), 'type', 'Current conditions.', { listType: 'atomic' }),
        startTime: ref(TIME, 'When the job started.'),
        completionTime: ref(TIME, 'When the job completed.'),
        active: int32('Pending and running pods.'),
        succeeded: int32('Pods that succeeded.'),
        failed: int32('Pods that failed.'),
        terminating: int32(),
        completedIndexes: str(),
        failedIndexes: str(),
        uncountedTerminatedPods: ref(b('UncountedTerminatedPods')),
        ready: int32('Active pods that are ready.'),
      },
      'The observed state of a job.',
    ),
  );
  d.kind(b('Job'), gvk('Job'), 'Runs pods to completion.', { spec: ref(b('JobSpec')), status: ref(b('JobStatus')) });
  d.add(b('JobTemplateSpec'), obj({ metadata: ref(OBJECT_META), spec: ref(b('JobSpec')) }, 'Template of the jobs a CronJob creates.'));
  d.add(
    b('CronJobSpec'),
    obj(
      {
        schedule: str('Cron schedule (five fields, or @hourly, @daily...).'),
        timeZone: str('IANA time zone of the schedule; the controller time zone when empty.'),
        startingDeadlineSeconds: int64('Seconds after a missed run during which it may still start.', { minimum: 0 }),
        concurrencyPolicy: withDefault(oneOf(['Allow', 'Forbid', 'Replace'], 'Allow, Forbid or Replace concurrent runs. Defaults to Allow.'), 'Allow'),
        suspend: withDefault(bool('Suspend subsequent runs. Defaults to false.'), false),
        jobTemplate: ref(b('JobTemplateSpec'), 'The job to create.'),
        successfulJobsHistoryLimit: withDefault(int32('Finished successful jobs kept. Defaults to 3.', { minimum: 0 }), 3),
        failedJobsHistoryLimit: withDefault(int32('Failed jobs kept. Defaults to 1.', { minimum: 0 }), 1),
      },
      'The desired behaviour of a CronJob.',
      { required: ['schedule', 'jobTemplate'] },
    ),
  );
  d.add(b('CronJobStatus'), obj({ active: list(ref(core('ObjectReference')), 'Running jobs.', { listType: 'atomic' }), lastScheduleTime: ref(TIME), lastSuccessfulTime: ref(TIME) }, 'The observed state of a CronJob.'));
  d.kind(b('CronJob'), gvk('CronJob'), 'Creates jobs on a schedule.', { spec: ref(b('CronJobSpec')), status: ref(b('CronJobStatus')) });
}

/** autoscaling/v2 and autoscaling/v1 Scale. */
export function addAutoscaling(d: DefinitionSet): void {
  const h = (n: string) => `io.k8s.api.autoscaling.v2.${n}`;
  d.add(h('CrossVersionObjectReference'), obj({ kind: str(), name: str(), apiVersion: str() }, 'The object to scale.', { required: ['kind', 'name'] }));
  d.add(h('MetricTarget'), obj({ type: oneOf(['Utilization', 'Value', 'AverageValue']), value: ref(QUANTITY), averageValue: ref(QUANTITY), averageUtilization: int32('Percentage of the requested resource, averaged over pods.') }, 'The target of a metric.', { required: ['type'] }));
  d.add(h('MetricValueStatus'), obj({ value: ref(QUANTITY), averageValue: ref(QUANTITY), averageUtilization: int32() }, 'The current value of a metric.'));
  d.add(h('MetricIdentifier'), obj({ name: str(), selector: ref(LABEL_SELECTOR) }, 'Identifies a metric.', { required: ['name'] }));
  d.add(h('ResourceMetricSource'), obj({ name: str('cpu or memory.'), target: ref(h('MetricTarget')) }, 'A resource metric (cpu, memory) of the pods.', { required: ['name', 'target'] }));
  d.add(h('ContainerResourceMetricSource'), obj({ name: str(), target: ref(h('MetricTarget')), container: str() }, 'A resource metric of one container.', { required: ['name', 'target', 'container'] }));
  d.add(h('PodsMetricSource'), obj({ metric: ref(h('MetricIdentifier')), target: ref(h('MetricTarget')) }, 'A per-pod metric.', { required: ['metric', 'target'] }));
  d.add(h('ObjectMetricSource'), obj({ describedObject: ref(h('CrossVersionObjectReference')), target: ref(h('MetricTarget')), metric: ref(h('MetricIdentifier')) }, 'A metric of an object.', { required: ['describedObject', 'target', 'metric'] }));
  d.add(h('ExternalMetricSource'), obj({ metric: ref(h('MetricIdentifier')), target: ref(h('MetricTarget')) }, 'A metric from outside the cluster.', { required: ['metric', 'target'] }));
  d.add(h('MetricSpec'), obj({ type: oneOf(['ContainerResource', 'External', 'Object', 'Pods', 'Resource']), object: ref(h('ObjectMetricSource')), pods: ref(h('PodsMetricSource')), resource: ref(h('ResourceMetricSource')), containerResource: ref(h('ContainerResourceMetricSource')), external: ref(h('ExternalMetricSource')) }, 'A metric to scale on.', { required: ['type'] }));
  d.add(h('ResourceMetricStatus'), obj({ name: str('cpu or memory.'), current: ref(h('MetricValueStatus'), 'The current value.') }, 'Current value of a resource metric.'));
  d.add(h('MetricStatus'), obj({ type: str(), resource: ref(h('ResourceMetricStatus')), containerResource: anyJson(), pods: anyJson(), object: anyJson(), external: anyJson() }, 'The current value of a metric.', { required: ['type'] }));
  d.add(h('HPAScalingPolicy'), obj({ type: oneOf(['Pods', 'Percent']), value: int32(), periodSeconds: int32() }, 'A scaling policy.', { required: ['type', 'value', 'periodSeconds'] }));
  d.add(h('HPAScalingRules'), obj({ stabilizationWindowSeconds: int32(), selectPolicy: oneOf(['Max', 'Min', 'Disabled']), policies: list(ref(h('HPAScalingPolicy')), undefined, { listType: 'atomic' }), tolerance: ref(QUANTITY) }, 'Scaling rules in one direction.'));
  d.add(h('HorizontalPodAutoscalerBehavior'), obj({ scaleUp: ref(h('HPAScalingRules')), scaleDown: ref(h('HPAScalingRules')) }, 'Scaling behaviour.'));
  d.add(
    h('HorizontalPodAutoscalerSpec'),
    obj(
      {
        scaleTargetRef: ref(h('CrossVersionObjectReference'), 'The workload to scale.'),
        minReplicas: withDefault(int32('Lower bound of replicas. Defaults to 1.'), 1),
        maxReplicas: int32('Upper bound of replicas.', { minimum: 1 }),
        metrics: list(ref(h('MetricSpec')), 'Metrics used to compute the desired replica count.', { listType: 'atomic' }),
        behavior: ref(h('HorizontalPodAutoscalerBehavior')),
      },
      'The desired behaviour of an autoscaler.',
      { required: ['scaleTargetRef', 'maxReplicas'] },
    ),
  );
  conditionType(d, h('HorizontalPodAutoscalerCondition'), 'A condition of an autoscaler.');
  d.add(
    h('HorizontalPodAutoscalerStatus'),
    obj(
      { observedGeneration: int64(), lastScaleTime: ref(TIME), currentReplicas: int32(), desiredReplicas: int32(), currentMetrics: list(ref(h('MetricStatus')), undefined, { listType: 'atomic' }), conditions: listByKey(ref(h('HorizontalPodAutoscalerCondition')), 'type') },
      'The observed state of an autoscaler.',
    ),
  );
  d.kind(h('HorizontalPodAutoscaler'), { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' }, 'Scales a workload between bounds from observed metrics.', { spec: ref(h('HorizontalPodAutoscalerSpec')), status: ref(h('HorizontalPodAutoscalerStatus')) });
  const s = (n: string) => `io.k8s.api.autoscaling.v1.${n}`;
  d.add(s('ScaleSpec'), obj({ replicas: int32('Desired number of instances.', { minimum: 0 }) }, 'The desired scale.'));
  d.add(s('ScaleStatus'), obj({ replicas: int32('Actual number of instances.'), selector: str('Label selector of the pods, in string form.') }, 'The current scale.'));
  d.kind(s('Scale'), { group: 'autoscaling', version: 'v1', kind: 'Scale' }, 'The scale subresource of a workload.', { spec: ref(s('ScaleSpec')), status: ref(s('ScaleStatus')) });
}

/** coordination, discovery, networking, policy, rbac, scheduling, storage. */
export function addClusterGroups(d: DefinitionSet): void {
  const coord = (n: string) => `io.k8s.api.coordination.v1.${n}`;
  d.add(
    coord('LeaseSpec'),
    obj(
      {
        holderIdentity: str('Identity of the current holder.'),
        leaseDurationSeconds: int32('Seconds candidates wait after the last renewal before taking the lease.'),
        acquireTime: ref(MICRO_TIME, 'When the current holder acquired the lease.'),
        renewTime: ref(MICRO_TIME, 'When the holder last renewed the lease.'),
        leaseTransitions: int32('How many times the holder changed.'),
        strategy: str(),
        preferredHolder: str(),
      },
      'The state of a lease.',
    ),
  );
  d.kind(coord('Lease'), { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' }, 'A lease: leader election and node heartbeats.', { spec: ref(coord('LeaseSpec')) });

  const disc = (n: string) => `io.k8s.api.discovery.v1.${n}`;
  d.add(disc('EndpointConditions'), obj({ ready: bool('The endpoint can take traffic.'), serving: bool(), terminating: bool() }, 'Conditions of an endpoint.'));
  d.add(disc('ForZone'), obj({ name: str() }, 'A zone hint.', { required: ['name'] }));
  d.add(disc('EndpointHints'), obj({ forZones: list(ref(disc('ForZone')), undefined, { listType: 'atomic' }), forNodes: list(anyJson(), undefined, { listType: 'atomic' }) }, 'Routing hints.'));
  d.add(
    disc('Endpoint'),
    obj(
      {
        addresses: list(str(), 'Addresses of the endpoint.', { listType: 'set' }),
        conditions: ref(disc('EndpointConditions')),
        hostname: str(),
        targetRef: ref(core('ObjectReference'), 'The pod backing the endpoint.'),
        deprecatedTopology: stringMap(),
        nodeName: str(),
        zone: str(),
        hints: ref(disc('EndpointHints')),
      },
      'One endpoint of a service.',
      { required: ['addresses'] },
    ),
  );
  d.add(disc('EndpointPort'), obj({ name: withDefault(str('Name of the port, as in the service.'), ''), protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol. Defaults to TCP.'), 'TCP'), port: int32('Port number.'), appProtocol: str('Application protocol.') }, 'A port of the endpoints.', { mapType: 'atomic' }));
  d.kind(
    disc('EndpointSlice'),
    { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
    'A subset of the endpoints of a service.',
    { addressType: oneOf(['IPv4', 'IPv6', 'FQDN'], 'IPv4, IPv6 or FQDN. Immutable.'), endpoints: list(ref(disc('Endpoint')), 'The endpoints.', { listType: 'atomic' }), ports: list(ref(disc('EndpointPort')), 'Ports of every endpoint.', { listType: 'atomic' }) },
    { required: ['addressType'] },
  );

  const net = (n: string) => `io.k8s.api.networking.v1.${n}`;
  d.add(net('ServiceBackendPort'), obj({ name: str(), number: int32() }, 'A port of a service backend.', { mapType: 'atomic' }));
  d.add(net('IngressServiceBackend'), obj({ name: str('Name of the service.'), port: ref(net('ServiceBackendPort')) }, 'A service backend.', { required: ['name'] }));
  d.add(net('IngressBackend'), obj({ service: ref(net('IngressServiceBackend')), resource: ref(core('TypedLocalObjectReference')) }, 'Where matching requests go.'));
  d.add(net('HTTPIngressPath'), obj({ path: str('Path to match (starts with /).'), pathType: oneOf(['Exact', 'Prefix', 'ImplementationSpecific'], 'How the path matches.'), backend: ref(net('IngressBackend')) }, 'A path routed to a backend.', { required: ['pathType', 'backend'] }));
  d.add(net('HTTPIngressRuleValue'), obj({ paths: list(ref(net('HTTPIngressPath')), undefined, { listType: 'atomic' }) }, 'HTTP paths of a rule.', { required: ['paths'] }));
  d.add(net('IngressRule'), obj({ host: str('Host name to match; all hosts when empty.'), http: ref(net('HTTPIngressRuleValue')) }, 'A host rule.'));
  d.add(net('IngressTLS'), obj({ hosts: list(str(), undefined, { listType: 'atomic' }), secretName: str('Secret with tls.crt and tls.key.') }, 'TLS settings for hosts.'));
  d.add(net('IngressSpec'), obj({ ingressClassName: str('IngressClass handling this ingress.'), defaultBackend: ref(net('IngressBackend')), tls: list(ref(net('IngressTLS')), undefined, { listType: 'atomic' }), rules: list(ref(net('IngressRule')), 'Host and path rules.', { listType: 'atomic' }) }, 'The desired state of an ingress.'));
  d.add(net('IngressPortStatus'), obj({ port: int32(), protocol: str(), error: str() }, 'A port status.', { required: ['port', 'protocol'] }));
  d.add(net('IngressLoadBalancerIngress'), obj({ ip: str(), hostname: str(), ports: list(ref(net('IngressPortStatus'))) }, 'An ingress point.'));
  d.add(net('IngressLoadBalancerStatus'), obj({ ingress: list(ref(net('IngressLoadBalancerIngress'))) }, 'Ingress points.'));
  d.add(net('IngressStatus'), obj({ loadBalancer: ref(net('IngressLoadBalancerStatus')) }, 'The observed state of an ingress.'));
  d.kind(net('Ingress'), { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' }, 'HTTP(S) routing from outside to services by host and path.', { spec: ref(net('IngressSpec')), status: ref(net('IngressStatus')) });
  d.add(net('IngressClassParametersReference'), obj({ apiGroup: str(), kind: str(), name: str(), scope: str(), namespace: str() }, 'Parameters of an ingress class.', { required: ['kind', 'name'] }));
  d.add(net('IngressClassSpec'), obj({ controller: str('Name of the controller implementing the class.'), parameters: ref(net('IngressClassParametersReference')) }, 'The desired state of an ingress class.'));
  d.kind(net('IngressClass'), { group: 'networking.k8s.io', version: 'v1', kind: 'IngressClass' }, 'A class of ingresses and the controller implementing it.', { spec: ref(net('IngressClassSpec')) });
  d.add(net('IPBlock'), obj({ cidr: str(), except: list(str()) }, 'An IP range.', { required: ['cidr'] }));
  d.add(net('NetworkPolicyPeer'), obj({ podSelector: ref(LABEL_SELECTOR), namespaceSelector: ref(LABEL_SELECTOR), ipBlock: ref(net('IPBlock')) }, 'A peer of a network policy rule.'));
  d.add(net('NetworkPolicyPort'), obj({ protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol. Defaults to TCP.'), 'TCP'), port: ref(INT_OR_STRING, 'Port number or name; all ports when unset.'), endPort: int32('With a numeric port: the last port of a range.') }, 'A port of a network policy rule.'));
  d.add(net('NetworkPolicyIngressRule'), obj({ ports: list(ref(net('NetworkPolicyPort'))), from: list(ref(net('NetworkPolicyPeer'))) }, 'Allowed incoming traffic.'));
  d.add(net('NetworkPolicyEgressRule'), obj({ ports: list(ref(net('NetworkPolicyPort'))), to: list(ref(net('NetworkPolicyPeer'))) }, 'Allowed outgoing traffic.'));
  d.add(net('NetworkPolicySpec'), obj({ podSelector: ref(LABEL_SELECTOR, 'Pods the policy applies to.'), ingress: list(ref(net('NetworkPolicyIngressRule'))), egress: list(ref(net('NetworkPolicyEgressRule'))), policyTypes: list(str(), 'Ingress and/or Egress.') }, 'The desired state of a network policy.'));
  d.kind(net('NetworkPolicy'), { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' }, 'Which traffic is allowed to and from pods.', { spec: ref(net('NetworkPolicySpec')) });

  const pol = (n: string) => `io.k8s.api.policy.v1.${n}`;
  d.add(pol('PodDisruptionBudgetSpec'), obj({ minAvailable: ref(INT_OR_STRING, 'Pods that must stay available after an eviction.'), selector: ref(LABEL_SELECTOR, 'Pods the budget covers.'), maxUnavailable: ref(INT_OR_STRING, 'Pods that may be unavailable after an eviction.'), unhealthyPodEvictionPolicy: str() }, 'The desired state of a disruption budget.'));
  d.add(
    pol('PodDisruptionBudgetStatus'),
    obj({ observedGeneration: int64(), disruptedPods: map(ref(TIME)), disruptionsAllowed: int32('How many more pods may be evicted now.'), currentHealthy: int32(), desiredHealthy: int32(), expectedPods: int32(), conditions: listByKey(ref(CONDITION), 'type') }, 'The observed state of a disruption budget.'),
  );
  d.kind(pol('PodDisruptionBudget'), { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget' }, 'Limits how many pods of a set voluntary disruptions may take down at once.', { spec: ref(pol('PodDisruptionBudgetSpec')), status: ref(pol('PodDisruptionBudgetStatus')) });
  d.kind(pol('Eviction'), { group: 'policy', version: 'v1', kind: 'Eviction' }, 'Evicts a pod, honouring disruption budgets.', { deleteOptions: ref('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions') });

  const rbac = (n: string) => `io.k8s.api.rbac.v1.${n}`;
  const rgvk = (kind: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', kind });
  d.add(rbac('PolicyRule'), obj({ verbs: list(str(), 'Verbs allowed (get, list, watch, create, update, patch, delete, *).'), apiGroups: list(str()), resources: list(str()), resourceNames: list(str()), nonResourceURLs: list(str()) }, 'Permitted actions on resources.', { required: ['verbs'] }));
  d.add(rbac('AggregationRule'), obj({ clusterRoleSelectors: list(ref(LABEL_SELECTOR)) }, 'ClusterRoles whose rules are aggregated.'));
  d.add(rbac('Subject'), obj({ kind: str('User, Group or ServiceAccount.'), apiGroup: str(), name: str(), namespace: str() }, 'Who a binding grants to.', { required: ['kind', 'name'], mapType: 'atomic' }));
  d.add(rbac('RoleRef'), obj({ apiGroup: str(), kind: str('Role or ClusterRole.'), name: str() }, 'The role a binding grants.', { required: ['apiGroup', 'kind', 'name'], mapType: 'atomic' }));
  d.kind(rbac('Role'), rgvk('Role'), 'Permissions within a namespace.', { rules: list(ref(rbac('PolicyRule')), 'The rules.') });
  d.kind(rbac('ClusterRole'), rgvk('ClusterRole'), 'Permissions across the cluster.', { rules: list(ref(rbac('PolicyRule'))), aggregationRule: ref(rbac('AggregationRule')) });
  d.kind(rbac('RoleBinding'), rgvk('RoleBinding'), 'Grants a role to subjects within a namespace.', { subjects: list(ref(rbac('Subject'))), roleRef: ref(rbac('RoleRef')) }, { required: ['roleRef'] });
  d.kind(rbac('ClusterRoleBinding'), rgvk('ClusterRoleBinding'), 'Grants a cluster role to subjects across the cluster.', { subjects: list(ref(rbac('Subject'))), roleRef: ref(rbac('RoleRef')) }, { required: ['roleRef'] });

  d.kind(
    'io.k8s.api.scheduling.v1.PriorityClass',
    { group: 'scheduling.k8s.io', version: 'v1', kind: 'PriorityClass' },
    'Maps a priority class name to an integer priority.',
    { value: int32('The priority; higher schedules first.'), globalDefault: bool('Use this class for pods without priorityClassName.'), description: str('What the class is for.'), preemptionPolicy: withDefault(oneOf(['PreemptLowerPriority', 'Never'], 'Whether pods of this class may preempt lower-priority pods. Defaults to PreemptLowerPriority.'), 'PreemptLowerPriority') },
  );

  const st = (n: string) => `io.k8s.api.storage.v1.${n}`;
  d.add(st('TopologySelectorLabelRequirement'), obj({ key: str(), values: list(str()) }, 'A topology label requirement.', { required: ['key', 'values'] }));
  d.add(st('TopologySelectorTerm'), obj({ matchLabelExpressions: list(ref(st('TopologySelectorLabelRequirement'))) }, 'A topology selector term.', { mapType: 'atomic' }));
  d.kind(
    st('StorageClass'),
    { group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass' },
    'A class of storage and the provisioner that creates its volumes.',
    {
      provisioner: str('Name of the provisioner.'),
      parameters: stringMap('Parameters of the provisioner.'),
      reclaimPolicy: withDefault(oneOf(['Retain', 'Delete'], 'Reclaim policy of provisioned volumes. Defaults to Delete.'), 'Delete'),
      mountOptions: list(str()),
      allowVolumeExpansion: bool(),
      volumeBindingMode: withDefault(oneOf(['Immediate', 'WaitForFirstConsumer'], 'When claims are bound. Defaults to Immediate.'), 'Immediate'),
      allowedTopologies: list(ref(st('TopologySelectorTerm')), undefined, { listType: 'atomic' }),
    },
    { required: ['provisioner'] },
  );
  void num;
  void QUANTITY;
}
