// The pods of this node: the agent's shared informers (agent/store/informer) of the objects (pods bound
// here, the ConfigMaps and Secrets they use, controller objects for cascade), one PodActor per pod, Docker events to learn of exits, a local
// tick, and status written back to etcd only when it changes. Starts from the local cache so an agent
// cut off from etcd keeps running its pods; an agent stop leaves the containers running (adopted later).

import type Docker from 'dockerode';
import { podNetworkOf } from '../config/schema.ts';
import type { AgentContext, AgentPart, PodActorView } from '../context.ts';
import { type NodeDns, nodeDns } from '../dns/part.ts';
import { deletePod } from '../objects/pod-deletion.ts';
import { fromKv, getObject, objectKey, refOf, type Stored, writeStatuses } from '../objects/store.ts';
import type { ConfigMap, Kind, KubeObject, Pod, PodStatus, Secret } from '../objects/types.ts';
import { PodNetwork } from '../podnet/pod-network.ts';
import { NodeSubnet } from '../podnet/subnet.ts';
import { podMtu, VXLAN_PORT } from '../routes/vxlan.ts';
import { watchDockerEvents } from '../runtime/docker-events.ts';
import { pullImage } from '../runtime/images.ts';
import { LABEL, ourContainers } from '../runtime/labels.ts';
import { logEtcdFailure, shortReason, withTimeout } from '../store/etcd.ts';
import { type Lease, objectInformer } from '../store/informer/cluster.ts';
import type { Entry as Cached, Informer } from '../store/informer/informer.ts';
import { keys } from '../store/keys.ts';
import { type PodsCache, readPodsCache, writePodsCache } from './cache.ts';
import { systemClock } from './clock.ts';
import { K8S_BACKOFF, PodActor } from './pod-actor.ts';
import { type ProbeSlots, probeSlots } from './probes/slots.ts';
import type { Lookup } from './resolve.ts';
import { PodStatusQueue, stableStatus } from './status-queue.ts';
import { deleteTerminatedPodUntilDone } from './terminated.ts';

/** Docker-only reconcile of every pod (exits missed by the event stream, back-offs ending). */
const TICK_MS = 10_000;
const CONTROLLER_RESOURCES: Record<string, Kind> = {
  deployments: 'Deployment',
  daemonsets: 'DaemonSet',
  jobs: 'Job',
};

interface Entry {
  pod: Pod;
  createRevision: string;
  actor: PodActor;
}

export const podsPart: AgentPart = {
  name: 'pods',
  async start(ctx: AgentContext) {
    const { docker } = ctx;
    try {
      await withTimeout(docker.ping(), 3000, 'no answer within 3 s');
    } catch (err) {
      ctx.log.error({ err: shortReason(err) }, 'no Docker engine answers: this node runs no pods');
      return null;
    }
    // The pod network, when the config has one (read at start: adding or removing the section takes
    // effect at the agent's next start). The node subnet comes from the workspace at once, else etcd.
    const network = podNetworkOf(ctx.config());
    const subnet = network
      ? new NodeSubnet({
          etcd: ctx.etcd,
          cluster: ctx.cluster,
          node: ctx.nodeName,
          network,
          workspace: ctx.self().workspace,
          log: ctx.log.child({ part: 'podnet' }),
        })
      : undefined;
    const podNetwork =
      network && subnet
        ? new PodNetwork({
            docker,
            cluster: ctx.cluster,
            node: ctx.nodeName,
            workspace: ctx.self().workspace,
            network,
            subnet,
            log: ctx.log.child({ part: 'podnet' }),
            ...(network.backend === 'vxlan' ? { mtu: await vxlanPodMtu(ctx), overlayPort: VXLAN_PORT } : {}),
          })
        : undefined;
    await subnet?.start();
    const dns = podNetwork && subnet && nodeDns(ctx, podNetwork, subnet);
    await dns?.start();
    const pods = new PodsOnNode(ctx, docker, podNetwork, dns);
    const running = await pods.start();
    const withdraw = ctx.handles.podActors.publish(pods);
    return {
      async stop() {
        withdraw();
        subnet?.stop();
        await running.stop();
        await dns?.stop();
      },
    };
  },
};

class PodsOnNode {
  private readonly ctx: AgentContext;
  private readonly docker: Docker;
  private readonly pods = new Map<string, Entry>();
  private readonly configMaps = new Map<string, ConfigMap>();
  private readonly secrets = new Map<string, Secret>();
  /** Services, for their environment variables (kept in the local cache: an agent cut off from etcd
   * starts containers with the Services it last knew). */
  private readonly services = new Map<string, Extract<KubeObject, { kind: 'Service' }>>();
  /** The pods' statuses: last written, and not yet written. */
  private readonly statuses: PodStatusQueue;
  private cacheTimer: NodeJS.Timeout | undefined;
  /** The timer is the short one (a pod waits to start: whenCached). */
  private cacheTimerSoon = false;
  /** Writes of the cache, one after another (each the state when it starts; one tmp file). */
  private cacheWrites: Promise<void> = Promise.resolve();
  /** Uids of the pods the cache on disk holds (a write that held them succeeded, or read at start). */
  private readonly cachedUids = new Set<string>();
  /** Pods waiting for a write that holds them before their first container (whenCached). */
  private cacheWaiters: Array<() => void> = [];
  private tick: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly leases: Array<Lease<Stored>> = [];
  private readonly offs: Array<() => void> = [];
  private events: { stop(): void } | undefined;
  private stopped = false;
  /** Uids of pods being stopped (their containers are not strays). */
  private readonly removing = new Set<string>();
  private readonly lookup: Lookup;
  /** One bound on running probes for every pod of the node. */
  private readonly probeSlots: ProbeSlots = probeSlots();
  private readonly network: PodNetwork | undefined;
  private readonly dns: NodeDns | undefined;

  constructor(ctx: AgentContext, docker: Docker, network?: PodNetwork, dns?: NodeDns) {
    this.ctx = ctx;
    this.docker = docker;
    this.network = network;
    this.dns = dns;
    this.statuses = new PodStatusQueue({
      target: (id) => this.pods.get(id),
      write: async (batch) => {
        await writeStatuses(
          ctx.etcd,
          ctx.cluster,
          batch.map(({ pod, createRevision, status }) => ({ ref: refOf(pod), createRevision, status })),
        );
      },
      // etcd away: kept, written on a later tick.
      failed: (err, pods) => ctx.log.debug({ err: shortReason(err), pods }, 'pod status write failed'),
      wrote: () => this.saveCacheSoon(),
      stopped: () => this.stopped,
    });
    this.lookup = {
      configMap: (ns, name) => this.configMaps.get(`${ns}/${name}`),
      secret: (ns, name) => this.secrets.get(`${ns}/${name}`),
      services: (ns) => [...this.services.values()].filter((s) => s.metadata.namespace === ns),
    };
  }

  async start(): Promise<{ stop(): Promise<void> }> {
    // 1. What we last knew: run it at once (adopting running containers), etcd corrects it when it answers.
    const cached = await readPodsCache(this.ctx.self().workspace).catch((err: unknown) => {
      // Damaged (a power cut on a file system that lost the write): the running containers stay as they
      // are, unwatched, until etcd lists this node's pods and they are adopted; said, not hidden.
      this.ctx.log.warn(
        { err: String(err) },
        'pods cache unreadable: this start runs no pod from it; running containers are adopted once etcd answers',
      );
      return null;
    });
    if (cached) {
      for (const cm of cached.configMaps) this.configMaps.set(nsName(cm), cm);
      for (const s of cached.secrets) this.secrets.set(nsName(s), s);
      for (const s of cached.services ?? []) this.services.set(nsName(s), s);
      for (const p of cached.pods) {
        this.cachedUids.add(p.pod.metadata.uid);
        this.upsert(p.pod, p.createRevision, p.status);
      }
    }
    // 2. Docker events: an exit is acted on at once.
    this.watchDocker();
    // The pod network once the node subnet is known: pods waiting for their sandbox go on.
    void this.network
      ?.start()
      .then(() => {
        for (const e of this.pods.values()) e.actor.kick();
      })
      .catch((err) => this.ctx.log.error({ err: String(err) }, 'pod network setup failed'));
    // 3. etcd: the desired state.
    void this.follow();
    this.tick = setInterval(() => {
      this.resync([...this.pods.values()]);
      void this.statuses.flush();
    }, TICK_MS);
    this.ctx.events.on('registered', this.onRegistered);
    return { stop: () => this.stop() };
  }

  /** A Secret of the cluster as this part holds it (pre-pulls' imagePullSecrets). */
  secret(namespace: string, name: string): Secret | undefined {
    return this.secrets.get(`${namespace}/${name}`);
  }

  /** The images of this node's pods' containers (image garbage collection keeps them). */
  images(): string[] {
    return [...this.pods.values()].flatMap((e) =>
      [...(e.pod.spec.initContainers ?? []), ...e.pod.spec.containers].map((c) => c.image),
    );
  }

  views(): PodActorView[] {
    const out: PodActorView[] = [];
    for (const [id, e] of this.pods) {
      const status = this.statuses.latest(id);
      const owner = controllerOf(e.pod);
      out.push({
        namespace: e.pod.metadata.namespace ?? 'default',
        name: e.pod.metadata.name,
        ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
        path: e.actor.path,
        phase: status?.phase ?? 'Pending',
        containers: (status?.containerStatuses ?? []).map((c) => {
          const state = c.state?.running ? 'running' : c.state?.terminated ? 'terminated' : 'waiting';
          const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
          return { name: c.name, state, ...(reason ? { reason } : {}), restarts: c.restartCount };
        }),
      });
    }
    return out;
  }

  /** Our node record is back (new lease, or put back after a wrong verdict): the leader may have marked our
   * pods NodeLost meanwhile; what we observe is written again, so they leave Unknown at once. */
  private readonly onRegistered = () => {
    for (const id of this.statuses.written.keys()) this.statuses.rewrite(id);
    void this.statuses.flush();
  };

  /** Each pod reconciled once, spread over most of a tick (as the kubelet's resync has jitter): all at
   * once, 100 pods' engine inspects came back as one burst (bench/probes: a loop lag spike each tick). */
  private resync(entries: Entry[]): void {
    clearTimeout(this.resyncTimer);
    const gapMs = (TICK_MS * 0.8) / Math.max(1, entries.length);
    let i = 0;
    const step = () => {
      if (this.stopped) return;
      entries[i++]?.actor.kick();
      if (i < entries.length) this.resyncTimer = setTimeout(step, gapMs);
    };
    step();
  }

  private async stop(): Promise<void> {
    this.ctx.events.off('registered', this.onRegistered);
    this.stopped = true;
    clearInterval(this.tick);
    clearTimeout(this.resyncTimer);
    for (const e of this.pods.values()) e.actor.detach();
    this.events?.stop();
    for (const off of this.offs) off();
    await Promise.all(this.leases.map((l) => l.release()));
    if (this.cacheTimer) {
      clearTimeout(this.cacheTimer);
      this.cacheTimer = undefined;
      await this.saveCache();
    }
    await this.cacheWrites;
    for (const resolve of this.cacheWaiters.splice(0)) resolve();
  }

  // ---- desired state ----

  private informer(resource: string): Informer<Stored> {
    const lease = objectInformer(this.ctx.etcd, this.ctx.cluster, resource, this.ctx.log);
    this.leases.push(lease);
    return lease.informer;
  }

  /** Follow the informers once they listed (until then, and whenever etcd is away, the local cache runs).
   * Each (re)list of the pods tells the difference to the handlers, then `afterList` settles the rest. */
  private async follow(): Promise<void> {
    const pods = this.informer('pods');
    const maps = { configmaps: this.configMaps, secrets: this.secrets, services: this.services } as Record<
      string,
      Map<string, KubeObject>
    >;
    const sources = Object.keys(maps).map((r) => [r, this.informer(r)] as const);
    const controllers = Object.keys(CONTROLLER_RESOURCES).map((r) => [r, this.informer(r)] as const);
    await Promise.all(this.leases.map((l) => l.informer.start()));
    // Status of pods new here, for their actors (restart counts); best effort, etcd may be away again.
    let statuses = await this.ctx.etcd
      .getAll()
      .prefix(`${keys.statusPrefix(this.ctx.cluster)}pods/`)
      .strings()
      .catch(() => ({}) as Record<string, string>);
    if (this.stopped) return;
    for (const [resource, informer] of sources) {
      const map = maps[resource]!;
      // etcd's truth replaces what the local cache had (the replay of `on` refills it at once).
      map.clear();
      const set = (_k: string, e: Cached<Stored>) => {
        map.set(nsName(e.value.object), e.value.object);
        this.kickNamespace(e.value.object.metadata.namespace ?? '');
        this.saveCacheSoon();
      };
      const del = (_k: string, old: Cached<Stored>) => {
        map.delete(nsName(old.value.object));
        this.kickNamespace(old.value.object.metadata.namespace ?? '');
        this.saveCacheSoon();
      };
      this.offs.push(informer.on({ add: set, update: set, delete: del }));
    }
    for (const [resource, informer] of controllers)
      this.offs.push(informer.on({ delete: (_k, old) => this.cascade(resource, old.value.object) }));
    const put = (_k: string, e: Cached<Stored>) => {
      const { object, createRevision } = e.value as Stored<Pod>;
      const id = nsName(object);
      if (object.spec.nodeName === this.ctx.nodeName) {
        const st = statuses[`${keys.statusPrefix(this.ctx.cluster)}pods/${id}`];
        if (this.upsert(object, createRevision, st ? (JSON.parse(st) as PodStatus) : undefined))
          void this.checkOwner(id);
      } else if (this.pods.has(id)) void this.drop(id);
    };
    this.offs.push(
      pods.on({
        add: put,
        update: put,
        delete: (_k, old) => void this.drop(nsName(old.value.object)),
        listed: () =>
          void this.afterList(
            pods,
            controllers.map(([, i]) => i),
          ),
      }),
    );
    // Those statuses were for the pods replayed just now; a pod that comes later has none yet.
    statuses = {};
  }

  /** Cascade: the owner is gone, so are its pods on this node. */
  private cascade(resource: string, owner: KubeObject): void {
    const kind = CONTROLLER_RESOURCES[resource]!;
    for (const e of this.pods.values()) {
      const ref = controllerOf(e.pod);
      if (ref?.kind === kind && ref.uid === owner.metadata.uid) void this.deleteOrphan(e);
    }
  }

  /** After every (re)list of the pods (on start, after etcd was away): the local pods etcd does not have
   * here go; what we observe is written again where someone else spoke for a pod meanwhile; orphans and
   * containers of pods gone while we were away are removed. */
  private async afterList(pods: Informer<Stored>, controllers: Array<Informer<Stored>>): Promise<void> {
    if (this.stopped) return;
    // Not awaited: a graceful stop may take terminationGracePeriodSeconds.
    for (const [id, e] of [...this.pods])
      if ((pods.get(id)?.value.object as Pod | undefined)?.spec.nodeName !== this.ctx.nodeName)
        void this.drop(id);
      else if (pods.get(id)?.value.object.metadata.uid !== e.pod.metadata.uid) void this.drop(id);
    try {
      const statuses = await this.ctx.etcd
        .getAll()
        .prefix(`${keys.statusPrefix(this.ctx.cluster)}pods/`)
        .strings();
      for (const id of this.pods.keys()) {
        // Someone else spoke for the pod while we were away (NodeLost): what we observe is written again.
        const st = statuses[`${keys.statusPrefix(this.ctx.cluster)}pods/${id}`];
        const ours = this.statuses.written.get(id);
        if (ours && (!st || stableStatus(JSON.parse(st) as PodStatus) !== ours.stable))
          this.statuses.rewrite(id);
      }
      void this.statuses.flush();
      const uids = new Set(
        controllers.flatMap((i) => i.entries().map(([, e]) => e.value.object.metadata.uid)),
      );
      // An owner missing from the caches is asked of etcd itself (the caches of two prefixes may be apart).
      for (const [id, e] of this.pods) {
        const owner = controllerOf(e.pod);
        if (owner && !uids.has(owner.uid)) await this.checkOwner(id);
      }
      await this.removeStrayContainers();
      await this.network?.collect(
        new Set([...[...this.pods.values()].map((e) => e.pod.metadata.uid), ...this.removing]),
      );
    } catch (err) {
      logEtcdFailure(this.ctx.log, err, {}, 'pods resync failed; the next list retries');
    }
    this.saveCacheSoon();
  }

  /** Track a pod; true when it is new here (a new actor). */
  private upsert(pod: Pod, createRevision: string, previous?: PodStatus): boolean {
    const id = nsName(pod);
    const e = this.pods.get(id);
    if (e && e.pod.metadata.uid === pod.metadata.uid) {
      e.pod = pod;
      e.createRevision = createRevision;
      e.actor.update(pod);
      return false;
    }
    if (e) void this.drop(id);
    if (previous) this.statuses.remember(id, previous);
    const actor = new PodActor(
      pod,
      {
        docker: this.docker,
        pullImage: (image, policy, auths) => {
          const fetcher = this.ctx.handles.imageFetcher.get();
          return fetcher
            ? fetcher.pull(image, new AbortController().signal, policy, auths).then(() => undefined)
            : pullImage(this.docker, image, undefined, auths);
        },
        clock: systemClock,
        cluster: this.ctx.cluster,
        node: this.ctx.nodeName,
        address: this.ctx.self().address,
        workspace: this.ctx.self().workspace,
        log: this.ctx.log,
        recorder: this.ctx.recorder,
        alive: this.ctx.alive,
        lookup: this.lookup,
        backoff: K8S_BACKOFF,
        probeSlots: this.probeSlots,
        ...(this.network ? { network: this.network } : {}),
        ...(this.dns ? { dns: this.dns } : {}),
        cached: () => this.whenCached(pod.metadata.uid),
        report: (status) => this.statuses.report(id, status),
        wakeAt: (ms) =>
          setTimeout(() => this.pods.get(id)?.actor.kick(), Math.max(0, ms - Date.now()) + 50).unref(),
        finished: (done) => void this.finished(id, done),
      },
      previous,
    );
    this.pods.set(id, { pod, createRevision, actor });
    actor.kick();
    this.saveCacheSoon();
    return true;
  }

  private async drop(id: string): Promise<void> {
    const e = this.pods.get(id);
    if (!e) return;
    this.pods.delete(id);
    this.statuses.forget(id);
    this.saveCacheSoon();
    this.removing.add(e.pod.metadata.uid);
    await e.actor
      .remove()
      .catch((err) => this.ctx.log.warn({ err: String(err), pod: id }, 'pod removal failed'))
      .finally(() => this.removing.delete(e.pod.metadata.uid));
  }

  /** A terminating pod is stopped here: forget it, then delete its object (if still that pod). */
  private async finished(id: string, pod: Pod): Promise<void> {
    const e = this.pods.get(id);
    if (!e || e.pod.metadata.uid !== pod.metadata.uid) return;
    this.pods.delete(id);
    this.statuses.forget(id);
    this.saveCacheSoon();
    await deleteTerminatedPodUntilDone(
      this.ctx.etcd,
      this.ctx.cluster,
      pod,
      e.createRevision,
      this.ctx.log,
      () => this.stopped,
    );
  }

  /** A pod new here whose controller (by uid) is not in etcd: an orphan (etcd's answer only decides). */
  private async checkOwner(id: string): Promise<void> {
    const e = this.pods.get(id);
    const owner = e && controllerOf(e.pod);
    const kind = owner && Object.values(CONTROLLER_RESOURCES).find((k) => k === owner.kind);
    if (!e || !owner || !kind) return;
    const ref = { kind, namespace: e.pod.metadata.namespace ?? 'default', name: owner.name };
    try {
      const kv = (await this.ctx.etcd.get(objectKey(this.ctx.cluster, ref)).exec()).kvs[0];
      if (kv && fromKv(kv).object.metadata.uid === owner.uid) return;
    } catch (err) {
      this.ctx.log.debug({ err: shortReason(err), pod: id }, 'owner check failed; the next re-list decides');
      return;
    }
    if (this.pods.get(id) === e) await this.deleteOrphan(e);
  }

  /** A pod whose controller is gone: delete it gracefully (agent/objects/pod-deletion.ts), as the
   * leader's sweep does too; the watch then shows it Terminating here. */
  private async deleteOrphan(e: Entry): Promise<void> {
    const { etcd, cluster } = this.ctx;
    try {
      const stored = await getObject(etcd, cluster, { ...refOf(e.pod), kind: 'Pod' });
      if (stored?.createRevision === e.createRevision) await deletePod(etcd, cluster, stored);
    } catch (err) {
      logEtcdFailure(this.ctx.log, err, { pod: nsName(e.pod) }, 'orphan pod delete failed');
    }
  }

  /** Containers of ours whose pod is not here any more (deleted while this agent was away). */
  private async removeStrayContainers(): Promise<void> {
    const list = await this.docker.listContainers({
      all: true,
      filters: ourContainers(this.ctx.cluster, this.ctx.nodeName),
    });
    for (const c of list) {
      const id = `${c.Labels[LABEL.namespace]}/${c.Labels[LABEL.pod]}`;
      const uid = c.Labels[LABEL.podUid] ?? '';
      if (this.pods.get(id)?.pod.metadata.uid === uid || this.removing.has(uid)) continue;
      this.ctx.log.info({ container: c.Names[0] }, 'removing a container whose pod is gone');
      await this.docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
    }
  }

  private kickNamespace(namespace: string): void {
    for (const e of this.pods.values()) if (e.pod.metadata.namespace === namespace) e.actor.kick();
  }

  // ---- status ----

  // ---- docker events ----

  private watchDocker(): void {
    this.events = watchDockerEvents(
      this.docker,
      { type: ['container'], ...ourContainers(this.ctx.cluster, this.ctx.nodeName) },
      (ev) => {
        const a = ev.Actor?.Attributes ?? {};
        this.pods.get(`${a[LABEL.namespace]}/${a[LABEL.pod]}`)?.actor.kick();
      },
    );
  }

  // ---- cache ----

  /** Write the cache within CACHE_WRITE_MS (changes in between go in one write), or CACHE_SOON_MS when a
   * pod waits for it. */
  private saveCacheSoon(soon = false): void {
    if (this.stopped) return;
    if (this.cacheTimer && (this.cacheTimerSoon || !soon)) return;
    clearTimeout(this.cacheTimer);
    this.cacheTimerSoon = soon;
    this.cacheTimer = setTimeout(
      () => {
        this.cacheTimer = undefined;
        void this.saveCache();
      },
      soon ? CACHE_SOON_MS : CACHE_WRITE_MS,
    );
  }

  /** Resolves once the cache on disk holds the pod: its first container (its sandbox first) is started
   * only then, so an agent that restarts cut off from etcd finds every container it started in its cache
   * and runs it on instead of removing it as a stray. A failed write lets the pod start all the same
   * (logged: the pod is not held back by its disk). */
  private whenCached(uid: string): Promise<void> {
    if (this.cachedUids.has(uid) || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.cacheWaiters.push(resolve);
      this.saveCacheSoon(true);
    });
  }

  private saveCache(): Promise<void> {
    this.cacheWrites = this.cacheWrites.then(() => this.writeCache());
    return this.cacheWrites;
  }

  /** One write of what this agent holds now; it never throws (a failure is logged), and the pods that were
   * waiting for it may start either way. */
  private async writeCache(): Promise<void> {
    const waiters = this.cacheWaiters.splice(0);
    try {
      const uids = [...this.pods.values()].map((e) => e.pod.metadata.uid);
      const namespaces = new Set([...this.pods.values()].map((e) => e.pod.metadata.namespace));
      const cache: PodsCache = {
        pods: [...this.pods].map(([id, e]) => {
          const status = this.statuses.written.get(id)?.status;
          return status
            ? { pod: e.pod, createRevision: e.createRevision, status }
            : { pod: e.pod, createRevision: e.createRevision };
        }),
        configMaps: [...this.configMaps.values()].filter((c) => namespaces.has(c.metadata.namespace)),
        secrets: [...this.secrets.values()].filter((s) => namespaces.has(s.metadata.namespace)),
        services: [...this.services.values()].filter((s) => namespaces.has(s.metadata.namespace)),
      };
      const { skipped } = await writePodsCache(this.ctx.self().workspace, cache);
      this.cachedUids.clear();
      for (const uid of uids) this.cachedUids.add(uid);
      if (skipped.length > 0)
        this.ctx.log.warn(
          { secrets: skipped },
          'secrets left out of the pods cache: this agent holds no secrets key (--secrets-key)',
        );
    } catch (err) {
      this.ctx.log.warn({ err: String(err) }, 'pods cache write failed');
    } finally {
      for (const resolve of waiters) resolve();
    }
  }
}

/** The cache is written this long after a change (a burst of changes is one write), or this soon when a
 * pod waits for it to start (whenCached). */
const CACHE_WRITE_MS = 1000;
const CACHE_SOON_MS = 20;

const nsName = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const controllerOf = (pod: Pod) => pod.metadata.ownerReferences?.find((o) => o.controller);

/** The pods' MTU under vxlan; a node without `ip` (or whose address is on none of its links) keeps the
 * default: the pod network says what is missing when it wires a pod, the agent runs on. */
async function vxlanPodMtu(ctx: AgentContext): Promise<number | undefined> {
  try {
    return await podMtu(ctx.self().address);
  } catch (err) {
    ctx.log.error({ err: shortReason(err) }, "cannot read the links to size the pods' MTU for vxlan");
    return undefined;
  }
}
