// Before a fault: the cluster must be correct (converged, one agreed leader, alive records complete) and
// its Deployments spread over the nodes, so each scenario is judged on its own and its fault hits pods.
// An earlier scenario may have left it otherwise (its own test failed for that): then it is repaired —
// every agent restarted, bare pods stuck out of Running re-created, the workload applied again — and
// re-spread by deleting a pod of a crowded node (the Deployment places its replacement on the emptiest).
import { stopChild } from '../child.ts';
import { eventually } from '../cluster.ts';
import { endState } from './check/end-state.ts';
import { summary } from './check/violation.ts';
import type { FaultCluster } from './cluster.ts';
import { type History, type OkEtcd, okEtcd, ownedBy } from './history.ts';
import type { Workload } from './workload.ts';

const SETTLE_MS = 20_000;

export type Poll = (ok: (h: History) => boolean, timeoutMs: number) => Promise<boolean>;

/** Returns what was wrong and done, if anything (for the scenario's report). */
export async function settleBaseline(
  fc: FaultCluster,
  workload: Workload,
  snapshot: () => History,
  poll: Poll,
): Promise<string | undefined> {
  // Correct on samples taken after `since` (after the last thing done to the cluster).
  const correct = (since: number) => (h: History) => endState(h, since).length === 0;
  const done: string[] = [];
  if (!(await poll(correct(0), SETTLE_MS))) {
    const h = snapshot();
    done.push(
      `not correct, repaired (agents restarted, workload applied again):\n${summary(h, endState(h, h.start))}`,
    );
    await repair(fc, workload, okEtcd(h).at(-1));
    if (!(await poll(correct(performance.now()), SETTLE_MS))) {
      const h = snapshot();
      throw new Error(`the cluster did not converge before the fault:\n${summary(h, endState(h, h.start))}`);
    }
  }
  for (let round = 0; round < fc.nodes.length; round++) {
    const moved = await spreadOne(fc, okEtcd(snapshot()).at(-1)!);
    if (!moved) break;
    done.push(`spread: ${moved}`);
    if (!(await poll(correct(performance.now()), SETTLE_MS)))
      throw new Error(`the cluster did not converge after ${moved}`);
  }
  return done.length ? done.join('\n') : undefined;
}

/** Delete one pod of a Deployment from its most crowded node while another node has none of its pods. */
async function spreadOne(fc: FaultCluster, s: OkEtcd): Promise<string | undefined> {
  for (const d of s.deployments) {
    const pods = s.pods.filter((p) => ownedBy(p, d));
    const on = (n: string) => pods.filter((p) => p.node === n);
    const crowded = [...fc.nodes].sort((a, b) => on(b).length - on(a).length)[0]!;
    if (!fc.nodes.some((n) => on(n).length === 0) || on(crowded).length < 2) continue;
    const victim = on(crowded)[0]!;
    await fc.cli(['delete', 'pod', victim.name, '-n', victim.namespace, '--ignore-not-found']);
    return `deleted pod ${victim.name} of ${crowded}`;
  }
  return undefined;
}

/** Stop every agent (SIGTERM, SIGKILL after 10 s; all at once: none acts while the others stop) and start
 * them again; delete the bare pods that are not Running (no controller replaces them) and apply the
 * workload again. */
async function repair(fc: FaultCluster, workload: Workload, last: OkEtcd | undefined): Promise<void> {
  await Promise.all(fc.nodes.map((n) => stopChild(fc.c.agents.get(n)!.process, 10_000)));
  for (const n of fc.nodes) await fc.c.startAgent(n);
  // The CLI needs a head that answers: retried until the restarted heads do.
  const cli = (args: string[], input?: string) =>
    eventually(() => fc.cli(args, input).then(() => true), 30_000, `nokube ${args.join(' ')}`);
  for (const p of last?.pods ?? [])
    if (!p.owner && p.phase !== 'Running')
      await cli(['delete', 'pod', p.name, '-n', p.namespace, '--ignore-not-found']);
  await cli(['apply', '-f', '-'], workload.yaml);
}
