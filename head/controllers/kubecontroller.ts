// The kubecontroller: on head nodes, an etcd election (keys.election(cluster, 'kubecontroller'), value =
// node name); the leader runs one actor per Deployment / DaemonSet / Job and the node lifecycle. Watch
// events are hints that kick actors; every 5 minutes a resync re-lists everything (level-triggered: a missed
// event costs at most 5 minutes; a reconnected watch re-lists at once). Losing the election (or stopping)
// stops every actor. Every write of the leader carries its fence (leadership.ts): a deposed leader's
// writes fail. A head that learns the leader died (mesh `dead`) removes its campaign key, guarded, so
// another head takes over at once.
import type { IKeyValue, Watcher } from 'etcd3';
import type { AgentContext, AgentPart } from '../../agent/agent.ts';
import type { MemberEvent } from '../../agent/mesh/member-table.ts';
import { getObject, listObjects, type ObjectRef, refOf, type Stored } from '../../agent/objects/store.ts';
import type { Kind, KubeObject, Pod } from '../../agent/objects/types.ts';
import { logEtcdFailure } from '../../agent/store/etcd.ts';
import type { Guard } from '../../agent/store/guard.ts';
import { keys } from '../../agent/store/keys.ts';
import { type ActorRow, addActorSource } from '../../agent/telemetry/node-metrics.ts';
import { type Action, applyActions, type Edge } from './actions.ts';
import { ControllerActor } from './actor.ts';
import { AssumedPods } from './assumed-pods.ts';
import { reconcileDaemonSet } from './daemonset.ts';
import { type ReconcileEnv, reconcileDeployment } from './deployment.ts';
import { reconcileJob } from './job.ts';
import { Leadership } from './leadership.ts';
import { forgetDeadNode, planSweep } from './node-lifecycle.ts';
import type { Controller } from './pod-template.ts';
import { controllerOf, readWorld, type World } from './world.ts';

/** A safety net only: watches re-list on every (re)connect. Rare, so a quiet cluster costs etcd only
 * keepalives (bench/apply measures it). */
export const RESYNC_MS = 300_000;

/** Resources whose objects are rows of the Actors dashboard besides pods (which their agents report). */
const CLUSTER_ROW_KINDS: Record<string, string> = {
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  jobs: 'Job',
  configmaps: 'ConfigMap',
  secrets: 'Secret',
};
type ControllerKind = Controller['kind'];
const CONTROLLED: Record<string, ControllerKind> = {
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  jobs: 'Job',
};
const RECONCILE: { [K in ControllerKind]: (s: Stored<Controller>, w: World, env: ReconcileEnv) => Action[] } =
  {
    Deployment: (s, w, env) => reconcileDeployment(s as never, w, env),
    DaemonSet: (s, w, env) => reconcileDaemonSet(s as never, w, env),
    Job: (s, w, env) => reconcileJob(s as never, w, env),
  };

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
  private readonly onMember = (e: MemberEvent) => {
    if (e.type !== 'dead') return;
    this.leading?.nodeDied(e.member.name, e.member.incarnation);
    void this.leadership.removeDead(e.member.name, e.member.incarnation);
  };

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
    this.ctx.events.off('member', this.onMember);
    await this.leadership.stop();
  }
}

/** The leader's work: watches, actors, resync, node lifecycle. */
class Leader {
  private readonly ctx: AgentContext;
  private readonly actors = new Map<
    string,
    ControllerActor & { kind: ControllerKind; ref: ObjectRef; born: number }
  >();
  /** Counts actor creations and resync starts: a resync only judges the actors older than its lists. */
  private epoch = 0;
  /** Pod `<ns>/<name>` -> its controller's uid ('' for a bare pod), learnt from pod puts and reads: a
   * pod's change kicks its own controller's actor only (an unknown pod: every actor of its namespace). */
  private podOwner = new Map<string, string>();
  /** Cluster-level objects for the Actors dashboard (`nokube_actor` rows), kept from the watch and resync. */
  private readonly clusterObjects = new Map<string, ActorRow>();
  /** Placements of this leader not read back yet: every reconcile's load counts them. */
  private readonly assumed = new AssumedPods();
  private removeActorSource: (() => void) | undefined;
  private readonly watchers: Watcher[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly sweeper: ControllerActor;
  private readonly onNode = () => {
    for (const a of this.actors.values()) a.kick();
    this.sweeper.kick();
  };

  /** The fence every write of this leadership carries. */
  private readonly guard: Guard;

  constructor(ctx: AgentContext, guard: Guard) {
    this.ctx = ctx;
    this.guard = guard;
    this.sweeper = new ControllerActor(
      ctx,
      { namespace: '_cluster', kind: 'NodeLifecycle', name: 'pods', uid: '' },
      () => this.sweep(),
      false,
    );
  }

  start(): void {
    const { ctx } = this;
    ctx.alive.set('_cluster', 'kubecontroller', {
      node: ctx.nodeName,
      actor: 'kubecontroller',
      since: new Date().toISOString(),
    });
    ctx.events.on('node', this.onNode);
    this.removeActorSource = addActorSource(() => [...this.clusterObjects.values()]);
    const objects = ctx.etcd.watch().prefix(keys.objectsPrefix(ctx.cluster)).watcher();
    objects.on('connected', () => void this.resync());
    objects.on('put', (kv) => this.onObject(kv.key.toString('utf8'), kv));
    objects.on('delete', (kv) => this.onObject(kv.key.toString('utf8')));
    const statuses = ctx.etcd
      .watch()
      .prefix(`${keys.statusPrefix(ctx.cluster)}pods/`)
      .watcher();
    // A status change before this watch (re)connected is seen by a resync, not lost until the next one.
    statuses.on('connected', () => void this.resync());
    const onStatus = (kv: IKeyValue) => {
      const [namespace, name] = kv.key.toString('utf8').split('/').slice(-2);
      this.kickPodOwner(namespace!, name!);
    };
    statuses.on('put', onStatus);
    statuses.on('delete', onStatus);
    // A node drained or undrained changes every controller's world (like a node record does).
    const drains = ctx.etcd.watch().prefix(keys.drainPrefix(ctx.cluster)).watcher();
    drains.on('put', this.onNode);
    drains.on('delete', this.onNode);
    for (const w of [objects, statuses, drains]) {
      w.on('error', (err) => logEtcdFailure(ctx.log, err, {}, 'kubecontroller watch error'));
      this.watchers.push(w);
    }
    this.resyncTimer = setInterval(() => void this.resync(), RESYNC_MS);
    // Nodes that died before we led: their leases are revoked now.
    for (const m of ctx.mesh.table.list()) if (m.state === 'dead') this.nodeDied(m.name, m.incarnation);
  }

  stop(): void {
    this.stopped = true;
    this.removeActorSource?.();
    clearInterval(this.resyncTimer);
    this.ctx.events.off('node', this.onNode);
    for (const w of this.watchers) void w.cancel().catch(() => undefined);
    for (const a of this.actors.values()) a.stop();
    this.actors.clear();
    this.sweeper.stop();
    this.ctx.alive.deleteTree('_cluster', 'kubecontroller');
    this.ctx.log.info('kubecontroller: no longer leading; actors stopped');
  }

  nodeDied(name: string, incarnation: number): void {
    forgetDeadNode(this.edge(), name, incarnation, this.ctx.log).catch((err) =>
      logEtcdFailure(this.ctx.log, err, { node: name }, 'removing a dead node record failed'),
    );
  }

  private edge(): Edge {
    return { etcd: this.ctx.etcd, cluster: this.ctx.cluster, recorder: this.ctx.recorder, guard: this.guard };
  }

  /** objects/<resource>/<ns>/<name>: controllers get an actor; a pod kicks its controller's actor. */
  private onObject(key: string, kv?: IKeyValue): void {
    if (this.stopped) return;
    const [resource, namespace, name] = key.slice(keys.objectsPrefix(this.ctx.cluster).length).split('/');
    if (resource === 'namespaces' && namespace) {
      if (kv) this.indexObject(JSON.parse(kv.value.toString('utf8')) as KubeObject);
      else this.clusterObjects.delete(`Namespace/${namespace}/${namespace}`);
    }
    if (!resource || !namespace || !name) return;
    if (CLUSTER_ROW_KINDS[resource]) {
      if (kv) this.indexObject(JSON.parse(kv.value.toString('utf8')) as KubeObject);
      else this.clusterObjects.delete(`${CLUSTER_ROW_KINDS[resource]}/${namespace}/${name}`);
    }
    const kind = CONTROLLED[resource];
    if (kind) {
      if (kv) {
        const uid = (JSON.parse(kv.value.toString('utf8')) as Controller).metadata.uid;
        this.ensureActor({ kind, namespace, name }, uid).kick();
      } else {
        this.dropActor(`${kind}/${namespace}/${name}`);
        this.sweeper.kick();
      }
    } else if (resource === 'pods') {
      const id = `${namespace}/${name}`;
      if (kv) this.podOwner.set(id, controllerOf(JSON.parse(kv.value.toString('utf8')) as Pod)?.uid ?? '');
      this.kickPodOwner(namespace, name);
      if (!kv) this.podOwner.delete(id);
      // Pod objects change only on create, bind and delete (status lives elsewhere): each is worth a
      // sweep (bind a pending pod, mark one bound to a node that is gone NodeLost, collect orphans).
      this.sweeper.kick();
    }
  }

  private kickPodOwner(namespace: string, name: string): void {
    const uid = this.podOwner.get(`${namespace}/${name}`);
    if (uid === '') return;
    for (const a of this.actors.values())
      if (uid === undefined ? a.ref.namespace === namespace : a.uid === uid) a.kick();
  }

  private learnOwners(world: World, complete: boolean): void {
    if (complete) this.podOwner = new Map();
    for (const { object: p } of world.pods)
      this.podOwner.set(`${p.metadata.namespace}/${p.metadata.name}`, controllerOf(p)?.uid ?? '');
  }

  private ensureActor(ref: ObjectRef & { kind: ControllerKind; namespace: string }, uid: string) {
    const id = `${ref.kind}/${ref.namespace}/${ref.name}`;
    const have = this.actors.get(id);
    if (have && have.uid === uid) return have;
    if (have) this.dropActor(id);
    const actor = Object.assign(
      new ControllerActor(this.ctx, { namespace: ref.namespace, kind: ref.kind, name: ref.name, uid }, () =>
        this.reconcile(ref, uid),
      ),
      { kind: ref.kind, ref, born: ++this.epoch },
    );
    this.actors.set(id, actor);
    return actor;
  }

  private dropActor(id: string): void {
    this.actors.get(id)?.stop();
    this.actors.delete(id);
  }

  private async reconcile(ref: ObjectRef & { kind: ControllerKind }, uid: string): Promise<void> {
    const { etcd, cluster } = this.ctx;
    const stored = (await getObject(etcd, cluster, ref)) as Stored<Controller> | null;
    if (!stored || stored.object.metadata.uid !== uid || this.stopped) return;
    const world = this.assumed.attach(await readWorld(etcd, cluster));
    if (this.stopped) return;
    this.learnOwners(world, false);
    const actions = RECONCILE[ref.kind](stored, world, { now: new Date().toISOString() });
    this.assumed.record(actions);
    const actor = this.actors.get(`${ref.kind}/${ref.namespace}/${ref.name}`);
    for (const a of actions) if (a.type === 'wake') actor?.kickAt(a.at);
    const owner = { ref: { ...ref, uid }, createRevision: stored.createRevision };
    await applyActions(this.edge(), owner, actions);
  }

  private async sweep(): Promise<void> {
    const { etcd, cluster } = this.ctx;
    const [world, ...owners] = await Promise.all([
      readWorld(etcd, cluster),
      ...Object.values(CONTROLLED).map((k) => listObjects(etcd, cluster, k, undefined, false)),
    ]);
    if (this.stopped) return;
    this.learnOwners(world, true);
    const uids = new Set(owners.flat().map((s) => s.object.metadata.uid));
    const actions = planSweep(this.assumed.attach(world), uids, new Date().toISOString());
    this.assumed.record(actions);
    for (const a of actions) {
      // Events name their pod themselves; writes are done on behalf of the pod they touch.
      const pod = a.type === 'delete' || a.type === 'podStatus' || a.type === 'bind' ? a.pod : undefined;
      const owner = pod
        ? { ref: { ...refOf(pod.object), uid: pod.object.metadata.uid }, createRevision: pod.createRevision }
        : { ref: { kind: 'Pod' as const, name: '', uid: '' }, createRevision: '0' };
      await applyActions(this.edge(), owner, [a]);
    }
  }

  /** A `nokube_actor` row for a namespace, controller, ConfigMap or Secret. */
  private indexObject(obj: KubeObject): void {
    const namespace = obj.kind === 'Namespace' ? obj.metadata.name : (obj.metadata.namespace ?? 'default');
    const kind = obj.kind.toLowerCase();
    const controller = obj.kind === 'Deployment' || obj.kind === 'DaemonSet' || obj.kind === 'Job';
    this.clusterObjects.set(`${obj.kind}/${namespace}/${obj.metadata.name}`, {
      kind,
      namespace,
      name: obj.metadata.name,
      owner_kind: '',
      owner_name: '',
      owner_path: `${kind}-${obj.metadata.name}`,
      phase: controller || obj.kind === 'Namespace' ? 'Active' : '-',
      restarts: 0,
    });
  }

  /** Level-triggered safety net: actors for every controller object, none for the gone ones. The lists
   * are older than watch events that arrive while they are read: an actor made meanwhile (by a watch
   * event) is newer than the lists, so the resync neither drops nor replaces it. */
  private async resync(): Promise<void> {
    if (this.stopped) return;
    try {
      const { etcd, cluster } = this.ctx;
      const start = ++this.epoch;
      const lists = await Promise.all(
        Object.values(CONTROLLED).map((kind) => listObjects(etcd, cluster, kind as Kind, undefined, false)),
      );
      const others = await Promise.all(
        (['Namespace', 'ConfigMap', 'Secret'] as const).map((kind) =>
          listObjects(etcd, cluster, kind, undefined, false),
        ),
      );
      if (this.stopped) return;
      this.clusterObjects.clear();
      for (const s of [...lists.flat(), ...others.flat()]) this.indexObject(s.object);
      const newer = (id: string) => (this.actors.get(id)?.born ?? 0) > start;
      const seen = new Set<string>();
      for (const s of lists.flat()) {
        const { kind, metadata } = s.object as Controller;
        const id = `${kind}/${metadata.namespace}/${metadata.name}`;
        seen.add(id);
        if (!newer(id))
          this.ensureActor(
            { kind, namespace: metadata.namespace!, name: metadata.name },
            metadata.uid,
          ).kick();
      }
      for (const id of [...this.actors.keys()]) if (!seen.has(id) && !newer(id)) this.dropActor(id);
      this.sweeper.kick();
    } catch (err) {
      logEtcdFailure(this.ctx.log, err, {}, 'kubecontroller resync failed');
    }
  }
}
