// Invariants most scenarios share.
import { type ContainerAllowed, containersStable } from '../check/containers.ts';
import { type PodAllowed, podsCreated, podsDeleted } from '../check/pods.ts';
import type { Violation } from '../check/violation.ts';
import { electionHolder, type History, okEtcd } from '../history.ts';
import type { ScenarioContext } from '../run.ts';

/** Nothing moved: no pod deleted or created, no running container restarted or removed (save those allowed). */
export function nothingMoved(
  h: History,
  allow: { deleted?: PodAllowed; created?: PodAllowed; containers?: ContainerAllowed } = {},
): Violation[] {
  return [
    ...podsDeleted(h, allow.deleted),
    ...podsCreated(h, allow.created),
    ...containersStable(h, allow.containers),
  ];
}

/** Another head than `gone` holds the election (etcd's word: the heads' answers are judged apart). */
export const otherLeads = (h: History, gone: string) => {
  const last = okEtcd(h).at(-1);
  const holder = last && electionHolder(last);
  return holder !== undefined && holder !== gone;
};

/** The leader goes away (`away`: killed, stopped), the other head takes over (or `timeoutMs` passes: the
 * checkers tell), and the leader's agent is started again. */
export async function leaderAwayAndBack(
  ctx: ScenarioContext,
  away: (node: string) => Promise<void>,
  timeoutMs: number,
): Promise<void> {
  await away(ctx.leader);
  await ctx.until((h) => otherLeads(h, ctx.leader), timeoutMs);
  await ctx.faults.startAgent(ctx.leader);
}
