// Unreachable is not dead (Kubernetes' taint-based eviction, Nomad's disconnect block): a pod on a node
// that lost its record (lease expired, or the mesh's confirmed verdict) is first marked Unknown/NodeLost by
// the leader (node-lifecycle.ts), and only replaced once it has been so for its toleration of the taint
// `node.kubernetes.io/unreachable` (NoExecute): the pod's own `tolerationSeconds`, else the default of
// DEFAULT_UNREACHABLE_TOLERATION_SECONDS (k8s's DefaultTolerationSeconds admission adds the same 300 s).
// A toleration without seconds keeps the pod for ever; 0 moves it at once. DaemonSet pods tolerate it for
// ever (as k8s adds to them). A node that comes back within the toleration keeps its pods, not restarted.
// Drained nodes are another matter: their pods go at once.
import type { Pod } from '../../agent/objects/types.ts';
import { noExecuteToleration } from '../../agent/scheduler/taints.ts';
import { hasNode, type World } from './world.ts';

export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
/** README "Failures and partitions": k8s's default (DefaultTolerationSeconds admission plugin). */
export const DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300;
/** The reason and condition the leader writes on pods of a node that has no record. */
export const NODE_LOST = 'NodeLost';

/** Where a bound pod's node stands. */
export type NodeStanding = 'ready' | 'drained' | 'unreachable';

export function standingOf(pod: Pod, world: World): NodeStanding | undefined {
  const node = pod.spec.nodeName;
  if (node === undefined) return undefined;
  if (world.drained.has(node)) return 'drained';
  return hasNode(world, node) ? 'ready' : 'unreachable';
}

/** Seconds the pod stays bound to an unreachable node (Infinity: for ever); `fallback` when no
 * toleration matches (agent/scheduler/taints.ts has k8s' matching rules, the same as for nodes' taints). */
export function unreachableTolerationSeconds(
  pod: Pod,
  fallback = DEFAULT_UNREACHABLE_TOLERATION_SECONDS,
): number {
  return (
    noExecuteToleration(pod.spec.tolerations, { key: UNREACHABLE_TAINT, effect: 'NoExecute' }) ?? fallback
  );
}

/** Since when (ms) the pod has been marked lost with its node; undefined when it is not marked. */
export function lostSince(pod: Pod): number | undefined {
  if (pod.status?.reason !== NODE_LOST) return undefined;
  const cond = pod.status.conditions?.find((c) => c.type === 'Ready' && c.reason === NODE_LOST);
  return cond ? Date.parse(cond.lastTransitionTime) : undefined;
}

/**
 * For a pod on an unreachable node: when (ms) it is to be replaced. Undefined while it is not marked lost
 * yet (the mark starts the clock) or when it tolerates the node for ever.
 */
export function evictionAt(pod: Pod, fallback = DEFAULT_UNREACHABLE_TOLERATION_SECONDS): number | undefined {
  const since = lostSince(pod);
  const seconds = unreachableTolerationSeconds(pod, fallback);
  if (since === undefined || !Number.isFinite(seconds)) return undefined;
  return since + seconds * 1000;
}

export type LostPodFate = { evict: true; why: string } | { evict: false; wakeAt?: number };

/** What a controller does with its pod on an unreachable node at `nowMs`. */
export function fateOnUnreachable(pod: Pod, nowMs: number, fallback?: number): LostPodFate {
  const at = evictionAt(pod, fallback);
  if (at === undefined) return { evict: false };
  if (at > nowMs) return { evict: false, wakeAt: at };
  const seconds = unreachableTolerationSeconds(pod, fallback);
  return {
    evict: true,
    why: `node ${pod.spec.nodeName} unreachable for ${Math.round((nowMs - lostSince(pod)!) / 1000)} s (tolerationSeconds ${seconds})`,
  };
}
