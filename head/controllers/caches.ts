// What the kubecontroller's leader reads: informer caches (agent/store/informer) of the objects and
// statuses it reconciles, node records and drain marks. A reconcile builds its World from them and asks
// etcd nothing; before it reads, it waits until the caches hold the leader's own writes so far (else a
// reconcile right after a scale-up would not see the pods it just created and create them again).
import type { Etcd3 } from 'etcd3';
import type { ImagePullRequest, NodeStatus } from '../../agent/images/pull-requests.ts';
import type { Logger } from '../../agent/log/logger.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type {
  Job,
  KubeObject,
  LimitRange,
  Pod,
  PodDisruptionBudget,
  PriorityClass,
  ReplicaSet,
} from '../../agent/objects/types.ts';
import {
  cordonInformer,
  drainInformer,
  jsonInformer,
  type Lease,
  nodeInformer,
  objectInformer,
  statusInformer,
  withStatus,
} from '../../agent/store/informer/cluster.ts';
import type { Informer } from '../../agent/store/informer/informer.ts';
import { type TrackedEtcd, trackWrites } from '../../agent/store/informer/writes.ts';
import { keys } from '../../agent/store/keys.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';
import { compareText } from '../../agent/text/compare.ts';
import { SortedKeys } from './sorted-keys.ts';
import type { World } from './world.ts';

/** Resources whose objects the leader keeps: controllers, their pods, and the rest of the Actors rows. */
export const CACHED_RESOURCES = [
  'deployments',
  'replicasets',
  'daemonsets',
  'jobs',
  'pods',
  'namespaces',
  'configmaps',
  'secrets',
  'services',
  'endpointslices',
  'priorityclasses',
  'limitranges',
  'imageprewarms',
  'cronjobs',
  'poddisruptionbudgets',
];
/** Resources whose status the leader reads (pods for the world, controllers for their own status). */
const STATUS_RESOURCES = [
  'pods',
  'deployments',
  'replicasets',
  'daemonsets',
  'jobs',
  'imageprewarms',
  'cronjobs',
  'poddisruptionbudgets',
];
/** A write not in the cache within this long fails the reconcile (retried with back-off). */
const OWN_WRITE_WAIT_MS = 10_000;

export class LeaderCaches {
  readonly objects: Record<string, Informer<Stored>> = {};
  readonly statuses: Record<string, Informer<unknown>> = {};
  /** Each object cache's keys in (namespace, name) order, kept as entries come and go. */
  private readonly orders: Record<string, SortedKeys> = {};
  private readonly offs: Array<() => void> = [];
  readonly nodes: Informer<NodeRecord>;
  readonly drains: Informer<true>;
  readonly cordons: Informer<true>;
  /** Image pre-pull requests (the leader's own writes) and the nodes' statuses that answer them. */
  readonly imagePulls: Informer<ImagePullRequest>;
  readonly nodeStatuses: Informer<NodeStatus>;
  /** The client the leader writes with: its writes are noted, to be waited for. */
  readonly writer: TrackedEtcd;
  private readonly leases: Array<Lease<unknown>> = [];
  /** Per informer prefix, the revision of the leader's latest write under it. */
  private readonly written = new Map<Informer<unknown>, bigint>();

  constructor(etcd: Etcd3, cluster: string, log: Logger) {
    const hold = <T>(lease: Lease<T>): Informer<T> => {
      this.leases.push(lease as Lease<unknown>);
      return lease.informer;
    };
    for (const r of CACHED_RESOURCES) {
      const informer = hold(objectInformer(etcd, cluster, r, log));
      const order = new SortedKeys();
      // The informer may be shared (agent/store/informer/cluster.ts): the handlers go with these caches.
      this.offs.push(
        informer.on({
          add: (key, e) =>
            order.add(key, e.value.object.metadata.namespace ?? '', e.value.object.metadata.name),
          delete: (key) => order.delete(key),
        }),
      );
      this.objects[r] = informer;
      this.orders[r] = order;
    }
    for (const r of STATUS_RESOURCES) this.statuses[r] = hold(statusInformer(etcd, cluster, r, log));
    this.nodes = hold(nodeInformer(etcd, cluster, log));
    this.drains = hold(drainInformer(etcd, cluster, log));
    this.cordons = hold(cordonInformer(etcd, cluster, log));
    this.imagePulls = hold(jsonInformer<ImagePullRequest>(etcd, keys.imagePullsPrefix(cluster), log));
    this.nodeStatuses = hold(jsonInformer<NodeStatus>(etcd, keys.nodeStatusPrefix(cluster), log));
    this.writer = trackWrites(etcd);
  }

  private all(): Array<Informer<unknown>> {
    return this.leases.map((l) => l.informer);
  }

  /** Every cache listed once (before that, a world would be missing pods that exist). */
  synced(): Promise<void> {
    return Promise.all(this.all().map((i) => i.start())).then(() => undefined);
  }

  /** Until every cache holds every write the leader made so far (any actor's: revisions only grow). */
  async seenOwnWrites(): Promise<void> {
    for (const w of this.writer.take()) {
      const informer = this.all().find((i) => w.key.startsWith(i.prefix));
      if (informer && (this.written.get(informer) ?? 0n) < w.revision) this.written.set(informer, w.revision);
    }
    await Promise.all([...this.written].map(([i, rev]) => i.waitFor(rev, OWN_WRITE_WAIT_MS)));
  }

  /** An object with its status, from the caches (a copy). */
  get<T extends KubeObject>(resource: string, key: string): Stored<T> | undefined {
    const entry = this.objects[resource]?.get(key);
    return entry && withStatus<T>(entry, this.statuses[resource]?.get(key));
  }

  /** Every object of a resource, sorted by namespace then name, with status when it is read. */
  list<T extends KubeObject>(resource: string): Array<Stored<T>> {
    const objects = this.objects[resource];
    const order = this.orders[resource];
    if (!objects || !order) return [];
    const statuses = this.statuses[resource];
    const out: Array<Stored<T>> = [];
    for (const key of order.keys()) {
      const e = objects.get(key);
      if (e) out.push(withStatus<T>(e, statuses?.get(key)));
    }
    return out;
  }

  /** The World (world.ts) of a reconcile: drained nodes left out of `nodes`, cordoned ones marked. */
  world(): World {
    const drained = new Set(this.drains.entries().map(([name]) => name));
    const cordoned = new Set(this.cordons.entries().map(([name]) => name));
    const nodes = this.nodes
      .entries()
      .map(([, e]) => (cordoned.has(e.value.name) ? { ...e.value, unschedulable: true } : e.value))
      .filter((n) => !drained.has(n.name))
      .sort((a, b) => compareText(a.name, b.name));
    return {
      nodes,
      nodeNames: new Set(nodes.map((n) => n.name)),
      nodeRevisions: new Map(this.nodes.entries().map(([, e]) => [e.value.name, e.modRevision])),
      pods: this.list<Pod>('pods'),
      drained,
      replicaSets: this.list<ReplicaSet>('replicasets'),
      jobs: this.list<Job>('jobs'),
      priorityClasses: this.list<PriorityClass>('priorityclasses').map((s) => s.object),
      disruptionBudgets: this.list<PodDisruptionBudget>('poddisruptionbudgets').map((s) => s.object),
      limitRanges: this.list<LimitRange>('limitranges').map((s) => s.object),
      imagePulls: new Map(this.imagePulls.entries()),
      nodeStatuses: new Map(this.nodeStatuses.entries().map(([name, e]) => [name, e.value])),
    };
  }

  async release(): Promise<void> {
    for (const off of this.offs) off();
    await Promise.all(this.leases.map((l) => l.release()));
  }
}
