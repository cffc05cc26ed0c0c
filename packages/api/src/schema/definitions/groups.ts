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
        terminatingReplicas: int32('Pods of this deployment that are terminating.'),
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
      { replicas: int32('Most recently observed number of pods.'), fullyLabeledReplicas: int32('Pods whose labels match the template labels.'), readyReplicas: int32('Pods that are ready.'), availableReplicas: int32('Pods ready for at least minReadySeconds.'), terminatingReplicas: int32('Pods that are terminating.'), observedGeneration: int64('The generation the status was computed for.'), conditions: listByKey(ref(a('ReplicaSetCondition')), 'type', 'Current conditions.') },
      'The observed state of a ReplicaSet.',
    ),
  );
  d.kind(a('ReplicaSet'), gvk('ReplicaSet'), 'Keeps a stable set of replica pods running.', { spec: ref(a('ReplicaSetSpec'), 'Desired state of the ReplicaSet.'), status: ref(a('ReplicaSetStatus'), 'Observed state of the ReplicaSet. Read-only.') });
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
        observedGeneration: int64('The generation the status was computed for.'),
        replicas: int32('Pods created by the StatefulSet.'),
        readyReplicas: int32('Pods that are ready.'),
        currentReplicas: int32('Pods at currentRevision.'),
        updatedReplicas: int32('Pods at updateRevision.'),
        currentRevision: str('The revision that made the pods up to currentReplicas.'),
        updateRevision: str('The revision of the current template.'),
        collisionCount: int32('Counts hash collisions of revision names.'),
        conditions: listByKey(ref(a('StatefulSetCondition')), 'type', 'Current conditions.'),
        availableReplicas: int32('Pods ready for at least minReadySeconds.'),
      },
      'The observed state of a StatefulSet.',
    ),
  );
  d.kind(a('StatefulSet'), gvk('StatefulSet'), 'Pods with stable identities and storage, created and updated in order.', { spec: ref(a('StatefulSetSpec'), 'Desired state of the StatefulSet.'), status: ref(a('StatefulSetStatus'), 'Observed state of the StatefulSet. Read-only.') });
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
        currentNumberScheduled: int32('Nodes running at least one daemon pod that should.'),
        numberMisscheduled: int32('Nodes running a daemon pod that should not.'),
        desiredNumberScheduled: int32('Nodes that should run the daemon pod.'),
        numberReady: int32('Nodes whose daemon pod is ready.'),
        observedGeneration: int64('The generation the status was computed for.'),
        updatedNumberScheduled: int32('Nodes running the current template.'),
        numberAvailable: int32('Nodes whose daemon pod has been ready for minReadySeconds.'),
        numberUnavailable: int32('Nodes that should run an available daemon pod and do not.'),
        collisionCount: int32('Counts hash collisions of revision names.'),
        conditions: listByKey(ref(a('DaemonSetCondition')), 'type', 'Current conditions.'),
      },
      'The observed state of a DaemonSet.',
    ),
  );
  d.kind(a('DaemonSet'), gvk('DaemonSet'), 'Runs a copy of a pod on every eligible node.', { spec: ref(a('DaemonSetSpec'), 'Desired state of the DaemonSet.'), status: ref(a('DaemonSetStatus'), 'Observed state of the DaemonSet. Read-only.') });
  d.kind(a('ControllerRevision'), gvk('ControllerRevision'), 'An immutable snapshot of state, used by StatefulSet and DaemonSet rollouts.', { data: ref(RAW_EXTENSION, 'The serialized state.'), revision: int64('The revision number.', { minimum: 0 }) });
}

/** batch/v1. */
export function addBatch(d: DefinitionSet): void {
  const b = (n: string) => `io.k8s.api.batch.v1.${n}`;
  const gvk = (kind: string) => ({ group: 'batch', version: 'v1', kind });
  d.add(b('UncountedTerminatedPods'), obj({ succeeded: list(str(), 'UIDs of succeeded pods not yet counted.'), failed: list(str(), 'UIDs of failed pods not yet counted.') }, 'Finished pods not yet counted.'));
  d.add(
    b('JobSpec'),
    obj(
      {
        parallelism: int32('Pods that may run at once. Defaults to 1 (set by the server together with completions).', { minimum: 0 }),
        completions: int32('Successful pods needed to complete the job. Defaults to 1 when parallelism is unset too.', { minimum: 0 }),
        activeDeadlineSeconds: int64('Seconds the job may run before it is failed (DeadlineExceeded).', { minimum: 1 }),
        podFailurePolicy: anyJson('How pod failures are handled.'),
        successPolicy: anyJson('When the job counts as succeeded before all completions (Indexed jobs).'),
        backoffLimit: int32('Retries before the job is failed (BackoffLimitExceeded). Defaults to 6.', { minimum: 0 }),
        backoffLimitPerIndex: int32('Retries per index of an Indexed job.'),
        maxFailedIndexes: int32('Failed indexes after which the job fails.'),
        selector: ref(LABEL_SELECTOR, 'Pods of the job; generated unless manualSelector.'),
        manualSelector: bool('Use the given selector instead of generating one.'),
        template: ref(core('PodTemplateSpec'), 'Template of the pods (restartPolicy OnFailure or Never).'),
        ttlSecondsAfterFinished: int32('Seconds after finishing when the job is deleted.', { minimum: 0 }),
        completionMode: withDefault(oneOf(['NonIndexed', 'Indexed'], 'NonIndexed or Indexed. Defaults to NonIndexed.'), 'NonIndexed'),
        suspend: withDefault(bool('When true no pods are created (running ones are stopped). Defaults to false.'), false),
        podReplacementPolicy: str('TerminatingOrFailed or Failed: when a replacement pod is created.'),
        managedBy: str('The controller that manages the job; the built-in one when empty.'),
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
        terminating: int32('Pods that are terminating.'),
        completedIndexes: str('Completed indexes of an Indexed job, as ranges (1,3-5).'),
        failedIndexes: str('Failed indexes, with backoffLimitPerIndex.'),
        uncountedTerminatedPods: ref(b('UncountedTerminatedPods'), 'Finished pods the controller has not counted yet.'),
        ready: int32('Active pods that are ready.'),
      },
      'The observed state of a job.',
    ),
  );
  d.kind(b('Job'), gvk('Job'), 'Runs pods to completion.', { spec: ref(b('JobSpec'), 'Desired behaviour of the job.'), status: ref(b('JobStatus'), 'Observed state of the job. Read-only.') });
  d.add(b('JobTemplateSpec'), obj({ metadata: ref(OBJECT_META, 'Labels and annotations of the created jobs.'), spec: ref(b('JobSpec'), 'Spec of the created jobs.') }, 'Template of the jobs a CronJob creates.'));
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
  d.add(b('CronJobStatus'), obj({ active: list(ref(core('ObjectReference')), 'Running jobs.', { listType: 'atomic' }), lastScheduleTime: ref(TIME, 'When a job was last scheduled.'), lastSuccessfulTime: ref(TIME, 'When a job last completed successfully.') }, 'The observed state of a CronJob.'));
  d.kind(b('CronJob'), gvk('CronJob'), 'Creates jobs on a schedule.', { spec: ref(b('CronJobSpec'), 'Schedule and job template.'), status: ref(b('CronJobStatus'), 'Observed state of the CronJob. Read-only.') });
}

/** autoscaling/v2 and autoscaling/v1 Scale. */
export function addAutoscaling(d: DefinitionSet): void {
  const h = (n: string) => `io.k8s.api.autoscaling.v2.${n}`;
  d.add(h('CrossVersionObjectReference'), obj({ kind: str('Kind of the target (Deployment).'), name: str('Name of the target.'), apiVersion: str('API version of the target (apps/v1).') }, 'The object to scale.', { required: ['kind', 'name'] }));
  d.add(h('MetricTarget'), obj({ type: oneOf(['Utilization', 'Value', 'AverageValue'], 'Utilization, Value or AverageValue.'), value: ref(QUANTITY, 'Target value of the metric.'), averageValue: ref(QUANTITY, 'Target value of the metric averaged over the pods.'), averageUtilization: int32('Percentage of the requested resource, averaged over pods.') }, 'The target of a metric.', { required: ['type'] }));
  d.add(h('MetricValueStatus'), obj({ value: ref(QUANTITY, 'Current value.'), averageValue: ref(QUANTITY, 'Current value averaged over the pods.'), averageUtilization: int32('Current percentage of the requested resource.') }, 'The current value of a metric.'));
  d.add(h('MetricIdentifier'), obj({ name: str('Name of the metric.'), selector: ref(LABEL_SELECTOR, 'Label selector for the metric series.') }, 'Identifies a metric.', { required: ['name'] }));
  d.add(h('ResourceMetricSource'), obj({ name: str('cpu or memory.'), target: ref(h('MetricTarget'), 'Target value.') }, 'A resource metric (cpu, memory) of the pods.', { required: ['name', 'target'] }));
  d.add(h('ContainerResourceMetricSource'), obj({ name: str('cpu or memory.'), target: ref(h('MetricTarget'), 'Target value.'), container: str('Name of the container.') }, 'A resource metric of one container.', { required: ['name', 'target', 'container'] }));
  d.add(h('PodsMetricSource'), obj({ metric: ref(h('MetricIdentifier'), 'The metric.'), target: ref(h('MetricTarget'), 'Target value per pod.') }, 'A per-pod metric.', { required: ['metric', 'target'] }));
  d.add(h('ObjectMetricSource'), obj({ describedObject: ref(h('CrossVersionObjectReference'), 'The object the metric describes.'), target: ref(h('MetricTarget'), 'Target value.'), metric: ref(h('MetricIdentifier'), 'The metric.') }, 'A metric of an object.', { required: ['describedObject', 'target', 'metric'] }));
  d.add(h('ExternalMetricSource'), obj({ metric: ref(h('MetricIdentifier'), 'The metric.'), target: ref(h('MetricTarget'), 'Target value.') }, 'A metric from outside the cluster.', { required: ['metric', 'target'] }));
  d.add(h('MetricSpec'), obj({ type: oneOf(['ContainerResource', 'External', 'Object', 'Pods', 'Resource'], 'ContainerResource, External, Object, Pods or Resource: which source is set.'), object: ref(h('ObjectMetricSource'), 'A metric of a Kubernetes object.'), pods: ref(h('PodsMetricSource'), 'A per-pod metric.'), resource: ref(h('ResourceMetricSource'), 'A resource metric of the pods.'), containerResource: ref(h('ContainerResourceMetricSource'), 'A resource metric of one container of the pods.'), external: ref(h('ExternalMetricSource'), 'A metric from outside the cluster.') }, 'A metric to scale on.', { required: ['type'] }));
  d.add(h('ResourceMetricStatus'), obj({ name: str('cpu or memory.'), current: ref(h('MetricValueStatus'), 'The current value.') }, 'Current value of a resource metric.'));
  d.add(h('MetricStatus'), obj({ type: str('Which source this is.'), resource: ref(h('ResourceMetricStatus'), 'Current value of a resource metric.'), containerResource: anyJson('Current value of a container resource metric.'), pods: anyJson('Current value of a per-pod metric.'), object: anyJson('Current value of an object metric.'), external: anyJson('Current value of an external metric.') }, 'The current value of a metric.', { required: ['type'] }));
  d.add(h('HPAScalingPolicy'), obj({ type: oneOf(['Pods', 'Percent'], 'Pods or Percent.'), value: int32('Pods, or percent of the current replicas, that may change per period.'), periodSeconds: int32('Length of the period in seconds.') }, 'A scaling policy.', { required: ['type', 'value', 'periodSeconds'] }));
  d.add(h('HPAScalingRules'), obj({ stabilizationWindowSeconds: int32('Seconds of past recommendations considered before scaling.'), selectPolicy: oneOf(['Max', 'Min', 'Disabled'], 'Max, Min or Disabled: which policy wins.'), policies: list(ref(h('HPAScalingPolicy')), 'Limits on the scaling rate.', { listType: 'atomic' }), tolerance: ref(QUANTITY, 'Relative metric change below which no scaling happens.') }, 'Scaling rules in one direction.'));
  d.add(h('HorizontalPodAutoscalerBehavior'), obj({ scaleUp: ref(h('HPAScalingRules'), 'Rules for scaling up.'), scaleDown: ref(h('HPAScalingRules'), 'Rules for scaling down.') }, 'Scaling behaviour.'));
  d.add(
    h('HorizontalPodAutoscalerSpec'),
    obj(
      {
        scaleTargetRef: ref(h('CrossVersionObjectReference'), 'The workload to scale.'),
        minReplicas: withDefault(int32('Lower bound of replicas. Defaults to 1.'), 1),
        maxReplicas: int32('Upper bound of replicas.', { minimum: 1 }),
        metrics: list(ref(h('MetricSpec')), 'Metrics used to compute the desired replica count.', { listType: 'atomic' }),
        behavior: ref(h('HorizontalPodAutoscalerBehavior'), 'Scaling rates and stabilization in each direction.'),
      },
      'The desired behaviour of an autoscaler.',
      { required: ['scaleTargetRef', 'maxReplicas'] },
    ),
  );
  conditionType(d, h('HorizontalPodAutoscalerCondition'), 'A condition of an autoscaler.');
  d.add(
    h('HorizontalPodAutoscalerStatus'),
    obj(
      { observedGeneration: int64('The generation the status was computed for.'), lastScaleTime: ref(TIME, 'When the replica count last changed.'), currentReplicas: int32('Current number of replicas.'), desiredReplicas: int32('Replica count last computed.'), currentMetrics: list(ref(h('MetricStatus')), 'Last read values of the metrics.', { listType: 'atomic' }), conditions: listByKey(ref(h('HorizontalPodAutoscalerCondition')), 'type', 'Current conditions.') },
      'The observed state of an autoscaler.',
    ),
  );
  d.kind(h('HorizontalPodAutoscaler'), { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' }, 'Scales a workload between bounds from observed metrics.', { spec: ref(h('HorizontalPodAutoscalerSpec'), 'Target and bounds of the autoscaler.'), status: ref(h('HorizontalPodAutoscalerStatus'), 'Observed state of the autoscaler. Read-only.') });
  const s = (n: string) => `io.k8s.api.autoscaling.v1.${n}`;
  d.add(s('ScaleSpec'), obj({ replicas: int32('Desired number of instances.', { minimum: 0 }) }, 'The desired scale.'));
  d.add(s('ScaleStatus'), obj({ replicas: int32('Actual number of instances.'), selector: str('Label selector of the pods, in string form.') }, 'The current scale.'));
  d.kind(s('Scale'), { group: 'autoscaling', version: 'v1', kind: 'Scale' }, 'The scale subresource of a workload.', { spec: ref(s('ScaleSpec'), 'Desired scale.'), status: ref(s('ScaleStatus'), 'Current scale. Read-only.') });
  // autoscaling/v1 HorizontalPodAutoscaler: the CPU target only; everything else of autoscaling/v2
  // travels in the autoscaling.alpha.kubernetes.io/* annotations.
  d.add(s('CrossVersionObjectReference'), obj({ kind: str('Kind of the target (Deployment).'), name: str('Name of the target.'), apiVersion: str('API version of the target (apps/v1).') }, 'The object to scale.', { required: ['kind', 'name'] }));
  d.add(
    s('HorizontalPodAutoscalerSpec'),
    obj(
      {
        scaleTargetRef: ref(s('CrossVersionObjectReference'), 'The workload to scale.'),
        minReplicas: withDefault(int32('Lower bound of replicas. Defaults to 1.'), 1),
        maxReplicas: int32('Upper bound of replicas.', { minimum: 1 }),
        targetCPUUtilizationPercentage: int32('Target average CPU use, in percent of the requested CPU; 80 when unset.'),
      },
      'The desired behaviour of an autoscaler.',
      { required: ['scaleTargetRef', 'maxReplicas'] },
    ),
  );
  d.add(
    s('HorizontalPodAutoscalerStatus'),
    obj(
      { observedGeneration: int64('The generation the status was computed for.'), lastScaleTime: ref(TIME, 'When the replica count last changed.'), currentReplicas: int32('Current number of replicas.'), desiredReplicas: int32('Replica count last computed.'), currentCPUUtilizationPercentage: int32('Current average CPU use, in percent of the requested CPU.') },
      'The observed state of an autoscaler.',
    ),
  );
  d.kind(s('HorizontalPodAutoscaler'), { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' }, 'Scales a workload between bounds from its CPU use (autoscaling/v2 has every metric).', { spec: ref(s('HorizontalPodAutoscalerSpec'), 'Target and bounds of the autoscaler.'), status: ref(s('HorizontalPodAutoscalerStatus'), 'Observed state of the autoscaler. Read-only.') });
  d.listOf(s('HorizontalPodAutoscalerList'), { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscalerList' }, s('HorizontalPodAutoscaler'));
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
        strategy: str('How the next holder is chosen (coordinated leader election).'),
        preferredHolder: str('The holder the strategy would like next.'),
      },
      'The state of a lease.',
    ),
  );
  d.kind(coord('Lease'), { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' }, 'A lease: leader election and node heartbeats.', { spec: ref(coord('LeaseSpec'), 'The lease state.') });

  const disc = (n: string) => `io.k8s.api.discovery.v1.${n}`;
  d.add(disc('EndpointConditions'), obj({ ready: bool('The endpoint can take traffic.'), serving: bool('The endpoint can serve traffic, even while terminating.'), terminating: bool('The endpoint is terminating.') }, 'Conditions of an endpoint.'));
  d.add(disc('ForZone'), obj({ name: str('Name of the zone.') }, 'A zone hint.', { required: ['name'] }));
  d.add(disc('EndpointHints'), obj({ forZones: list(ref(disc('ForZone')), 'Zones that should use this endpoint.', { listType: 'atomic' }), forNodes: list(anyJson(), 'Nodes that should use this endpoint.', { listType: 'atomic' }) }, 'Routing hints.'));
  d.add(
    disc('Endpoint'),
    obj(
      {
        addresses: list(str(), 'Addresses of the endpoint.', { listType: 'set' }),
        conditions: ref(disc('EndpointConditions'), 'Readiness of the endpoint.'),
        hostname: str('Host name of the endpoint.'),
        targetRef: ref(core('ObjectReference'), 'The pod backing the endpoint.'),
        deprecatedTopology: stringMap('Deprecated topology labels.'),
        nodeName: str('Node hosting the endpoint.'),
        zone: str('Zone of the endpoint.'),
        hints: ref(disc('EndpointHints'), 'Routing hints.'),
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
  d.add(net('ServiceBackendPort'), obj({ name: str('Name of the service port.'), number: int32('Number of the service port.') }, 'A port of a service backend.', { mapType: 'atomic' }));
  d.add(net('IngressServiceBackend'), obj({ name: str('Name of the service.'), port: ref(net('ServiceBackendPort'), 'The service port.') }, 'A service backend.', { required: ['name'] }));
  d.add(net('IngressBackend'), obj({ service: ref(net('IngressServiceBackend'), 'A service to send the requests to.'), resource: ref(core('TypedLocalObjectReference'), 'An object to send the requests to.') }, 'Where matching requests go.'));
  d.add(net('HTTPIngressPath'), obj({ path: str('Path to match (starts with /).'), pathType: oneOf(['Exact', 'Prefix', 'ImplementationSpecific'], 'How the path matches.'), backend: ref(net('IngressBackend'), 'Where matching requests go.') }, 'A path routed to a backend.', { required: ['pathType', 'backend'] }));
  d.add(net('HTTPIngressRuleValue'), obj({ paths: list(ref(net('HTTPIngressPath')), 'Paths and their backends.', { listType: 'atomic' }) }, 'HTTP paths of a rule.', { required: ['paths'] }));
  d.add(net('IngressRule'), obj({ host: str('Host name to match; all hosts when empty.'), http: ref(net('HTTPIngressRuleValue'), 'HTTP paths of the host.') }, 'A host rule.'));
  d.add(net('IngressTLS'), obj({ hosts: list(str(), 'Host names the certificate covers.', { listType: 'atomic' }), secretName: str('Secret with tls.crt and tls.key.') }, 'TLS settings for hosts.'));
  d.add(net('IngressSpec'), obj({ ingressClassName: str('IngressClass handling this ingress.'), defaultBackend: ref(net('IngressBackend'), 'Where requests matching no rule go.'), tls: list(ref(net('IngressTLS')), 'TLS termination settings.', { listType: 'atomic' }), rules: list(ref(net('IngressRule')), 'Host and path rules.', { listType: 'atomic' }) }, 'The desired state of an ingress.'));
  d.add(net('IngressPortStatus'), obj({ port: int32('Port number.'), protocol: str('TCP, UDP or SCTP.'), error: str('Why the port is in error, if it is.') }, 'A port status.', { required: ['port', 'protocol'] }));
  d.add(net('IngressLoadBalancerIngress'), obj({ ip: str('IP of the ingress point.'), hostname: str('DNS name of the ingress point.'), ports: list(ref(net('IngressPortStatus')), 'Status of the ports.') }, 'An ingress point.'));
  d.add(net('IngressLoadBalancerStatus'), obj({ ingress: list(ref(net('IngressLoadBalancerIngress')), 'Ingress points of the load balancer.') }, 'Ingress points.'));
  d.add(net('IngressStatus'), obj({ loadBalancer: ref(net('IngressLoadBalancerStatus'), 'The load balancer of the ingress.') }, 'The observed state of an ingress.'));
  d.kind(net('Ingress'), { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' }, 'HTTP(S) routing from outside to services by host and path.', { spec: ref(net('IngressSpec'), 'Rules of the ingress.'), status: ref(net('IngressStatus'), 'Observed state of the ingress. Read-only.') });
  d.add(net('IngressClassParametersReference'), obj({ apiGroup: str('API group of the parameters object.'), kind: str('Kind of the parameters object.'), name: str('Name of the parameters object.'), scope: str('Cluster or Namespace.'), namespace: str('Namespace of the parameters object, for scope Namespace.') }, 'Parameters of an ingress class.', { required: ['kind', 'name'] }));
  d.add(net('IngressClassSpec'), obj({ controller: str('Name of the controller implementing the class.'), parameters: ref(net('IngressClassParametersReference'), 'Controller-specific parameters.') }, 'The desired state of an ingress class.'));
  d.kind(net('IngressClass'), { group: 'networking.k8s.io', version: 'v1', kind: 'IngressClass' }, 'A class of ingresses and the controller implementing it.', { spec: ref(net('IngressClassSpec'), 'The controller and its parameters.') });
  d.add(net('IPBlock'), obj({ cidr: str('The allowed range (10.0.0.0/8).'), except: list(str(), 'Ranges excluded from cidr.') }, 'An IP range.', { required: ['cidr'] }));
  d.add(net('NetworkPolicyPeer'), obj({ podSelector: ref(LABEL_SELECTOR, 'Pods (in the policy namespace, or the selected namespaces).'), namespaceSelector: ref(LABEL_SELECTOR, 'Namespaces whose pods match.'), ipBlock: ref(net('IPBlock'), 'An IP range.') }, 'A peer of a network policy rule.'));
  d.add(net('NetworkPolicyPort'), obj({ protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol. Defaults to TCP.'), 'TCP'), port: ref(INT_OR_STRING, 'Port number or name; all ports when unset.'), endPort: int32('With a numeric port: the last port of a range.') }, 'A port of a network policy rule.'));
  d.add(net('NetworkPolicyIngressRule'), obj({ ports: list(ref(net('NetworkPolicyPort')), 'Ports the traffic may reach; all when empty.'), from: list(ref(net('NetworkPolicyPeer')), 'Sources allowed; everyone when empty.') }, 'Allowed incoming traffic.'));
  d.add(net('NetworkPolicyEgressRule'), obj({ ports: list(ref(net('NetworkPolicyPort')), 'Ports the traffic may go to; all when empty.'), to: list(ref(net('NetworkPolicyPeer')), 'Destinations allowed; everywhere when empty.') }, 'Allowed outgoing traffic.'));
  d.add(net('NetworkPolicySpec'), obj({ podSelector: ref(LABEL_SELECTOR, 'Pods the policy applies to.'), ingress: list(ref(net('NetworkPolicyIngressRule')), 'Allowed incoming traffic.'), egress: list(ref(net('NetworkPolicyEgressRule')), 'Allowed outgoing traffic.'), policyTypes: list(str(), 'Ingress and/or Egress.') }, 'The desired state of a network policy.'));
  d.kind(net('NetworkPolicy'), { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' }, 'Which traffic is allowed to and from pods.', { spec: ref(net('NetworkPolicySpec'), 'Which traffic the policy allows.') });

  const pol = (n: string) => `io.k8s.api.policy.v1.${n}`;
  d.add(pol('PodDisruptionBudgetSpec'), obj({ minAvailable: ref(INT_OR_STRING, 'Pods that must stay available after an eviction.'), selector: ref(LABEL_SELECTOR, 'Pods the budget covers.'), maxUnavailable: ref(INT_OR_STRING, 'Pods that may be unavailable after an eviction.'), unhealthyPodEvictionPolicy: str('IfHealthyBudget or AlwaysAllow: whether unhealthy pods may be evicted.') }, 'The desired state of a disruption budget.'));
  d.add(
    pol('PodDisruptionBudgetStatus'),
    obj({ observedGeneration: int64('The generation the status was computed for.'), disruptedPods: map(ref(TIME), 'Pods being evicted, with when the eviction was processed.'), disruptionsAllowed: int32('How many more pods may be evicted now.'), currentHealthy: int32('Healthy pods now.'), desiredHealthy: int32('Healthy pods needed.'), expectedPods: int32('Pods the budget covers.'), conditions: listByKey(ref(CONDITION), 'type', 'Current conditions.') }, 'The observed state of a disruption budget.'),
  );
  d.kind(pol('PodDisruptionBudget'), { group: 'policy', version: 'v1', kind: 'PodDisruptionBudget' }, 'Limits how many pods of a set voluntary disruptions may take down at once.', { spec: ref(pol('PodDisruptionBudgetSpec'), 'The budget.'), status: ref(pol('PodDisruptionBudgetStatus'), 'Observed state of the budget. Read-only.') });
  d.kind(pol('Eviction'), { group: 'policy', version: 'v1', kind: 'Eviction' }, 'Evicts a pod, honouring disruption budgets.', { deleteOptions: ref('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'Options of the pod deletion.') });

  const rbac = (n: string) => `io.k8s.api.rbac.v1.${n}`;
  const rgvk = (kind: string) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', kind });
  d.add(rbac('PolicyRule'), obj({ verbs: list(str(), 'Verbs allowed (get, list, watch, create, update, patch, delete, *).'), apiGroups: list(str(), 'API groups of the resources; "" is the core group, * all.'), resources: list(str(), 'Resources the rule applies to (pods, deployments/scale, *).'), resourceNames: list(str(), 'Names of the objects the rule is limited to.'), nonResourceURLs: list(str(), 'URL paths (not resources) the rule applies to.') }, 'Permitted actions on resources.', { required: ['verbs'] }));
  d.add(rbac('AggregationRule'), obj({ clusterRoleSelectors: list(ref(LABEL_SELECTOR), 'ClusterRoles whose rules are included.') }, 'ClusterRoles whose rules are aggregated.'));
  d.add(rbac('Subject'), obj({ kind: str('User, Group or ServiceAccount.'), apiGroup: str('rbac.authorization.k8s.io for User and Group, empty for ServiceAccount.'), name: str('Name of the subject.'), namespace: str('Namespace of a ServiceAccount.') }, 'Who a binding grants to.', { required: ['kind', 'name'], mapType: 'atomic' }));
  d.add(rbac('RoleRef'), obj({ apiGroup: str('rbac.authorization.k8s.io.'), kind: str('Role or ClusterRole.'), name: str('Name of the role.') }, 'The role a binding grants.', { required: ['apiGroup', 'kind', 'name'], mapType: 'atomic' }));
  d.kind(rbac('Role'), rgvk('Role'), 'Permissions within a namespace.', { rules: list(ref(rbac('PolicyRule')), 'The rules.') });
  d.kind(rbac('ClusterRole'), rgvk('ClusterRole'), 'Permissions across the cluster.', { rules: list(ref(rbac('PolicyRule')), 'The permissions.'), aggregationRule: ref(rbac('AggregationRule'), 'Builds the rules from other ClusterRoles.') });
  d.kind(rbac('RoleBinding'), rgvk('RoleBinding'), 'Grants a role to subjects within a namespace.', { subjects: list(ref(rbac('Subject')), 'Who gets the role.'), roleRef: ref(rbac('RoleRef'), 'The Role or ClusterRole granted.') }, { required: ['roleRef'] });
  d.kind(rbac('ClusterRoleBinding'), rgvk('ClusterRoleBinding'), 'Grants a cluster role to subjects across the cluster.', { subjects: list(ref(rbac('Subject')), 'Who gets the role.'), roleRef: ref(rbac('RoleRef'), 'The ClusterRole granted.') }, { required: ['roleRef'] });

  d.kind(
    'io.k8s.api.scheduling.v1.PriorityClass',
    { group: 'scheduling.k8s.io', version: 'v1', kind: 'PriorityClass' },
    'Maps a priority class name to an integer priority.',
    { value: int32('The priority; higher schedules first.'), globalDefault: bool('Use this class for pods without priorityClassName.'), description: str('What the class is for.'), preemptionPolicy: withDefault(oneOf(['PreemptLowerPriority', 'Never'], 'Whether pods of this class may preempt lower-priority pods. Defaults to PreemptLowerPriority.'), 'PreemptLowerPriority') },
  );

  const st = (n: string) => `io.k8s.api.storage.v1.${n}`;
  d.add(st('TopologySelectorLabelRequirement'), obj({ key: str('The label key.'), values: list(str(), 'Values the label may have.') }, 'A topology label requirement.', { required: ['key', 'values'] }));
  d.add(st('TopologySelectorTerm'), obj({ matchLabelExpressions: list(ref(st('TopologySelectorLabelRequirement')), 'Requirements that must all hold.') }, 'A topology selector term.', { mapType: 'atomic' }));
  d.kind(
    st('StorageClass'),
    { group: 'storage.k8s.io', version: 'v1', kind: 'StorageClass' },
    'A class of storage and the provisioner that creates its volumes.',
    {
      provisioner: str('Name of the provisioner.'),
      parameters: stringMap('Parameters of the provisioner.'),
      reclaimPolicy: withDefault(oneOf(['Retain', 'Delete'], 'Reclaim policy of provisioned volumes. Defaults to Delete.'), 'Delete'),
      mountOptions: list(str(), 'Mount options of provisioned volumes.'),
      allowVolumeExpansion: bool('Whether claims may be resized.'),
      volumeBindingMode: withDefault(oneOf(['Immediate', 'WaitForFirstConsumer'], 'When claims are bound. Defaults to Immediate.'), 'Immediate'),
      allowedTopologies: list(ref(st('TopologySelectorTerm')), 'Where volumes may be provisioned.', { listType: 'atomic' }),
    },
    { required: ['provisioner'] },
  );
  void num;
  void QUANTITY;
}
