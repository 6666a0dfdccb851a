// The placement pipeline (Nomad's feasibility + ranking iterators, k8s' filters + scores). For one pod
// on n nodes, with c checkers and s active scorers:
//
//   1. feasibility over the nodes in turn (each check O(1) but for the labels and ports it reads), first
//      failure is the node's reason, until `limit` nodes fit: O(visited x c). limit = max(MIN_SAMPLE,
//      ceil(log2 n)) (the power of two choices, Nomad's limit; at least 8 so that small clusters rank
//      every node), or every node when the pod has a rule that ranks nodes against each other (preferred
//      node or pod affinity, ScheduleAnyway spread). `spread` starts where the last placement stopped
//      (rotation: the sample walks the cluster); `binpack` starts at the first node by name (first fit,
//      best of the sample: nodes fill in order). When nothing fits every node was visited, so the message counts every reason.
//        1. runtime.ts         a container engine answered on the node
//        2. taints.ts          not cordoned (unless tolerated), no untolerated NoSchedule/NoExecute taint
//        3. node-selector.ts   spec.nodeSelector labels, O(labels)
//        4. node-affinity.ts   required nodeAffinity terms, O(terms x expressions)
//        5. host-ports.ts      the pod's host ports free on the node, O(pod's ports)
//        6. fits-resources.ts  pods, CPU, memory within allocatable
//        7. topology-spread.ts topologySpreadConstraints DoNotSchedule: the node's domain within maxSkew
//        8. pod-affinity.ts    required pod affinity and anti-affinity, existing pods' anti-affinity
//      (7 and 8 read the domains pod-rules.ts works out once per placement: O(nodes x terms))
//   2. ranking of the sample: O(sample x s) raw scores, normalised per scorer over the sample (O(sample)
//      each), weighted and summed; highest total wins.
//        resource-score.ts  binpack or spread by free CPU and memory        weight 1
//        spread.ts          fewer pods of the same controller (spread only)  weight 1
//        node-affinity.ts   preferred nodeAffinity weights                   weight 2
//        taints.ts          fewer untolerated PreferNoSchedule taints        weight 3
//        pod-affinity.ts    preferred pod (anti-)affinity, min-max           weight 2
//        topology-spread.ts fewer matching pods in the domain (ScheduleAnyway) weight 2
//      Before the total: penalty.ts (a node penalised for the pod's controller comes last); after it:
//      the node name (deterministic).
//
// So a Deployment of R replicas on n nodes costs O(R x (limit / fit ratio) x c + R x limit x s): at
// 10,000 replicas on 1,000 nodes about 10 nodes looked at per replica, not 1,000.

import { compareText } from '../text/compare.ts';
import { fitsResources } from './fits-resources.ts';
import { HostPortSet, hasFreePorts, hostPortsOf } from './host-ports.ts';
import { describeNodeAffinity, matchesNodeAffinity, preferredNodeAffinity } from './node-affinity.ts';
import { describeNodeSelector, matchesNodeSelector } from './node-selector.ts';
import { penalised } from './penalty.ts';
import { podAffinityFits, preferredPodAffinity } from './pod-affinity.ts';
import { countPod } from './pod-counts.ts';
import { type PodRules, preparePodRules, ranksAcrossNodes } from './pod-rules.ts';
import { resourceFit } from './resource-score.ts';
import { addResources, podResources, ZERO } from './resources.ts';
import { hasContainerRuntime } from './runtime.ts';
import { spreadOwner } from './spread.ts';
import { preferNoScheduleTaints, schedulable, toleratesTaints } from './taints.ts';
import { softSpread, spreadFits } from './topology-spread.ts';
import type { Checker, Load, PlacedPod, PodToPlace, SchedNode, Scorer } from './types.ts';

/** The rules about the node alone (a DaemonSet's eligibility: k8s' DaemonSet controller looks at taints,
 * selector and affinity, not at ports, resources or a cordon). */
export const NODE_CHECKERS: readonly Checker[] = [
  hasContainerRuntime,
  toleratesTaints,
  matchesNodeSelector,
  matchesNodeAffinity,
];
export const CHECKERS: readonly Checker[] = [
  hasContainerRuntime,
  schedulable,
  toleratesTaints,
  matchesNodeSelector,
  matchesNodeAffinity,
  hasFreePorts,
  fitsResources,
  spreadFits,
  podAffinityFits,
];
export const SCORERS: readonly Scorer[] = [
  resourceFit,
  spreadOwner,
  preferredNodeAffinity,
  preferNoScheduleTaints,
  preferredPodAffinity,
  softSpread,
];

/** The sample's floor: a cluster this small is ranked whole. */
export const MIN_SAMPLE = 8;

/** How many feasible nodes are ranked for this pod among n. */
export function sampleLimit(pod: PodToPlace, n: number): number {
  if (preferredNodeAffinity.active!(pod) || ranksAcrossNodes(pod)) return n;
  return Math.max(MIN_SAMPLE, Math.ceil(Math.log2(Math.max(n, 1))));
}

export type Placement = { node: string; message?: undefined } | { node: null; message: string };

/** The nodes that can run the pod (no ranking): a DaemonSet's eligible nodes. */
export function feasibleNodes<N extends SchedNode>(pod: PodToPlace, nodes: readonly N[]): N[] {
  const load = emptyLoad();
  return nodes.filter((n) => NODE_CHECKERS.every((check) => check(n, pod, load) === null));
}

/** Why the node cannot run the pod, or null. */
export function infeasibility(node: SchedNode, pod: PodToPlace, load: Load, rules?: PodRules): string | null {
  for (const check of CHECKERS) {
    const reason = check(node, pod, load, rules);
    if (reason) return reason;
  }
  return null;
}

/** Pick a node for the pod, or say why none fits (kubectl's wording). */
export function schedule(pod: PodToPlace, nodes: readonly SchedNode[], load: Load): Placement {
  const n = nodes.length;
  const limit = sampleLimit(pod, n);
  const binpack = pod.algorithm === 'binpack';
  const start = binpack || n === 0 ? 0 : load.rotation.next % n;
  const rules = preparePodRules(pod, nodes, load);
  const reasons = new Map<string, number>();
  const fit: SchedNode[] = [];
  let visited = 0;
  while (visited < n && fit.length < limit) {
    const node = nodes[(start + visited) % n]!;
    visited++;
    const reason = infeasibility(node, pod, load, rules);
    if (reason) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    else fit.push(node);
  }
  if (!binpack && n > 0) load.rotation.next = (start + visited) % n;
  if (fit.length === 0) return { node: null, message: unschedulableMessage(pod, n, reasons) };
  return { node: best(fit, pod, load, rules).name };
}

/** Weighted sum of the normalised scores; penalty first, name last. */
function best(fit: SchedNode[], pod: PodToPlace, load: Load, rules: PodRules | undefined): SchedNode {
  if (fit.length === 1) return fit[0]!;
  const totals = new Array<number>(fit.length).fill(0);
  for (const s of SCORERS) {
    if (s.active && !s.active(pod, rules)) continue;
    const scaled = normalised(
      s.normalize,
      fit.map((node) => s.score(node, pod, load, rules)),
    );
    for (let i = 0; i < fit.length; i++) totals[i]! += s.weight * scaled[i]!;
  }
  let bestAt = 0;
  for (let i = 1; i < fit.length; i++) if (better(i, bestAt)) bestAt = i;
  return fit[bestAt]!;

  function better(i: number, j: number): boolean {
    const pi = penalised(fit[i]!, pod);
    if (pi !== penalised(fit[j]!, pod)) return !pi;
    // Scores are sums of products of small numbers: compare with a tolerance, so that equal nodes tie.
    const d = totals[i]! - totals[j]!;
    if (Math.abs(d) > 1e-9) return d > 0;
    return compareText(fit[i]!.name, fit[j]!.name) < 0;
  }
}

/** The raw scores made 0–100 across the candidates (Scorer.normalize); max and min found once. */
function normalised(how: Scorer['normalize'], raw: number[]): number[] {
  if (how === 'none') return raw;
  const max = Math.max(...raw);
  if (how === 'minmax') {
    const min = Math.min(...raw);
    return raw.map((v) => (max === min ? 0 : ((v - min) * 100) / (max - min)));
  }
  if (max === 0) return raw.map(() => (how === 'reverse' ? 100 : 0));
  return raw.map((v) => (how === 'max' ? (v * 100) / max : 100 - (v * 100) / max));
}

/** `0/1000 nodes are available: 600 Insufficient memory, 390 node(s) had untolerated taint {pool:
 * special}, 10 node(s) didn't match Pod's node affinity/selector (nodeSelector app=gpu).` */
export function unschedulableMessage(pod: PodToPlace, total: number, reasons: Map<string, number>): string {
  if (total === 0) return '0/0 nodes are available: no nodes are registered.';
  const parts = [...reasons]
    .sort(([a, x], [b, y]) => y - x || compareText(a, b))
    .map(([r, count]) => `${count} ${r}`);
  const asked = [describeNodeSelector(pod.spec.nodeSelector), describeNodeAffinity(pod.spec)].filter(Boolean);
  const detail = asked.length > 0 ? ` (${asked.join('; ')})` : '';
  return `0/${total} nodes are available: ${parts.join(', ')}${detail}.`;
}

/** An empty load, then `addLoad` per bound pod (and per pod just placed, before placing the next). */
export const emptyLoad = (podNetwork = false, rotation = { next: 0 }): Load => ({
  total: new Map(),
  byOwner: new Map(),
  ports: new Map(),
  requested: new Map(),
  nonzero: new Map(),
  pods: new Map(),
  antiAffinity: [],
  counts: new Map(),
  nominated: new Map(),
  podNetwork,
  rotation,
});

/** `pod` is on `node` (`count` pods of it: tests load a node in one call). */
export function addLoad(load: Load, node: string, pod: PodToPlace, count = 1): void {
  load.total.set(node, (load.total.get(node) ?? 0) + count);
  if (pod.spec.containers) {
    const r = podResources(pod.spec);
    load.requested.set(node, addResources(load.requested.get(node) ?? ZERO, r.requests, count));
    load.nonzero.set(node, addResources(load.nonzero.get(node) ?? ZERO, r.nonzero, count));
  }
  const placed: PlacedPod = { node, namespace: pod.namespace ?? 'default', labels: pod.labels ?? {} };
  const anti = pod.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (anti?.length) placed.antiAffinity = anti;
  const here = load.pods.get(node) ?? [];
  load.pods.set(node, here);
  for (let i = 0; i < count; i++) here.push(placed);
  if (placed.antiAffinity) for (let i = 0; i < count; i++) load.antiAffinity.push(placed);
  countPod(load, node, placed, count);
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
