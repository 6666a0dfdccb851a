// Graceful deletion of a pod, as Kubernetes does it: a pod bound to a registered node is not removed but
// marked (metadata.deletionTimestamp = request time + grace, deletionGracePeriodSeconds = grace); the
// node's agent stops its containers within the grace and only then deletes the object. The object goes
// at once when no agent would finish the job or there is nothing to stop: not bound to a node, bound to a
// node with no record, already Succeeded/Failed (k8s deletes terminated pods at once too), or grace 0
// (`--force --grace-period=0`). A second delete may only shorten the grace (k8s: the new deadline is the
// first request's time + the new grace). Used by the API's delete, the controllers and the agents.
import type { Etcd3 } from 'etcd3';
import { absent, type Compare, type Guard, guardedTxn, NO_GUARD, type TxnPart } from '../store/guard.ts';
import { keys } from '../store/keys.ts';
import { DEFAULT_TERMINATION_GRACE_SECONDS } from './defaults.ts';
import { isTerminalPhase } from './pod-phase.ts';
import { deleteObjects, objectKey, refOf, type Stored, toStoredJson } from './store.ts';
import type { Pod } from './types.ts';

export type PodDeletionPlan =
  /** Remove the object now. */
  | { type: 'remove'; why: 'force' | 'unbound' | 'node-absent' | 'terminated' }
  /** Write the pod with these deletion fields. */
  | { type: 'mark'; deletionTimestamp: string; deletionGracePeriodSeconds: number }
  /** Already terminating with this grace or a shorter one: nothing to write. */
  | { type: 'none' };

/** Seconds-precision RFC 3339, as k8s writes metadata times. */
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const isTerminating = (pod: Pod): boolean => pod.metadata.deletionTimestamp !== undefined;

/** Pure: what deleting `pod` at `nowMs` with the requested grace (else the pod's own, else 30 s) means. */
export function planPodDeletion(
  pod: Pod,
  nodeRegistered: boolean,
  nowMs: number,
  gracePeriodSeconds?: number,
): PodDeletionPlan {
  const grace =
    gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
  if (grace === 0) return { type: 'remove', why: 'force' };
  if (!pod.spec.nodeName) return { type: 'remove', why: 'unbound' };
  if (!nodeRegistered) return { type: 'remove', why: 'node-absent' };
  if (isTerminalPhase(pod.status?.phase)) return { type: 'remove', why: 'terminated' };
  const { deletionTimestamp: at, deletionGracePeriodSeconds: had } = pod.metadata;
  if (at === undefined)
    return {
      type: 'mark',
      deletionTimestamp: rfc3339(nowMs + grace * 1000),
      deletionGracePeriodSeconds: grace,
    };
  if (had === undefined || grace >= had) return { type: 'none' };
  const requested = Date.parse(at) - had * 1000;
  return {
    type: 'mark',
    deletionTimestamp: rfc3339(requested + grace * 1000),
    deletionGracePeriodSeconds: grace,
  };
}

export type PodDeletionOutcome =
  | 'removed'
  | 'terminating'
  /** Already terminating with an equal or shorter grace. */
  | 'unchanged'
  /** The pod (or its node's record) changed since it was read, or the guard failed: nothing written. */
  | 'conflict';

const present = (key: string): Compare => ({ key, target: 'Version', op: '>', value: 0 });

/**
 * Delete a pod gracefully (see the top of this file), in one transaction that holds only while the pod
 * is the one read (mark: same mod revision; remove: same create revision), its node's record is as
 * judged, and the guard (a leader's fence) holds. `nodeRegistered` may be given by a caller that has
 * just read the node records; otherwise the record is read here.
 */
export async function deletePod(
  etcd: Etcd3,
  cluster: string,
  stored: Stored<Pod>,
  opts: {
    gracePeriodSeconds?: number;
    guard?: Guard;
    nodeRegistered?: boolean;
    nowMs?: number;
    /** More of the same transaction: compares it also holds on, writes it also makes (an eviction spends
     * its disruption budget in the transaction that deletes the pod). */
    also?: TxnPart;
  } = {},
): Promise<PodDeletionOutcome> {
  const pod = stored.object;
  const guard = opts.guard ?? NO_GUARD;
  const node = pod.spec.nodeName;
  const nodeKey = node === undefined ? undefined : keys.node(cluster, node);
  const registered =
    opts.nodeRegistered ?? (nodeKey ? (await etcd.get(nodeKey).exec()).kvs.length > 0 : false);
  const plan = planPodDeletion(pod, registered, opts.nowMs ?? Date.now(), opts.gracePeriodSeconds);
  if (plan.type === 'none') return 'unchanged';
  const ref = refOf(pod);
  if (plan.type === 'remove') {
    const extra = plan.why === 'node-absent' && nodeKey ? [absent(nodeKey)] : [];
    const ok = await deleteObjects(
      etcd,
      cluster,
      [{ ...ref, createRevision: stored.createRevision }],
      [...guard, ...extra, ...(opts.also?.compares ?? [])],
      opts.also?.ops,
    );
    return ok ? 'removed' : 'conflict';
  }
  const marked: Pod = {
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: plan.deletionTimestamp,
      deletionGracePeriodSeconds: plan.deletionGracePeriodSeconds,
    },
  };
  const key = objectKey(cluster, ref);
  const res = await guardedTxn(
    etcd,
    guard,
    { key, target: 'Mod', op: '==', value: stored.modRevision },
    present(nodeKey!),
    ...(opts.also?.compares ?? []),
  )
    .then(etcd.put(key).value(toStoredJson(marked)), ...(opts.also?.ops ?? []))
    .commit();
  return res.succeeded ? 'terminating' : 'conflict';
}
