// Seed 003's reschedule policy, as annotations on a Deployment (its metadata, not the pod template's:
// the policy is about the Deployment's replicas, and a change to it must not roll out new pods):
//   nokube.io/reschedule-after-restarts: "N"  a pod whose container has restarted N times on its node is
//                                             replaced on another node (when one fits);
//   nokube.io/reschedule-penalty: "1h"         how long that node is then avoided for this Deployment's
//                                             pods (default RESCHEDULE_PENALTY_DEFAULT, in the README).
// Without the first annotation nothing is rescheduled; the second alone is an error.
import { durationSeconds } from '../text/duration.ts';

export const RESCHEDULE_AFTER_RESTARTS = 'nokube.io/reschedule-after-restarts';
export const RESCHEDULE_PENALTY = 'nokube.io/reschedule-penalty';
/** The documented default penalty (README "Reschedule on repeated failure"): Nomad's reschedule interval. */
export const RESCHEDULE_PENALTY_DEFAULT = '1h';

export interface ReschedulePolicy {
  afterRestarts: number;
  penaltySeconds: number;
}

type Problem = [Array<string | number>, string];

/** What is wrong with the annotations (paths from the manifest's root). */
export function reschedulePolicyProblems(annotations: Record<string, string> | undefined): Problem[] {
  const a = annotations ?? {};
  const at = (k: string) => ['metadata', 'annotations', k];
  const out: Problem[] = [];
  const after = a[RESCHEDULE_AFTER_RESTARTS];
  if (after !== undefined && !/^[1-9]\d{0,5}$/.test(after))
    out.push([at(RESCHEDULE_AFTER_RESTARTS), `"${after}": expected a whole number of restarts, 1 or more`]);
  const penalty = a[RESCHEDULE_PENALTY];
  if (penalty !== undefined) {
    if (after === undefined)
      out.push([
        at(RESCHEDULE_PENALTY),
        `needs ${RESCHEDULE_AFTER_RESTARTS} (nothing is rescheduled without it)`,
      ]);
    if (!durationSeconds(penalty))
      out.push([at(RESCHEDULE_PENALTY), `"${penalty}": expected a duration above 0 such as 30s, 10m, 1h`]);
  }
  return out;
}

/** The policy of a valid object's annotations; undefined when it has none. */
export function reschedulePolicy(
  annotations: Record<string, string> | undefined,
): ReschedulePolicy | undefined {
  const after = annotations?.[RESCHEDULE_AFTER_RESTARTS];
  if (after === undefined || reschedulePolicyProblems(annotations).length > 0) return undefined;
  const penalty = annotations?.[RESCHEDULE_PENALTY] ?? RESCHEDULE_PENALTY_DEFAULT;
  return { afterRestarts: Number(after), penaltySeconds: durationSeconds(penalty)! };
}
