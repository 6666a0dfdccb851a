// Network partitions of one host (its link cut: packets dropped, not refused), then healed; and a host
// rebooted while cut off. A cut-off node keeps running its pods (edge autonomy) and, within the default
// toleration, nothing moves; after a reboot its agent runs its pods again from its local cache, and when
// the link returns nothing is duplicated or lost.
import { aliveAgainAfter } from '../check/alive.ts';
import { notUnknownAfter } from '../check/pods.ts';
import type { Violation } from '../check/violation.ts';
import { type History, noteAt, okDocker } from '../history.ts';
import type { Scenario, ScenarioContext } from '../run.ts';
import { SOLO, WORKER } from '../workload.ts';
import { nothingMoved } from './common.ts';
import { UNKNOWN_BOUND_MS } from './freeze.ts';

const CUT_MS = 20_000;
const RUN_AGAIN_MS = 40_000;

async function cutFor(ctx: ScenarioContext, node: string): Promise<void> {
  ctx.faults.cutOff(node);
  await ctx.lasting(CUT_MS);
  ctx.faults.heal(node);
}

/** Every pod of the node (at the baseline) has a running container there in the Docker sample. */
function runsAgain(
  h: History,
  ctx: ScenarioContext,
  node: string,
  after: number,
  before = Infinity,
): boolean {
  const pods = ctx.baseline.pods.filter((p) => p.node === node);
  return okDocker(h).some(
    (s) =>
      s.t > after &&
      s.t < before &&
      pods.every((p) =>
        p.containers.every((name) =>
          s.containers.some(
            (c) => c.running && c.podUid === p.uid && c.container === name && c.node === node,
          ),
        ),
      ),
  );
}

function ranAgainWhileCut(h: History, ctx: ScenarioContext): Violation[] {
  const started = noteAt(h, 'start', WORKER)!;
  const healed = noteAt(h, 'heal', WORKER)!;
  return runsAgain(h, ctx, WORKER, started, healed)
    ? []
    : [
        {
          check: 'local-cache',
          t: healed,
          what: `${WORKER}'s pods did not run again from its cache while it was cut off`,
        },
      ];
}

export const partitionScenarios: Scenario[] = [
  {
    name: 'worker f3 cut off 20 s, then healed',
    run: (ctx) => cutFor(ctx, WORKER),
    check: (h) => [
      ...nothingMoved(h),
      ...notUnknownAfter(h, SOLO, noteAt(h, 'heal', WORKER)!, UNKNOWN_BOUND_MS),
      ...aliveAgainAfter(h, WORKER, noteAt(h, 'heal', WORKER)!, UNKNOWN_BOUND_MS),
    ],
  },
  {
    // f2 leads when it is cut off: its controllers stop, its pods (below their paths) run on.
    name: 'head f2 cut off 20 s, then healed',
    run: (ctx) => cutFor(ctx, 'f2'),
    check: (h) => [
      ...nothingMoved(h),
      ...aliveAgainAfter(h, 'f2', noteAt(h, 'heal', 'f2')!, UNKNOWN_BOUND_MS),
    ],
  },
  {
    name: 'worker f3 rebooted while cut off, then healed',
    async run(ctx) {
      await ctx.faults.rebootCutOff(WORKER);
      const started = performance.now();
      await ctx.until((h) => runsAgain(h, ctx, WORKER, started), RUN_AGAIN_MS);
      ctx.faults.heal(WORKER);
    },
    // The reboot stopped f3's containers: they run again (restarted or new), nothing else may move.
    check: (h, ctx) => [
      ...nothingMoved(h, { containers: (c) => c.node === WORKER }),
      ...ranAgainWhileCut(h, ctx),
    ],
  },
];
