// What a reconcile decides, as data (reconciles are pure: `(desired, world) -> actions`), and the edge
// that carries the actions out against etcd. Every multi-key write is one transaction; a write that
// loses a race (someone changed the key meanwhile) is skipped: the next reconcile sees the new state.
import type { Etcd3 } from 'etcd3';
import type { ImagePullRequest } from '../../agent/images/pull-requests.ts';
import type { EventRecorder } from '../../agent/objects/events.ts';
import { deletePod, type PodDeletionOutcome } from '../../agent/objects/pod-deletion.ts';
import { boundedStatusJson } from '../../agent/objects/sizes.ts';
import {
  deleteObjects,
  describeRef,
  type ObjectRef,
  objectKey,
  refOf,
  type Stored,
  statusKey,
  toStoredJson,
  writeStatus,
} from '../../agent/objects/store.ts';
import type { KubeObject, Pod, PodStatus } from '../../agent/objects/types.ts';
import { absent, type Compare, type Guard, guardedTxn, NO_GUARD } from '../../agent/store/guard.ts';
import { keys } from '../../agent/store/keys.ts';

export type Action =
  /** Create a pod (bound when `pod.spec.nodeName` is set, else with a Pending/Unschedulable status). */
  | { type: 'create'; pod: Pod; status?: PodStatus }
  /** Set the node of a pending pod, once (compare-and-swap on its mod revision). */
  | { type: 'bind'; pod: Stored<Pod>; node: string }
  /** Graceful (agent/objects/pod-deletion.ts): Terminating while its node's agent stops it, removed at
   * once when there is nothing to wait for. `whileNodeAbsent`: removed at once, only while that node has
   * no record (a verdict about a lost node holds only while the node is still lost: one that came back
   * keeps its pods). `whileNamespace`: only while the pod's namespace is still as seen (absent, or created
   * again after the pod: create revision `createRevision`, '0' for absent). `whileNodeAt`: only while
   * that node's record is the one the verdict read (its taints: a NoExecute eviction). */
  | {
      type: 'delete';
      pod: Stored<Pod>;
      why: string;
      whileNodeAbsent?: string;
      whileNamespace?: { name: string; createRevision: string };
      whileNodeAt?: { node: string; modRevision: string };
    }
  /** Status of a pod the controller speaks for (unscheduled, node lost). */
  | { type: 'podStatus'; pod: Stored<Pod>; status: PodStatus; whileNodeAbsent?: string }
  /** An object a controller keeps besides pods (a Deployment's ReplicaSets): created when `prev` is
   * absent (only if the name is free), else replaced only if unchanged since read; `status` in the same
   * transaction. `object` undefined: only the status is written (while the object is that creation).
   * `done`: an event on the owner once written (the Deployment's own rollback). */
  | {
      type: 'putObject';
      object?: KubeObject;
      prev?: Stored;
      status?: unknown;
      why: string;
      done?: { warning?: boolean; reason: string; message: string };
    }
  /** Remove such an object (and its status), only if it is that creation. */
  | { type: 'deleteObject'; target: Stored; why: string }
  /** An image pre-pull request (agent/images), by its key under `image-pulls/` (`<node>/<kind>/<ns>/<name>`):
   * created when `prevRevision` is absent (only if the key is free), else replaced only if unchanged since
   * read; removed (only if unchanged) when `request` is absent. */
  | { type: 'imagePull'; key: string; request?: ImagePullRequest; prevRevision?: string }
  /** The controller object's own status (written only when it differs). */
  | { type: 'status'; status: unknown }
  | { type: 'event'; on: 'owner' | ObjectRef; warning?: boolean; reason: string; message: string }
  /** Reconcile again at this time (ms since the epoch) even if nothing changes: a deadline or the end
   * of a minReadySeconds wait. The actor keeps one timer; the edge does nothing with it. */
  | { type: 'wake'; at: number };

export interface Edge {
  etcd: Etcd3;
  cluster: string;
  recorder: EventRecorder;
  /** The leader's fence: every write carries it, so a deposed leader's writes fail. */
  guard: Guard;
  /** Whether a node has a record, as the leader's caches say (a pod deletion then reads none from etcd;
   * its transaction compares the record's presence, so a stale answer is a conflict, never a wrong write). */
  nodeRegistered?: (node: string) => boolean;
}

/** Carry out the actions in order. Returns how many writes lost a race (0: all done). */
export async function applyActions(
  edge: Edge,
  owner: { ref: ObjectRef & { uid: string }; createRevision: string },
  actions: Action[],
): Promise<number> {
  const { etcd, cluster, recorder, guard } = edge;
  let lost = 0;
  // A run of consecutive creates (a scale-up) goes to etcd CREATES_PER_TXN pods per transaction, with
  // up to CREATES_AT_ONCE pods in flight: as each create is reached, the window slides on, so etcd always
  // has transactions to batch into its next disk write. Order between runs and the other actions is kept
  // (a pod deleted before one of the same name is created): a run never reaches past its last create.
  const creates = new Map<Action, Promise<boolean>>();
  let startedUpTo = 0;
  // A run of consecutive deletions (a scale-down) likewise: up to DELETES_AT_ONCE in flight, each its own
  // transaction, their outcomes taken in order.
  const deletes = new Map<Action, Promise<PodDeletionOutcome>>();
  let deletesUpTo = 0;
  for (const [i, a] of actions.entries()) {
    switch (a.type) {
      case 'create': {
        startedUpTo = startCreates(edge, actions, Math.max(i, startedUpTo), i + CREATES_AT_ONCE, creates);
        const ok = await creates.get(a)!;
        creates.delete(a);
        if (!ok) lost++;
        else if (a.pod.spec.nodeName) {
          recorder.normal(owner.ref, 'SuccessfulCreate', `Created pod: ${a.pod.metadata.name}`);
          recorder.normal(refOf(a.pod), 'Scheduled', assigned(a.pod, a.pod.spec.nodeName));
        } else {
          recorder.normal(owner.ref, 'SuccessfulCreate', `Created pod: ${a.pod.metadata.name}`);
          recorder.warning(refOf(a.pod), 'FailedScheduling', a.status?.conditions?.[0]?.message ?? '');
        }
        break;
      }
      case 'bind': {
        if (await bindPod(etcd, cluster, a.pod, a.node, guard))
          recorder.normal(refOf(a.pod.object), 'Scheduled', assigned(a.pod.object, a.node));
        else lost++;
        break;
      }
      case 'delete': {
        deletesUpTo = startDeletes(edge, actions, Math.max(i, deletesUpTo), i + DELETES_AT_ONCE, deletes);
        const outcome = await deletes.get(a)!;
        deletes.delete(a);
        if (outcome === 'conflict') lost++;
        else if (outcome !== 'unchanged')
          recorder.normal(
            owner.ref,
            'SuccessfulDelete',
            `Deleted pod: ${a.pod.object.metadata.name} (${a.why})`,
          );
        break;
      }
      case 'podStatus':
        if (
          !(await writeStatus(
            etcd,
            cluster,
            refOf(a.pod.object),
            a.pod.createRevision,
            a.status,
            unlessBack(edge, a.whileNodeAbsent),
          ))
        )
          lost++;
        break;
      case 'putObject':
        if (!(await putObject(edge, a))) lost++;
        else if (a.done)
          recorder.record(owner.ref, a.done.warning ? 'Warning' : 'Normal', a.done.reason, a.done.message);
        break;
      case 'deleteObject': {
        const ref = { ...refOf(a.target.object), createRevision: a.target.createRevision };
        if (!(await deleteObjects(etcd, cluster, [ref], guard))) lost++;
        else
          recorder.normal(
            owner.ref,
            'SuccessfulDelete',
            `Deleted ${a.target.object.kind} ${a.target.object.metadata.name} (${a.why})`,
          );
        break;
      }
      case 'imagePull':
        if (!(await putImagePull(edge, a))) lost++;
        break;
      case 'status':
        if (!(await writeStatus(etcd, cluster, owner.ref, owner.createRevision, a.status, guard))) lost++;
        break;
      case 'wake':
        break;
      case 'event':
        recorder.record(
          a.on === 'owner' ? owner.ref : a.on,
          a.warning ? 'Warning' : 'Normal',
          a.reason,
          a.message,
        );
        break;
    }
  }
  return lost;
}

/** A putObject action under the leader's fence: create if absent, replace if unchanged, status alone
 * while the object is that creation. */
async function putObject(edge: Edge, a: Extract<Action, { type: 'putObject' }>): Promise<boolean> {
  const { etcd, cluster, guard } = edge;
  const target = a.object ?? a.prev?.object;
  if (!target) throw new Error('putObject without an object');
  const key = objectKey(cluster, refOf(target));
  const ops = [];
  if (a.object) ops.push(etcd.put(key).value(toStoredJson(a.object)));
  if (a.status !== undefined)
    ops.push(etcd.put(statusKey(cluster, refOf(target))).value(boundedStatusJson(refOf(target), a.status)));
  if (ops.length === 0) return true;
  const compare: Compare = !a.prev
    ? absent(key)
    : a.object
      ? { key, target: 'Mod', op: '==', value: a.prev.modRevision }
      : { key, target: 'Create', op: '==', value: a.prev.createRevision };
  const res = await guardedTxn(etcd, guard, compare)
    .then(...ops)
    .commit();
  return res.succeeded;
}

/** An imagePull action under the leader's fence. */
async function putImagePull(edge: Edge, a: Extract<Action, { type: 'imagePull' }>): Promise<boolean> {
  const { etcd, cluster, guard } = edge;
  const key = `${keys.imagePullsPrefix(cluster)}${a.key}`;
  const compare: Compare =
    a.prevRevision === undefined ? absent(key) : { key, target: 'Mod', op: '==', value: a.prevRevision };
  const op = a.request ? etcd.put(key).value(JSON.stringify(a.request)) : etcd.delete().key(key);
  return (await guardedTxn(etcd, guard, compare).then(op).commit()).succeeded;
}

/** Pod deletions in flight at most. */
const DELETES_AT_ONCE = 64;

/** Start the deletions of the run that goes on at `from`, until `until` or the run's end; each outcome goes
 * in `started`. Returns the index after the last deletion started. */
function startDeletes(
  edge: Edge,
  actions: Action[],
  from: number,
  until: number,
  started: Map<Action, Promise<PodDeletionOutcome>>,
): number {
  let next = from;
  for (let a = actions[next]; next < until && a?.type === 'delete'; a = actions[++next]) {
    const p = deleteOne(edge, a);
    p.catch(() => undefined); // awaited in order by applyActions; a failure is not left unhandled
    started.set(a, p);
  }
  return next;
}

/** A verdict about a lost node removes the pod at once (no agent to finish); otherwise the pod is deleted
 * gracefully (Terminating until its agent has stopped it). Under the leader's fence either way. */
async function deleteOne(edge: Edge, a: Extract<Action, { type: 'delete' }>): Promise<PodDeletionOutcome> {
  const { etcd, cluster, guard } = edge;
  if (a.whileNodeAbsent) {
    const ref = { ...refOf(a.pod.object), createRevision: a.pod.createRevision };
    return (await deleteObjects(etcd, cluster, [ref], unlessBack(edge, a.whileNodeAbsent)))
      ? 'removed'
      : 'conflict';
  }
  const node = a.pod.object.spec.nodeName;
  return deletePod(etcd, cluster, a.pod, {
    guard: [
      ...guard,
      ...(a.whileNamespace ? [namespaceAsSeen(cluster, a.whileNamespace)] : []),
      ...(a.whileNodeAt ? [nodeAsSeen(cluster, a.whileNodeAt)] : []),
    ],
    ...(node !== undefined && edge.nodeRegistered ? { nodeRegistered: edge.nodeRegistered(node) } : {}),
  });
}

/** Pod creates in flight at most: a scale-up by thousands goes out in a window of this many, */
const CREATES_AT_ONCE = 500;
/** in transactions of this many pods each (every pod's name compared absent, and the leader's fence;
 * etcd takes 128 compares and 128 operations in a transaction by default: 50 pods with their statuses
 * are 100 puts). */
const CREATES_PER_TXN = 50;

/** Start the creates of the run that goes on at `from`, whole transactions, until `until` is reached or the
 * run ends; each create's outcome goes in `started`. Returns the index after the last create started. */
function startCreates(
  edge: Edge,
  actions: Action[],
  from: number,
  until: number,
  started: Map<Action, Promise<boolean>>,
): number {
  let next = from;
  while (next < until) {
    const batch: Array<Extract<Action, { type: 'create' }>> = [];
    for (let a = actions[next]; a?.type === 'create' && batch.length < CREATES_PER_TXN; a = actions[next]) {
      batch.push(a);
      next++;
    }
    if (batch.length === 0) break;
    const together = createPods(edge.etcd, edge.cluster, batch, edge.guard);
    for (const a of batch) {
      const p = together.then((ok) =>
        ok ? true : createPod(edge.etcd, edge.cluster, a.pod, a.status, edge.guard),
      );
      p.catch(() => undefined); // awaited in order by applyActions; a failure is not left unhandled
      started.set(a, p);
    }
  }
  return next;
}

/** Several new pods in one transaction, each only if its name is free; false when any is taken (or the
 * fence moved): then each is tried alone, so one taken name costs its own pod only. */
async function createPods(
  etcd: Etcd3,
  cluster: string,
  batch: ReadonlyArray<{ pod: Pod; status?: PodStatus }>,
  guard: Guard,
): Promise<boolean> {
  if (batch.length === 1) return false;
  const ops = batch.flatMap(({ pod, status }) => {
    const ref = refOf(pod);
    const put = [etcd.put(objectKey(cluster, ref)).value(toStoredJson(pod))];
    if (status) put.push(etcd.put(statusKey(cluster, ref)).value(JSON.stringify(status)));
    return put;
  });
  const res = await guardedTxn(etcd, guard, ...batch.map(({ pod }) => absent(objectKey(cluster, refOf(pod)))))
    .then(...ops)
    .commit();
  return res.succeeded;
}

const assigned = (pod: Pod, node: string) =>
  `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`;

/** A new pod and (optionally) its first status, in one transaction; false when the name is taken. */
export async function createPod(
  etcd: Etcd3,
  cluster: string,
  pod: Pod,
  status?: PodStatus,
  guard: Guard = NO_GUARD,
): Promise<boolean> {
  const ref = refOf(pod);
  const ops = [etcd.put(objectKey(cluster, ref)).value(toStoredJson(pod))];
  if (status) ops.push(etcd.put(statusKey(cluster, ref)).value(JSON.stringify(status)));
  const res = await guardedTxn(etcd, guard, absent(objectKey(cluster, ref)))
    .then(...ops)
    .commit();
  return res.succeeded;
}

/** Bind a pending pod: nodeName set once, only if the pod is unchanged since it was read. The status
 * says scheduled until the node's agent writes its own. */
export async function bindPod(
  etcd: Etcd3,
  cluster: string,
  stored: Stored<Pod>,
  node: string,
  guard: Guard = NO_GUARD,
): Promise<boolean> {
  const pod = structuredClone(stored.object);
  if (pod.spec.nodeName)
    throw new Error(`${describeRef(refOf(pod))} is bound already (to ${pod.spec.nodeName})`);
  pod.spec.nodeName = node;
  const now = new Date().toISOString();
  const status: PodStatus = {
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now }],
  };
  const ref = refOf(pod);
  const res = await guardedTxn(etcd, guard, {
    key: objectKey(cluster, ref),
    target: 'Mod',
    op: '==',
    value: stored.modRevision,
  })
    .then(
      etcd.put(objectKey(cluster, ref)).value(toStoredJson(pod)),
      etcd.put(statusKey(cluster, ref)).value(JSON.stringify(status)),
    )
    .commit();
  return res.succeeded;
}

/** The leader's fence, and (for a verdict about a lost node) that node still has no record. */
const unlessBack = (edge: Edge, node: string | undefined): Guard =>
  node ? [...edge.guard, absent(keys.node(edge.cluster, node))] : edge.guard;

/** The node's record is the one read (same modification revision). */
const nodeAsSeen = (cluster: string, at: { node: string; modRevision: string }): Compare => ({
  key: keys.node(cluster, at.node),
  target: 'Mod',
  op: '==',
  value: at.modRevision,
});

/** The namespace key still has the create revision a verdict saw ('0': still absent). */
const namespaceAsSeen = (cluster: string, ns: { name: string; createRevision: string }): Compare => ({
  key: objectKey(cluster, { kind: 'Namespace', name: ns.name }),
  target: 'Create',
  op: '==',
  value: ns.createRevision,
});
