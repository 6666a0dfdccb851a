// A clean stop (SIGTERM) of the leading head, then a start: the other head leads meanwhile, and the alive
// records of the pods on the other nodes stay intact throughout (a process deletes only what it holds).
import { aliveThroughout } from '../check/alive.ts';
import type { Scenario } from '../run.ts';
import { leaderAwayAndBack, nothingMoved } from './common.ts';

export const stopScenario: Scenario = {
  name: 'leader stopped cleanly (SIGTERM), then started again',
  run: (ctx) => leaderAwayAndBack(ctx, (n) => ctx.faults.stopAgent(n), 15_000),
  check: (h, ctx) => [
    ...nothingMoved(h),
    ...aliveThroughout(
      h,
      h.nodes.filter((n) => n !== ctx.leader),
    ),
  ],
};
