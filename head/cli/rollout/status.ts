// `rollout status`: kubectl's DeploymentStatusViewer, line for line. A rollout whose Progressing
// condition says ProgressDeadlineExceeded has failed; so has one whose canaries failed (CanaryFailed)
// and one the controller rolled back (RolledBack: the update asked for did not happen). Canaries
// waiting for their promotion say so.
import type { Deployment } from '../../../agent/objects/types.ts';

export type RolloutState =
  | { state: 'waiting'; message: string }
  | { state: 'done'; message: string }
  | { state: 'failed'; message: string };

export function rolloutState(d: Deployment): RolloutState {
  const name = d.metadata.name;
  const st = d.status;
  if (d.metadata.generation > (st?.observedGeneration ?? 0))
    return { state: 'waiting', message: 'Waiting for deployment spec update to be observed...' };
  // Written with the rollback itself, which the controller observes as it writes it; a template applied
  // since is a newer generation, waited for above.
  const rolledBack = st?.conditions?.find((c) => c.type === 'RolledBack' && c.status === 'True');
  if (rolledBack)
    return { state: 'failed', message: `deployment "${name}" ${lowerFirst(rolledBack.message)}` };
  const progressing = st?.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return { state: 'failed', message: `deployment "${name}" exceeded its progress deadline` };
  if (progressing?.reason === 'CanaryFailed')
    return { state: 'failed', message: `deployment "${name}" canaries failed: ${progressing.message ?? ''}` };
  const want = d.spec.replicas ?? 1;
  const updated = st?.updatedReplicas ?? 0;
  const replicas = st?.replicas ?? 0;
  const available = st?.availableReplicas ?? 0;
  const wait = (m: string) =>
    ({ state: 'waiting', message: `Waiting for deployment "${name}" rollout to finish: ${m}` }) as const;
  if (progressing?.reason === 'CanaryWaiting') return wait(progressing.message ?? '');
  if (updated < want) return wait(`${updated} out of ${want} new replicas have been updated...`);
  if (replicas > updated) return wait(`${replicas - updated} old replicas are pending termination...`);
  if (available < updated) return wait(`${available} of ${updated} updated replicas are available...`);
  return { state: 'done', message: `deployment "${name}" successfully rolled out` };
}

const lowerFirst = (m: string | undefined) => (m ? m[0]!.toLowerCase() + m.slice(1) : 'rolled back');
