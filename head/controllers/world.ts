// What a controller's reconcile looks at: the live node records and every pod (with status and the
// etcd revisions needed for compare-and-swap), from the leader's informer caches (caches.ts). Plus the
// small pure questions controllers ask about pods.

import type { ClusterConfig } from '../../agent/config/schema.ts';
import type { ImagePullRequest, NodeStatus } from '../../agent/images/pull-requests.ts';
import { isTerminalPhase } from '../../agent/objects/pod-phase.ts';
import { priorityOf } from '../../agent/objects/priority-classes.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type {
  Condition,
  Job,
  KubeObject,
  LimitRange,
  OwnerReference,
  Pod,
  PodDisruptionBudget,
  PriorityClass,
  ReplicaSet,
} from '../../agent/objects/types.ts';
import { podResources } from '../../agent/scheduler/resources.ts';
import { addLoad, emptyLoad } from '../../agent/scheduler/stack.ts';
import type { Algorithm, Load } from '../../agent/scheduler/types.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';

export interface World {
  /** Live node records, drained ones left out. */
  nodes: NodeRecord[];
  /** Their names (the caches' worlds have it; hasNode scans `nodes` without it). */
  nodeNames?: ReadonlySet<string>;
  pods: Array<Stored<Pod>>;
  /** Drained nodes (their pods go at once; unreachable ones' pods wait for their toleration). They are
   * left out of `nodes`: nothing is placed there, and their pods count as on a lost node (replaced
   * elsewhere, DaemonSet pods removed), as `kubectl drain` evicts them. */
  drained: ReadonlySet<string>;
  /** Pods the leader placed that this read does not show bound yet (assumed-pods.ts): load only. */
  assumed?: Pod[];
  /** The Jobs (CronJobs' runs; absent in worlds of tests that have none). */
  jobs?: Array<Stored<Job>>;
  /** The Deployments' revisions (absent in worlds of tests that have none). */
  replicaSets?: Array<Stored<ReplicaSet>>;
  /** Image pre-pull requests (agent/images), by `<node>/<kind>/<namespace>/<name>`. */
  imagePulls?: ReadonlyMap<string, Entry<ImagePullRequest>>;
  /** What each node's agent reports about its images, by node (absent: an agent that does not pre-pull). */
  nodeStatuses?: ReadonlyMap<string, NodeStatus>;
  /** The cluster config has a `network` section: pods have their own IPs (host ports: hostPort only). */
  podNetwork?: boolean;
  /** The config's `scheduler` section (absent in tests' worlds: spread everywhere). */
  scheduler?: ClusterConfig['scheduler'];
  /** Where the next spread placement starts (agent/scheduler/stack.ts), kept by the kubecontroller across
   * reconciles; absent: from the first node every time. */
  rotation?: { next: number };
  /** The LimitRanges (their defaults go into the pods controllers make). */
  limitRanges?: LimitRange[];
  /** The PriorityClasses (pods' priorities; absent: every pod 0). */
  priorityClasses?: PriorityClass[];
  /** The PodDisruptionBudgets with their statuses (preemption prefers victims that violate none). */
  disruptionBudgets?: PodDisruptionBudget[];
  /** When (ms) the leader first saw each node's NoExecute taint (taint-eviction.ts `taintKey`). */
  taintsSince?: ReadonlyMap<string, number>;
  /** Each node record's modification revision as read (fences verdicts on what a record says). */
  nodeRevisions?: ReadonlyMap<string, string>;
}

/** A namespace's LimitRanges. */
export const rangesOf = (world: World, namespace: string | undefined): LimitRange[] =>
  (world.limitRanges ?? []).filter((r) => r.metadata.namespace === (namespace ?? 'default'));

/** The ranking algorithm for pods of a namespace: its own in `scheduler.namespaces`, else the cluster's. */
export const algorithmFor = (world: World, namespace: string | undefined): Algorithm =>
  world.scheduler?.namespaces[namespace ?? 'default']?.algorithm ?? world.scheduler?.algorithm ?? 'spread';

export const controllerOf = (obj: KubeObject): OwnerReference | undefined =>
  obj.metadata.ownerReferences?.find((o) => o.controller);

/** The pods whose controller is this object (by uid, as k8s does). */
export const ownedPods = (world: World, owner: KubeObject): Array<Stored<Pod>> =>
  world.pods.filter(
    (p) =>
      p.object.metadata.namespace === owner.metadata.namespace &&
      controllerOf(p.object)?.uid === owner.metadata.uid,
  );

/** The ReplicaSets whose controller is this Deployment (by uid). */
export const ownedReplicaSets = (world: World, owner: KubeObject): Array<Stored<ReplicaSet>> =>
  (world.replicaSets ?? []).filter(
    (r) =>
      r.object.metadata.namespace === owner.metadata.namespace &&
      controllerOf(r.object)?.uid === owner.metadata.uid,
  );

export const phaseOf = (pod: Pod) => pod.status?.phase ?? 'Pending';
export const isTerminal = (pod: Pod) => isTerminalPhase(pod.status?.phase);
export const isRunning = (pod: Pod) => phaseOf(pod) === 'Running';
/** Running with every container ready (a status without container statuses: running is ready). */
export const isReady = (pod: Pod) =>
  isRunning(pod) && (pod.status?.containerStatuses ?? []).every((c) => c.ready);
/** Since when (ms) the pod has been ready: its Ready condition's transition, else its containers' start;
 * undefined when it is not ready. */
export function readySince(pod: Pod): number | undefined {
  if (!isReady(pod)) return undefined;
  const cond = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  if (cond) return Date.parse(cond.lastTransitionTime);
  const started = (pod.status?.containerStatuses ?? []).map((c) => c.state.running?.startedAt);
  if (started.length === 0 || started.some((t) => !t)) return undefined;
  return Math.max(...started.map((t) => Date.parse(t!)));
}

/** When (ms) the pod is (or will be) available: ready for `minReadySeconds` (k8s); undefined when it is
 * not ready. With minReadySeconds 0, ready is available. */
export function availableAt(pod: Pod, minReadySeconds: number): number | undefined {
  if (minReadySeconds <= 0) return isReady(pod) ? 0 : undefined;
  const since = readySince(pod);
  return since === undefined ? undefined : since + minReadySeconds * 1000;
}

/** Whether the world has a live record of the node. A reconcile asks this of every pod: with the caches'
 * name set it is one lookup (a scan of 1,000 nodes per pod was 10 million steps per sweep). */
export const hasNode = (world: World, name: string): boolean =>
  world.nodeNames ? world.nodeNames.has(name) : world.nodes.some((n) => n.name === name);

/** Bound to a node that has no record any more (dead, or gone longer than the lease TTL), or drained. */
export const onLostNode = (pod: Pod, world: World) =>
  pod.spec.nodeName !== undefined && !hasNode(world, pod.spec.nodeName);

/** Pods per node (all, and per controller uid) and the host ports they hold, of the pods that occupy a
 * node: bound and not terminated. A terminating pod (deletionTimestamp) still occupies it until gone. */
export function loadOf(world: World): Load {
  const load = emptyLoad(world.podNetwork, world.rotation);
  for (const { object: p } of world.pods)
    if (p.spec.nodeName && !isTerminal(p)) addLoad(load, p.spec.nodeName, placedOf(p));
  // Pending pods a preemption nominated a node for: their room is held (agent/scheduler/fits-resources.ts).
  for (const { object: p } of world.pods) {
    const node = p.status?.nominatedNodeName;
    if (p.spec.nodeName || !node || isTerminal(p)) continue;
    const held = load.nominated.get(node) ?? [];
    held.push({
      uid: p.metadata.uid,
      priority: priorityOf(p.spec, world.priorityClasses ?? []),
      requests: podResources(p.spec).requests,
    });
    load.nominated.set(node, held);
  }
  for (const p of world.assumed ?? []) addLoad(load, p.spec.nodeName!, placedOf(p));
  return load;
}

const placedOf = (p: Pod) => ({
  spec: p.spec,
  ownerUid: controllerOf(p)?.uid,
  namespace: p.metadata.namespace,
  labels: p.metadata.labels,
});

/** A condition with the transition time kept from `prev` when its status did not change. */
export function condition(
  prev: Condition[] | undefined,
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  now: string,
): Condition {
  const before = prev?.find((c) => c.type === type);
  const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime };
}
