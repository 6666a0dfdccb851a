// `rollout status|restart daemonset/<name>`: kubectl's DaemonSetStatusViewer, line for line, and which
// kind a target names. A DaemonSet has no revisions nokube keeps (no ControllerRevisions): no history
// or undo for it.
import type { DaemonSet } from '../../../agent/objects/types.ts';
import { resolveKind, typeAndName } from '../objects-api.ts';
import type { RolloutState } from './status.ts';

export const namesDaemonSet = (first: string, second: string | undefined): boolean =>
  resolveKind(typeAndName(first, second)[0]) === 'DaemonSet';

export function daemonSetRolloutState(ds: DaemonSet): RolloutState {
  const name = ds.metadata.name;
  const st = ds.status;
  if ((ds.spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate')
    return { state: 'failed', message: 'rollout status is only available for RollingUpdate strategy type' };
  if (ds.metadata.generation > (st?.observedGeneration ?? 0))
    return { state: 'waiting', message: 'Waiting for daemon set spec update to be observed...' };
  const desired = st?.desiredNumberScheduled ?? 0;
  const updated = st?.updatedNumberScheduled ?? 0;
  const available = st?.numberAvailable ?? 0;
  const wait = (m: string) =>
    ({ state: 'waiting', message: `Waiting for daemon set "${name}" rollout to finish: ${m}` }) as const;
  if (updated < desired) return wait(`${updated} out of ${desired} new pods have been updated...`);
  if (available < desired) return wait(`${available} of ${desired} updated pods are available...`);
  return { state: 'done', message: `daemon set "${name}" successfully rolled out` };
}
