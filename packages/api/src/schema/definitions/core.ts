/**
 * core/v1 definitions: Pod and its parts, Node, Service, Endpoints, ConfigMap, Secret, Event,
 * Namespace, ServiceAccount, volumes and claims, quotas, limit ranges, replication controllers.
 */
import { anyJson, bool, bytes, DefinitionSet, int32, int64, list, listByKey, map, obj, oneOf, ref, set, str, stringMap, withDefault } from '../dsl.js';
import { CONDITION, INT_OR_STRING, LABEL_SELECTOR, MICRO_TIME, OBJECT_META, QUANTITY, TIME } from './meta.js';

export const CORE = 'io.k8s.api.core.v1';
const c = (name: string) => `${CORE}.${name}`;
const gvk = (kind: string) => ({ group: '', version: 'v1', kind });
const quantities = (description?: string) => map(ref(QUANTITY), description);

/** Adds the core/v1 definitions. */
export function addCore(d: DefinitionSet): void {
  // ------------------------------------------------------------------ shared
  d.add(c('LocalObjectReference'), obj({ name: str('Name of the referent.') }, 'A reference to an object in the same namespace.', { mapType: 'atomic' }));
  d.add(
    c('ObjectReference'),
    obj(
      {
        kind: str('Kind of the referent.'),
        namespace: str('Namespace of the referent.'),
        name: str('Name of the referent.'),
        uid: str('UID of the referent.'),
        apiVersion: str('API version of the referent.'),
        resourceVersion: str('Specific resourceVersion this reference is made to, if any.'),
        fieldPath: str('A part of the object, e.g. spec.containers{name}.'),
      },
      'A reference to an object.',
      { mapType: 'atomic' },
    ),
  );
  d.add(c('TypedLocalObjectReference'), obj({ apiGroup: str('API group of the referent; empty for the core group.'), kind: str('Kind of the referent.'), name: str('Name of the referent.') }, 'A typed reference in the same namespace.', { required: ['kind', 'name'], mapType: 'atomic' }));
  d.add(c('KeyToPath'), obj({ key: str('The key to project.'), path: str('The relative path of the file to map the key to.'), mode: int32('File mode bits (0000-0777).') }, 'Maps a key to a file path.', { required: ['key', 'path'] }));
  d.add(c('ObjectFieldSelector'), obj({ apiVersion: withDefault(str('Version of the schema the fieldPath is written in. Defaults to v1.'), 'v1'), fieldPath: str('Path of the field to select.') }, 'Selects a field of the pod.', { required: ['fieldPath'], mapType: 'atomic' }));
  d.add(c('ResourceFieldSelector'), obj({ containerName: str('Container name (required for volumes).'), resource: str('The resource: limits.cpu, limits.memory, requests.cpu, requests.memory, ...'), divisor: ref(QUANTITY, 'Output format of the exposed resources (default 1).') }, 'Selects a resource of a container.', { required: ['resource'], mapType: 'atomic' }));
  d.add(c('ConfigMapKeySelector'), obj({ name: str('Name of the ConfigMap.'), key: str('The key to select.'), optional: bool('Whether the ConfigMap or its key must exist.') }, 'Selects a key of a ConfigMap.', { required: ['key'], mapType: 'atomic' }));
  d.add(c('SecretKeySelector'), obj({ name: str('Name of the Secret.'), key: str('The key to select.'), optional: bool('Whether the Secret or its key must exist.') }, 'Selects a key of a Secret.', { required: ['key'], mapType: 'atomic' }));

  // ------------------------------------------------------------------ containers
  d.add(
    c('EnvVarSource'),
    obj(
      {
        fieldRef: ref(c('ObjectFieldSelector'), 'A field of the pod: metadata.name, metadata.namespace, metadata.uid, metadata.labels[KEY], metadata.annotations[KEY], spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs.'),
        resourceFieldRef: ref(c('ResourceFieldSelector'), 'A resource of the container: limits and requests of cpu, memory, ephemeral-storage.'),
        configMapKeyRef: ref(c('ConfigMapKeySelector'), 'A key of a ConfigMap.'),
        secretKeyRef: ref(c('SecretKeySelector'), 'A key of a Secret in the pod namespace.'),
      },
      'Where an environment variable gets its value.',
    ),
  );
  d.add(c('EnvVar'), obj({ name: str('Name of the environment variable (a C identifier).'), value: str('Value; $(VAR) references to earlier variables are expanded. Defaults to "".'), valueFrom: ref(c('EnvVarSource'), 'Source for the value; cannot be used with a non-empty value.') }, 'An environment variable of a container.', { required: ['name'] }));
  d.add(c('ConfigMapEnvSource'), obj({ name: str('Name of the ConfigMap.'), optional: bool('When true, a missing ConfigMap is not an error.') }, 'A ConfigMap whose keys become environment variables.'));
  d.add(c('SecretEnvSource'), obj({ name: str('Name of the Secret.'), optional: bool('When true, a missing Secret is not an error.') }, 'A Secret whose keys become environment variables.'));
  d.add(c('EnvFromSource'), obj({ prefix: str('A prefix added to each key.'), configMapRef: ref(c('ConfigMapEnvSource'), 'A ConfigMap whose keys become variables.'), secretRef: ref(c('SecretEnvSource'), 'A Secret whose keys become variables.') }, 'A set of environment variables from a ConfigMap or Secret.'));
  d.add(
    c('ContainerPort'),
    obj(
      {
        name: str('An IANA_SVC_NAME naming the port, unique in the pod; Services can refer to it.'),
        hostPort: int32('Port to expose on the host (1-65535).'),
        containerPort: int32('Port the container listens on (1-65535).', { minimum: 1, maximum: 65535 }),
        protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol of the port. Defaults to "TCP".'), 'TCP'),
        hostIP: str('Host IP to bind the host port to.'),
      },
      'A network port of a container.',
      { required: ['containerPort'] },
    ),
  );
  d.add(c('ResourceClaim'), obj({ name: str('Name of an entry of the pod\'s resourceClaims.'), request: str('A request of that claim; the whole claim when empty.') }, 'A reference to a pod resource claim.', { required: ['name'] }));
  d.add(
    c('ResourceRequirements'),
    obj(
      {
        limits: quantities('The maximum amount of compute resources allowed (cpu, memory, ephemeral-storage).'),
        requests: quantities('The minimum amount of compute resources required; the scheduler places pods by requests. Defaults to limits when omitted.'),
        claims: list(ref(c('ResourceClaim')), 'Resource claims used by the container.', { listType: 'map', mapKeys: ['name'] }),
      },
      'Compute resource requirements.',
    ),
  );
  d.add(c('ContainerResizePolicy'), obj({ resourceName: str('The resource (cpu, memory) this policy applies to.'), restartPolicy: str('NotRequired or RestartContainer: what a resize of this resource needs.') }, 'How a container resource is resized.', { required: ['resourceName', 'restartPolicy'] }));
  d.add(
    c('VolumeMount'),
    obj(
      {
        name: str('The name of the volume to mount.'),
        readOnly: bool('Mounted read-only when true.'),
        recursiveReadOnly: str('Whether read-only mounts are recursively read-only.'),
        mountPath: str('Path inside the container; must not contain ":".'),
        subPath: str('Path within the volume to mount instead of its root.'),
        mountPropagation: str('How mounts propagate between host and container.'),
        subPathExpr: str('Like subPath, with $(VAR) expansion from the environment.'),
      },
      'A volume mounted into a container.',
      { required: ['name', 'mountPath'] },
    ),
  );
  d.add(c('VolumeDevice'), obj({ name: str('The persistentVolumeClaim volume of the pod to map.'), devicePath: str('Path of the device inside the container.') }, 'A raw block device mapped into a container.', { required: ['name', 'devicePath'] }));
  d.add(c('ExecAction'), obj({ command: list(str(), 'Command line to run in the container (not a shell; call one explicitly). Exit 0 is healthy.') }, 'Runs a command in the container.'));
  d.add(c('HTTPHeader'), obj({ name: str('Header name.'), value: str('Header value.') }, 'An HTTP header.', { required: ['name'] }));
  d.add(
    c('HTTPGetAction'),
    obj(
      {
        path: withDefault(str('Path to request. Defaults to /.'), '/'),
        port: ref(INT_OR_STRING, 'Number or name of the port on the container.'),
        host: str('Host name to connect to; defaults to the pod IP.'),
        scheme: withDefault(oneOf(['HTTP', 'HTTPS'], 'Scheme to use. Defaults to HTTP.'), 'HTTP'),
        httpHeaders: list(ref(c('HTTPHeader')), 'Custom request headers.'),
      },
      'An HTTP GET request; a status from 200 to 399 is healthy.',
      { required: ['port'] },
    ),
  );
  d.add(c('TCPSocketAction'), obj({ port: ref(INT_OR_STRING, 'Number or name of the port.'), host: str('Host to connect to; defaults to the pod IP.') }, 'Opens a TCP connection; success is healthy.', { required: ['port'] }));
  d.add(c('GRPCAction'), obj({ port: int32('Port of the gRPC service.'), service: str('Service name for the gRPC health check.') }, 'A gRPC health check.', { required: ['port'] }));
  d.add(c('SleepAction'), obj({ seconds: int64('Seconds to sleep.') }, 'Sleeps for a while.', { required: ['seconds'] }));
  const handler = {
    exec: ref(c('ExecAction'), 'Runs a command.'),
    httpGet: ref(c('HTTPGetAction'), 'Sends an HTTP GET request.'),
    tcpSocket: ref(c('TCPSocketAction'), 'Opens a TCP connection.'),
  };
  d.add(
    c('Probe'),
    obj(
      {
        ...handler,
        grpc: ref(c('GRPCAction'), 'Calls the gRPC health service.'),
        initialDelaySeconds: int32('Seconds after the container started before probes begin.', { minimum: 0 }),
        timeoutSeconds: withDefault(int32('Seconds after which a probe times out. Defaults to 1.'), 1),
        periodSeconds: withDefault(int32('How often (in seconds) to probe. Defaults to 10.'), 10),
        successThreshold: withDefault(int32('Consecutive successes needed after a failure. Defaults to 1; must be 1 for liveness and startup.'), 1),
        failureThreshold: withDefault(int32('Consecutive failures after which the probe counts as failed. Defaults to 3.'), 3),
        terminationGracePeriodSeconds: int64('Grace period when a failed liveness or startup probe kills the container.'),
      },
      'A health check of a container.',
    ),
  );
  d.add(c('LifecycleHandler'), obj({ ...handler, sleep: ref(c('SleepAction'), 'Sleeps.') }, 'An action run at a container lifecycle event.'));
  d.add(
    c('Lifecycle'),
    obj(
      {
        postStart: ref(c('LifecycleHandler'), 'Runs right after the container is created; if it fails the container is restarted.'),
        preStop: ref(c('LifecycleHandler'), 'Runs before the container is terminated; the grace period counts from its start.'),
        stopSignal: str('The signal sent to stop the container.'),
      },
      'Actions the system runs at container lifecycle events.',
    ),
  );
  d.add(c('Capabilities'), obj({ add: list(str(), 'Capabilities to add.'), drop: list(str(), 'Capabilities to drop.') }, 'POSIX capabilities to add and drop.'));
  d.add(c('SELinuxOptions'), obj({ user: str('SELinux user label.'), role: str('SELinux role label.'), type: str('SELinux type label.'), level: str('SELinux level label.') }, 'SELinux labels.'));
  d.add(c('WindowsSecurityContextOptions'), obj({ gmsaCredentialSpecName: str('Name of the GMSA credential spec to use.'), gmsaCredentialSpec: str('Contents of the GMSA credential spec.'), runAsUserName: str('User name to run the entrypoint as on Windows.'), hostProcess: bool('Run the container as a Windows host process.') }, 'Windows-specific options.'));
  d.add(c('SeccompProfile'), obj({ type: str('RuntimeDefault, Unconfined or Localhost.'), localhostProfile: str('Path of a profile on the node, for type Localhost.') }, 'A seccomp profile.', { required: ['type'] }));
  d.add(c('AppArmorProfile'), obj({ type: str('RuntimeDefault, Unconfined or Localhost.'), localhostProfile: str('Name of a profile loaded on the node, for type Localhost.') }, 'An AppArmor profile.', { required: ['type'] }));
  d.add(
    c('SecurityContext'),
    obj(
      {
        capabilities: ref(c('Capabilities'), 'Capabilities to add or drop.'),
        privileged: bool('Run as privileged: like root on the host. Defaults to false.'),
        seLinuxOptions: ref(c('SELinuxOptions'), 'SELinux labels of the container.'),
        windowsOptions: ref(c('WindowsSecurityContextOptions'), 'Windows-specific settings.'),
        runAsUser: int64('The UID to run the entrypoint as.'),
        runAsGroup: int64('The GID to run the entrypoint as.'),
        runAsNonRoot: bool('Refuse to start when the process would run as UID 0.'),
        readOnlyRootFilesystem: bool('Mount the root filesystem read-only.'),
        allowPrivilegeEscalation: bool('Whether a process may gain more privileges than its parent.'),
        procMount: str('Default or Unmasked: how /proc is mounted.'),
        seccompProfile: ref(c('SeccompProfile'), 'Seccomp profile of the container; overrides the pod one.'),
        appArmorProfile: ref(c('AppArmorProfile'), 'AppArmor profile of the container; overrides the pod one.'),
      },
      'Security options of a container.',
    ),
  );
  const container = obj(
    {
      name: str('Name of the container, a DNS label unique in the pod. Cannot be updated.'),
      image: str('The container image to run.'),
      command: list(str(), 'Entrypoint array (not run in a shell); the image ENTRYPOINT is used when empty.'),
      args: list(str(), 'Arguments to the entrypoint; the image CMD is used when empty.'),
      workingDir: str('Working directory; the image default when empty.'),
      ports: listByKey(ref(c('ContainerPort')), 'containerPort', 'Ports the container exposes.', { mapKeys: ['containerPort', 'protocol'] }),
      envFrom: list(ref(c('EnvFromSource')), 'Sources of environment variables (ConfigMaps, Secrets).'),
      env: listByKey(ref(c('EnvVar')), 'name', 'Environment variables.'),
      resources: ref(c('ResourceRequirements'), 'Compute resources required by this container.'),
      resizePolicy: list(ref(c('ContainerResizePolicy')), 'Resize policy of the container resources.'),
      restartPolicy: str('For init containers only: Always makes it a sidecar that keeps running.'),
      volumeMounts: listByKey(ref(c('VolumeMount')), 'mountPath', 'Pod volumes to mount into the container.'),
      volumeDevices: listByKey(ref(c('VolumeDevice')), 'devicePath', 'Block devices used by the container.'),
      livenessProbe: ref(c('Probe'), 'Restarts the container when it fails.'),
      readinessProbe: ref(c('Probe'), 'Removes the pod from service endpoints while it fails.'),
      startupProbe: ref(c('Probe'), 'Holds the other probes back until it succeeds once.'),
      lifecycle: ref(c('Lifecycle'), 'Actions at container start and stop.'),
      terminationMessagePath: withDefault(str('File whose contents become the termination message. Defaults to /dev/termination-log.'), '/dev/termination-log'),
      terminationMessagePolicy: withDefault(oneOf(['File', 'FallbackToLogsOnError'], 'How the termination message is filled. Defaults to File.'), 'File'),
      imagePullPolicy: oneOf(['Always', 'Never', 'IfNotPresent'], 'Always, Never or IfNotPresent. Defaults to Always for :latest images and IfNotPresent otherwise.'),
      securityContext: ref(c('SecurityContext'), 'Security options the container runs with.'),
      stdin: bool('Allocate a buffer for stdin.'),
      stdinOnce: bool('Close stdin after the first attach ends.'),
      tty: bool('Allocate a TTY (needs stdin).'),
    },
    'One container of a pod: its image, command, environment, ports, resources, probes and security settings.',
    { required: ['name'] },
  );
  d.add(c('Container'), container);
  d.add(c('EphemeralContainer'), obj({ ...(container.properties ?? {}), targetContainerName: str('The container whose namespaces this one joins.') }, 'A temporary container added to a running pod for debugging.', { required: ['name'] }));

  // ------------------------------------------------------------------ scheduling
  d.add(c('NodeSelectorRequirement'), obj({ key: str('The label key.'), operator: oneOf(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'], 'How the key relates to the values.'), values: list(str(), 'Values (one integer for Gt and Lt; none for Exists and DoesNotExist).') }, 'A node selector requirement.', { required: ['key', 'operator'] }));
  d.add(c('NodeSelectorTerm'), obj({ matchExpressions: list(ref(c('NodeSelectorRequirement')), 'Requirements on node labels.'), matchFields: list(ref(c('NodeSelectorRequirement')), 'Requirements on node fields (metadata.name).') }, 'An AND of node requirements.', { mapType: 'atomic' }));
  d.add(c('NodeSelector'), obj({ nodeSelectorTerms: list(ref(c('NodeSelectorTerm')), 'Terms that are ORed.') }, 'A union of node selector terms.', { required: ['nodeSelectorTerms'], mapType: 'atomic' }));
  d.add(c('PreferredSchedulingTerm'), obj({ weight: int32('Weight 1-100.', { minimum: 1, maximum: 100 }), preference: ref(c('NodeSelectorTerm'), 'The node requirements that earn the weight.') }, 'A weighted node preference.', { required: ['weight', 'preference'] }));
  d.add(
    c('NodeAffinity'),
    obj(
      {
        requiredDuringSchedulingIgnoredDuringExecution: ref(c('NodeSelector'), 'Nodes the pod may be scheduled on.'),
        preferredDuringSchedulingIgnoredDuringExecution: list(ref(c('PreferredSchedulingTerm')), 'Nodes the scheduler prefers.'),
      },
      'Node affinity rules of a pod.',
    ),
  );
  d.add(
    c('PodAffinityTerm'),
    obj(
      {
        labelSelector: ref(LABEL_SELECTOR, 'Pods this term refers to.'),
        namespaces: list(str(), 'Namespaces the selector applies to; the pod namespace when empty.'),
        topologyKey: str('Node label whose value defines a topology domain (kubernetes.io/hostname, topology.kubernetes.io/zone).'),
        namespaceSelector: ref(LABEL_SELECTOR, 'Namespaces selected by label; {} selects every namespace.'),
        matchLabelKeys: list(str(), 'Pod label keys whose values are added to the selector.'),
        mismatchLabelKeys: list(str(), 'Pod label keys whose values must differ.'),
      },
      'Pods (by label, in namespaces) that must or must not be in the same topology domain.',
      { required: ['topologyKey'] },
    ),
  );
  d.add(c('WeightedPodAffinityTerm'), obj({ weight: int32('Weight 1-100.', { minimum: 1, maximum: 100 }), podAffinityTerm: ref(c('PodAffinityTerm'), 'The pod affinity term that earns the weight.') }, 'A weighted pod affinity term.', { required: ['weight', 'podAffinityTerm'] }));
  const podAffinity = (what: string) =>
    obj(
      {
        requiredDuringSchedulingIgnoredDuringExecution: list(ref(c('PodAffinityTerm')), `Pods that must ${what} (all terms must hold).`),
        preferredDuringSchedulingIgnoredDuringExecution: list(ref(c('WeightedPodAffinityTerm')), `Pods the scheduler prefers to ${what}.`),
      },
      `Rules for pods that the pod should ${what}.`,
    );
  d.add(c('PodAffinity'), podAffinity('share a topology domain with'));
  d.add(c('PodAntiAffinity'), podAffinity('not share a topology domain with'));
  d.add(c('Affinity'), obj({ nodeAffinity: ref(c('NodeAffinity'), 'Which nodes the pod may or prefers to run on, by node labels.'), podAffinity: ref(c('PodAffinity'), 'Pods this pod should run near.'), podAntiAffinity: ref(c('PodAntiAffinity'), 'Pods this pod should run away from.') }, 'Scheduling constraints of a pod.'));
  d.add(
    c('Toleration'),
    obj(
      {
        key: str('The taint key it tolerates; empty with operator Exists tolerates everything.'),
        operator: oneOf(['Exists', 'Equal'], 'Exists or Equal. Defaults to Equal.'),
        value: str('The taint value for Equal.'),
        effect: oneOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], 'The taint effect it tolerates; empty means all.'),
        tolerationSeconds: int64('For NoExecute: how long the pod stays bound after the taint appears.'),
      },
      'Allows a pod on nodes with a matching taint.',
    ),
  );
  d.add(
    c('TopologySpreadConstraint'),
    obj(
      {
        maxSkew: int32('How unevenly matching pods may be distributed between topology domains.', { minimum: 1 }),
        topologyKey: str('Node label key defining the topology domains.'),
        whenUnsatisfiable: oneOf(['DoNotSchedule', 'ScheduleAnyway'], 'What to do when the constraint cannot be met.'),
        labelSelector: ref(LABEL_SELECTOR, 'Pods counted in each domain.'),
        minDomains: int32('Minimum number of eligible domains.'),
        nodeAffinityPolicy: oneOf(['Honor', 'Ignore'], 'Whether node affinity limits the domains counted. Defaults to Honor.'),
        nodeTaintsPolicy: oneOf(['Honor', 'Ignore'], 'Whether taints limit the domains counted. Defaults to Ignore.'),
        matchLabelKeys: list(str(), 'Pod label keys whose values are added to the selector.'),
      },
      'How matching pods spread across topology domains.',
      { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
    ),
  );
  d.add(c('PodDNSConfigOption'), obj({ name: str('Option name (ndots, timeout...).'), value: str('Option value.') }, 'A resolver option.'));
  d.add(c('PodDNSConfig'), obj({ nameservers: list(str(), 'DNS server IPs.'), searches: list(str(), 'Search domains.'), options: list(ref(c('PodDNSConfigOption')), 'Resolver options.') }, 'DNS settings of a pod beyond its dnsPolicy.'));
  d.add(c('HostAlias'), obj({ ip: str('IP address of the host file entry.'), hostnames: list(str(), 'Host names for the IP.') }, 'An /etc/hosts entry.', { required: ['ip'] }));
  d.add(c('PodReadinessGate'), obj({ conditionType: str('A pod condition that must be True for the pod to be ready.') }, 'An extra readiness condition.', { required: ['conditionType'] }));
  d.add(c('Sysctl'), obj({ name: str('Name of the sysctl.'), value: str('Value of the sysctl.') }, 'A kernel parameter.', { required: ['name'] }));
  d.add(
    c('PodSecurityContext'),
    obj(
      {
        seLinuxOptions: ref(c('SELinuxOptions'), 'SELinux labels of every container.'),
        windowsOptions: ref(c('WindowsSecurityContextOptions'), 'Windows-specific settings of every container.'),
        runAsUser: int64('The UID containers run as by default.'),
        runAsGroup: int64('The GID containers run as by default.'),
        runAsNonRoot: bool('Refuse to start containers that would run as UID 0.'),
        supplementalGroups: list(int64(), 'Groups added to the first process of each container.'),
        supplementalGroupsPolicy: str('Merge or Strict: how supplementalGroups combine with the image groups.'),
        fsGroup: int64('A group that owns volumes and is added to every container.'),
        sysctls: list(ref(c('Sysctl')), 'Namespaced sysctls.'),
        fsGroupChangePolicy: str('OnRootMismatch or Always: when volume ownership is changed to fsGroup.'),
        seccompProfile: ref(c('SeccompProfile'), 'Seccomp profile of every container.'),
        appArmorProfile: ref(c('AppArmorProfile'), 'AppArmor profile of every container.'),
        seLinuxChangePolicy: str('Recursive or MountOption: how SELinux labels are applied to volumes.'),
      },
      'Security options of every container in a pod.',
    ),
  );
  d.add(c('PodOS'), obj({ name: str('linux or windows.') }, 'The OS of the pod.', { required: ['name'] }));
  d.add(c('PodSchedulingGate'), obj({ name: str('Name of the gate.') }, 'A gate that holds the pod back from scheduling.', { required: ['name'] }));
  d.add(c('PodResourceClaim'), obj({ name: str('Name of the claim within the pod.'), resourceClaimName: str('An existing ResourceClaim to use.'), resourceClaimTemplateName: str('A ResourceClaimTemplate to create a claim from.') }, 'A resource claim of a pod.', { required: ['name'] }));

  // ------------------------------------------------------------------ volumes
  d.add(c('HostPathVolumeSource'), obj({ path: str('Path on the host.'), type: oneOf(['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'], 'What must exist at the path: "" (no check), DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice.') }, 'A file or directory of the host.', { required: ['path'] }));
  d.add(c('EmptyDirVolumeSource'), obj({ medium: str('"" (node disk) or Memory (tmpfs).'), sizeLimit: ref(QUANTITY, 'The most space the directory may use.') }, 'An empty directory that lives as long as the pod.'));
  d.add(c('SecretVolumeSource'), obj({ secretName: str('Name of the Secret in the pod namespace.'), items: list(ref(c('KeyToPath')), 'Keys to project; all keys when empty.'), defaultMode: withDefault(int32('Mode bits of the files. Defaults to 0644.'), 0o644), optional: bool('Whether the Secret must exist.') }, 'A Secret projected as files.'));
  d.add(c('ConfigMapVolumeSource'), obj({ name: str('Name of the ConfigMap.'), items: list(ref(c('KeyToPath')), 'Keys to project; all keys when empty.'), defaultMode: withDefault(int32('Mode bits of the files. Defaults to 0644.'), 0o644), optional: bool('Whether the ConfigMap must exist.') }, 'A ConfigMap projected as files.'));
  d.add(c('PersistentVolumeClaimVolumeSource'), obj({ claimName: str('Name of a PersistentVolumeClaim in the pod namespace.'), readOnly: bool('Mount the volume read-only.') }, 'A PersistentVolumeClaim mounted into the pod.', { required: ['claimName'] }));
  d.add(c('DownwardAPIVolumeFile'), obj({ path: str('Relative path of the file.'), fieldRef: ref(c('ObjectFieldSelector'), 'A field of the pod (metadata.name, metadata.labels...).'), resourceFieldRef: ref(c('ResourceFieldSelector'), 'A resource of a container (limits.cpu, requests.memory...).'), mode: int32('Mode bits of this file.') }, 'A file with pod information.', { required: ['path'] }));
  d.add(c('DownwardAPIVolumeSource'), obj({ items: list(ref(c('DownwardAPIVolumeFile')), 'Files to write.'), defaultMode: withDefault(int32('Mode bits of the files. Defaults to 0644.'), 0o644) }, 'Pod information as files.'));
  d.add(c('SecretProjection'), obj({ name: str('Name of the Secret.'), items: list(ref(c('KeyToPath')), 'Keys to project; all keys when empty.'), optional: bool('When true, a missing Secret is not an error.') }, 'A Secret in a projected volume.'));
  d.add(c('ConfigMapProjection'), obj({ name: str('Name of the ConfigMap.'), items: list(ref(c('KeyToPath')), 'Keys to project; all keys when empty.'), optional: bool('When true, a missing ConfigMap is not an error.') }, 'A ConfigMap in a projected volume.'));
  d.add(c('DownwardAPIProjection'), obj({ items: list(ref(c('DownwardAPIVolumeFile')), 'Files to write.') }, 'Pod information in a projected volume.'));
  d.add(c('ServiceAccountTokenProjection'), obj({ audience: str('Audience the token is for; the API server when empty.'), expirationSeconds: withDefault(int64('Requested lifetime of the token. Defaults to 3600.'), 3600), path: str('File path of the token.') }, 'A service account token in a projected volume.', { required: ['path'] }));
  d.add(c('VolumeProjection'), obj({ secret: ref(c('SecretProjection'), 'A Secret.'), configMap: ref(c('ConfigMapProjection'), 'A ConfigMap.'), downwardAPI: ref(c('DownwardAPIProjection'), 'Pod information.'), serviceAccountToken: ref(c('ServiceAccountTokenProjection'), 'A token of the pod service account.') }, 'One source of a projected volume.'));
  d.add(c('ProjectedVolumeSource'), obj({ sources: list(ref(c('VolumeProjection')), 'Sources merged into one directory.'), defaultMode: withDefault(int32('Mode bits of the files. Defaults to 0644.'), 0o644) }, 'Several sources in one directory.'));
  d.add(c('NFSVolumeSource'), obj({ server: str('NFS server.'), path: str('Exported path.'), readOnly: bool('Mount the export read-only.') }, 'An NFS mount.', { required: ['server', 'path'] }));
  d.add(c('CSIVolumeSource'), obj({ driver: str('CSI driver name.'), readOnly: bool('Mount the volume read-only.'), fsType: str('Filesystem type (ext4, xfs...).'), volumeAttributes: stringMap('Driver-specific attributes.'), nodePublishSecretRef: ref(c('LocalObjectReference'), 'A Secret with credentials the driver needs.') }, 'An ephemeral CSI volume.', { required: ['driver'] }));
  d.add(c('ImageVolumeSource'), obj({ reference: str('Image reference.'), pullPolicy: str('Always, Never or IfNotPresent.') }, 'An OCI image mounted as a volume.'));
  d.add(c('PersistentVolumeClaimTemplate'), obj({ metadata: ref(OBJECT_META, 'Labels and annotations copied to the created claim.'), spec: ref(c('PersistentVolumeClaimSpec'), 'Spec of the created claim.') }, 'A template of a claim.', { required: ['spec'] }));
  d.add(c('EphemeralVolumeSource'), obj({ volumeClaimTemplate: ref(c('PersistentVolumeClaimTemplate'), 'The claim to create for the pod.') }, 'A claim created and deleted with the pod.'));
  d.add(
    c('Volume'),
    obj(
      {
        name: str('Name of the volume, a DNS label unique in the pod.'),
        hostPath: ref(c('HostPathVolumeSource'), 'A file or directory on the host.'),
        emptyDir: ref(c('EmptyDirVolumeSource'), 'A temporary directory that lives as long as the pod.'),
        secret: ref(c('SecretVolumeSource'), 'A Secret as files.'),
        configMap: ref(c('ConfigMapVolumeSource'), 'A ConfigMap as files.'),
        persistentVolumeClaim: ref(c('PersistentVolumeClaimVolumeSource'), 'A PersistentVolumeClaim.'),
        downwardAPI: ref(c('DownwardAPIVolumeSource'), 'Pod information as files.'),
        projected: ref(c('ProjectedVolumeSource'), 'Secrets, ConfigMaps, pod information and tokens in one directory.'),
        nfs: ref(c('NFSVolumeSource'), 'An NFS export.'),
        csi: ref(c('CSIVolumeSource'), 'An ephemeral CSI volume.'),
        ephemeral: ref(c('EphemeralVolumeSource'), 'A claim that lives as long as the pod.'),
        image: ref(c('ImageVolumeSource'), 'An OCI image.'),
      },
      'A named volume of a pod; exactly one source must be set.',
      { required: ['name'] },
    ),
  );

  // ------------------------------------------------------------------ pods
  d.add(
    c('PodSpec'),
    obj(
      {
        volumes: listByKey(ref(c('Volume')), 'name', 'Volumes containers of the pod can mount.', { strategy: 'merge,retainKeys' }),
        initContainers: listByKey(ref(c('Container')), 'name', 'Containers run to completion, in order, before the app containers start.'),
        containers: listByKey(ref(c('Container')), 'name', 'The containers of the pod. At least one. Cannot be added or removed after creation.'),
        ephemeralContainers: listByKey(ref(c('EphemeralContainer')), 'name', 'Debug containers added to a running pod.'),
        restartPolicy: withDefault(oneOf(['Always', 'OnFailure', 'Never'], 'Restart policy of every container: Always, OnFailure or Never. Defaults to Always.'), 'Always'),
        terminationGracePeriodSeconds: withDefault(int64('Seconds between SIGTERM and SIGKILL when the pod is deleted. Defaults to 30.', { minimum: 0 }), 30),
        activeDeadlineSeconds: int64('Seconds the pod may be active before it is failed.', { minimum: 1 }),
        dnsPolicy: withDefault(oneOf(['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'], 'DNS policy: ClusterFirst, ClusterFirstWithHostNet, Default or None. Defaults to ClusterFirst.'), 'ClusterFirst'),
        nodeSelector: { ...stringMap('Labels a node must have for the pod to be scheduled there.'), 'x-kubernetes-map-type': 'atomic' },
        serviceAccountName: str('Service account the pod runs as.'),
        serviceAccount: str('Deprecated alias of serviceAccountName.'),
        automountServiceAccountToken: bool('Whether a service account token is mounted.'),
        nodeName: str('The node the pod is bound to; set by the scheduler.'),
        hostNetwork: bool('Use the host network namespace; container ports are host ports.'),
        hostPID: bool('Use the host PID namespace.'),
        hostIPC: bool('Use the host IPC namespace.'),
        shareProcessNamespace: bool('Share one PID namespace between the containers.'),
        securityContext: withDefault(ref(c('PodSecurityContext'), 'Pod-level security attributes.'), {}),
        imagePullSecrets: listByKey(ref(c('LocalObjectReference')), 'name', 'Secrets with registry credentials.'),
        hostname: str('Host name of the pod; the pod name when empty.'),
        subdomain: str('With hostname: the pod FQDN is <hostname>.<subdomain>.<namespace>.svc.<cluster domain>.'),
        affinity: ref(c('Affinity'), 'Scheduling constraints.'),
        schedulerName: withDefault(str('The scheduler that places the pod. Defaults to default-scheduler.'), 'default-scheduler'),
        tolerations: list(ref(c('Toleration')), 'Taints the pod tolerates.'),
        hostAliases: listByKey(ref(c('HostAlias')), 'ip', 'Entries added to /etc/hosts.'),
        priorityClassName: str('Name of the PriorityClass giving the pod its priority.'),
        priority: int32('Priority value, set from priorityClassName; higher pods are scheduled first.'),
        dnsConfig: ref(c('PodDNSConfig'), 'Extra DNS settings.'),
        readinessGates: list(ref(c('PodReadinessGate')), 'Extra conditions for pod readiness.'),
        runtimeClassName: str('RuntimeClass to run the pod with.'),
        enableServiceLinks: withDefault(bool('Inject service environment variables. Defaults to true.'), true),
        preemptionPolicy: oneOf(['PreemptLowerPriority', 'Never'], 'Whether this pod may preempt lower-priority pods.'),
        overhead: quantities('Resource overhead of the pod sandbox.'),
        topologySpreadConstraints: listByKey(ref(c('TopologySpreadConstraint')), 'topologyKey', 'How pods spread across topology domains.', { mapKeys: ['topologyKey', 'whenUnsatisfiable'] }),
        setHostnameAsFQDN: bool('Set the kernel host name to the pod FQDN instead of its short name.'),
        os: ref(c('PodOS'), 'The operating system the pod needs; validation and scheduling use it.'),
        hostUsers: bool('Use the host user namespace. Defaults to true; false gives the pod its own user namespace.'),
        schedulingGates: listByKey(ref(c('PodSchedulingGate')), 'name', 'While any gate is present the pod is not scheduled.'),
        resourceClaims: listByKey(ref(c('PodResourceClaim')), 'name', 'Resource claims of the pod.', { strategy: 'merge,retainKeys' }),
        resources: ref(c('ResourceRequirements'), 'Pod-level resources.'),
      },
      'The desired behaviour of a pod.',
      { required: ['containers'] },
    ),
  );
  d.add(
    c('PodCondition'),
    obj(
      {
        type: str('PodScheduled, Initialized, ContainersReady, Ready or a readiness gate.'),
        status: oneOf(['True', 'False', 'Unknown'], 'True, False or Unknown.'),
        observedGeneration: int64('The pod generation this condition was set for.'),
        lastProbeTime: ref(TIME, 'Last time the condition was probed.'),
        lastTransitionTime: ref(TIME, 'Last time the condition changed status.'),
        reason: str('CamelCase reason of the last transition.'),
        message: str('Human-readable details.'),
      },
      'A condition of a pod.',
      { required: ['type', 'status'] },
    ),
  );
  d.add(c('ContainerStateWaiting'), obj({ reason: str('Why it is waiting: ContainerCreating, CrashLoopBackOff, ErrImagePull, ImagePullBackOff...'), message: str('Details of why it is waiting.') }, 'A waiting container.'));
  d.add(c('ContainerStateRunning'), obj({ startedAt: ref(TIME, 'When the container last (re)started.') }, 'A running container.'));
  d.add(
    c('ContainerStateTerminated'),
    obj({ exitCode: int32('Exit status.'), signal: int32('Signal that killed it.'), reason: str('Completed, Error, OOMKilled...'), message: str('Details of the termination.'), startedAt: ref(TIME, 'When the container started.'), finishedAt: ref(TIME, 'When the container exited.'), containerID: str('<runtime>://<id> of the container.') }, 'A terminated container.'),
  );
  d.add(c('ContainerState'), obj({ waiting: ref(c('ContainerStateWaiting'), 'The container is not running yet.'), running: ref(c('ContainerStateRunning'), 'The container is running.'), terminated: ref(c('ContainerStateTerminated'), 'The container has exited.') }, 'The state of a container: exactly one of waiting, running, terminated.'));
  d.add(c('ContainerUser'), anyJson('The identity a container process runs as.'));
  d.add(
    c('ContainerStatus'),
    obj(
      {
        name: str('Container name.'),
        state: ref(c('ContainerState'), 'Current state.'),
        lastState: ref(c('ContainerState'), 'The last termination.'),
        ready: bool('Whether the readiness probe passes.'),
        restartCount: int32('How many times the container restarted.'),
        image: str('Image the container runs.'),
        imageID: str('Image ID of the container.'),
        containerID: str('<runtime>://<id>.'),
        started: bool('Whether the startup probe passed.'),
        allocatedResources: quantities('Resources the node allocated to the container.'),
        resources: ref(c('ResourceRequirements'), 'Resources currently applied to the container.'),
        volumeMounts: list(anyJson(), 'Volumes mounted into the container.'),
        user: ref(c('ContainerUser'), 'The identity the container process runs as.'),
        allocatedResourcesStatus: list(anyJson(), 'Health of the allocated resources.'),
        stopSignal: str('The signal used to stop the container.'),
      },
      'The status of a container.',
      { required: ['name'] },
    ),
  );
  d.add(c('PodIP'), obj({ ip: str('An IP address of the pod.') }, 'A pod IP.', { required: ['ip'] }));
  d.add(c('HostIP'), obj({ ip: str('An IP address of the host.') }, 'A host IP.', { required: ['ip'] }));
  d.add(
    c('PodStatus'),
    obj(
      {
        observedGeneration: int64('The pod generation the status was computed for.'),
        phase: oneOf(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'], 'Pending, Running, Succeeded, Failed or Unknown.'),
        conditions: listByKey(ref(c('PodCondition')), 'type', 'Current conditions of the pod.'),
        message: str('Why the pod is in this state.'),
        reason: str('A short CamelCase reason (e.g. Evicted).'),
        nominatedNodeName: str('Node nominated by preemption.'),
        hostIP: str('IP of the node the pod runs on.'),
        hostIPs: listByKey(ref(c('HostIP')), 'ip', 'IPs of the node.', { listType: 'atomic' }),
        podIP: str('IP of the pod.'),
        podIPs: listByKey(ref(c('PodIP')), 'ip', 'IPs of the pod.'),
        startTime: ref(TIME, 'When the node acknowledged the pod.'),
        initContainerStatuses: list(ref(c('ContainerStatus')), 'Statuses of the init containers.'),
        containerStatuses: list(ref(c('ContainerStatus')), 'Statuses of the containers.'),
        qosClass: oneOf(['Guaranteed', 'Burstable', 'BestEffort'], 'Quality of service class from requests and limits.'),
        ephemeralContainerStatuses: list(ref(c('ContainerStatus')), 'Statuses of the ephemeral containers.'),
        resize: str('Progress of a pending resource resize.'),
        resourceClaimStatuses: list(anyJson(), 'Names of the ResourceClaims generated for the pod.'),
      },
      'The observed state of a pod.',
    ),
  );
  d.kind(c('Pod'), gvk('Pod'), 'A pod: a group of containers that run together on one node and share network and storage.', { spec: ref(c('PodSpec'), 'Desired behaviour of the pod.'), status: ref(c('PodStatus'), 'Most recently observed status of the pod. Read-only.') });
  d.add(c('PodTemplateSpec'), obj({ metadata: ref(OBJECT_META, 'Metadata of the pods created from this template.'), spec: ref(c('PodSpec'), 'Spec of the pods created from this template.') }, 'The template pods are created from.'));
  d.kind(c('Binding'), gvk('Binding'), 'Binds a pod to a node (used by schedulers).', { target: ref(c('ObjectReference'), 'The node to bind to.') }, { required: ['target'] });

  // ------------------------------------------------------------------ nodes
  d.add(c('Taint'), obj({ key: str('The taint key.'), value: str('The taint value.'), effect: oneOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], 'Effect on pods that do not tolerate it.'), timeAdded: ref(TIME, 'When a NoExecute taint was added.') }, 'Repels pods that do not tolerate it.', { required: ['key', 'effect'] }));
  d.add(
    c('NodeSpec'),
    obj(
      {
        podCIDR: str('Pod IP range assigned to the node.'),
        podCIDRs: set(str(), 'Pod IP ranges assigned to the node.'),
        providerID: str('The cloud provider identity of the node.'),
        unschedulable: bool('Whether new pods may be scheduled on the node (kubectl cordon).'),
        taints: list(ref(c('Taint')), 'Taints of the node.'),
        configSource: anyJson('Deprecated: dynamic node agent configuration.'),
        externalID: str('Deprecated.'),
      },
      'The desired state of a node.',
    ),
  );
  d.add(c('NodeCondition'), obj({ type: str('Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.'), status: oneOf(['True', 'False', 'Unknown'], 'True, False or Unknown.'), lastHeartbeatTime: ref(TIME, 'When the node agent last reported this condition.'), lastTransitionTime: ref(TIME, 'When the status last changed.'), reason: str('CamelCase reason of the last transition.'), message: str('Human-readable details.') }, 'A condition of a node.', { required: ['type', 'status'] }));
  d.add(c('NodeAddress'), obj({ type: str('Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS.'), address: str('The address.') }, 'An address of a node.', { required: ['type', 'address'] }));
  d.add(
    c('NodeSystemInfo'),
    obj(
      {
        machineID: str('The machine ID (/etc/machine-id).'),
        systemUUID: str('The system UUID of the machine.'),
        bootID: str('Changes on every boot.'),
        kernelVersion: str('Kernel version (uname -r).'),
        osImage: str('OS image (from /etc/os-release).'),
        containerRuntimeVersion: str('<runtime>://<version>.'),
        kubeletVersion: str('Version of the node agent.'),
        kubeProxyVersion: str('Deprecated.'),
        operatingSystem: str('linux or windows.'),
        architecture: str('CPU architecture (amd64, arm64).'),
        swap: anyJson('Swap memory of the node.'),
      },
      'Facts about the node.',
    ),
  );
  d.add(c('DaemonEndpoint'), obj({ Port: int32('Port number.') }, 'An endpoint of a node daemon.'));
  d.add(c('NodeDaemonEndpoints'), obj({ kubeletEndpoint: ref(c('DaemonEndpoint'), 'Where the node agent serves.') }, 'Endpoints of daemons on the node.'));
  d.add(c('ContainerImage'), obj({ names: list(str(), 'Names (tags and digests) of the image.'), sizeBytes: int64('Size of the image in bytes.') }, 'An image on the node.'));
  d.add(
    c('NodeStatus'),
    obj(
      {
        capacity: quantities('Total resources of the node.'),
        allocatable: quantities('Resources available to pods.'),
        phase: str('Deprecated.'),
        conditions: listByKey(ref(c('NodeCondition')), 'type', 'Current conditions of the node.'),
        addresses: listByKey(ref(c('NodeAddress')), 'type', 'Addresses of the node.'),
        daemonEndpoints: ref(c('NodeDaemonEndpoints'), 'Ports of daemons on the node.'),
        nodeInfo: ref(c('NodeSystemInfo'), 'Facts about the node.'),
        images: list(ref(c('ContainerImage')), 'Images on the node.'),
        volumesInUse: list(str(), 'Volumes in use (mounted) on the node.'),
        volumesAttached: list(anyJson(), 'Volumes attached to the node.'),
        config: anyJson('Status of the node agent configuration.'),
        runtimeHandlers: list(anyJson(), 'Runtime handlers the node offers.'),
        features: anyJson('Features the node supports.'),
      },
      'The observed state of a node.',
    ),
  );
  d.kind(c('Node'), gvk('Node'), 'A worker machine that runs pods.', { spec: ref(c('NodeSpec'), 'Desired state of the node.'), status: ref(c('NodeStatus'), 'Observed state of the node. Read-only.') });

  // ------------------------------------------------------------------ services
  d.add(
    c('ServicePort'),
    obj(
      {
        name: str('Name of the port, unique in the service; required when there are several.'),
        protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol. Defaults to TCP.'), 'TCP'),
        appProtocol: str('Application protocol of the port.'),
        port: int32('Port the service exposes (1-65535).', { minimum: 1, maximum: 65535 }),
        targetPort: ref(INT_OR_STRING, 'Number or name of the port on the pods. Defaults to port.'),
        nodePort: int32('Port on every node for NodePort and LoadBalancer services; allocated when unset.'),
      },
      'A port of a service.',
      { required: ['port'] },
    ),
  );
  d.add(c('ClientIPConfig'), obj({ timeoutSeconds: int32('Seconds of ClientIP session affinity (default 10800).') }, 'ClientIP session affinity settings.'));
  d.add(c('SessionAffinityConfig'), obj({ clientIP: ref(c('ClientIPConfig'), 'ClientIP affinity settings.') }, 'Session affinity settings.'));
  d.add(
    c('ServiceSpec'),
    obj(
      {
        ports: listByKey(ref(c('ServicePort')), 'port', 'Ports the service exposes.', { mapKeys: ['port', 'protocol'] }),
        selector: { ...stringMap('Pods with these labels back the service.'), 'x-kubernetes-map-type': 'atomic' },
        clusterIP: str('Virtual IP of the service; allocated when empty, "None" for a headless service.'),
        clusterIPs: list(str(), 'Virtual IPs of the service.', { listType: 'atomic' }),
        type: withDefault(oneOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], 'ClusterIP, NodePort, LoadBalancer or ExternalName. Defaults to ClusterIP.'), 'ClusterIP'),
        externalIPs: list(str(), 'Extra IPs that route to the service.'),
        sessionAffinity: withDefault(oneOf(['ClientIP', 'None'], 'ClientIP sends a client to the same pod. Defaults to None.'), 'None'),
        loadBalancerIP: str('Deprecated.'),
        loadBalancerSourceRanges: list(str(), 'Client CIDRs allowed through a cloud load balancer.'),
        externalName: str('DNS name an ExternalName service is an alias of.'),
        externalTrafficPolicy: oneOf(['Cluster', 'Local'], 'Cluster or Local: whether external traffic may leave the node it arrived on.'),
        healthCheckNodePort: int32('Node port of the health check for externalTrafficPolicy Local.'),
        publishNotReadyAddresses: bool('Publish pods that are not ready in DNS and endpoints.'),
        sessionAffinityConfig: ref(c('SessionAffinityConfig'), 'Session affinity settings.'),
        ipFamilies: list(str(), 'IPv4 and/or IPv6.'),
        ipFamilyPolicy: str('SingleStack, PreferDualStack or RequireDualStack.'),
        allocateLoadBalancerNodePorts: bool('Whether LoadBalancer services get node ports. Defaults to true.'),
        loadBalancerClass: str('The load balancer implementation to use.'),
        internalTrafficPolicy: oneOf(['Cluster', 'Local'], 'Cluster or Local.'),
        trafficDistribution: str('A preference for how traffic is spread (PreferClose).'),
      },
      'The desired behaviour of a service.',
    ),
  );
  d.add(c('PortStatus'), obj({ port: int32('Port number.'), protocol: str('TCP, UDP or SCTP.'), error: str('Why the port is in error, if it is.') }, 'A port status.', { required: ['port', 'protocol'] }));
  d.add(c('LoadBalancerIngress'), obj({ ip: str('IP of the ingress point.'), hostname: str('DNS name of the ingress point.'), ipMode: str('VIP or Proxy: how traffic reaches the nodes.'), ports: list(ref(c('PortStatus')), 'Status of the service ports.') }, 'An ingress point of a load balancer.'));
  d.add(c('LoadBalancerStatus'), obj({ ingress: list(ref(c('LoadBalancerIngress')), 'Ingress points.') }, 'Status of a load balancer.'));
  d.add(c('ServiceStatus'), obj({ loadBalancer: ref(c('LoadBalancerStatus'), 'The load balancer, for LoadBalancer services.'), conditions: listByKey(ref(CONDITION), 'type', 'Conditions of the service.') }, 'The observed state of a service.'));
  d.kind(c('Service'), gvk('Service'), 'A named set of pods behind one stable address and load balancer.', { spec: ref(c('ServiceSpec'), 'Desired behaviour of the service.'), status: ref(c('ServiceStatus'), 'Observed state of the service. Read-only.') });

  d.add(c('EndpointAddress'), obj({ ip: str('IP of the endpoint.'), hostname: str('Host name of the endpoint.'), nodeName: str('Node hosting the endpoint.'), targetRef: ref(c('ObjectReference'), 'The object (pod) behind the endpoint.') }, 'An address of an endpoint.', { required: ['ip'], mapType: 'atomic' }));
  d.add(c('EndpointPort'), obj({ name: str('Name of the port, as in the service.'), port: int32('Port number.'), protocol: withDefault(oneOf(['TCP', 'UDP', 'SCTP'], 'Protocol. Defaults to TCP.'), 'TCP'), appProtocol: str('Application protocol.') }, 'A port of an endpoint.', { required: ['port'], mapType: 'atomic' }));
  d.add(c('EndpointSubset'), obj({ addresses: list(ref(c('EndpointAddress')), 'Ready addresses.'), notReadyAddresses: list(ref(c('EndpointAddress')), 'Addresses that are not ready.'), ports: list(ref(c('EndpointPort')), 'Ports of the addresses.') }, 'A set of addresses with common ports.'));
  d.kind(c('Endpoints'), gvk('Endpoints'), 'The addresses backing a service.', { subsets: list(ref(c('EndpointSubset')), 'Sets of addresses and ports.') });

  // ------------------------------------------------------------------ config
  d.kind(c('ConfigMap'), gvk('ConfigMap'), 'Configuration data for pods to consume.', {
    immutable: bool('When true, data cannot change (only the object can be deleted).'),
    data: stringMap('UTF-8 configuration data.'),
    binaryData: map(bytes(), 'Binary configuration data (base64 in JSON).'),
  });
  d.kind(c('Secret'), gvk('Secret'), 'Sensitive data such as passwords, tokens and keys.', {
    immutable: bool('When true, data cannot change.'),
    data: map(bytes(), 'Secret data, base64-encoded in JSON.'),
    stringData: stringMap('Write-only convenience: plain strings merged into data on write.'),
    type: withDefault(str('What the data holds and which keys it must have: Opaque (anything), kubernetes.io/tls, kubernetes.io/dockerconfigjson, kubernetes.io/service-account-token... Defaults to Opaque.'), 'Opaque'),
  });
  d.add(c('EventSource'), obj({ component: str('Component that reported the event.'), host: str('Node name.') }, 'Where an event comes from.'));
  d.add(c('EventSeries'), obj({ count: int32('Occurrences so far.'), lastObservedTime: ref(MICRO_TIME, 'When the last occurrence was observed.') }, 'A series of similar events.'));
  d.kind(
    c('Event'),
    gvk('Event'),
    'A report of something that happened to an object.',
    {
      involvedObject: ref(c('ObjectReference'), 'The object the event is about.'),
      reason: str('Short CamelCase reason.'),
      message: str('Human-readable description.'),
      source: ref(c('EventSource'), 'The component reporting the event.'),
      firstTimestamp: ref(TIME, 'When the event was first recorded.'),
      lastTimestamp: ref(TIME, 'When the most recent occurrence was recorded.'),
      count: int32('How many times it happened.'),
      type: str('Normal or Warning.'),
      eventTime: ref(MICRO_TIME, 'When the event was first observed.'),
      series: ref(c('EventSeries'), 'Data about a series of events, if it is one.'),
      action: str('What was done, or failed.'),
      related: ref(c('ObjectReference'), 'A second object the event is about.'),
      reportingComponent: str('Controller that emitted the event.'),
      reportingInstance: str('Instance of the controller.'),
    },
  );
  d.add(c('NamespaceSpec'), obj({ finalizers: list(str(), 'Finalizers that must be removed before the namespace is deleted.') }, 'The desired state of a namespace.'));
  d.add(c('NamespaceCondition'), obj({ type: str('Type of the condition.'), status: str('True, False or Unknown.'), lastTransitionTime: ref(TIME, 'When the status last changed.'), reason: str('CamelCase reason of the last transition.'), message: str('Human-readable details.') }, 'A condition of a namespace.', { required: ['type', 'status'] }));
  d.add(c('NamespaceStatus'), obj({ phase: withDefault(oneOf(['Active', 'Terminating'], 'Active or Terminating. Defaults to Active.'), 'Active'), conditions: listByKey(ref(c('NamespaceCondition')), 'type', 'Current conditions of the namespace.') }, 'The observed state of a namespace.'));
  d.kind(c('Namespace'), gvk('Namespace'), 'A scope for names; deleting it deletes everything in it.', { spec: ref(c('NamespaceSpec'), 'Desired state of the namespace.'), status: withDefault(ref(c('NamespaceStatus'), 'Observed state of the namespace.'), {}) });
  d.kind(c('ServiceAccount'), gvk('ServiceAccount'), 'An identity for processes running in pods.', {
    secrets: listByKey(ref(c('ObjectReference')), 'name', 'Secrets pods using this account may use.'),
    imagePullSecrets: list(ref(c('LocalObjectReference')), 'Registry credentials used by pods of this account.'),
    automountServiceAccountToken: bool('Whether pods of this account get a token mounted by default.'),
  });

  // ------------------------------------------------------------------ storage
  d.add(c('VolumeResourceRequirements'), obj({ limits: quantities('The most storage the claim may use.'), requests: quantities('Requested storage (storage: 1Gi).') }, 'Storage resources of a claim.'));
  d.add(c('TypedObjectReference'), obj({ apiGroup: str('API group of the referent; empty for the core group.'), kind: str('Kind of the referent.'), name: str('Name of the referent.'), namespace: str('Namespace of the referent.') }, 'A typed reference.', { required: ['kind', 'name'] }));
  d.add(
    c('PersistentVolumeClaimSpec'),
    obj(
      {
        accessModes: list(str(), 'ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod.'),
        selector: ref(LABEL_SELECTOR, 'Volumes the claim may bind to.'),
        resources: ref(c('VolumeResourceRequirements'), 'Minimum resources the volume must have.'),
        volumeName: str('The volume bound to the claim.'),
        storageClassName: str('StorageClass provisioning the volume; the default class when empty.'),
        volumeMode: withDefault(oneOf(['Filesystem', 'Block'], 'Filesystem or Block. Defaults to Filesystem.'), 'Filesystem'),
        dataSource: ref(c('TypedLocalObjectReference'), 'An object (snapshot, claim) to fill the new volume from.'),
        dataSourceRef: ref(c('TypedObjectReference'), 'An object, possibly in another namespace, to fill the new volume from.'),
        volumeAttributesClassName: str('The VolumeAttributesClass of the claim.'),
      },
      'The desired characteristics of a volume.',
    ),
  );
  d.add(
    c('PersistentVolumeClaimStatus'),
    obj({ phase: withDefault(oneOf(['Pending', 'Bound', 'Lost'], 'Pending, Bound or Lost. Defaults to Pending.'), 'Pending'), accessModes: list(str(), 'Access modes of the bound volume.'), capacity: quantities('Capacity of the bound volume.'), conditions: listByKey(anyJson(), 'type', 'Current conditions of the claim (Resizing...).'), allocatedResources: quantities('Storage allocated to the claim, during resizes.'), allocatedResourceStatuses: stringMap('Resize state per resource.'), currentVolumeAttributesClassName: str('The VolumeAttributesClass currently applied.'), modifyVolumeStatus: anyJson('State of a pending volume modification.') }, 'The observed state of a claim.'),
  );
  d.kind(c('PersistentVolumeClaim'), gvk('PersistentVolumeClaim'), "A user's request for storage.", { spec: ref(c('PersistentVolumeClaimSpec'), 'Desired characteristics of the volume.'), status: ref(c('PersistentVolumeClaimStatus'), 'Current state of the claim. Read-only.') });
  d.add(c('VolumeNodeAffinity'), obj({ required: ref(c('NodeSelector'), 'Nodes the volume can be used from.') }, 'Where a volume can be accessed.'));
  d.add(c('LocalVolumeSource'), obj({ path: str('Path on the node.'), fsType: str('Filesystem type of a block device.') }, 'A local disk or directory of a node.', { required: ['path'] }));
  d.add(c('CSIPersistentVolumeSource'), obj({ driver: str('Name of the CSI driver.'), volumeHandle: str('The driver\'s identifier of the volume.'), readOnly: bool('Mount the volume read-only.'), fsType: str('Filesystem type (ext4, xfs...).'), volumeAttributes: stringMap('Driver-specific attributes.') }, 'A CSI volume.', { required: ['driver', 'volumeHandle'] }));
  d.add(
    c('PersistentVolumeSpec'),
    obj(
      {
        capacity: quantities('Capacity of the volume (storage).'),
        accessModes: list(str(), 'How the volume can be mounted: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod.'),
        claimRef: ref(c('ObjectReference'), 'The claim bound to this volume.'),
        persistentVolumeReclaimPolicy: withDefault(oneOf(['Retain', 'Delete', 'Recycle'], 'What happens to the volume when its claim is released: Retain, Delete or Recycle. Defaults to Retain.'), 'Retain'),
        storageClassName: str('The StorageClass the volume belongs to.'),
        mountOptions: list(str(), 'Mount options used when the volume is mounted.'),
        volumeMode: withDefault(oneOf(['Filesystem', 'Block'], 'Filesystem or Block. Defaults to Filesystem.'), 'Filesystem'),
        nodeAffinity: ref(c('VolumeNodeAffinity'), 'Nodes the volume can be used from.'),
        hostPath: ref(c('HostPathVolumeSource'), 'A directory on one node (single-node testing).'),
        local: ref(c('LocalVolumeSource'), 'A disk or directory of one node; needs nodeAffinity.'),
        nfs: ref(c('NFSVolumeSource'), 'An NFS export.'),
        csi: ref(c('CSIPersistentVolumeSource'), 'A volume of a CSI driver.'),
        volumeAttributesClassName: str('The VolumeAttributesClass of the volume.'),
      },
      'The specification of a volume.',
    ),
  );
  d.add(c('PersistentVolumeStatus'), obj({ phase: withDefault(oneOf(['Pending', 'Available', 'Bound', 'Released', 'Failed'], 'Pending, Available, Bound, Released or Failed. Defaults to Pending.'), 'Pending'), message: str('Human-readable state details.'), reason: str('CamelCase reason of a failure.'), lastPhaseTransitionTime: ref(TIME, 'When the phase last changed.') }, 'The observed state of a volume.'));
  d.kind(c('PersistentVolume'), gvk('PersistentVolume'), 'A piece of storage in the cluster.', { spec: ref(c('PersistentVolumeSpec'), 'The volume and how it may be used.'), status: ref(c('PersistentVolumeStatus'), 'Current state of the volume. Read-only.') });

  // ------------------------------------------------------------------ policy kinds
  d.add(c('ScopedResourceSelectorRequirement'), obj({ scopeName: str('The quota scope (Terminating, BestEffort, PriorityClass...).'), operator: str('In, NotIn, Exists or DoesNotExist.'), values: list(str(), 'Values for In and NotIn.') }, 'A scope selector requirement.', { required: ['scopeName', 'operator'] }));
  d.add(c('ScopeSelector'), obj({ matchExpressions: list(ref(c('ScopedResourceSelectorRequirement')), 'Scope requirements that must all hold.') }, 'Selects quota scopes.', { mapType: 'atomic' }));
  d.add(c('ResourceQuotaSpec'), obj({ hard: quantities('Hard limits per resource.'), scopes: list(str(), 'Scopes an object must match to count against the quota.'), scopeSelector: ref(c('ScopeSelector'), 'Scope requirements an object must match to count.') }, 'The desired quota.'));
  d.add(c('ResourceQuotaStatus'), obj({ hard: quantities('The enforced limits.'), used: quantities('Current usage in the namespace.') }, 'The enforced quota and usage.'));
  d.kind(c('ResourceQuota'), gvk('ResourceQuota'), 'Limits on resource use in a namespace.', { spec: ref(c('ResourceQuotaSpec'), 'The limits.'), status: ref(c('ResourceQuotaStatus'), 'Enforced limits and current usage. Read-only.') });
  d.add(c('LimitRangeItem'), obj({ type: str('Container, Pod or PersistentVolumeClaim.'), max: quantities('Maximum per resource.'), min: quantities('Minimum per resource.'), default: quantities('Default limits.'), defaultRequest: quantities('Default requests.'), maxLimitRequestRatio: quantities('Maximum ratio of limit to request per resource.') }, 'Limits for one kind of object.', { required: ['type'] }));
  d.add(c('LimitRangeSpec'), obj({ limits: list(ref(c('LimitRangeItem')), 'Limits per kind of object.') }, 'Limits of a namespace.', { required: ['limits'] }));
  d.kind(c('LimitRange'), gvk('LimitRange'), 'Resource limits and defaults for objects in a namespace.', { spec: ref(c('LimitRangeSpec'), 'The limits and defaults.') });
  d.add(c('ReplicationControllerSpec'), obj({ replicas: withDefault(int32('Desired number of pods. Defaults to 1.', { minimum: 0 }), 1), minReadySeconds: int32('Seconds a new pod must be ready to count as available.', { minimum: 0 }), selector: { ...stringMap('Labels of the pods it manages.'), 'x-kubernetes-map-type': 'atomic' }, template: ref(c('PodTemplateSpec'), 'Template of the pods it creates.') }, 'The desired state of a replication controller.'));
  d.add(c('ReplicationControllerCondition'), obj({ type: str('Type of the condition.'), status: str('True, False or Unknown.'), lastTransitionTime: ref(TIME, 'When the status last changed.'), reason: str('CamelCase reason of the last transition.'), message: str('Human-readable details.') }, 'A condition of a replication controller.', { required: ['type', 'status'] }));
  d.add(c('ReplicationControllerStatus'), obj({ replicas: int32('Most recently observed number of pods.'), fullyLabeledReplicas: int32('Pods whose labels match the template labels.'), readyReplicas: int32('Pods that are ready.'), availableReplicas: int32('Pods ready for at least minReadySeconds.'), observedGeneration: int64('The generation the status was computed for.'), conditions: listByKey(ref(c('ReplicationControllerCondition')), 'type', 'Current conditions.') }, 'The observed state of a replication controller.'));
  d.kind(c('ReplicationController'), gvk('ReplicationController'), 'Keeps a number of pod replicas running (superseded by ReplicaSet).', { spec: ref(c('ReplicationControllerSpec'), 'Desired state of the replication controller.'), status: ref(c('ReplicationControllerStatus'), 'Observed state. Read-only.') });
  void set;
}
