import { describe, expect, it } from 'vitest';
import { compileDecoder, type DecodeOutcome } from './decoder.js';
import { DEFINITIONS } from './definitions.js';
import type { SchemaDefinitions } from './schema-node.js';

const strict = { fieldValidation: 'Strict' } as const;
const pods = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Pod');
const deployments = compileDecoder(DEFINITIONS, 'io.k8s.api.apps.v1.Deployment');
const services = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Service');

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
}

function clean(r: DecodeOutcome): DecodeOutcome['object'] {
  expect({ unknown: r.unknownFields, decode: r.decodeErrors, field: r.fieldErrors }).toEqual({ unknown: [], decode: [], field: [] });
  return r.object;
}

// A realistic pod, written with every default already present so that it round-trips unchanged.
const fullPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d9f8-abcde',
    namespace: 'default',
    uid: '0b8a3c4e-1111-2222-3333-444455556666',
    resourceVersion: '1234',
    generation: 1,
    creationTimestamp: '2024-05-01T10:00:00Z',
    labels: { app: 'web', 'pod-template-hash': '7d9f8' },
    annotations: { 'example.com/note': 'hello' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8', uid: 'aaaa', controller: true, blockOwnerDeletion: true }],
    finalizers: ['example.com/cleanup'],
    managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } } }],
  },
  spec: {
    volumes: [
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      { name: 'cfg', configMap: { name: 'web-config', items: [{ key: 'a', path: 'a.conf' }], defaultMode: 420 } },
      { name: 'tls', secret: { secretName: 'web-tls', defaultMode: 256, optional: true } },
      { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
      { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } }], defaultMode: 420 } },
      { name: 'proj', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }, { configMap: { name: 'x' } }], defaultMode: 420 } },
      { name: 'nfs', nfs: { server: 'nfs.local', path: '/exports', readOnly: true } },
      { name: 'csi', csi: { driver: 'csi.example.com', volumeAttributes: { size: '1' } } },
      { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' } } } },
    ],
    initContainers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'true'], terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' }],
    containers: [
      {
        name: 'web',
        image: 'nginx:1.25',
        args: ['--port', '8080'],
        workingDir: '/srv',
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }],
        envFrom: [{ configMapRef: { name: 'env' } }, { prefix: 'S_', secretRef: { name: 'sec', optional: true } }],
        env: [
          { name: 'MODE', value: 'prod' },
          { name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
          { name: 'CPU', valueFrom: { resourceFieldRef: { containerName: 'web', resource: 'limits.cpu', divisor: '1m' } } },
          { name: 'KEY', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } },
          { name: 'CFG', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'c', optional: false } } },
        ],
        resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi', 'ephemeral-storage': '1Gi' } },
        volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'cfg', mountPath: '/etc/web', readOnly: true, subPath: 'a.conf' }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: '' }] }, initialDelaySeconds: 5, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
        readinessProbe: { tcpSocket: { port: 8080 }, timeoutSeconds: 2, periodSeconds: 5, successThreshold: 1, failureThreshold: 3 },
        startupProbe: { exec: { command: ['cat', '/ready'] }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 30, terminationGracePeriodSeconds: 10 },
        lifecycle: { preStop: { exec: { command: ['sleep', '5'] } }, postStart: { httpGet: { path: '/', port: 8080, scheme: 'HTTP' } } },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'FallbackToLogsOnError',
        imagePullPolicy: 'IfNotPresent',
        securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, runAsUser: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } },
        stdin: false,
        tty: false,
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 45,
    activeDeadlineSeconds: 3600,
    dnsPolicy: 'None',
    dnsConfig: { nameservers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: [{ name: 'ndots', value: '2' }] },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    serviceAccountName: 'web',
    serviceAccount: 'web',
    automountServiceAccountToken: false,
    nodeName: 'node-1',
    hostNetwork: false,
    shareProcessNamespace: true,
    securityContext: { runAsGroup: 1000, fsGroup: 2000, supplementalGroups: [3000], sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] },
    imagePullSecrets: [{ name: 'regcred' }],
    hostname: 'web-0',
    subdomain: 'web',
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] },
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [{ key: 'disk', operator: 'Exists' }] } }],
      },
      podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'topology.kubernetes.io/zone' }] },
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }, topologyKey: 'kubernetes.io/hostname', namespaces: ['default'] } }] },
    },
    schedulerName: 'default-scheduler',
    tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }],
    hostAliases: [{ ip: '10.1.2.3', hostnames: ['db.local'] }],
    priorityClassName: 'high',
    priority: 1000,
    readinessGates: [{ conditionType: 'example.com/ready' }],
    enableServiceLinks: false,
    preemptionPolicy: 'PreemptLowerPriority',
    overhead: { cpu: '100m', memory: '32Mi' },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } }, minDomains: 2 }],
    os: { name: 'linux' },
    schedulingGates: [{ name: 'example.com/gate' }],
  },
  status: {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastProbeTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z' },
      { type: 'Ready', status: 'False', lastTransitionTime: '2024-05-01T10:00:05Z', reason: 'ContainersNotReady', message: 'containers with unready status: [web]' },
    ],
    hostIP: '192.168.1.10',
    hostIPs: [{ ip: '192.168.1.10' }],
    podIP: '10.244.1.7',
    podIPs: [{ ip: '10.244.1.7' }, { ip: 'fd00::7' }],
    startTime: '2024-05-01T10:00:01Z',
    initContainerStatuses: [{ name: 'init', ready: true, restartCount: 0, image: 'busybox:1.36', imageID: 'docker-pullable://busybox@sha256:abc', containerID: 'docker://1', started: false, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: '2024-05-01T10:00:02Z', finishedAt: '2024-05-01T10:00:03Z', containerID: 'docker://1' } } }],
    containerStatuses: [{ name: 'web', ready: false, restartCount: 2, image: 'nginx:1.25', imageID: 'docker-pullable://nginx@sha256:def', containerID: 'docker://2', started: true, state: { running: { startedAt: '2024-05-01T10:00:04Z' } }, lastState: { terminated: { exitCode: 137, signal: 9, reason: 'OOMKilled', startedAt: '2024-05-01T09:59:00Z', finishedAt: '2024-05-01T10:00:00Z' } } }],
    qosClass: 'Burstable',
  },
};

describe('decoder: round trips', () => {
  it('keeps a complete pod unchanged and decodes its own output to itself', () => {
    const out = clean(pods.decode(deepFreeze(structuredClone(fullPod)), strict));
    expect(out).toEqual(fullPod);
    expect(clean(pods.decode(out, strict))).toEqual(out);
  });

  it('decodes a deployment, a service, a node and a job without loss', () => {
    const samples: [string, Record<string, unknown>][] = [
      [
        'io.k8s.api.apps.v1.Deployment',
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', labels: { app: 'web' } },
          spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '10%' } }, minReadySeconds: 5, paused: false },
          status: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1, conditions: [{ type: 'Available', status: 'False', lastUpdateTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'MinimumReplicasUnavailable', message: 'm' }] },
        },
      ],
      [
        'io.k8s.api.core.v1.Service',
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'default' },
          spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080, protocol: 'TCP' }], clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Cluster' },
          status: { loadBalancer: {} },
        },
      ],
      [
        'io.k8s.api.core.v1.Node',
        {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
          spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'], taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }], unschedulable: true },
          status: {
            capacity: { cpu: '4', memory: '8Gi', pods: '110' },
            allocatable: { cpu: '3800m', memory: '7Gi', pods: '110' },
            conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T09:00:00Z', reason: 'KubeletReady', message: 'ready' }],
            addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'node-1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
            nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1', osImage: 'Debian', containerRuntimeVersion: 'docker://24', kubeletVersion: 'v1.31.0', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64' },
            images: [{ names: ['nginx:1.25'], sizeBytes: 187000000 }],
          },
        },
      ],
      [
        'io.k8s.api.batch.v1.Job',
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'pi' },
          spec: { completions: 5, parallelism: 2, backoffLimit: 4, activeDeadlineSeconds: 100, ttlSecondsAfterFinished: 60, completionMode: 'Indexed', suspend: false, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl', command: ['perl', '-e', 'print 1'] }] } } },
          status: { active: 1, succeeded: 3, failed: 1, startTime: '2024-05-01T10:00:00Z', completedIndexes: '0-2', uncountedTerminatedPods: { succeeded: ['u1'] }, conditions: [{ type: 'Complete', status: 'False', lastProbeTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z' }] },
        },
      ],
    ];
    for (const [def, input] of samples) {
      const decoder = compileDecoder(DEFINITIONS, def);
      const out = clean(decoder.decode(deepFreeze(structuredClone(input)), strict));
      expect(out, def).toMatchObject(input);
      expect(clean(decoder.decode(out, strict)), def).toEqual(out);
    }
  });

  it('keeps free-form JSON as is without sharing it with the input', () => {
    const revisions = compileDecoder(DEFINITIONS, 'io.k8s.api.apps.v1.ControllerRevision');
    const input = { metadata: { name: 'r' }, revision: 2, data: { spec: { template: { anything: [1, { deep: true }] } } } };
    const out = clean(revisions.decode(input, strict));
    expect(out['data']).toEqual(input.data);
    expect(out['data']).not.toBe(input.data);
  });
});

describe('decoder: unknown fields', () => {
  it('prunes them and reports their paths', () => {
    const r = pods.decode({ metadata: { name: 'p', bogus: 1 }, spec: { containers: [{ name: 'c', image: 'i' }, { name: 'd', image: 'i', imagePullPolice: 'x' }], extra: null } }, strict);
    expect(r.unknownFields).toEqual(['metadata.bogus', 'spec.containers[1].imagePullPolice', 'spec.extra']);
    expect(JSON.stringify(r.object)).not.toMatch(/bogus|imagePullPolice|extra/);
    expect(r.decodeErrors).toEqual([]);
  });

  it('are pruned but not reported with Ignore', () => {
    const r = pods.decode({ metadata: { name: 'p' }, zzz: 1 }, { fieldValidation: 'Ignore' });
    expect(r.unknownFields).toEqual([]);
    expect(r.object).not.toHaveProperty('zzz');
  });

  it('keep __proto__ an ordinary map key', () => {
    const input = JSON.parse('{"metadata":{"name":"p","labels":{"__proto__":"x","a":"b"}}}') as unknown;
    const out = pods.decode(input, strict).object;
    const labels = out.metadata['labels'] as Record<string, unknown>;
    expect(Object.keys(labels)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
  });
});

describe('decoder: type errors worded like Kubernetes', () => {
  it.each([
    ['a string for an int64', { spec: { terminationGracePeriodSeconds: 'thirty' } }, 'json: cannot unmarshal string into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64'],
    ['an object for a list', { spec: { containers: { name: 'c' } } }, 'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container'],
    ['a string for a bool', { spec: { hostNetwork: 'yes' } }, 'json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool'],
    ['a float for an int32', { spec: { containers: [{ name: 'c', ports: [{ containerPort: 80.5 }] }] } }, 'json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32'],
    ['an int32 overflow', { spec: { priority: 3000000000 } }, 'json: cannot unmarshal number 3000000000 into Go struct field PodSpec.spec.priority of type int32'],
    ['a number for a string', { spec: { containers: [{ name: 'c', env: [{ name: 'A', value: 1 }] }] } }, 'json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string'],
    ['a number as a label value', { metadata: { labels: { a: 1 } } }, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string'],
    ['a string for a struct', { spec: { securityContext: 'privileged' } }, 'json: cannot unmarshal string into Go struct field PodSpec.spec.securityContext of type v1.PodSecurityContext'],
    ['a list for a map', { metadata: { annotations: ['a'] } }, 'json: cannot unmarshal array into Go struct field ObjectMeta.metadata.annotations of type map[string]string'],
    ['a string in a list of numbers', { spec: { securityContext: { supplementalGroups: ['x'] } } }, 'json: cannot unmarshal string into Go struct field PodSecurityContext.spec.securityContext.supplementalGroups of type int64'],
    ['a float for an int-or-string', { spec: { containers: [{ name: 'c', readinessProbe: { tcpSocket: { port: 1.5 } } }] } }, 'json: cannot unmarshal number 1.5 into Go value of type int32'],
    ['a bool for an int-or-string', { spec: { containers: [{ name: 'c', readinessProbe: { tcpSocket: { port: true } } }] } }, 'json: cannot unmarshal bool into Go value of type int32'],
    ['a bad quantity', { spec: { containers: [{ name: 'c', resources: { limits: { cpu: 'lots' } } }] } }, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
    ['an object for a quantity', { spec: { overhead: { cpu: {} } } }, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"],
    ['a bad date-time', { metadata: { creationTimestamp: 'yesterday' } }, 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'],
    ['an empty date-time', { status: { startTime: '' } }, 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'],
    ['a number for a date-time', { status: { startTime: 17 } }, 'json: cannot unmarshal number into Go value of type string'],
  ])('%s', (_name, body, message) => {
    const r = pods.decode({ metadata: { name: 'p' }, ...body }, strict);
    expect(r.decodeErrors).toEqual([message]);
  });

  it('reports bad base64 at the offset Go reports', () => {
    const secrets = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Secret');
    const cases: [string, string | undefined][] = [
      ['aGVsbG8=', undefined],
      ['aGVsbG8h', undefined],
      ['aGVs\nbG8=', undefined],
      ['', undefined],
      ['not base64!', 'illegal base64 data at input byte 3'],
      ['aGVsbG8', 'illegal base64 data at input byte 4'],
      ['a===', 'illegal base64 data at input byte 1'],
      ['aGVsbG8=x', 'illegal base64 data at input byte 8'],
    ];
    for (const [value, message] of cases) {
      expect(secrets.decode({ metadata: { name: 's' }, data: { k: value } }, strict).decodeErrors, value).toEqual(message ? [message] : []);
    }
    expect(secrets.decode({ metadata: { name: 's' }, data: { k: 5 } }, strict).decodeErrors).toEqual(['json: cannot unmarshal number into Go struct field Secret.data of type []uint8']);
  });

  it('leaves a mistyped field out and keeps decoding the rest', () => {
    const r = pods.decode({ metadata: { name: 'p' }, spec: { priority: 'high', hostNetwork: true, containers: [{ name: 'c', image: 'i' }] } }, strict);
    expect(r.decodeErrors).toHaveLength(1);
    expect(r.object['spec']).toMatchObject({ hostNetwork: true, containers: [{ name: 'c' }] });
    expect(r.object['spec']).not.toHaveProperty('priority');
  });
});

describe('decoder: normalization', () => {
  it('writes quantities canonically, as Kubernetes stores them', () => {
    const r = pods.decode({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: 0.5, memory: '1024Mi', 'ephemeral-storage': '1000M' }, limits: { cpu: '1000m', memory: 1073741824 } } }] } }, strict);
    const res = (r.object['spec'] as { containers: { resources: unknown }[] }).containers[0]!.resources;
    expect(res).toEqual({ requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1G' }, limits: { cpu: '1', memory: '1073741824' } });
  });

  it('truncates Time to seconds in UTC and keeps MicroTime to the microsecond', () => {
    const r = pods.decode({ metadata: { name: 'p', creationTimestamp: '2024-01-02T03:04:05.678+01:00' } }, strict);
    expect(r.object.metadata['creationTimestamp']).toBe('2024-01-02T02:04:05Z');
    const leases = compileDecoder(DEFINITIONS, 'io.k8s.api.coordination.v1.Lease');
    const lease = leases.decode({ metadata: { name: 'n1' }, spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2024-01-02T03:04:05.5Z', acquireTime: '2024-01-02T03:04:05Z' } }, strict);
    expect(lease.decodeErrors).toEqual([]);
    expect(lease.object['spec']).toMatchObject({ renewTime: '2024-01-02T03:04:05.500000Z', acquireTime: '2024-01-02T03:04:05.000000Z' });
  });

  it('treats null as absent and never mutates its input', () => {
    const input = deepFreeze({ metadata: { name: 'p', labels: null }, spec: { containers: [{ name: 'c', image: 'i', args: ['a', null] }], nodeSelector: null } });
    const r = pods.decode(input, strict);
    expect(r.object.metadata).toEqual({ name: 'p' });
    expect((r.object['spec'] as { containers: { args: unknown[] }[] }).containers[0]!.args).toEqual(['a', '']);
    expect(r.object['spec']).not.toHaveProperty('nodeSelector');
  });
});

describe('decoder: defaults', () => {
  it('fills the static pod defaults, in templates too', () => {
    const spec = clean(pods.decode({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { port: 80 } } }] } }, strict))['spec'];
    expect(spec).toEqual({
      containers: [
        {
          name: 'c',
          image: 'i',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          readinessProbe: { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
    });
    const d = clean(deployments.decode({ metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } }, strict));
    expect(d['spec']).toMatchObject({
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      template: { spec: { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', containers: [{ terminationMessagePolicy: 'File' }] } },
    });
  });

  it('keeps given values, including zero and false, and treats "" as unset for defaulted strings', () => {
    const spec = clean(pods.decode({ metadata: { name: 'p' }, spec: { restartPolicy: '', terminationGracePeriodSeconds: 0, enableServiceLinks: false, dnsPolicy: 'Default', containers: [{ name: 'c', image: 'i' }] } }, strict))['spec'];
    expect(spec).toMatchObject({ restartPolicy: 'Always', terminationGracePeriodSeconds: 0, enableServiceLinks: false, dnsPolicy: 'Default' });
    const recreate = clean(deployments.decode({ metadata: { name: 'd' }, spec: { selector: {}, template: {}, strategy: { type: 'Recreate' } } }, strict));
    expect((recreate['spec'] as { strategy: unknown }).strategy).toEqual({ type: 'Recreate' });
  });

  it('fills service and namespace defaults', () => {
    expect(clean(services.decode({ metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }, strict))['spec']).toEqual({ ports: [{ port: 80, protocol: 'TCP' }], type: 'ClusterIP', sessionAffinity: 'None' });
    const namespaces = compileDecoder(DEFINITIONS, 'io.k8s.api.core.v1.Namespace');
    expect(clean(namespaces.decode({ metadata: { name: 'n' } }, strict))['status']).toEqual({ phase: 'Active' });
  });

  it('never shares a default between results', () => {
    const a = clean(deployments.decode({ metadata: { name: 'd' }, spec: { selector: {}, template: {} } }, strict));
    ((a['spec'] as { strategy: { rollingUpdate: Record<string, unknown> } }).strategy.rollingUpdate)['maxSurge'] = 7;
    const b = clean(deployments.decode({ metadata: { name: 'd' }, spec: { selector: {}, template: {} } }, strict));
    expect((b['spec'] as { strategy: unknown }).strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
  });
});

describe('decoder: constraints', () => {
  it('reports missing required fields with their paths', () => {
    const r = pods.decode({ metadata: { name: 'p' }, spec: { containers: [{ image: 'i' }, { name: '', image: 'i', env: [{ value: 'x' }] }] } }, strict);
    expect(r.fieldErrors).toEqual([
      { type: 'FieldValueRequired', field: 'spec.containers[0].name', message: '' },
      { type: 'FieldValueRequired', field: 'spec.containers[1].env[0].name', message: '' },
      { type: 'FieldValueRequired', field: 'spec.containers[1].name', message: '' },
    ]);
    expect(pods.decode({ metadata: { name: 'p' }, spec: {} }, strict).fieldErrors).toEqual([{ type: 'FieldValueRequired', field: 'spec.containers', message: '' }]);
  });

  it('reports values outside an enum or a range', () => {
    const r = pods.decode({ metadata: { name: 'p' }, spec: { restartPolicy: 'Sometimes', containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 70000 }] }], affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }] } } } }, strict);
    expect(r.fieldErrors).toEqual([
      { type: 'FieldValueNotSupported', field: 'spec.restartPolicy', message: '"Sometimes": supported values: "Always", "Never", "OnFailure"' },
      { type: 'FieldValueInvalid', field: 'spec.containers[0].ports[0].containerPort', message: '70000: must be between 1 and 65535, inclusive' },
      { type: 'FieldValueInvalid', field: 'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight', message: '0: must be between 1 and 100, inclusive' },
    ]);
    expect(deployments.decode({ metadata: { name: 'd' }, spec: { replicas: -1, selector: {}, template: {} } }, strict).fieldErrors).toEqual([{ type: 'FieldValueInvalid', field: 'spec.replicas', message: '-1: must be greater than or equal to 0' }]);
  });

  it('checks maxLength and pattern', () => {
    const defs: SchemaDefinitions = {
      'x.Thing': { type: 'object', properties: { code: { type: 'string', pattern: '^[a-z]+$', maxLength: 4 }, labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 2 } } } },
    };
    const things = compileDecoder(defs, 'x.Thing');
    expect(things.decode({ code: 'abc', labels: { k: 'ok' } }, strict).fieldErrors).toEqual([]);
    expect(things.decode({ code: 'abcDEF', labels: { key: 'long' } }, strict).fieldErrors).toEqual([
      { type: 'FieldValueTooLong', field: 'code', message: 'may not be more than 4 bytes' },
      { type: 'FieldValueInvalid', field: 'code', message: `"abcDEF": should match '^[a-z]+$'` },
      { type: 'FieldValueTooLong', field: 'labels[key]', message: 'may not be more than 2 bytes' },
    ]);
  });
});

describe('decoder: speed', () => {
  it('decodes a realistic 2 KB pod in tens of microseconds', () => {
    const pod = structuredClone(fullPod);
    delete (pod as Partial<typeof fullPod>).status;
    expect(JSON.stringify(pod).length).toBeGreaterThan(2000);
    for (let i = 0; i < 300; i++) pods.decode(pod, strict);
    const n = 3000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pods.decode(pod, strict);
    const micros = ((performance.now() - t0) / n) * 1000;
    // Generous bound so loaded CI machines pass; typical figures are far below it.
    expect(micros).toBeLessThan(150);
  });
});
