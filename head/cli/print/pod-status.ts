// A pod's STATUS and READY columns, computed as kubectl does: the pod's reason or phase, overridden by
// the reason of a waiting or terminated container; while it initializes, its first init container not
// done (Init:1/2, Init:CrashLoopBackOff, Init:Error); Terminating while being deleted.
import type { Pod } from '../../../agent/objects/types.ts';

export function podStatusText(pod: Pod): string {
  const st = pod.status;
  if (pod.metadata.deletionTimestamp) return st?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  if (!st) return 'Pending';
  // A pod whose node is gone (reason NodeLost): kubectl shows Unknown.
  if (st.phase === 'Unknown') return 'Unknown';
  let reason: string = st.reason ?? st.phase;
  // Init containers first: the first one not succeeded says where initialization stands.
  const inits = st.initContainerStatuses ?? [];
  const total = pod.spec.initContainers?.length ?? inits.length;
  for (const [i, cs] of inits.entries()) {
    const s = cs.state;
    if (s.terminated?.exitCode === 0) continue;
    if (s.terminated) return `Init:${s.terminated.reason || `ExitCode:${s.terminated.exitCode}`}`;
    if (s.waiting?.reason && s.waiting.reason !== 'PodInitializing') return `Init:${s.waiting.reason}`;
    return `Init:${i}/${total}`;
  }
  let running = false;
  for (const cs of [...(st.containerStatuses ?? [])].reverse()) {
    const s = cs.state;
    if (s.waiting?.reason) reason = s.waiting.reason;
    else if (s.terminated) reason = s.terminated.reason || `ExitCode:${s.terminated.exitCode}`;
    else if (s.running && cs.ready) running = true;
  }
  if (reason === 'Completed' && running)
    reason = st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  return reason;
}

export function podReady(pod: Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  return `${statuses.filter((c) => c.ready).length}/${pod.spec.containers.length}`;
}

export function podRestarts(pod: Pod): number {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return all.reduce((n, c) => n + c.restartCount, 0);
}
