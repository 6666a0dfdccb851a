// A clean stop (SIGTERM) of the leading head for longer than the node lease's TTL, then a start: the
// other head leads meanwhile; the alive records of the pods on the other nodes stay intact throughout (a
// process deletes only what it holds); the stopped node's record lives on under its stop grace
// (NODE_STOP_GRACE_SECONDS), so its pods, whose containers run on, are never marked NodeLost.
import { NODE_LEASE_TTL_SECONDS } from '../../../../agent/store/node-registry.ts';
import { aliveThroughout } from '../check/alive.ts';
import { recordThroughout } from '../check/nodes.ts';
import { neverLost } from '../check/pods.ts';
import type { Scenario } from '../run.ts';
import { nothingMoved, otherLeads } from './common.ts';

/** How long the leader stays stopped: its last keepalive came before the signal, so by then the lease it
 * ran under has expired (an upgrade on a slow host). */
const STOPPED_MS = (NODE_LEASE_TTL_SECONDS + 3) * 1000;

export const stopScenario: Scenario = {
  name: `leader stopped cleanly (SIGTERM) for ${STOPPED_MS / 1000} s, longer than its lease, then started again`,
  async run(ctx) {
    await ctx.faults.stopAgent(ctx.leader);
    const stopped = performance.now();
    await ctx.until((h) => otherLeads(h, ctx.leader), STOPPED_MS);
    await ctx.lasting(Math.max(0, STOPPED_MS - (performance.now() - stopped)));
    await ctx.faults.startAgent(ctx.leader);
  },
  check: (h, ctx) => [
    ...nothingMoved(h),
    ...aliveThroughout(
      h,
      h.nodes.filter((n) => n !== ctx.leader),
    ),
    ...recordThroughout(h, ctx.leader),
    ...neverLost(h, ctx.leader),
  ],
};
