// NoExecute taints (k8s' taint manager): a pod bound to a node with a NoExecute taint it does not
// tolerate is deleted (gracefully, as an eviction) at once; one that tolerates every such taint stays,
// for ever or, when a matching toleration has `tolerationSeconds`, until that long after the taint
// appeared (the shortest such time over the node's NoExecute taints). A controller's replacement is
// placed elsewhere: the taint is a filter too (agent/scheduler/taints.ts). Pods already Terminating or
// finished are left alone. When a taint appeared is what the leader first saw (`World.taintsSince`): a
// new leader starts the clocks again, so an eviction may come later, never earlier.

import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import type { Pod } from '../../agent/objects/types.ts';
import { noExecuteToleration, type Taint } from '../../agent/scheduler/taints.ts';
import type { Action } from './actions.ts';
import { isTerminal, type World } from './world.ts';

/** The key `World.taintsSince` holds a node's taint under. */
export const taintKey = (node: string, t: Taint) =>
  `${node}\u0000${t.key}\u0000${t.value ?? ''}\u0000${t.effect}`;

/** When (ms) the pod is to leave the node for its NoExecute taints: undefined when it tolerates them
 * all for ever (or there are none). */
export function taintEvictionAt(
  pod: Pod,
  node: string,
  taints: readonly Taint[],
  since: (key: string) => number,
): number | undefined {
  let at: number | undefined;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const seconds = noExecuteToleration(pod.spec.tolerations, taint);
    if (seconds === null) return Number.NEGATIVE_INFINITY;
    if (seconds === Number.POSITIVE_INFINITY) continue;
    const end = since(taintKey(node, taint)) + seconds * 1000;
    at = at === undefined ? end : Math.min(at, end);
  }
  return at;
}

export function planTaintEviction(world: World, nowMs: number): Action[] {
  const tainted = new Map<string, readonly Taint[]>();
  for (const n of world.nodes)
    if (n.taints?.some((t) => t.effect === 'NoExecute')) tainted.set(n.name, n.taints);
  if (tainted.size === 0) return [];
  const since = (key: string) => world.taintsSince?.get(key) ?? nowMs;
  const actions: Action[] = [];
  let wake: number | undefined;
  for (const p of world.pods) {
    const node = p.object.spec.nodeName;
    const taints = node === undefined ? undefined : tainted.get(node);
    if (!taints || isTerminal(p.object) || isTerminating(p.object)) continue;
    const at = taintEvictionAt(p.object, node!, taints, since);
    if (at === undefined) continue;
    if (at > nowMs) {
      wake = wake === undefined ? at : Math.min(wake, at);
      continue;
    }
    const { namespace, name } = p.object.metadata;
    const modRevision = world.nodeRevisions?.get(node!);
    actions.push({
      type: 'delete',
      pod: p,
      why: `node ${node} has a NoExecute taint the pod does not tolerate`,
      // Only while the record still says so: a taint removed meanwhile is no verdict.
      ...(modRevision ? { whileNodeAt: { node: node!, modRevision } } : {}),
    });
    actions.push({
      type: 'event',
      on: { kind: 'Pod', namespace: namespace!, name },
      reason: 'TaintManagerEviction',
      message: `Marking for deletion Pod ${namespace}/${name}`,
    });
  }
  if (wake !== undefined) actions.push({ type: 'wake', at: wake });
  return actions;
}
