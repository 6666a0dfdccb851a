// Admission: the Pod Security "baseline" rules nokube can state about the pod specs it accepts, applied
// to every request that is not an ops-admin's (head/api). A pod spec is checked wherever it appears: a
// Pod, and the template of a Deployment, DaemonSet, Job or CronJob (its job's). Refusals name the rule, as the Kubernetes
// Pod Security admission does (`violates PodSecurity "baseline"`).
//
//   - hostPath volumes only under a prefix the cluster config allows for the object's namespace
//     (`admission.hostPathPrefixes`, by namespace; none allowed where none is listed). A prefix holds
//     itself and what is below it, segment by segment: /srv/data allows /srv/data/x, not /srv/database;
//   - no host port below 1024 (every containerPort counts, as on the node's network: without a pod
//     network every pod is there);
//   - no hostNetwork: true (the node's network namespace);
//   - no privileged container; no capability added beyond the baseline's default set (AUDIT_WRITE,
//     CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP,
//     SETUID, SYS_CHROOT); no seccompProfile Unconfined (pod or container);
//   - fields nokube does not accept yet (hostPID, hostIPC, sysctls, ...) are refused by the object
//     schema before this; each goes through here once accepted.
import { posix } from 'node:path';
import { podSpecOf } from '../../agent/objects/priority-classes.ts';
import type { KubeObject } from '../../agent/objects/types.ts';
import { describeHostPort, hostPortsOf } from '../../agent/scheduler/host-ports.ts';

/** The cluster config's admission section (absent: no hostPath for anyone but an ops-admin). */
export interface AdmissionRules {
  hostPathPrefixes?: Record<string, string[]>;
}

/** Capabilities the baseline lets a container add (Docker's and containerd's defaults). */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Ports below this are the node's system services' (root's on Linux). */
const LOWEST_HOST_PORT = 1024;

/** Under `prefix` by whole path segments (both normalized; no `..` escapes). */
export function underPrefix(path: string, prefix: string): boolean {
  const p = posix.normalize(path);
  const pre = posix.normalize(prefix).replace(/\/+$/, '') || '/';
  return pre === '/' || p === pre || p.startsWith(`${pre}/`);
}

/** What in the object breaks the baseline rules, one phrase each (empty: admitted). */
export function baselineViolations(obj: KubeObject, rules: AdmissionRules | undefined): string[] {
  const spec = podSpecOf(obj);
  if (!spec) return [];
  const ns = obj.metadata.namespace ?? 'default';
  const allowed = rules?.hostPathPrefixes?.[ns] ?? [];
  const out: string[] = [];
  for (const v of spec.volumes ?? []) {
    if (!v.hostPath) continue;
    if (allowed.some((prefix) => underPrefix(v.hostPath!.path, prefix))) continue;
    const where =
      allowed.length === 0
        ? `no hostPath is allowed in namespace "${ns}"`
        : `it is not under ${allowed.join(', ')}, the prefixes allowed in namespace "${ns}"`;
    out.push(
      `hostPath volume "${v.name}" (path "${v.hostPath.path}"): ${where} (admission.hostPathPrefixes)`,
    );
  }
  if (spec.hostNetwork) out.push("hostNetwork: true (the node's network namespace)");
  if (spec.securityContext?.seccompProfile?.type === 'Unconfined')
    out.push('pod must not set securityContext.seccompProfile.type to "Unconfined"');
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext;
    if (sc?.privileged)
      out.push(`privileged (container "${c.name}" must not set securityContext.privileged=true)`);
    const extra = (sc?.capabilities?.add ?? []).filter(
      (cap) => !BASELINE_CAPABILITIES.has(cap.replace(/^CAP_/, '')),
    );
    if (extra.length > 0)
      out.push(
        `non-default capabilities (container "${c.name}" must not include "${extra.join('", "')}" in securityContext.capabilities.add)`,
      );
    if (sc?.seccompProfile?.type === 'Unconfined')
      out.push(
        `seccompProfile (container "${c.name}" must not set securityContext.seccompProfile.type to "Unconfined")`,
      );
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers])
    for (const p of hostPortsOf({ containers: [c] }))
      if (p.port < LOWEST_HOST_PORT)
        out.push(`host port ${describeHostPort(p)} (container "${c.name}"): below ${LOWEST_HOST_PORT}`);
  return out;
}

/** The refusal for one object, or undefined when admitted. `what` is kubectl's `deployments.apps "web"`. */
export function baselineRefusal(what: string, obj: KubeObject, rules: AdmissionRules | undefined) {
  const v = baselineViolations(obj, rules);
  if (v.length === 0) return undefined;
  return `${what} is forbidden: violates PodSecurity "baseline": ${v.join('; ')}`;
}
