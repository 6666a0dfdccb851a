// Preemption (k8s DefaultPreemption): a pending pod that fits no node, of a class that may preempt, is
// given room on the node where the fewest pods of lower priority need to go. Per node (only those where
// pods stand in the way: resources, pod count, host ports), every lower-priority pod is taken away; if the
// pod then fits, they are put back one by one, highest priority first, while it still fits; those left
// are the victims. The node with the fewest victims wins (then the lowest highest victim priority, the
// lowest sum, the name). Pods of equal or higher priority are never victims; Terminating ones are already
// going. While a pod's nominated node still has Terminating pods, nothing more is preempted for it.
// Cost: O(nodes x pods on the node) for one preemption.

import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { priorityOf } from '../../agent/objects/priority-classes.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod, PriorityClass } from '../../agent/objects/types.ts';
import { addLoad, emptyLoad, infeasibility } from '../../agent/scheduler/stack.ts';
import type { PodToPlace, SchedNode } from '../../agent/scheduler/types.ts';
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
    const kept = new Set<Stored<Pod>>();
    for (const p of [...candidates].sort((a, b) => prio(b) - prio(a))) {
      kept.add(p);
      if (!fits(kept).ok) kept.delete(p);
    }
    const victims = candidates.filter((p) => !kept.has(p));
    const key = [victims.length, Math.max(...victims.map(prio)), victims.reduce((s, p) => s + prio(p), 0)];
    if (!best || compareKeys(key, best.key) < 0) best = { node: node.name, victims, key };
  }
  return best && { node: best.node, victims: best.victims };
}

const compareKeys = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};
