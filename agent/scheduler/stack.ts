// The placement pipeline (Nomad style): feasibility checkers drop the nodes that cannot run the pod,
// then rankers order the rest; the first node wins. Cheapest and most selective rules first:
//
//   feasibility (each O(1) per node, first failure is the node's reason)
//     1. runtime.ts        a container engine answered on the node
//     2. node-selector.ts  spec.nodeSelector labels, O(labels)
//     3. node-affinity.ts  required nodeAffinity terms, O(terms x expressions)
//     4. host-ports.ts     the pod's host ports free on the node, O(pod's ports); last, as it is the
//                          one rule that depends on the pods already there
//   ranking (lexicographic; one map lookup each)
//     1. penalty.ts        not penalised for the pod's controller (reschedule policy)
//     2. spread.ts         fewest pods of the same controller (replicas spread over nodes)
//     3. least-pods.ts     fewest pods in total
//     4. by-name.ts        node name (deterministic)

import { compareText } from '../text/compare.ts';
import { byName } from './by-name.ts';
import { HostPortSet, hasFreePorts, hostPortsOf } from './host-ports.ts';
import { leastPods } from './least-pods.ts';
import { describeNodeAffinity, matchesNodeAffinity } from './node-affinity.ts';
import { describeNodeSelector, matchesNodeSelector } from './node-selector.ts';
import { avoidPenalised } from './penalty.ts';
import { hasContainerRuntime } from './runtime.ts';
import { spreadOwner } from './spread.ts';
import type { Checker, Load, PodToPlace, Ranker, SchedNode } from './types.ts';

/** The rules about the node alone (a DaemonSet's eligibility: k8s' DaemonSet controller does not look
 * at ports either), then those about the pods already there. */
export const NODE_CHECKERS: readonly Checker[] = [
  hasContainerRuntime,
  matchesNodeSelector,
  matchesNodeAffinity,
];
export const CHECKERS: readonly Checker[] = [...NODE_CHECKERS, hasFreePorts];
export const RANKERS: readonly Ranker[] = [avoidPenalised, spreadOwner, leastPods, byName];

export type Placement = { node: string; message?: undefined } | { node: null; message: string };

/** The nodes that can run the pod (no ranking): a DaemonSet's eligible nodes. */
export function feasibleNodes<N extends SchedNode>(pod: PodToPlace, nodes: readonly N[]): N[] {
  const load = emptyLoad();
  return nodes.filter((n) => NODE_CHECKERS.every((check) => check(n, pod, load) === null));
}

/** Pick a node for the pod, or say why none fits (kubectl's wording). */
export function schedule(pod: PodToPlace, nodes: readonly SchedNode[], load: Load): Placement {
  const reasons = new Map<string, number>();
  const fit: SchedNode[] = [];
  for (const n of nodes) {
    let reason: string | null = null;
    for (const check of CHECKERS) {
      reason = check(n, pod, load);
      if (reason) break;
    }
    if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    else fit.push(n);
  }
  if (fit.length === 0) return { node: null, message: unschedulableMessage(pod, nodes.length, reasons) };
  const scored = fit.map((n) => ({ n, score: RANKERS.map((r) => r(n, pod, load)) }));
  scored.sort((a, b) => compareScores(a.score, b.score));
  return { node: scored[0]!.n.name };
}

function compareScores(a: Array<number | string>, b: Array<number | string>): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    return typeof x === 'number' && typeof y === 'number' ? x - y : compareText(String(x), String(y));
  }
  return 0;
}

/** `0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector (nodeSelector app=gpu).` */
export function unschedulableMessage(pod: PodToPlace, total: number, reasons: Map<string, number>): string {
  if (total === 0) return '0/0 nodes are available: no nodes are registered.';
  const parts = [...reasons].sort(([a], [b]) => compareText(a, b)).map(([r, n]) => `${n} node(s) ${r}`);
  const asked = [describeNodeSelector(pod.spec.nodeSelector), describeNodeAffinity(pod.spec)].filter(Boolean);
  const detail = asked.length > 0 ? ` (${asked.join('; ')})` : '';
  return `0/${total} nodes are available: ${parts.join(', ')}${detail}.`;
}

/** An empty load, then `addLoad` per bound pod (and per pod just placed, before placing the next). */
export const emptyLoad = (podNetwork = false): Load => ({
  total: new Map(),
  byOwner: new Map(),
  ports: new Map(),
  podNetwork,
});

/** `pod` is on `node` (`count` pods of it: tests load a node in one call). */
export function addLoad(load: Load, node: string, pod: PodToPlace, count = 1): void {
  load.total.set(node, (load.total.get(node) ?? 0) + count);
  const ports = hostPortsOf(pod.spec, load.podNetwork);
  if (ports.length > 0) {
    const held = load.ports.get(node) ?? new HostPortSet();
    load.ports.set(node, held);
    for (const p of ports) held.add(p);
  }
  if (!pod.ownerUid) return;
  const per = load.byOwner.get(pod.ownerUid) ?? new Map<string, number>();
  load.byOwner.set(pod.ownerUid, per);
  per.set(node, (per.get(node) ?? 0) + count);
}
