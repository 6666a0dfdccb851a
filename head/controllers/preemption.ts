// Preemption (k8s DefaultPreemption): a pending pod that fits no node, of a class that may preempt, is
// given room on the node where the fewest pods of lower priority need to go. Per node (only those where
// pods stand in the way: resources, pod count, host ports), every lower-priority pod is taken away; if the
// pod then fits, they are put back one by one while it still fits — first those whose eviction would
// violate a PodDisruptionBudget (its disruptionsAllowed counted down over the node's candidates, highest
// priority first, as k8s does), then the others, each group highest priority first; those left are the
// victims. The node whose victims violate the fewest budgets wins, then the one with the fewest victims
// (then the lowest highest victim priority, the lowest sum, the name). Budgets steer, they do not forbid
// (k8s alike: a pod that fits only by violating one still gets its room). Pods of equal or higher
// priority are never victims; Terminating ones are already going. While a pod's nominated node still has
// Terminating pods, nothing more is preempted for it.
// Cost: O(nodes x pods on the node) for one preemption.

import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { priorityOf } from '../../agent/objects/priority-classes.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod, PodDisruptionBudget, PriorityClass } from '../../agent/objects/types.ts';
import { addLoad, emptyLoad, infeasibility } from '../../agent/scheduler/stack.ts';
import type { PodToPlace, SchedNode } from '../../agent/scheduler/types.ts';
import { coveredPods } from './disruption.ts';
import { isTerminal } from './world.ts';

/** The reasons that taking pods away can cure. */
const CURABLE = new Set([
  'Too many pods',
  'Insufficient cpu',
  'Insufficient memory',
  "node(s) didn't have free ports for the requested pod ports",
]);

export interface Preemption {
  node: string;
  victims: Array<Stored<Pod>>;
}

export function planPreemption(
  pod: PodToPlace,
  priority: number,
  nodes: readonly SchedNode[],
  pods: ReadonlyArray<Stored<Pod>>,
  classes: readonly PriorityClass[],
  podNetwork: boolean | undefined,
  budgets: readonly PodDisruptionBudget[] = [],
): Preemption | undefined {
  const byNode = new Map<string, Array<Stored<Pod>>>();
  for (const p of pods) {
    const n = p.object.spec.nodeName;
    if (n === undefined || isTerminal(p.object)) continue;
    const list = byNode.get(n) ?? [];
    list.push(p);
    byNode.set(n, list);
  }
  const placed = (p: Pod) => ({ spec: p.spec, namespace: p.metadata.namespace, labels: p.metadata.labels });
  let best: (Preemption & { key: number[] }) | undefined;
  for (const node of nodes) {
    const here = byNode.get(node.name) ?? [];
    const prio = (p: Stored<Pod>) => priorityOf(p.object.spec, classes);
    const candidates = here.filter((p) => !isTerminating(p.object) && prio(p) < priority);
    if (candidates.length === 0) continue;
    const fits = (kept: ReadonlySet<Stored<Pod>>) => {
      const load = emptyLoad(podNetwork);
      for (const p of here)
        if (!candidates.includes(p) || kept.has(p)) addLoad(load, node.name, placed(p.object));
      const reason = infeasibility(node, pod, load);
      return { ok: reason === null, reason };
    };
    const first = fits(new Set(candidates));
    if (first.ok || !CURABLE.has(first.reason!)) continue; // it fits already (not for resources) or cannot
    if (!fits(new Set()).ok) continue;
    const byPriority = [...candidates].sort((a, b) => prio(b) - prio(a));
    const violating = budgetViolators(byPriority, budgets);
    const kept = new Set<Stored<Pod>>();
    for (const p of [
      ...byPriority.filter((q) => violating.has(q)),
      ...byPriority.filter((q) => !violating.has(q)),
    ]) {
      kept.add(p);
      if (!fits(kept).ok) kept.delete(p);
    }
    const victims = candidates.filter((p) => !kept.has(p));
    const key = [
      victims.filter((p) => violating.has(p)).length,
      victims.length,
      Math.max(...victims.map(prio)),
      victims.reduce((s, p) => s + prio(p), 0),
    ];
    if (!best || compareKeys(key, best.key) < 0) best = { node: node.name, victims, key };
  }
  return best && { node: best.node, victims: best.victims };
}

/** The pods (in the order given) whose eviction would violate a budget that covers them: each budget's
 * disruptionsAllowed is spent by the pods before them (k8s' filterPodsWithPDBViolation); a pod a budget
 * already counts as disrupted spends nothing. */
function budgetViolators(
  pods: ReadonlyArray<Stored<Pod>>,
  budgets: readonly PodDisruptionBudget[],
): Set<Stored<Pod>> {
  const left = new Map(budgets.map((b) => [b, b.status?.disruptionsAllowed ?? 0]));
  const out = new Set<Stored<Pod>>();
  for (const p of pods)
    for (const b of budgets) {
      if (coveredPods(b, [p.object]).length === 0) continue;
      if (b.status?.disruptedPods?.[p.object.metadata.name] !== undefined) continue;
      const n = left.get(b)! - 1;
      left.set(b, n);
      if (n < 0) out.add(p);
    }
  return out;
}

const compareKeys = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};
