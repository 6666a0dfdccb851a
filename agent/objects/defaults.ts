// Kubernetes' defaulting: an apply stores every object with the defaults of the fields it left out, as
// the API server does, so `get -o yaml` shows what runs, and a manifest that spells out a default is the
// same object as one that leaves it out (reported `unchanged`, no pod replaced). The defaults are k8s'
// own and are listed in the README (Supported fields).
import { pullPolicy } from '../runtime/images.ts';
import type { KubeObject, PodSpec } from './types.ts';

/** k8s: 0644 for the files of configMap and secret volumes. */
const DEFAULT_VOLUME_MODE = 0o644;

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
      o.spec.replicas ??= 1;
      o.spec.strategy ??= { type: 'RollingUpdate' };
      o.spec.minReadySeconds ??= 0;
      o.spec.revisionHistoryLimit ??= 10;
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'DaemonSet':
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'Job':
      o.spec.completions ??= 1;
      o.spec.parallelism ??= 1;
      o.spec.backoffLimit ??= 6;
      defaultPodSpec(o.spec.template.spec);
      break;
    case 'Namespace':
    case 'ConfigMap':
      break;
  }
  return o as T;
}

/** k8s's default terminationGracePeriodSeconds (README "Graceful deletion"). */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

function defaultPodSpec(spec: PodSpec): void {
  // A Job's template must say OnFailure or Never (validated); everywhere else k8s' default is Always.
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_SECONDS;
  for (const c of spec.containers) {
    c.imagePullPolicy ??= pullPolicy(c);
    for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap) v.configMap.defaultMode ??= DEFAULT_VOLUME_MODE;
    if (v.secret) v.secret.defaultMode ??= DEFAULT_VOLUME_MODE;
  }
}
