// SIGKILL: a crash. An agent's containers stay (as after a real crash) and are adopted by the restarted
// agent, same ids; a killed leader is replaced by the other head within LEADER_BOUND_MS; etcd killed and
// restarted on its data dir loses nothing.
import { NODE_LEASE_TTL_SECONDS } from '../../../../agent/store/node-registry.ts';
import { leaderWithin } from '../check/leader.ts';
import { noteAt } from '../history.ts';
import type { Scenario } from '../run.ts';
import { WORKER } from '../workload.ts';
import { leaderAwayAndBack, nothingMoved } from './common.ts';

/** Failover after a leader's crash. What this proves is the mechanism: the head that hears the crash drops
 * the dead leader's campaign key, so the next leader does not wait out its lease (NODE_LEASE_TTL_SECONDS);
 * half the lease tells the two apart on a loaded machine too. How fast it is, bench/faults measures. */
export const LEADER_BOUND_MS = (NODE_LEASE_TTL_SECONDS * 1000) / 2;
/** How long a killed worker stays down: long enough for a wrong verdict to act on it. */
const WORKER_DOWN_MS = 3000;

export const killScenarios: Scenario[] = [
  {
    name: 'leader agent SIGKILLed, then started again',
    run: (ctx) => leaderAwayAndBack(ctx, (n) => ctx.faults.killAgent(n), 10_000),
    check: (h, ctx) => [
      ...nothingMoved(h),
      ...leaderWithin(h, ctx.leader, noteAt(h, 'kill', ctx.leader)!, LEADER_BOUND_MS),
    ],
  },
  {
    name: 'worker f3 agent SIGKILLed, then started again',
    async run(ctx) {
      await ctx.faults.killAgent(WORKER);
      await ctx.lasting(WORKER_DOWN_MS);
      await ctx.faults.startAgent(WORKER);
    },
    check: (h) => nothingMoved(h),
  },
  {
    name: 'etcd SIGKILLed, then restarted on its data dir',
    async run(ctx) {
      await ctx.faults.killEtcd();
      await ctx.faults.startEtcd();
    },
    check: (h) => nothingMoved(h),
  },
];
