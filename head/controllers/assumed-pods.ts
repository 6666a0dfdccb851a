// Pods the leader has just placed (created bound, or bound) and not yet read back: counted in the load of
// every placement decided meanwhile (kube-scheduler's "assumed pods"). Each controller reconciles on its
// own, so without this two controllers reconciling at once, each from a world read before the other's
// writes, could give the same node's host port away twice. A reconcile decides synchronously between its
// world read and its writes: `attach` just before deciding and `record` just after (no await between)
// serialize the decisions of all controllers of this leader. An assumption ends when a world read shows
// the pod bound (reads count it from then on: a read is a synchronous snapshot of the leader's caches,
// which only move forward, so no later read misses it unless it was deleted), or after ASSUME_MS.
import type { Pod } from '../../agent/objects/types.ts';
import type { Action } from './actions.ts';
import type { World } from './world.ts';

/** An assumption no world read confirms within this long is dropped (its write lost a race, or the pod
 * went at once): an over-count lasts no longer. */
const ASSUME_MS = 30_000;

export class AssumedPods {
  /** By pod uid: the pod as placed and until when it is assumed. */
  private readonly pods = new Map<string, { pod: Pod; until: number }>();

  /** The assumptions `world` does not show bound, set on it (`world.assumed`, counted by loadOf). */
  attach(world: World, now = Date.now()): World {
    if (this.pods.size === 0) return world;
    const bound = new Set(world.pods.filter((p) => p.object.spec.nodeName).map((p) => p.object.metadata.uid));
    const assumed: Pod[] = [];
    for (const [uid, a] of this.pods) {
      if (bound.has(uid) || a.until <= now) this.pods.delete(uid);
      else assumed.push(a.pod);
    }
    world.assumed = assumed;
    return world;
  }

  /** The pods these actions place. */
  record(actions: readonly Action[], now = Date.now()): void {
    for (const a of actions) {
      const pod =
        a.type === 'create' && a.pod.spec.nodeName
          ? a.pod
          : a.type === 'bind'
            ? { ...a.pod.object, spec: { ...a.pod.object.spec, nodeName: a.node } }
            : undefined;
      if (pod) this.pods.set(pod.metadata.uid, { pod, until: now + ASSUME_MS });
    }
  }
}
