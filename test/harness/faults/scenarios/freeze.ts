// SIGSTOP / SIGCONT: a hung process or a paused VM. Frozen 15 s — longer than the 10 s etcd lease, so the
// frozen agent's node record and alive records expire — and nothing may move: pods ride out an
// unreachable node for the default toleration (300 s, as Kubernetes).

import { leaderUnchanged } from '../check/leader.ts';
import { notUnknownAfter } from '../check/pods.ts';
import { noteAt } from '../history.ts';
import { ETCD } from '../inject.ts';
import type { Scenario, ScenarioContext } from '../run.ts';
import { SOLO, WORKER } from '../workload.ts';
import { nothingMoved } from './common.ts';

const FREEZE_MS = 15_000;
/** A returning node's pods leave Unknown at once (issue 13, item 3): a bound of a few seconds. */
export const UNKNOWN_BOUND_MS = 3000;

async function frozen(ctx: ScenarioContext, target: string, ms: number): Promise<void> {
  await ctx.faults.freeze(target);
  await ctx.lasting(ms);
  ctx.faults.thaw(target);
}

const otherHead = (ctx: ScenarioContext) => ctx.fc.heads.find((n) => n !== ctx.leader)!;

export const freezeScenarios: Scenario[] = [
  {
    name: 'leader head frozen 15 s, then resumed',
    run: (ctx) => frozen(ctx, ctx.leader, FREEZE_MS),
    check: (h) => nothingMoved(h),
  },
  {
    name: 'non-leader head frozen 15 s, then resumed',
    run: (ctx) => frozen(ctx, otherHead(ctx), FREEZE_MS),
    check: (h, ctx) => [...nothingMoved(h), ...leaderUnchanged(h, ctx.leader)],
  },
  {
    name: 'worker f3 frozen 15 s, then resumed',
    run: (ctx) => frozen(ctx, WORKER, FREEZE_MS),
    check: (h) => [
      ...nothingMoved(h),
      ...notUnknownAfter(h, SOLO, noteAt(h, 'thaw', WORKER)!, UNKNOWN_BOUND_MS),
    ],
  },
  {
    name: 'etcd frozen 15 s, then resumed',
    run: (ctx) => frozen(ctx, ETCD, FREEZE_MS),
    check: (h) => nothingMoved(h),
  },
];
