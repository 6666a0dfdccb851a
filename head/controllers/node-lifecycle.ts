// What the leader does about nodes and the pods no controller looks after:
//
//   - a node the mesh saw die (`dead`: SIGKILL, crash, power loss; never `left`, which is a clean stop
//     that may be a restart within the TTL) has its etcd lease revoked when its node record still has
//     the incarnation that died, so its node record and alive records go at once and controllers
//     replace its pods within a second instead of after the 10 s TTL. Trade-off: in a partition the
//     mesh on our side may call a live node dead; its lease is then revoked and its pods start
//     elsewhere while the old ones may still run on the far side (k8s has the same window after its
//     pod eviction timeout; ours is shorter). The cut-off agent re-registers when it reaches etcd again
//     and stops the pods that were deleted meanwhile;
//   - bare pods (no controller) on a node with no record: status phase Unknown, reason NodeLost;
//   - pods whose controller (by uid) is gone and that no agent will clean up (not bound, or bound to a
//     node with no record) are deleted: the garbage collection of the ownerReferences cascade;
//   - bare pods not bound to a node are bound when a node fits (else Pending/Unschedulable).
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../agent/log/logger.ts';
import type { Pod } from '../../agent/objects/types.ts';
import { shortReason } from '../../agent/store/etcd.ts';
import { keys } from '../../agent/store/keys.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';
import type { Action } from './actions.ts';
import { bindPending } from './placement.ts';
import type { Controller } from './pod-template.ts';
import { controllerOf, isTerminal, loadOf, onLostNode, type World } from './world.ts';

/** Revoke the lease of a node the mesh saw die, if its record is still that incarnation's. */
export async function revokeDeadNode(
  etcd: Etcd3,
  cluster: string,
  name: string,
  incarnation: number,
  log: Logger,
): Promise<boolean> {
  const text = await etcd.get(keys.node(cluster, name)).string();
  if (!text) return false;
  const rec = JSON.parse(text) as NodeRecord;
  if (rec.incarnation !== incarnation || !rec.lease) return false;
  await etcd.leaseClient.leaseRevoke({ ID: rec.lease });
  log.info({ node: name, incarnation }, 'node died (mesh): its lease is revoked, its records are gone');
  return true;
}

/** Pure: what to do about pods on lost nodes, orphans and unbound bare pods. */
export function planSweep(world: World, controllerUids: ReadonlySet<string>, now: string): Action[] {
  const actions: Action[] = [];
  const unboundBare: World['pods'] = [];
  for (const p of world.pods) {
    const pod = p.object;
    const owner = controllerOf(pod);
    const lost = onLostNode(pod, world);
    if (owner && !controllerUids.has(owner.uid)) {
      if (!pod.spec.nodeName || lost)
        actions.push({ type: 'delete', pod: p, why: `owner ${owner.kind}/${owner.name} is gone` });
      continue;
    }
    if (owner) continue;
    if (!pod.spec.nodeName) unboundBare.push(p);
    else if (lost && !isTerminal(pod) && pod.status?.reason !== 'NodeLost')
      actions.push({ type: 'podStatus', pod: p, status: nodeLostStatus(pod) });
  }
  // A bare pod's "controller" for scheduling purposes is itself: spread does not apply.
  for (const p of unboundBare)
    actions.push(
      ...bindPending(
        { metadata: { uid: p.object.metadata.uid } } as Controller,
        [p],
        world,
        loadOf(world),
        now,
      ),
    );
  return actions;
}

function nodeLostStatus(pod: Pod): NonNullable<Pod['status']> {
  return {
    ...(pod.status ?? {}),
    phase: 'Unknown',
    reason: 'NodeLost',
    message: `Node ${pod.spec.nodeName} which was running pod ${pod.metadata.name} is unresponsive`,
  };
}

export const logSweepError = (log: Logger) => (err: unknown) =>
  log.warn({ err: shortReason(err) }, 'node lifecycle sweep failed');
