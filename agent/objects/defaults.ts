// Kubernetes' defaulting: an apply stores every object with the defaults of the fields it left out, as
// the API server does, so `get -o yaml` shows what runs, and a manifest that spells out a default is the
// same object as one that leaves it out (reported `unchanged`, no pod replaced). The defaults are k8s'
// own and are listed in the README (Supported fields).
import { pullPolicy } from '../runtime/images.ts';
import type { JobSpec, KubeObject, PodSpec, Probe, ServiceSpec } from './types.ts';

/** k8s: 0644 for the files of configMap and secret volumes. */
const DEFAULT_VOLUME_MODE = 0o644;

/** k8s' Deployment defaults (README "Supported fields"); the controller uses them too for a Deployment
 * stored before a field existed. */
export const DEPLOYMENT_DEFAULTS = {
  replicas: 1,
  maxSurge: '25%',
  maxUnavailable: '25%',
  revisionHistoryLimit: 10,
  progressDeadlineSeconds: 600,
} as const;

/** k8s' DaemonSet rolling update defaults (README "Supported fields"). */
export const DAEMONSET_DEFAULTS = { maxUnavailable: 1, maxSurge: 0 } as const;

/** A copy of `obj` with every supported field that has a k8s default filled in. */
export function withDefaults<T extends KubeObject>(obj: T): T {
  const o = structuredClone(obj) as KubeObject;
  switch (o.kind) {
    case 'Secret':
      o.type ??= 'Opaque';
      break;
    case 'Pod':
      defaultPodSpec(o.spec);
      break;
    case 'Deployment':
      o.spec.replicas ??= DEPLOYMENT_DEFAULTS.replicas;
      o.spec.strategy ??= { type: 'RollingUpdate' };
      if (o.spec.strategy.type === 'RollingUpdate') {
        o.spec.strategy.rollingUpdate ??= {};
        const ru = o.spec.strategy.rollingUpdate;
        ru.maxSurge ??= DEPLOYMENT_DEFAULTS.maxSurge;
        ru.maxUnavailable ??= DEPLOYMENT_DEFAULTS.maxUnavailable;
      }
      o.spec.minReadySeconds ??= 0;
      o.spec.revisionHistoryLimit ??= DEPLOYMENT_DEFAULTS.revisionHistoryLimit;
      o.spec.progressDeadlineSeconds ??= DEPLOYMENT_DEFAULTS.progressDeadlineSeconds;
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'DaemonSet':
      o.spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (o.spec.updateStrategy.type === 'RollingUpdate') {
        o.spec.updateStrategy.rollingUpdate ??= {};
        const ru = o.spec.updateStrategy.rollingUpdate;
        ru.maxUnavailable ??= DAEMONSET_DEFAULTS.maxUnavailable;
        ru.maxSurge ??= DAEMONSET_DEFAULTS.maxSurge;
      }
      o.spec.minReadySeconds ??= 0;
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'ReplicaSet':
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'Job':
      defaultJobSpec(o.spec);
      break;
    case 'CronJob':
      o.spec.concurrencyPolicy ??= CRONJOB_DEFAULTS.concurrencyPolicy;
      o.spec.suspend ??= false;
      o.spec.successfulJobsHistoryLimit ??= CRONJOB_DEFAULTS.successfulJobsHistoryLimit;
      o.spec.failedJobsHistoryLimit ??= CRONJOB_DEFAULTS.failedJobsHistoryLimit;
      defaultJobSpec(o.spec.jobTemplate.spec);
      break;
    case 'Service':
      defaultServiceSpec(o.spec);
      break;
    case 'PriorityClass':
      o.preemptionPolicy ??= 'PreemptLowerPriority';
      o.globalDefault ??= false;
      break;
    case 'Namespace':
    case 'ConfigMap':
    case 'EndpointSlice':
      break;
  }
  return o as T;
}

/** k8s' CronJob defaults. */
export const CRONJOB_DEFAULTS = {
  concurrencyPolicy: 'Allow',
  successfulJobsHistoryLimit: 3,
  failedJobsHistoryLimit: 1,
} as const;

function defaultJobSpec(spec: JobSpec): void {
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  defaultPodSpec(spec.template.spec);
}

/** k8s' default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10_800;

/** What the k8s API server fills in on a Service (SetDefaults_Service and the REST strategy): type
 * ClusterIP, no affinity, TCP, targetPort = port, one IPv4 family, Cluster traffic policies, clusterIPs
 * from clusterIP (the allocated one is added by the apply: agent/services/allocate.ts); an ExternalName
 * Service gets the affinity and port defaults only. */
function defaultServiceSpec(spec: ServiceSpec): void {
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig ??= {};
    spec.sessionAffinityConfig.clientIP ??= {};
    spec.sessionAffinityConfig.clientIP.timeoutSeconds ??= DEFAULT_AFFINITY_SECONDS;
  }
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
  }
  // An ExternalName Service has no address: no families either (as k8s).
  if (spec.type === 'ExternalName') return;
  if (spec.clusterIP !== undefined) spec.clusterIPs ??= [spec.clusterIP];
  else if (spec.clusterIPs?.[0] !== undefined) spec.clusterIP = spec.clusterIPs[0];
  spec.ipFamilies ??= ['IPv4'];
  spec.ipFamilyPolicy ??= 'SingleStack';
  spec.internalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'NodePort') spec.externalTrafficPolicy ??= 'Cluster';
}

/** k8s's default terminationGracePeriodSeconds (README "Graceful deletion"). */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

function defaultPodSpec(spec: PodSpec): void {
  // A Job's template must say OnFailure or Never (validated); everywhere else k8s' default is Always.
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_SECONDS;
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    c.imagePullPolicy ??= pullPolicy(c);
    for (const p of c.ports ?? []) p.protocol ??= 'TCP';
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) if (probe) defaultProbe(probe);
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap) v.configMap.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.secret) v.secret.defaultMode ??= DEFAULT_VOLUME_MODE;
  }
}

/** k8s' probe defaults (SetDefaults_Probe): an absent field or 0 means these. The agent reads them too,
 * for a probe stored without them. */
export const PROBE_DEFAULTS = {
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

function defaultProbe(p: Probe): void {
  for (const [field, value] of Object.entries(PROBE_DEFAULTS) as Array<[keyof typeof PROBE_DEFAULTS, number]>)
    if (!p[field]) p[field] = value;
  // SetDefaults_HTTPGetAction. Not for hooks' httpGet: objects stored before would all change.
  if (p.httpGet) {
    if (!p.httpGet.path) p.httpGet.path = '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}
