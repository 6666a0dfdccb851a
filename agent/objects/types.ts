// The k8s-shaped objects nokube stores and runs: the subset of the Kubernetes API we support, with
// the same field names and meaning. Validation (objects/validate.ts) refuses every field not listed here.

export type Kind =
  | 'Namespace'
  | 'ConfigMap'
  | 'Secret'
  | 'Pod'
  | 'Deployment'
  | 'ReplicaSet'
  | 'DaemonSet'
  | 'Job'
  | 'Service'
  | 'EndpointSlice'
  | 'PriorityClass'
  | 'ResourceQuota'
  | 'LimitRange'
  | 'ImagePrewarm'
  | 'CronJob'
  | 'PodDisruptionBudget';
export const KINDS: readonly Kind[] = [
  'Namespace',
  'ConfigMap',
  'Secret',
  'Pod',
  'Deployment',
  'ReplicaSet',
  'DaemonSet',
  'Job',
  'Service',
  'EndpointSlice',
  'PriorityClass',
  'ResourceQuota',
  'LimitRange',
  'ImagePrewarm',
  'CronJob',
  'PodDisruptionBudget',
];
/** Kinds only nokube's controllers write (a Deployment's revisions, a Service's endpoints): read and
 * delete, never applied. */
export const CONTROLLER_MADE_KINDS: readonly Kind[] = ['ReplicaSet', 'EndpointSlice'];
/** Kinds that live in a namespace (all but Namespace and PriorityClass). */
export const namespaced = (kind: Kind): boolean => kind !== 'Namespace' && kind !== 'PriorityClass';

export interface OwnerReference {
  apiVersion: string;
  kind: Kind;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  /** Absent for Namespace; "default" when a namespaced manifest omits it (as kubectl does). */
  namespace?: string;
  uid: string;
  /** etcd mod revision of the object's key, as a string (k8s: opaque). */
  resourceVersion: string;
  /** +1 on every change of spec (or data for ConfigMap/Secret). */
  generation: number;
  creationTimestamp: string;
  /** Set when a graceful delete has begun (pods: the agent stops the containers, then removes the key). */
  deletionTimestamp?: string;
  /** The grace of that delete in seconds (the agent's SIGTERM-to-SIGKILL time). */
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** What a user writes: metadata without the server-set fields. */
export interface ManifestMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** A node affinity expression: the label selector operators, plus Gt and Lt (the node's label, an
 * integer, greater or less than the one value). */
export interface NodeSelectorRequirement {
  key: string;
  operator: LabelSelectorRequirement['operator'] | 'Gt' | 'Lt';
  values?: string[];
}
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
}
/** Pods (by label selector, in `namespaces`, default the pod's own) in the same topology domain: nodes
 * with the same value of the label `topologyKey`. */
export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  namespaces?: string[];
  topologyKey: string;
}
export interface PodAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: Array<{
    weight: number;
    podAffinityTerm: PodAffinityTerm;
  }>;
}
/** k8s TopologySpreadConstraint: the pods matching `labelSelector` (in the pod's namespace) spread over
 * the values of the node label `topologyKey`, no domain more than `maxSkew` above the emptiest. */
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelector;
  /** Fewer eligible domains than this: the emptiest counts as 0 (DoNotSchedule only). */
  minDomains?: number;
}
export interface Affinity {
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAffinity;
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    /** Weight 1–100 each; the weights of the terms a node matches are summed (ranking only). */
    preferredDuringSchedulingIgnoredDuringExecution?: Array<{ weight: number; preference: NodeSelectorTerm }>;
  };
}

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: KeyRef;
    secretKeyRef?: KeyRef;
    /** metadata.name, metadata.namespace, spec.nodeName, status.podIP */
    fieldRef?: { fieldPath: string; apiVersion?: string };
  };
}
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
export interface ContainerPort {
  containerPort: number;
  hostPort?: number;
  name?: string;
  protocol?: 'TCP' | 'UDP';
}
export interface ResourceList {
  /** k8s quantity: "500m", "1", "0.5" */
  cpu?: string;
  /** k8s quantity: "64Mi", "1G", "128974848" */
  memory?: string;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}
export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: ContainerPort[];
  resources?: { limits?: ResourceList; requests?: ResourceList };
  volumeMounts?: VolumeMount[];
  lifecycle?: Lifecycle;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  /** Where the container may write why it ended (its status' terminated.message; at most 4096 bytes). */
  terminationMessagePath?: string;
  /** FallbackToLogsOnError: with no message written and a failed exit, the end of its log. */
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
}
/** k8s' SeccompProfile: the runtime's default, none, or a profile file on the node (not supported). */
export interface SeccompProfile {
  type: 'RuntimeDefault' | 'Unconfined';
}
/** The part of k8s' SecurityContext a container may set (agent/pods/security.ts maps it onto Docker). */
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: SeccompProfile;
}
/** k8s' PodSecurityContext: defaults for every container (theirs win), and the pod's groups. */
export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  /** Every container also runs with this group, which owns the pod's emptyDir volumes (setgid). */
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: SeccompProfile;
}
/** A container hook (k8s LifecycleHandler): a command run in the container, or an HTTP GET on the pod. */
export interface LifecycleHandler {
  exec?: { command: string[] };
  httpGet?: {
    path?: string;
    /** A number, or the name of one of the container's ports. */
    port: number | string;
    /** Default: the pod IP. */
    host?: string;
    scheme?: 'HTTP' | 'HTTPS';
    httpHeaders?: Array<{ name: string; value: string }>;
  };
}
export interface Lifecycle {
  postStart?: LifecycleHandler;
  preStop?: LifecycleHandler;
}
/** What a probe runs (k8s ProbeHandler): a hook's handlers, a TCP connect, or a gRPC health check. */
export interface ProbeHandler extends LifecycleHandler {
  /** Success when a TCP connection opens. */
  tcpSocket?: { port: number | string; host?: string };
  /** grpc.health.v1.Health/Check on the pod IP; success when it answers SERVING. */
  grpc?: { port: number; service?: string };
}
/** k8s Probe; defaults (stored at apply): periodSeconds 10, timeoutSeconds 1, successThreshold 1,
 * failureThreshold 3 (0 means the default, as in k8s). */
export interface Probe extends ProbeHandler {
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  /** The grace of a kill this probe decides (liveness, startup); default the pod's. */
  terminationGracePeriodSeconds?: number;
}
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}
export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number };
  emptyDir?: { medium?: '' | 'Memory'; sizeLimit?: string };
  hostPath?: { path: string; type?: '' | 'Directory' | 'DirectoryOrCreate' | 'File' | 'FileOrCreate' };
}
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export interface PodSpec {
  containers: Container[];
  /** Run one after another, each to a successful exit, before the containers start (k8s' init
   * containers; no probes or hooks, not restarted once done). */
  initContainers?: Container[];
  restartPolicy?: RestartPolicy;
  /** The namespace's Services as environment variables (agent/pods/service-env.ts); absent means true. */
  enableServiceLinks?: boolean;
  /** Set by the scheduler (or by the user for a bare Pod); never changes once set. */
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  /** Secrets (this namespace, type kubernetes.io/dockerconfigjson or dockercfg) with registry credentials. */
  imagePullSecrets?: Array<{ name: string }>;
  affinity?: Affinity;
  terminationGracePeriodSeconds?: number;
  volumes?: Volume[];
  tolerations?: Toleration[];
  securityContext?: PodSecurityContext;
  /** Only the one scheduler nokube has (as k8s names its default). */
  schedulerName?: 'default-scheduler';
  topologySpreadConstraints?: TopologySpreadConstraint[];
  /** A PriorityClass's name: the pod's priority is its value (else the global default's, else 0;
   * agent/objects/priority-classes.ts). */
  priorityClassName?: string;
  /** On the node's network (no network namespace of its own; always so without a pod network). */
  hostNetwork?: boolean;
  /** The pod's host name (default: the pod's name); with `subdomain` naming a headless Service, the pod
   * resolves as `<hostname>.<subdomain>.<ns>.svc.<clusterDomain>` (agent/dns). */
  hostname?: string;
  subdomain?: string;
  /** The pod's /etc/resolv.conf on a pod network (agent/dns/resolv-conf.ts); default ClusterFirst. */
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
  dnsConfig?: PodDnsConfig;
}
export interface PodDnsConfig {
  nameservers?: string[];
  searches?: string[];
  options?: Array<{ name: string; value?: string }>;
}
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  /** NoExecute only: how long the pod stays bound to a tainted node (absent: for ever). */
  tolerationSeconds?: number;
}
export interface PodTemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: {
    exitCode: number;
    reason: string;
    message?: string;
    startedAt?: string;
    finishedAt: string;
  };
}
export interface ContainerStatus {
  name: string;
  image: string;
  containerID?: string;
  ready: boolean;
  restartCount: number;
  started?: boolean;
  state: ContainerState;
  lastState?: ContainerState;
}
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  /** Deployment conditions: when the condition was last refreshed (Progressing: the last progress). */
  lastUpdateTime?: string;
  lastTransitionTime: string;
}
export interface PodStatus {
  phase: PodPhase;
  reason?: string;
  message?: string;
  conditions?: Condition[];
  podIP?: string;
  /** k8s: the pod's IPs (one here: IPv4). */
  podIPs?: Array<{ ip: string }>;
  hostIP?: string;
  nodeName?: string;
  startTime?: string;
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  /** The node a preemption freed room on for this pending pod (k8s): it binds there once its victims
   * are gone. */
  nominatedNodeName?: string;
  /** Agent time of the last status write (not in k8s; helps tell stale from fresh). */
  observedAt?: string;
}

interface Base<K extends Kind> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
}
/** scheduling.k8s.io/v1 PriorityClass (cluster-wide): pods that name it (`priorityClassName`) get its
 * `value` as their priority; a higher one may preempt lower ones (`preemptionPolicy`). */
export interface PriorityClass extends Base<'PriorityClass'> {
  value: number;
  globalDefault?: boolean;
  preemptionPolicy?: 'PreemptLowerPriority' | 'Never';
  description?: string;
}
/** v1 ResourceQuota: caps on what a namespace's objects declare (agent/objects/quota.ts), checked at
 * apply. `hard` keys: requests.cpu, requests.memory, limits.cpu, limits.memory, cpu and memory (the
 * requests), pods, count/<resource>[.<group>]. */
export interface ResourceQuota extends Base<'ResourceQuota'> {
  spec: { hard: Record<string, string> };
}
/** policy/v1 PodDisruptionBudget: how many of the pods its selector picks must stay healthy (Ready) when
 * they are evicted (`nokube drain`, the eviction API): head/controllers/disruption.ts keeps its status,
 * head/api/pod-eviction.ts spends it. At most one of minAvailable and maxUnavailable (a count or a
 * whole percentage). A selector absent selects no pod; an empty one every pod of the namespace. */
export interface PodDisruptionBudget extends Base<'PodDisruptionBudget'> {
  spec: {
    minAvailable?: number | string;
    maxUnavailable?: number | string;
    selector?: LabelSelector;
    unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
  };
  status?: PodDisruptionBudgetStatus;
}
export interface PodDisruptionBudgetStatus {
  observedGeneration: number;
  /** Pods evicted (name -> when) that the controller has not seen terminating yet: not counted healthy. */
  disruptedPods?: Record<string, string>;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  conditions: Condition[];
}
/** v1 LimitRange: per container defaults (`default`: limits, `defaultRequest`: requests) and bounds
 * (`min`, `max`) in a namespace (agent/objects/limit-range.ts). */
export interface LimitRange extends Base<'LimitRange'> {
  spec: {
    limits: Array<{
      type: 'Container';
      default?: ResourceList;
      defaultRequest?: ResourceList;
      min?: ResourceList;
      max?: ResourceList;
    }>;
  };
}
export interface Namespace extends Base<'Namespace'> {
  status?: { phase: 'Active' | 'Terminating' };
}
export interface ConfigMap extends Base<'ConfigMap'> {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}
export interface Secret extends Base<'Secret'> {
  type?: string;
  /** base64 values, as in k8s; `stringData` in a manifest is folded into `data` on apply. */
  data?: Record<string, string>;
  immutable?: boolean;
}
export interface Pod extends Base<'Pod'> {
  spec: PodSpec;
  status?: PodStatus;
}
/** A count, or a percentage of the desired replicas ("25%"). */
export type IntOrPercent = number | string;
export interface DeploymentStrategy {
  type: 'RollingUpdate' | 'Recreate';
  rollingUpdate?: { maxSurge?: IntOrPercent; maxUnavailable?: IntOrPercent };
}
export interface DeploymentSpec {
  replicas?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
  strategy?: DeploymentStrategy;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  paused?: boolean;
}
export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  /** Not in k8s: nodes this Deployment's pods avoid until then (reschedule policy, nokube.io annotations). */
  reschedulePenalties?: Array<{ node: string; until: string }>;
}
export interface Deployment extends Base<'Deployment'> {
  spec: DeploymentSpec;
  status?: DeploymentStatus;
}
/** One revision of a Deployment (one per pod-template hash), made and counted by the Deployment's
 * controller: `spec.replicas` is how many of the Deployment's pods this revision holds. */
export interface ReplicaSetSpec {
  replicas: number;
  minReadySeconds?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
}
export interface ReplicaSetStatus {
  observedGeneration?: number;
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}
export interface ReplicaSet extends Base<'ReplicaSet'> {
  spec: ReplicaSetSpec;
  status?: ReplicaSetStatus;
}
/** k8s' DaemonSetUpdateStrategy: node by node within maxUnavailable / maxSurge, or only when the user
 * deletes an old pod. */
export interface DaemonSetUpdateStrategy {
  type: 'RollingUpdate' | 'OnDelete';
  rollingUpdate?: { maxUnavailable?: IntOrPercent; maxSurge?: IntOrPercent };
}
export interface DaemonSetSpec {
  selector: LabelSelector;
  template: PodTemplateSpec;
  updateStrategy?: DaemonSetUpdateStrategy;
  minReadySeconds?: number;
}
export interface DaemonSetStatus {
  observedGeneration?: number;
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberReady: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberUnavailable?: number;
  numberMisscheduled: number;
  conditions?: Condition[];
}
export interface DaemonSet extends Base<'DaemonSet'> {
  spec: DaemonSetSpec;
  status?: DaemonSetStatus;
}
export interface JobSpec {
  completions?: number;
  parallelism?: number;
  backoffLimit?: number;
  activeDeadlineSeconds?: number;
  /** A finished Job is deleted this long after it finished (k8s' TTL-after-finished controller). */
  ttlSecondsAfterFinished?: number;
  selector?: LabelSelector;
  template: PodTemplateSpec;
}
export interface JobStatus {
  observedGeneration?: number;
  active?: number;
  succeeded?: number;
  failed?: number;
  startTime?: string;
  completionTime?: string;
  conditions?: Condition[];
}
export interface Job extends Base<'Job'> {
  spec: JobSpec;
  status?: JobStatus;
}
/** batch/v1 CronJob (README "CronJob"): a Job from `jobTemplate` at each time of `schedule`. */
export interface CronJobSpec {
  /** Cron syntax, five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, ... */
  schedule: string;
  /** An IANA time zone (default: the leading head's local time zone, as kube-controller-manager's). */
  timeZone?: string;
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  /** A run missed by more than this many seconds is skipped (default: no deadline). */
  startingDeadlineSeconds?: number;
  suspend?: boolean;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: JobSpec;
  };
}
export interface CronJobStatus {
  active?: Array<{ kind: 'Job'; namespace: string; name: string; uid: string }>;
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}
export interface CronJob extends Base<'CronJob'> {
  spec: CronJobSpec;
  status?: CronJobStatus;
}

/** nokube.io/v1 ImagePrewarm (README "Image prewarm", seed 001): pull `images` onto the nodes that match,
 * `batchSize` nodes at a time, through each node's agent (agent/images). */
export interface ImagePrewarmSpec {
  images: string[];
  nodeSelector?: Record<string, string>;
  /** Required node affinity only (the pod field's shape). */
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    };
  };
  batchSize: number;
  /** Failed nodes / target nodes above this fails the task (default 0.1: the seed's 90 % rule). */
  maxFailureRatio?: number;
  /** Attempts after a node's first failed one (default 2), after a back-off of 10 s doubling. */
  retries?: number;
  /** One attempt on one node may take this long (default 600). */
  pullTimeoutSeconds?: number;
  /** Higher first: a node's agent starts the pulls of higher-priority requests first (default 0). */
  priority?: number;
  /** Secrets of the task's namespace with registry credentials, as a pod's. */
  imagePullSecrets?: Array<{ name: string }>;
  /** Set by `nokube prewarm cancel`: the task stops, its pulls in flight are stopped. */
  cancel?: boolean;
}
export type ImagePrewarmPhase = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export interface PrewarmProgress {
  totalNodes: number;
  completedNodes: number;
  failedNodes: number;
  currentBatch: number;
  totalBatches: number;
  /** Nodes done (completed or failed) of all, 0–100, one decimal. */
  percentage: number;
}
export interface PrewarmFailedNode {
  node: string;
  image: string;
  reason: string;
  message: string;
  time: string;
}
/** A node of the current batch. */
export interface PrewarmNodeState {
  state: 'Pulling' | 'Completed' | 'Failed';
  /** Failed attempts so far. */
  attempts: number;
  /** When the current attempt began (its timeout counts from here). */
  since: string;
  /** The request revision whose failure was counted (each attempt's failure counts once). */
  counted?: string;
  /** When the request is written again (a retry after a failed attempt). */
  retryAt?: string;
}
export interface ImagePrewarmStatus {
  phase: ImagePrewarmPhase;
  message?: string;
  /** The target nodes, fixed when the task starts, in batch order. */
  nodes?: string[];
  progress?: PrewarmProgress;
  /** The current batch's nodes. */
  batch?: Record<string, PrewarmNodeState>;
  /** The first PREWARM_FAILED_DETAILS_MAX failures (progress.failedNodes counts all). */
  failedNodeDetails?: PrewarmFailedNode[];
  startTime?: string;
  completionTime?: string;
  estimatedCompletion?: string;
}
export interface ImagePrewarm extends Base<'ImagePrewarm'> {
  spec: ImagePrewarmSpec;
  status?: ImagePrewarmStatus;
}

export type Protocol = 'TCP' | 'UDP';
export interface ServicePort {
  /** Required (a DNS label, unique) when the Service has more than one port. */
  name?: string;
  protocol?: Protocol;
  port: number;
  /** A number, or the name of a port of the selected pods' containers; default: `port`. */
  targetPort?: number | string;
  /** NodePort Services: allocated from network.nodePortRange when absent. */
  nodePort?: number;
}
export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'ExternalName';
  /** ExternalName: the DNS name the Service's name is an alias (CNAME) of. */
  externalName?: string;
  /** Allocated from network.serviceCidr when absent; "None": headless (no virtual IP). */
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
  selector?: Record<string, string>;
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  /** Endpoints of not-ready pods are published as ready (k8s: for peers that find each other before ready). */
  publishNotReadyAddresses?: boolean;
  ipFamilies?: Array<'IPv4'>;
  ipFamilyPolicy?: 'SingleStack';
  internalTrafficPolicy?: 'Cluster';
  externalTrafficPolicy?: 'Cluster';
}
export interface Service extends Base<'Service'> {
  spec: ServiceSpec;
  status?: { loadBalancer?: Record<string, never> };
}
/** One endpoint of a slice (discovery.k8s.io/v1): a pod's address and its state. */
export interface Endpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  /** The pod's `hostname` when its `subdomain` is the Service's name (its DNS record). */
  hostname?: string;
  targetRef?: { kind: 'Pod'; namespace: string; name: string; uid: string };
}
export interface EndpointPort {
  name?: string;
  protocol?: Protocol;
  port?: number;
}
/** Written by the EndpointSlice controller (head/controllers/endpointslices.ts) for Services with a selector. */
export interface EndpointSlice extends Base<'EndpointSlice'> {
  addressType: 'IPv4';
  endpoints: Endpoint[];
  ports: EndpointPort[];
}

export type KubeObject =
  | Namespace
  | ConfigMap
  | Secret
  | Pod
  | Deployment
  | ReplicaSet
  | DaemonSet
  | Job
  | Service
  | EndpointSlice
  | PriorityClass
  | ResourceQuota
  | LimitRange
  | ImagePrewarm
  | CronJob
  | PodDisruptionBudget;
export type ObjectOfKind<K extends Kind> = Extract<KubeObject, { kind: K }>;

/** apiVersion per kind, as kubectl expects it. */
export const API_VERSION: Record<Kind, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Pod: 'v1',
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  PriorityClass: 'scheduling.k8s.io/v1',
  ResourceQuota: 'v1',
  LimitRange: 'v1',
  ImagePrewarm: 'nokube.io/v1',
  CronJob: 'batch/v1',
  PodDisruptionBudget: 'policy/v1',
};

/** Plural lower-case resource name per kind (keys, URLs, `nokube get <resource>`). */
export const RESOURCE: Record<Kind, string> = {
  Namespace: 'namespaces',
  ConfigMap: 'configmaps',
  Secret: 'secrets',
  Pod: 'pods',
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  Service: 'services',
  EndpointSlice: 'endpointslices',
  PriorityClass: 'priorityclasses',
  ResourceQuota: 'resourcequotas',
  LimitRange: 'limitranges',
  ImagePrewarm: 'imageprewarms',
  CronJob: 'cronjobs',
  PodDisruptionBudget: 'poddisruptionbudgets',
};

/** What `nokube get <word>` accepts for each kind (kubectl's names and short names). */
export const KIND_ALIASES: Record<string, Kind> = {
  namespace: 'Namespace',
  namespaces: 'Namespace',
  ns: 'Namespace',
  configmap: 'ConfigMap',
  configmaps: 'ConfigMap',
  cm: 'ConfigMap',
  secret: 'Secret',
  secrets: 'Secret',
  pod: 'Pod',
  pods: 'Pod',
  po: 'Pod',
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  replicaset: 'ReplicaSet',
  replicasets: 'ReplicaSet',
  rs: 'ReplicaSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  ds: 'DaemonSet',
  job: 'Job',
  jobs: 'Job',
  service: 'Service',
  services: 'Service',
  svc: 'Service',
  endpointslice: 'EndpointSlice',
  endpointslices: 'EndpointSlice',
  priorityclass: 'PriorityClass',
  priorityclasses: 'PriorityClass',
  pc: 'PriorityClass',
  resourcequota: 'ResourceQuota',
  resourcequotas: 'ResourceQuota',
  quota: 'ResourceQuota',
  limitrange: 'LimitRange',
  limitranges: 'LimitRange',
  limits: 'LimitRange',
  imageprewarm: 'ImagePrewarm',
  imageprewarms: 'ImagePrewarm',
  prewarm: 'ImagePrewarm',
  prewarms: 'ImagePrewarm',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  cj: 'CronJob',
  poddisruptionbudget: 'PodDisruptionBudget',
  poddisruptionbudgets: 'PodDisruptionBudget',
  pdb: 'PodDisruptionBudget',
};

/** Labels nokube puts on every pod it creates for a controller (k8s uses the same names). */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** EndpointSlice labels (k8s' names): the Service a slice is for, and who manages it. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** Our value of MANAGED_BY_LABEL: slices with another value are never touched. */
export const MANAGED_BY_NOKUBE = 'nokube';
export const DEFAULT_NAMESPACE = 'default';
/** Namespaces every cluster has, stored or not, and that cannot be deleted (as in k8s). */
export const BUILTIN_NAMESPACES: readonly string[] = [DEFAULT_NAMESPACE, 'kube-public', 'kube-system'];
export const isBuiltinNamespace = (name: string | undefined): boolean =>
  name !== undefined && BUILTIN_NAMESPACES.includes(name);
