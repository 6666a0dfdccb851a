// Running one fault scenario on a fault cluster: wait for a converged baseline, record, inject and end
// the fault, wait (polling the recorded history) until the cluster is correct again and stays so for
// HOLD_MS, then judge the whole history with the common checkers and the scenario's own.

import { settleBaseline } from './baseline.ts';
import { tooManyCopies } from './check/copies.ts';
import { endState } from './check/end-state.ts';
import { headsKeepEtcd } from './check/heads.ts';
import { oneLeader } from './check/leader.ts';
import { lostObjects } from './check/objects.ts';
import { summary, type Violation } from './check/violation.ts';
import type { FaultCluster } from './cluster.ts';
import { type History, type OkEtcd, okEtcd, sliceFrom } from './history.ts';
import { Faults } from './inject.ts';
import { timeline } from './timeline.ts';
import type { Workload } from './workload.ts';

/** How long the cluster must stay correct after a fault before the history is judged: a wrong verdict
 * of a process that was paused comes within a few heartbeats of its resumption, and must be recorded. */
export const HOLD_MS = 3000;
const CONVERGE_MS = 30_000;
const POLL_MS = 250;

export interface ScenarioContext {
  fc: FaultCluster;
  faults: Faults;
  /** The leader every head agreed on when the scenario began. */
  leader: string;
  /** The last etcd sample before the fault. */
  baseline: OkEtcd;
  /** Poll the history until `ok` holds (true) or `timeoutMs` passes (false; the checkers judge). */
  until(ok: (h: History) => boolean, timeoutMs: number): Promise<boolean>;
  /** A fault's length: it lasts that long whatever happens meanwhile (the recorder watches). */
  lasting(ms: number): Promise<void>;
}

export interface Scenario {
  name: string;
  /** Objects (below objects/) that must survive, besides the workload's. */
  objects?: string[];
  /** Before the baseline (e.g. apply an extra Deployment), and after the verdict (remove it). */
  prepare?(fc: FaultCluster): Promise<void>;
  cleanup?(fc: FaultCluster): Promise<void>;
  /** Inject the fault and end it; returns once the fault is over (healed, resumed, restarted). */
  run(ctx: ScenarioContext): Promise<void>;
  /** The scenario's own invariants (the common ones are checked for every scenario). */
  check(h: History, ctx: ScenarioContext): Violation[];
}

export interface Outcome {
  name: string;
  history: History;
  violations: Violation[];
  faultAt: number;
  endedAt: number;
  /** When the cluster was correct again (and stayed so for HOLD_MS); absent if never within bound. */
  convergedAt?: number;
  /** What was wrong before the fault, and what was done about it (test/harness/faults/baseline.ts). */
  repaired?: string;
  /** The violations and the history's changes, for a failure message. */
  report(): string;
}

/** `workload`: what the cluster runs (applied already; applied again when a repair needs it). */
export async function runScenario(fc: FaultCluster, sc: Scenario, workload: Workload): Promise<Outcome> {
  await sc.prepare?.(fc);
  const rec = fc.record();
  const faults = new Faults(fc, rec);
  const poll = async (ok: (h: History) => boolean, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (ok(rec.snapshot())) return true;
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  let faultAt = 0;
  let endedAt = 0;
  let baselineAt = 0;
  let convergedAt: number | undefined;
  let ctx: ScenarioContext;
  let repaired: string | undefined;
  let all: History;
  try {
    repaired = await settleBaseline(fc, workload, () => rec.snapshot(), poll);
    baselineAt = performance.now();
    // One fresh sample of each stream before the fault: the baseline the checkers compare with.
    const fresh = (list: Array<{ t: number }>) => (list.at(-1)?.t ?? 0) > baselineAt;
    await poll((h) => fresh(h.etcd) && fresh(h.docker) && fresh(h.leaders), 5000);
    const base = rec.snapshot();
    const baseline = okEtcd(base).at(-1)!;
    const leader = Object.values(base.leaders.at(-1)!.heads)[0]!.answer!;
    ctx = {
      fc,
      faults,
      leader,
      baseline,
      until: poll,
      lasting: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
    faultAt = performance.now();
    try {
      await sc.run(ctx);
    } finally {
      await faults.restoreAll();
    }
    endedAt = performance.now();
    let since: number | undefined;
    await poll((h) => {
      if (endState(h, endedAt).length > 0) since = undefined;
      else since ??= performance.now();
      return since !== undefined && performance.now() - since >= HOLD_MS;
    }, CONVERGE_MS + HOLD_MS);
    convergedAt = since;
  } finally {
    all = await rec.stop();
    await sc.cleanup?.(fc);
  }
  // Judged from the baseline on (what came before belongs to the previous scenario's settling).
  const history = sliceFrom(all, baselineAt);
  const violations = [
    ...lostObjects(history, [...workload.objects, ...(sc.objects ?? [])]),
    ...oneLeader(history),
    ...headsKeepEtcd(history),
    ...tooManyCopies(history),
    ...(convergedAt === undefined ? endState(history, endedAt) : []),
    ...sc.check(history, ctx),
  ];
  return {
    name: sc.name,
    history,
    violations,
    faultAt,
    endedAt,
    ...(convergedAt !== undefined ? { convergedAt } : {}),
    ...(repaired ? { repaired } : {}),
    report: () =>
      [
        `${sc.name}: ${violations.length} violation(s)`,
        ...(repaired ? [`(before the fault) ${repaired}`] : []),
        summary(history, violations),
        '--- history ---',
        timeline(history),
      ].join('\n'),
  };
}
