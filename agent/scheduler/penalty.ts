// Ranking, before the scores: a node penalised for the pod's controller (a pod of it kept failing there:
// the reschedule policy, head/controllers/reschedule.ts) comes after every other node that fits; used only
// when none other does (Nomad's node reschedule penalty, as a rank rather than a filter: a one-node
// cluster still runs the replicas).
import type { PodToPlace, SchedNode } from './types.ts';

export const penalised = (node: SchedNode, pod: PodToPlace): boolean => pod.avoid?.has(node.name) === true;
