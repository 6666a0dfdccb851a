// A container's security context on Docker, as the kubelet applies k8s' SecurityContext: the pod's
// `securityContext` gives defaults (runAsUser, runAsGroup, runAsNonRoot, seccompProfile), the container's
// own fields win. runAsUser/runAsGroup -> the process's user and group; fsGroup and supplementalGroups ->
// its extra groups; readOnlyRootFilesystem -> a read-only root; allowPrivilegeEscalation: false ->
// no-new-privileges; capabilities -> CapAdd/CapDrop; privileged -> a privileged container; seccompProfile
// Unconfined -> no seccomp filter (RuntimeDefault is Docker's default). runAsNonRoot is checked against
// the user the container would run as (the image's when none is set), before the container is made.
import type Docker from 'dockerode';
import type { Container, Pod, PodSecurityContext, SecurityContext } from '../objects/types.ts';

export type EffectiveSecurity = SecurityContext & Pick<PodSecurityContext, 'fsGroup' | 'supplementalGroups'>;

/** The container's context with the pod's defaults; undefined when neither sets anything. */
export function effectiveSecurity(pod: Pod, c: Container): EffectiveSecurity | undefined {
  const podSc = pod.spec.securityContext ?? {};
  const own = c.securityContext ?? {};
  const out: EffectiveSecurity = {};
  for (const k of ['runAsUser', 'runAsGroup', 'runAsNonRoot', 'seccompProfile'] as const) {
    const v = own[k] ?? podSc[k];
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  for (const k of [
    'readOnlyRootFilesystem',
    'allowPrivilegeEscalation',
    'privileged',
    'capabilities',
  ] as const) {
    const v = own[k];
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  if (podSc.fsGroup !== undefined) out.fsGroup = podSc.fsGroup;
  if (podSc.supplementalGroups?.length) out.supplementalGroups = podSc.supplementalGroups;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Docker's `User` for the context: "uid", "uid:gid", or undefined (the image's). A group alone keeps
 * the image's user by name only when it has one; k8s runs it as uid 0 then, and so do we. */
export function dockerUser(sc: EffectiveSecurity | undefined): string | undefined {
  if (sc?.runAsUser === undefined && sc?.runAsGroup === undefined) return undefined;
  const uid = sc.runAsUser ?? 0;
  return sc.runAsGroup === undefined ? String(uid) : `${uid}:${sc.runAsGroup}`;
}

/** The HostConfig fields of the context (none when it sets nothing they hold). */
export function securityHostConfig(sc: EffectiveSecurity | undefined): Docker.HostConfig {
  if (!sc) return {};
  const out: Docker.HostConfig = {};
  if (sc.readOnlyRootFilesystem) out.ReadonlyRootfs = true;
  if (sc.privileged) out.Privileged = true;
  if (sc.capabilities?.add?.length) out.CapAdd = sc.capabilities.add;
  if (sc.capabilities?.drop?.length) out.CapDrop = sc.capabilities.drop;
  const opts: string[] = [];
  if (sc.allowPrivilegeEscalation === false) opts.push('no-new-privileges');
  if (sc.seccompProfile?.type === 'Unconfined') opts.push('seccomp=unconfined');
  if (opts.length > 0) out.SecurityOpt = opts;
  const groups = [...(sc.fsGroup === undefined ? [] : [sc.fsGroup]), ...(sc.supplementalGroups ?? [])];
  if (groups.length > 0) out.GroupAdd = [...new Set(groups)].map(String);
  return out;
}

/**
 * The kubelet's runAsNonRoot check (CreateContainerConfigError when it fails): the user the container
 * would run as, set here or the image's (`imageUser`, Docker's Config.User: "", "name", "uid[:gid]"),
 * must be known and not 0.
 */
export function nonRootProblem(sc: EffectiveSecurity | undefined, imageUser: string): string | undefined {
  if (!sc?.runAsNonRoot) return undefined;
  if (sc.runAsUser !== undefined)
    return sc.runAsUser === 0 ? "container's runAsUser breaks non-root policy (runAsUser 0)" : undefined;
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || user === 'root' || user === '0')
    return 'container has runAsNonRoot and image will run as root';
  if (!/^\d+$/.test(user))
    return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root`;
  return undefined;
}
