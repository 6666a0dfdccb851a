// The kubecontroller: on head nodes, an etcd election (keys.election(cluster, 'kubecontroller'), value =
// node name); the leader runs one actor per Deployment / DaemonSet / Job and the node lifecycle. It reads
// informer caches (caches.ts), never etcd: their changes kick actors, a reconcile builds its world from
// them after they hold the leader's own writes. Every 5 minutes a resync (from the caches) makes actors
// match the controller objects again and kicks them all. An actor whose object is gone is dropped, by the
// delete or by its own reconcile. Losing the election (or stopping) stops every actor. Every write of the leader carries its fence (leadership.ts): a deposed leader's
// writes fail. A head that learns the leader died (mesh `dead`) removes its campaign key, guarded, so
// another head takes over at once.
import { podNetworkOf } from '../../agent/config/schema.ts';
import type { ActorRow, AgentContext, AgentPart } from '../../agent/context.ts';
import { atMost } from '../../agent/loop/at-most.ts';
import type { MemberEvent } from '../../agent/mesh/member-table.ts';
import { type ObjectRef, refOf, type Stored } from '../../agent/objects/store.ts';
import type { CronJob, ImagePrewarm, KubeObject, Pod } from '../../agent/objects/types.ts';
import { logEtcdFailure } from '../../agent/store/etcd.ts';
import type { Guard } from '../../agent/store/guard.ts';
import type { Entry, Handlers } from '../../agent/store/informer/informer.ts';
import { reconcileCronJob } from '../cronjob/reconcile.ts';
import { prewarmMetrics } from '../prewarm/metrics.ts';
import { reconcileImagePrewarm } from '../prewarm/reconcile.ts';
import { type Action, applyActions, type Edge } from './actions.ts';
import { ControllerActor } from './actor.ts';
import { AssumedPods } from './assumed-pods.ts';
import { LeaderCaches } from './caches.ts';
import { reconcileDaemonSet } from './daemonset.ts';
import { type ReconcileEnv, reconcileDeployment } from './deployment.ts';
import { DisruptionController } from './disruption-controller.ts';
import { EndpointSliceController } from './endpointslice-controller.ts';
import { reconcileJob } from './job.ts';
import { Leadership } from './leadership.ts';
import { forgetDeadNode, planSweep } from './node-lifecycle.ts';
import { freeRemovedSubnets } from './pod-subnets.ts';
import type { Controller } from './pod-template.ts';
import { taintKey } from './taint-eviction.ts';
import { controllerOf, type World } from './world.ts';

/** A safety net only, from the caches (etcd is not asked): informers re-list on a broken watch. */
export const RESYNC_MS = 300_000;

/** Resources whose objects are rows of the Actors dashboard besides pods (which their agents report). */
const ROW_RESOURCES = [
  'namespaces',
  'deployments',
  'daemonsets',
  'jobs',
  'cronjobs',
  'configmaps',
  'secrets',
];
/** Kinds with an actor each: the pod controllers, and prewarm tasks (head/prewarm). */
type ControllerKind = Controller['kind'] | 'ImagePrewarm' | 'CronJob';
type Controlled = Controller | ImagePrewarm | CronJob;
const CONTROLLED: Record<string, ControllerKind> = {
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  jobs: 'Job',
  imageprewarms: 'ImagePrewarm',
  cronjobs: 'CronJob',
};
const RECONCILE: { [K in ControllerKind]: (s: Stored<Controlled>, w: World, env: ReconcileEnv) => Action[] } =
  {
    Deployment: (s, w, env) => reconcileDeployment(s as never, w, env),
    DaemonSet: (s, w, env) => reconcileDaemonSet(s as never, w, env),
    Job: (s, w, env) => reconcileJob(s as never, w, env),
    ImagePrewarm: (s, w, env) => reconcileImagePrewarm(s as never, w, env),
    CronJob: (s, w, env) => reconcileCronJob(s as never, w, env),
  };

/** A reconcile's rest after planning for `ms`: four times as long (planning at most a fifth of the loop
 * while kicks keep coming), at most 2 s. A few ms at ordinary sizes: below the kick delay, no effect. */
const restAfter = (ms: number) => Math.min(4 * ms, 2000);
/** A sweep's pod deletions in flight at most (each its own transaction, the node's record judged from the
 * caches: etcd batches the window into few disk writes). */
const SWEEP_DELETES_AT_ONCE = 64;

export const kubecontrollerPart: AgentPart = {
  name: 'kubecontroller',
  async start(ctx) {
    if (!ctx.self().roles.includes('head')) return null;
    const kc = new KubeController(ctx);
    kc.campaign();
    return kc;
  },
};

class KubeController {
  private readonly ctx: AgentContext;
  private readonly leadership: Leadership;
  private leading: Leader | undefined;
  private stopped = false;
  private readonly onMember = (e: MemberEvent) => {
    if (e.type !== 'dead') return;
    this.leading?.nodeDied(e.member.name, e.member.incarnation);
    this.tidyElection(e.member.name, e.member.incarnation);
  };

  /** Drop a dead head's campaign key; when this head could not try (not a candidate at that moment, as
   * while it campaigns again after an etcd outage, or etcd did not answer), again every second while the
   * mesh still holds that incarnation dead. Else the next leader would wait for the dead one's lease TTL. */
  private tidyElection(name: string, incarnation: number): void {
    void this.leadership.removeDead(name, incarnation).then((settled) => {
      const m = this.ctx.mesh.table.get(name);
      if (settled || this.stopped || !m || m.state !== 'dead' || m.incarnation !== incarnation) return;
      setTimeout(() => this.tidyElection(name, incarnation), TIDY_RETRY_MS).unref();
    });
  }

  constructor(ctx: AgentContext) {
    this.ctx = ctx;
    this.leadership = new Leadership(
      { etcd: ctx.etcd, cluster: ctx.cluster, name: 'kubecontroller', node: ctx.nodeName, log: ctx.log },
      {
        elected: (guard) => {
          this.leading = new Leader(ctx, guard);
          this.leading.start();
        },
        deposed: () => {
          this.leading?.stop();
          this.leading = undefined;
        },
      },
    );
    ctx.events.on('member', this.onMember);
  }

  /** Stand for leader; `elected` makes this head run the actors. */
  campaign(): void {
    this.leadership.campaign();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.events.off('member', this.onMember);
    await this.leadership.stop();
  }
}

const TIDY_RETRY_MS = 1000;

type Actor = ControllerActor & { kind: ControllerKind; ref: ObjectRef & { namespace: string } };

const actorId = (kind: string, obj: KubeObject) => `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`;

/** The leader's work: caches, actors, resync, node lifecycle. */
export class Leader {
  private readonly ctx: AgentContext;
  private readonly caches: LeaderCaches;
  private readonly actors = new Map<string, Actor>();
  /** Services' EndpointSlices (endpointslice-controller.ts). */
  private readonly endpointSlices: EndpointSliceController;
  /** PodDisruptionBudgets' statuses (disruption-controller.ts). */
  private readonly disruption: DisruptionController;
  private readonly offs: Array<() => void> = [];
  /** Placements of this leader not read back yet: every reconcile's load counts them. */
  private readonly assumed = new AssumedPods();
  private removeActorSource: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly sweeper: ControllerActor;
  /** Frees the pod subnets of nodes gone from the config (pod-subnets.ts): on start, on each config
   * change and each node record removed (a removed node's record outlives the config change by its TTL). */
  private readonly subnets: ControllerActor;
  private readonly onNode = () => {
    for (const a of this.actors.values()) a.kick();
    this.sweeper.kick();
  };
  private readonly onConfig = () => this.subnets.kick();

  /** The fence every write of this leadership carries. */
  private readonly guard: Guard;

  constructor(ctx: AgentContext, guard: Guard) {
    this.ctx = ctx;
    this.guard = guard;
    this.caches = new LeaderCaches(ctx.etcd, ctx.cluster, ctx.log);
    this.endpointSlices = new EndpointSliceController(ctx, this.caches, () => this.edge());
    this.disruption = new DisruptionController(ctx, this.caches, () => this.edge());
    this.sweeper = new ControllerActor(
      ctx,
      { namespace: '_cluster', kind: 'NodeLifecycle', name: 'pods', uid: '' },
      () => this.sweep(),
      false,
    );
    this.subnets = new ControllerActor(
      ctx,
      { namespace: '_cluster', kind: 'PodSubnets', name: 'nodes', uid: '' },
      async () => void (await freeRemovedSubnets(this.edge(), this.ctx.config(), this.ctx.log)),
      false,
    );
  }

  start(): void {
    const { ctx, caches } = this;
    ctx.alive.set('_cluster', 'kubecontroller', {
      node: ctx.nodeName,
      actor: 'kubecontroller',
      since: new Date().toISOString(),
    });
    this.removeActorSource = ctx.handles.actorRows.add(() => this.rows());
    this.offs.push(
      prewarmMetrics(ctx.metrics, () => caches.list<ImagePrewarm>('imageprewarms').map((s) => s.object)),
    );
    this.endpointSlices.start();
    this.disruption.start();
    for (const [resource, kind] of Object.entries(CONTROLLED)) {
      // A Job is also a CronJob's run: its owner looks again.
      const changed = (_k: string, e: Entry<Stored>) => {
        this.ensureActor(kind, e.value.object).kick();
        if (kind === 'Job') this.kickOwner(e.value.object);
      };
      this.offs.push(
        caches.objects[resource]!.on({
          add: changed,
          update: changed,
          delete: (_k, old) => {
            this.dropActor(actorId(kind, old.value.object), old.value.object.metadata.uid);
            if (kind === 'Job') this.kickOwner(old.value.object);
            this.sweeper.kick();
          },
        }),
      );
    }
    // Pod objects change only on create, bind and delete (status lives elsewhere): each is worth a sweep
    // (bind a pending pod, mark one bound to a node that is gone NodeLost, collect orphans).
    const podChanged = (k: string, e: Entry<Stored>) => {
      this.kickOwner(e.value.object);
      this.sweeper.kick();
      if ((e.value.object as Pod).spec.nodeName === undefined) this.unbound.add(k);
      else this.unbound.delete(k);
    };
    // A bound pod gone frees room (resources, ports, a preemption's victim): the owners of pending pods
    // look again (the sweep binds bare ones).
    const podGone = (k: string, e: Entry<Stored>) => {
      podChanged(k, e);
      this.unbound.delete(k);
      if ((e.value.object as Pod).spec.nodeName === undefined) return;
      for (const key of this.unbound) {
        const pending = caches.objects.pods!.get(key);
        if (pending) this.kickOwner(pending.value.object);
      }
    };
    this.offs.push(caches.objects.pods!.on({ add: podChanged, update: podChanged, delete: podGone }));
    // A Deployment's revision records (ReplicaSets): its actor keeps them (one deleted by hand comes back),
    // kicked by the owner's name: a record of a deleted Deployment, once collected, frees its name for the
    // Deployment created again under that name. A new record may belong to a Deployment deleted
    // meanwhile: the sweep collects it (updates are the actor's own status writes: no sweep).
    const revisionChanged = (_k: string, e: Entry<Stored>) => {
      const rs = e.value.object;
      const owner = controllerOf(rs);
      if (owner) this.actors.get(`${owner.kind}/${rs.metadata.namespace}/${owner.name}`)?.kick();
    };
    this.offs.push(
      caches.objects.replicasets!.on({
        add: (k, e) => {
          revisionChanged(k, e);
          this.sweeper.kick();
        },
        update: revisionChanged,
        delete: revisionChanged,
      }),
    );
    // A namespace deleted (or created again) may leave pods of the old one: the sweep deletes them.
    this.offs.push(
      caches.objects.namespaces!.on(
        { add: () => this.sweeper.kick(), delete: () => this.sweeper.kick() },
        false,
      ),
    );
    const statusChanged = (key: string) => {
      const pod = caches.objects.pods!.get(key);
      if (pod) this.kickOwner(pod.value.object);
    };
    this.offs.push(
      caches.statuses.pods!.on({ add: statusChanged, update: statusChanged, delete: statusChanged }),
    );
    // A Job finished (its status): its CronJob looks again (history, Forbid).
    const jobStatusChanged = (key: string) => {
      const job = caches.objects.jobs!.get(key);
      if (job) this.kickOwner(job.value.object);
    };
    this.offs.push(caches.statuses.jobs!.on({ add: jobStatusChanged, update: jobStatusChanged }));
    // A node record, or a node drained or undrained, changes every controller's world.
    const nodes: Handlers<unknown> = { add: this.onNode, update: this.onNode, delete: this.onNode };
    // A node's status says which images it holds: a rollout waiting for a pre-pull may go on.
    this.offs.push(
      caches.nodes.on(nodes),
      caches.drains.on(nodes),
      caches.cordons.on(nodes),
      caches.nodeStatuses.on(nodes),
    );
    this.offs.push(caches.nodes.on({ delete: () => this.subnets.kick() }, false));
    ctx.events.on('config', this.onConfig);
    this.offs.push(() => ctx.events.off('config', this.onConfig));
    this.subnets.kick();
    this.resyncTimer = setInterval(() => void this.resync(), RESYNC_MS);
    // Nodes that died before we led: their leases are revoked now.
    for (const m of ctx.mesh.table.list()) if (m.state === 'dead') this.nodeDied(m.name, m.incarnation);
  }

  stop(): void {
    this.stopped = true;
    this.removeActorSource?.();
    this.endpointSlices.stop();
    this.disruption.stop();
    clearInterval(this.resyncTimer);
    for (const off of this.offs) off();
    for (const a of this.actors.values()) a.stop();
    this.actors.clear();
    this.sweeper.stop();
    this.subnets.stop();
    void this.caches.release();
    this.ctx.alive.delete('_cluster', 'kubecontroller');
    this.ctx.log.info('kubecontroller: no longer leading; actors stopped');
  }

  nodeDied(name: string, incarnation: number): void {
    forgetDeadNode(this.edge(), name, incarnation, this.ctx.log).catch((err) =>
      logEtcdFailure(this.ctx.log, err, { node: name }, 'removing a dead node record failed'),
    );
  }

  private edge(): Edge {
    const { ctx, caches, guard } = this;
    return {
      etcd: caches.writer.etcd,
      cluster: ctx.cluster,
      recorder: ctx.recorder,
      guard,
      nodeRegistered: (node) => caches.nodes.get(node) !== undefined,
    };
  }

  /** Pods not bound to a node (by cache key): kicked when a bound pod goes. */
  private readonly unbound = new Set<string>();
  /** Where the next spread placement starts looking (agent/scheduler/stack.ts): kept across reconciles. */
  private readonly rotation = { next: 0 };

  /** When this leader first saw each NoExecute taint (taint-eviction.ts); gone taints forgotten. */
  private taintsSeen = new Map<string, number>();

  private noteTaints(nodes: World['nodes']): ReadonlyMap<string, number> {
    const now = Date.now();
    const next = new Map<string, number>();
    for (const n of nodes)
      for (const t of n.taints ?? [])
        if (t.effect === 'NoExecute') {
          const key = taintKey(n.name, t);
          next.set(key, this.taintsSeen.get(key) ?? now);
        }
    this.taintsSeen = next;
    return next;
  }

  /** The caches' world, with whether the cluster has a pod network (host ports: agent/scheduler). */
  private world(): World {
    const config = this.ctx.config();
    const world = this.caches.world();
    return {
      ...world,
      taintsSince: this.noteTaints(world.nodes),
      podNetwork: podNetworkOf(config) !== undefined,
      scheduler: config.scheduler,
      rotation: this.rotation,
    };
  }

  /** A pod changed: its controller's actor looks again (a bare pod has none). */
  private kickOwner(pod: KubeObject): void {
    const uid = controllerOf(pod)?.uid;
    if (!uid) return;
    for (const a of this.actors.values()) if (a.uid === uid) a.kick();
  }

  private ensureActor(kind: ControllerKind, obj: KubeObject): Actor {
    const id = actorId(kind, obj);
    const { uid } = obj.metadata;
    const have = this.actors.get(id);
    if (have && have.uid === uid) return have;
    if (have) this.dropActor(id, have.uid);
    const ref = { kind, namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name };
    const actor = Object.assign(
      new ControllerActor(this.ctx, { ...ref, uid }, () => this.reconcile(ref, uid)),
      { kind, ref },
    );
    this.actors.set(id, actor);
    return actor;
  }

  /** Drop the actor of `id`, if it is the one of that uid (a newer object of the same name keeps its own). */
  private dropActor(id: string, uid: string): void {
    const actor = this.actors.get(id);
    if (!actor || actor.uid !== uid) return;
    actor.stop();
    this.actors.delete(id);
  }

  private async reconcile(ref: ObjectRef & { kind: ControllerKind; namespace: string }, uid: string) {
    await this.caches.synced();
    await this.caches.seenOwnWrites();
    if (this.stopped) return;
    const id = `${ref.kind}/${ref.namespace}/${ref.name}`;
    const stored = this.caches.get<Controlled>(RESOURCE_OF[ref.kind], `${ref.namespace}/${ref.name}`);
    // Deleted (or replaced by a newer object of the same name) means this actor is done.
    if (!stored || stored.object.metadata.uid !== uid) return this.dropActor(id, uid);
    const planning = performance.now();
    const actions = RECONCILE[ref.kind](stored, this.assumed.attach(this.world()), {
      now: new Date().toISOString(),
    });
    this.assumed.record(actions);
    const actor = this.actors.get(id);
    actor?.rest(restAfter(performance.now() - planning));
    for (const a of actions) if (a.type === 'wake') actor?.kickAt(a.at);
    const owner = { ref: { ...ref, uid }, createRevision: stored.createRevision };
    await applyActions(this.edge(), owner, actions);
  }

  private async sweep(): Promise<void> {
    await this.caches.synced();
    await this.caches.seenOwnWrites();
    if (this.stopped) return;
    const planning = performance.now();
    const world = this.world();
    const uids = new Set(
      Object.keys(CONTROLLED).flatMap((r) =>
        this.caches.objects[r]!.entries().map(([, e]) => e.value.object.metadata.uid),
      ),
    );
    const namespaces = new Map(
      this.caches.objects
        .namespaces!.entries()
        .map(([, e]) => [e.value.object.metadata.name, e.value.createRevision]),
    );
    const actions = planSweep(this.assumed.attach(world), uids, new Date().toISOString(), namespaces);
    this.assumed.record(actions);
    this.sweeper.rest(restAfter(performance.now() - planning));
    // A run of pod deletions (a deleted Deployment's 10,000 orphans) goes SWEEP_DELETES_AT_ONCE at a time;
    // everything else one after another, in order.
    let deletions: Array<() => Promise<unknown>> = [];
    const flush = async () => {
      await atMost(SWEEP_DELETES_AT_ONCE, deletions);
      deletions = [];
    };
    for (const a of actions) {
      if (a.type === 'wake') {
        this.sweeper.kickAt(a.at);
        continue;
      }
      // Events name their object themselves; writes are done on behalf of the object they touch.
      const target =
        a.type === 'delete' || a.type === 'podStatus' || a.type === 'bind'
          ? a.pod
          : a.type === 'deleteObject'
            ? a.target
            : undefined;
      const owner = target
        ? {
            ref: { ...refOf(target.object), uid: target.object.metadata.uid },
            createRevision: target.createRevision,
          }
        : { ref: { kind: 'Pod' as const, name: '', uid: '' }, createRevision: '0' };
      if (a.type === 'delete') {
        deletions.push(() => applyActions(this.edge(), owner, [a]));
        continue;
      }
      await flush();
      await applyActions(this.edge(), owner, [a]);
    }
    await flush();
  }

  /** `nokube_actor` rows for the namespaces, controllers, ConfigMaps and Secrets, from the caches. */
  private rows(): ActorRow[] {
    const out: ActorRow[] = [];
    for (const resource of ROW_RESOURCES)
      for (const [, e] of this.caches.objects[resource]?.entries() ?? []) out.push(rowOf(e.value.object));
    return out;
  }

  /** Level-triggered safety net, from the caches (no etcd read, so no list can be older than a delete
   * already seen): an actor for every controller object, none for the gone ones, all kicked. */
  async resync(): Promise<void> {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const [resource, kind] of Object.entries(CONTROLLED)) {
      const informer = this.caches.objects[resource]!;
      if (!informer.isSynced) return;
      for (const [, e] of informer.entries()) {
        seen.add(actorId(kind, e.value.object));
        this.ensureActor(kind, e.value.object).kick();
      }
    }
    for (const [id, a] of [...this.actors]) if (!seen.has(id)) this.dropActor(id, a.uid);
    this.sweeper.kick();
    this.endpointSlices.resync();
    this.disruption.resync();
  }
}

const RESOURCE_OF: Record<ControllerKind, string> = {
  Deployment: 'deployments',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  ImagePrewarm: 'imageprewarms',
  CronJob: 'cronjobs',
};

/** A `nokube_actor` row for a namespace, controller, ConfigMap or Secret. */
function rowOf(obj: KubeObject): ActorRow {
  const namespace = obj.kind === 'Namespace' ? obj.metadata.name : (obj.metadata.namespace ?? 'default');
  const kind = obj.kind.toLowerCase();
  const controller =
    obj.kind === 'Deployment' || obj.kind === 'DaemonSet' || obj.kind === 'Job' || obj.kind === 'CronJob';
  return {
    kind,
    namespace,
    name: obj.metadata.name,
    owner_kind: '',
    owner_name: '',
    owner_path: `${kind}-${obj.metadata.name}`,
    phase: controller || obj.kind === 'Namespace' ? 'Active' : '-',
    restarts: 0,
  };
}
