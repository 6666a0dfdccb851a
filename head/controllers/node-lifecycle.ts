// What the leader does about nodes and the pods no controller looks after:
//
//   - a node the mesh declared dead (a refused redial: the process is gone; or silence confirmed by
//     witnesses; never `left`, a clean stop that may be a restart within the TTL) has its node record
//     deleted, guarded by the leader's fence and the record's revision (forgetDeadNode). A node that is in
//     fact alive puts it back at once. Otherwise the record goes when the agent's lease expires;
//   - every pod not terminated on a node with no record (and not drained) is marked phase Unknown, reason
//     NodeLost, condition Ready=False since now, only while the node is still absent: that mark starts
//     its toleration (eviction.ts). The node's agent writes its own status again once it is back;
//   - bare pods are never deleted for it (nothing would replace them): they stay Unknown until the node
//     returns;
//   - pods whose controller (by uid) is gone are deleted: the garbage collection of the ownerReferences
//     cascade, graceful (actions.ts: Terminating while their agent stops them; at once when not bound or
//     bound to a node with no record);
//   - pods whose namespace is gone (deleted, or deleted and created again after them) are deleted, as
//     k8s' namespace controller does: gracefully, only while the namespace is still as seen;
//   - a Terminating pod bound to a node with no record is removed (no agent to finish it), only while
//     the node is still absent;
//   - pods on a node with a NoExecute taint they do not tolerate (or no longer: tolerationSeconds) are
//     evicted (taint-eviction.ts);
//   - bare pods not bound to a node are bound when a node fits (else Pending/Unschedulable);
//   - a Deployment's revision records (ReplicaSets) whose Deployment is gone are deleted, and so are the
//     image pre-pull requests (prepull.ts) of a controller object that is gone.
import type { Logger } from '../../agent/log/logger.ts';
import { isTerminating } from '../../agent/objects/pod-deletion.ts';
import { DEFAULT_NAMESPACE, isBuiltinNamespace, type Pod } from '../../agent/objects/types.ts';
import { logEtcdFailure } from '../../agent/store/etcd.ts';
import { guardedTxn } from '../../agent/store/guard.ts';
import { keys } from '../../agent/store/keys.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';
import type { Action, Edge } from './actions.ts';
import { lostSince, NODE_LOST, standingOf } from './eviction.ts';
import { bindPending } from './placement.ts';
import type { Controller } from './pod-template.ts';
import { planTaintEviction } from './taint-eviction.ts';
import { controllerOf, isTerminal, loadOf, type World } from './world.ts';

/** The mesh's verdict on a node (dead: a refused redial, or silence confirmed by witnesses): its node
 * record is deleted by the leader on its behalf, in a transaction guarded by the leader's fence and by the
 * record being unchanged since it was read (the same incarnation). Its alive records stay under its lease
 * until the TTL ends them (a process deletes only what it holds). A node that is in fact alive puts its
 * record back at once (agent.ts) and keeps its pods. */
export async function forgetDeadNode(
  edge: Edge,
  name: string,
  incarnation: number,
  log: Logger,
): Promise<boolean> {
  const { etcd, cluster, guard } = edge;
  const key = keys.node(cluster, name);
  const kv = (await etcd.get(key).exec()).kvs[0];
  if (!kv) return false;
  const rec = JSON.parse(kv.value.toString('utf8')) as NodeRecord;
  if (rec.incarnation !== incarnation) return false;
  const res = await guardedTxn(etcd, guard, { key, target: 'Mod', op: '==', value: kv.mod_revision })
    .then(etcd.delete().key(key))
    .commit();
  if (res.succeeded)
    log.info({ node: name, incarnation }, 'node died (mesh verdict): its node record is removed');
  return res.succeeded;
}

/** Pure: what to do about pods on lost nodes, orphans and unbound bare pods. `namespaces`: the create
 * revision of each stored Namespace (absent: no verdict on namespaces). */
export function planSweep(
  world: World,
  controllerUids: ReadonlySet<string>,
  now: string,
  namespaces?: ReadonlyMap<string, string>,
): Action[] {
  const actions: Action[] = [];
  const unboundBare: World['pods'] = [];
  for (const p of world.pods) {
    const pod = p.object;
    const owner = controllerOf(pod);
    const ns = pod.metadata.namespace ?? DEFAULT_NAMESPACE;
    const nsRevision = namespaces?.get(ns);
    // Created in one transaction with its namespace, a pod has the namespace's create revision.
    const nsGone = nsRevision === undefined || BigInt(nsRevision) > BigInt(p.createRevision);
    if (namespaces && nsGone && !isTerminating(pod) && !isBuiltinNamespace(ns)) {
      actions.push({
        type: 'delete',
        pod: p,
        why: `namespace ${ns} is gone`,
        whileNamespace: { name: ns, createRevision: nsRevision ?? '0' },
      });
      continue;
    }
    if (isTerminating(pod)) {
      // Its agent finishes it; with no node record there is no agent to: removed (while still absent).
      if (standingOf(pod, world) === 'unreachable')
        actions.push({
          type: 'delete',
          pod: p,
          why: `node ${pod.spec.nodeName} is gone`,
          whileNodeAbsent: pod.spec.nodeName!,
        });
      continue;
    }
    if (owner && !controllerUids.has(owner.uid)) {
      actions.push({ type: 'delete', pod: p, why: `owner ${owner.kind}/${owner.name} is gone` });
      continue;
    }
    if (!owner && !pod.spec.nodeName) unboundBare.push(p);
    else if (standingOf(pod, world) === 'unreachable' && !isTerminal(pod) && lostSince(pod) === undefined)
      actions.push({
        type: 'podStatus',
        pod: p,
        status: nodeLostStatus(pod, now),
        whileNodeAbsent: pod.spec.nodeName!,
      });
  }
  for (const r of world.replicaSets ?? []) {
    const owner = controllerOf(r.object);
    if (owner && !controllerUids.has(owner.uid))
      actions.push({ type: 'deleteObject', target: r, why: `owner ${owner.kind}/${owner.name} is gone` });
  }
  // A CronJob's runs, once the CronJob is gone (k8s' garbage collector: dependents go with their owner).
  for (const j of world.jobs ?? []) {
    const owner = controllerOf(j.object);
    if (owner && !controllerUids.has(owner.uid))
      actions.push({ type: 'deleteObject', target: j, why: `owner ${owner.kind}/${owner.name} is gone` });
  }
  // Image pre-pull requests of a controller object that is gone (its actor cannot remove them any more).
  for (const [key, e] of world.imagePulls ?? [])
    if (!controllerUids.has(e.value.uid))
      actions.push({ type: 'imagePull', key, prevRevision: e.modRevision });
  // A bare pod's "controller" for scheduling purposes is itself: spread does not apply. One load for
  // all of them: each placed pod counts (and holds its host ports) before the next is placed.
  actions.push(...planTaintEviction(world, Date.parse(now)));
  if (unboundBare.length === 0) return actions;
  const load = loadOf(world);
  for (const p of unboundBare)
    actions.push(
      ...bindPending({ metadata: { uid: p.object.metadata.uid } } as Controller, [p], world, load, now),
    );
  return actions;
}

function nodeLostStatus(pod: Pod, now: string): NonNullable<Pod['status']> {
  const message = `Node ${pod.spec.nodeName} which was running pod ${pod.metadata.name} is unresponsive`;
  return {
    ...(pod.status ?? {}),
    phase: 'Unknown',
    reason: NODE_LOST,
    message,
    conditions: [
      ...(pod.status?.conditions ?? []).filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status: 'False', reason: NODE_LOST, message, lastTransitionTime: now },
    ],
  };
}

export const logSweepError = (log: Logger) => (err: unknown) =>
  logEtcdFailure(log, err, {}, 'node lifecycle sweep failed');
