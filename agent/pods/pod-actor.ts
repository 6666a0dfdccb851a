// One pod on this node: its containers in Docker made to match its spec, level-triggered. Every call of
// `reconcile` reads what Docker has, acts on the difference, and reports status; a crash anywhere is
// mended by the next call (Docker events, back-off timers and a periodic tick call it).
//
// A reconcile is a sequence of named steps (steps/*, after Nomad's alloc runner hooks): volumes, then per
// container env, image, create, start, watch, probe. Init containers first, one after another, each to a
// successful exit (restarted with back-off on failure unless the pod's restartPolicy is Never, which fails
// the pod), before any container is made; once the pod's containers exist its initialization is over, so
// an agent restart runs none of them again. Each step returns a reason (the kubelet's waiting reasons)
// instead of throwing, so every state has one and every failure a Warning event. A pod with
// metadata.deletionTimestamp is terminated instead (steps/stop.ts), then `finished` is called so the
// pod object is deleted from etcd last. Probes (probes/*) run beside the reconciles, on their own
// timers; what they conclude comes back as a kick, and the next reconcile reports it (Ready) or acts on
// it (a liveness kill).

import { join } from 'node:path';
import type Docker from 'dockerode';
import type { NodeDns, PodResolv } from '../dns/node-dns.ts';
import type { RegistryAuth } from '../images/registry-auth.ts';
import type { Logger } from '../log/logger.ts';
import type { EventRecorder } from '../objects/events.ts';
import { isTerminalPhase } from '../objects/pod-phase.ts';
import type { Container, ContainerState, ContainerStatus, Pod, PodStatus } from '../objects/types.ts';
import { onPodNetwork, type PodNetwork, type PodSandbox } from '../podnet/pod-network.ts';
import { containerName, LABEL } from '../runtime/labels.ts';
import type { AliveRecords } from '../store/alive.ts';
import { type Clock, isoTime } from './clock.ts';
import type { ContainerProbes, ProbeSeed } from './probes/container-probes.ts';
import type { ProbeSlots } from './probes/slots.ts';
import { bindsFor, ConfigRefError, type Lookup, removeVolumes, resolveEnv } from './resolve.ts';
import { secretVolumesDir } from './secret-volumes.ts';
import { createStep, legacySpecHash, specHash } from './steps/create.ts';
import { envStep } from './steps/env.ts';
import { imageStep } from './steps/image.ts';
import { probeStep } from './steps/probe.ts';
import {
  type Backoff,
  type ContainerRun,
  type PodDocker,
  podRef,
  type RunDeps,
  type Tracked,
  Waiting,
} from './steps/run.ts';
import { graceSeconds, startStep } from './steps/start.ts';
import { stopStep } from './steps/stop.ts';
import { ensureTerminationLog } from './steps/termination-message.ts';
import { volumesStep } from './steps/volumes.ts';
import { inspect, watchStep } from './steps/watch.ts';

export type { Backoff } from './steps/run.ts';

/** k8s' CrashLoopBackOff and ImagePullBackOff: 10 s doubling to 5 minutes, reset after 10 minutes up. */
export const K8S_BACKOFF: Backoff = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

export interface PodActorDeps {
  docker: PodDocker;
  /** Get an image (from peers first: agent/images/peers); absent: from its registry. */
  pullImage?(image: string, policy: 'Always' | 'IfNotPresent', auths: readonly RegistryAuth[]): Promise<void>;
  clock: Clock;
  cluster: string;
  node: string;
  /** The node's address: hostIP, and podIP of the pods on the node's network. */
  address: string;
  /** The pod network (the cluster config has a `network` section): pods without hostNetwork get a
   * sandbox, an IP of their own, and their containers join the sandbox's namespace. */
  network?: Pick<PodNetwork, 'ensure' | 'release' | 'ipOf'>;
  /** DNS on the pod network (agent/dns): the pod's /etc/resolv.conf, bound in each container. */
  dns?: Pick<NodeDns, 'resolvConf'>;
  workspace: string;
  log: Logger;
  recorder: EventRecorder;
  alive: AliveRecords;
  lookup: Lookup;
  backoff: Backoff;
  /** The agent's probe slots (shared by every pod: bounds probes running at once). */
  probeSlots: ProbeSlots;
  /** Resolves once the agent's local cache holds this pod (agent/pods/part.ts): nothing is started for
   * it before. Absent: at once. */
  cached?(): Promise<void>;
  /** Report status (the caller writes it to etcd when it changed). */
  report(status: PodStatus): void;
  /** Call reconcile again at this time (a back-off ends). */
  wakeAt(ms: number): void;
  /** A pod with deletionTimestamp is terminated here (containers, files and alive records gone): the
   * caller deletes its object from etcd, only if it is still this pod. */
  finished(pod: Pod): void;
}

export class PodActor {
  pod: Pod;
  private readonly deps: PodActorDeps;
  private readonly tracked = new Map<string, Tracked>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Aborted when the pod starts terminating: hooks in flight stop waiting. */
  private readonly terminating = new AbortController();
  /** When the termination must be over (ms, the actor's clock). */
  private deadline: number | undefined;
  private seenDeleteAt: number | undefined;
  private terminated: Promise<void> | undefined;
  private readonly startTime: string;
  /** The status that ended the pod (phase Succeeded or Failed): nothing runs again, as the kubelet does
   * not restart a pod in a terminal phase, and the status stays as it was (its podIP too). */
  private finished: PodStatus | undefined;
  /** Each container's probes, for its running instance. */
  private readonly probes = new Map<string, ContainerProbes>();
  /** Probe results of the containers as the last status had them (an agent restart adopts them). */
  private readonly seeds = new Map<string, ProbeSeed & { instance: string }>();
  /** The init containers' statuses once every one has succeeded: initialization is over for good. */
  private initDone: ContainerStatus[] | undefined;
  /** The init containers' statuses of the last status (an agent restart's pod was initialized). */
  private readonly previousInit: ContainerStatus[] | undefined;
  /** Whether this actor looked for the pod's containers in Docker (once: they mean initialized). */
  private initLooked = false;

  constructor(pod: Pod, deps: PodActorDeps, previous?: PodStatus) {
    this.pod = pod;
    this.deps = deps;
    this.startTime = previous?.startTime ?? isoTime(deps.clock.now());
    if (previous && isTerminalPhase(previous.phase)) this.finished = previous;
    this.previousInit = previous?.initContainerStatuses;
    for (const cs of previous?.initContainerStatuses ?? []) {
      const t: Tracked = { restartCount: cs.restartCount, backoffMs: 0, notBefore: 0 };
      if (cs.state.terminated) t.seenExit = cs.state.terminated.finishedAt;
      this.tracked.set(cs.name, t);
    }
    for (const cs of previous?.containerStatuses ?? []) {
      const t: Tracked = { restartCount: cs.restartCount, backoffMs: 0, notBefore: 0 };
      if (cs.lastState) t.lastState = cs.lastState;
      if (cs.state.terminated) t.seenExit = cs.state.terminated.finishedAt;
      this.tracked.set(cs.name, t);
      if (cs.state.running && cs.containerID)
        this.seeds.set(cs.name, {
          instance: `${cs.containerID.replace(/^docker:\/\//, '')}@${cs.state.running.startedAt}`,
          ready: cs.ready,
          started: cs.started ?? cs.ready,
        });
    }
  }

  get namespace(): string {
    return this.pod.metadata.namespace ?? 'default';
  }

  /** Ownership path of the pod actor: `<owner kind>-<owner>/pod-<name>` or `pod-<name>`. */
  get path(): string {
    const owner = this.pod.metadata.ownerReferences?.find((o) => o.controller);
    const own = `pod-${this.pod.metadata.name}`;
    return owner ? `${owner.kind.toLowerCase()}-${owner.name}/${own}` : own;
  }

  /** On the pod network (a sandbox and an IP of its own). */
  private get networked(): boolean {
    return this.deps.network !== undefined && onPodNetwork(this.pod);
  }

  /** The pod's IP: its own on the pod network (once it has one), else the node's. */
  private get podIP(): string | undefined {
    return this.networked ? this.deps.network!.ipOf(this.pod) : this.deps.address;
  }

  private get podDir(): string {
    return join(this.deps.workspace, 'actors', this.namespace, this.path);
  }

  /** Its secret volumes: on tmpfs, outside the workspace (secret-volumes.ts). */
  private get secretDir(): string {
    return secretVolumesDir(this.deps.cluster, this.deps.node, this.namespace, this.path);
  }

  update(pod: Pod): void {
    if (this.terminated) {
      // Terminating: only a shorter grace (a second delete) changes anything.
      this.shorten(pod);
      return;
    }
    this.pod = pod;
    if (pod.metadata.deletionTimestamp) this.terminating.abort();
    this.kick();
  }

  /** Reconcile now, or once more after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.reconcile()
      .catch((err) =>
        this.deps.log.warn({ err: String(err), pod: this.pod.metadata.name }, 'pod reconcile failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Settled when no reconcile runs (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** The pod object is gone (deleted without grace): stop and remove its containers, files and alive
   * records, with the pod's own grace period. */
  async remove(): Promise<void> {
    this.stopped = true;
    this.terminating.abort();
    this.stopProbes();
    await this.running;
    if (this.terminated) return this.terminated;
    this.deadline ??= this.deps.clock.now() + graceSeconds(this) * 1000;
    await this.stopAll();
  }

  /** Stop acting (the agent stops): containers keep running. */
  detach(): void {
    this.stopped = true;
    this.stopProbes();
  }

  private stopProbes(): void {
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
  }

  private probeEnv() {
    return {
      probes: this.probes,
      deps: {
        slots: this.deps.probeSlots,
        warn: (reason: string, message: string) =>
          this.deps.recorder.warning(podRef(this.pod), reason, message),
        changed: () => this.kick(),
        random: Math.random,
      },
      seed: (name: string, instance: string) => {
        const seed = this.seeds.get(name);
        this.seeds.delete(name);
        return seed?.instance === instance ? seed : undefined;
      },
    };
  }

  private name(c: Container): string {
    return containerName(this.deps.cluster, this.namespace, this.pod.metadata.name, c.name);
  }

  private run(c: Container): ContainerRun {
    const d = this.deps;
    const deps: RunDeps = {
      docker: d.docker,
      clock: d.clock,
      log: d.log,
      recorder: d.recorder,
      backoff: d.backoff,
      address: this.podIP ?? d.address,
      lookup: d.lookup,
      wakeAt: d.wakeAt,
      ...(d.pullImage ? { pullImage: d.pullImage } : {}),
    };
    return {
      pod: this.pod,
      c,
      t: this.track(c.name),
      name: this.name(c),
      deps,
      signal: this.terminating.signal,
      ...(c.terminationMessagePath ? { terminationLog: join(this.podDir, 'termination', c.name) } : {}),
    };
  }

  private async reconcile(): Promise<void> {
    if (this.pod.metadata.deletionTimestamp) return this.terminate();
    await this.deps.cached?.();
    if (this.finished) return this.stayFinished(this.finished);
    const volumes = await volumesStep(
      this.pod,
      { dir: join(this.podDir, 'volumes'), secretDir: this.secretDir },
      this.deps.lookup,
      this.deps.clock,
    );
    if (volumes instanceof Waiting)
      this.deps.recorder.warning(podRef(this.pod), 'FailedMount', volumes.message);
    const statuses: ContainerStatus[] = [];
    const sandbox = this.networked ? await this.sandbox() : undefined;
    const resolv =
      sandbox instanceof Waiting ? undefined : await this.deps.dns?.resolvConf(this.pod, this.podDir);
    const notYet = sandbox instanceof Waiting ? sandbox : resolv && 'reason' in resolv ? resolv : undefined;
    if (notYet) {
      // No sandbox yet: every container waits (as the kubelet's ContainerCreating), again soon.
      for (const c of this.pod.spec.containers)
        statuses.push(this.containerStatus(c, this.track(c.name), waiting(notYet.reason, notYet.message)));
      this.deps.wakeAt(this.deps.clock.now() + SANDBOX_RETRY_MS);
      this.deps.report(this.status(statuses, this.initWaiting(notYet)));
      return;
    }
    const init = await this.initialize(volumes, sandbox as PodSandbox | undefined, resolv);
    if (!init.done) {
      for (const c of this.pod.spec.containers)
        statuses.push(this.containerStatus(c, this.track(c.name), waiting('PodInitializing', '')));
      if (this.stopped || this.pod.metadata.deletionTimestamp) return;
      this.markAlive();
      const status = this.status(statuses, init);
      this.deps.report(status);
      if (isTerminalPhase(status.phase)) {
        this.finished = status;
        await this.freeSandbox();
      }
      return;
    }
    const probes = this.probeEnv();
    for (const c of this.pod.spec.containers) {
      const run = this.run(c);
      const state = await probeStep(
        run,
        await this.reconcileContainer(run, volumes, sandbox as PodSandbox | undefined, resolv),
        probes,
      );
      if (state.waiting) run.t.waiting = state.waiting;
      statuses.push(this.containerStatus(c, run.t, state));
    }
    if (this.stopped || this.pod.metadata.deletionTimestamp) {
      // Terminating (or removed) meanwhile: probes started by this reconcile end too.
      this.stopProbes();
      return;
    }
    this.markAlive();
    for (const cs of statuses) {
      const path = `${this.path}/container-${cs.name}`;
      if (cs.state.running) {
        this.deps.alive.set(this.namespace, path, {
          node: this.deps.node,
          actor: 'container',
          since: cs.state.running.startedAt,
        });
      } else this.deps.alive.deleteTree(this.namespace, path);
    }
    const status = this.status(statuses, init);
    this.deps.report(status);
    if (isTerminalPhase(status.phase)) {
      this.finished = status;
      this.stopProbes();
      await this.freeSandbox();
    }
  }

  // ---- init containers ----

  /** Run the init containers in order: done once each exited 0; failed when one failed for good (the
   * pod's restartPolicy Never); else the first not done yet runs, or waits for its back-off. */
  private async initialize(
    volumes: Map<string, string> | Waiting,
    sandbox: PodSandbox | undefined,
    resolv: PodResolv | undefined,
  ): Promise<InitProgress> {
    const list = this.pod.spec.initContainers ?? [];
    if (list.length === 0) return { done: true, failed: false, statuses: [] };
    if (this.initDone) return { done: true, failed: false, statuses: this.initDone };
    if (!this.initLooked) {
      this.initLooked = true;
      if (await this.containersMade()) {
        this.initDone =
          this.previousInit ??
          list.map((c) =>
            this.initStatus(c, this.track(c.name), {
              terminated: { exitCode: 0, reason: 'Completed', finishedAt: this.startTime },
            }),
          );
        return { done: true, failed: false, statuses: this.initDone };
      }
    }
    const statuses: ContainerStatus[] = [];
    let blocked = false;
    let failed = false;
    for (const c of list) {
      if (blocked) {
        statuses.push(this.initStatus(c, this.track(c.name), waiting('PodInitializing', '')));
        continue;
      }
      const run = this.initRun(c);
      const state = await this.reconcileContainer(run, volumes, sandbox, resolv);
      if (state.waiting) run.t.waiting = state.waiting;
      statuses.push(this.initStatus(c, run.t, state));
      if (state.terminated?.exitCode === 0) continue;
      blocked = true;
      if (state.terminated) failed = true;
    }
    if (!blocked) this.initDone = statuses;
    return { done: !blocked, failed, statuses };
  }

  /** An init container is restarted on failure unless the pod never restarts anything (k8s). */
  private initRun(c: Container): ContainerRun {
    const run = this.run(c);
    const restartPolicy = this.pod.spec.restartPolicy === 'Never' ? 'Never' : 'OnFailure';
    return { ...run, pod: { ...this.pod, spec: { ...this.pod.spec, restartPolicy } } };
  }

  /** k8s: an init container is ready once it has succeeded. */
  private initStatus(c: Container, t: Tracked, state: ContainerState): ContainerStatus {
    return {
      ...this.containerStatus(c, t, state),
      ready: state.terminated?.exitCode === 0,
      started: Boolean(state.running),
    };
  }

  /** No sandbox yet: the init containers not done wait as the containers do. */
  private initWaiting(why: Waiting | { reason: string; message: string }): InitProgress | undefined {
    const list = this.pod.spec.initContainers ?? [];
    if (list.length === 0 || this.initDone) return undefined;
    return {
      done: false,
      failed: false,
      statuses: list.map((c) => this.initStatus(c, this.track(c.name), waiting(why.reason, why.message))),
    };
  }

  /** Whether any of the pod's containers exists in Docker (made by an earlier run of this agent). */
  private async containersMade(): Promise<boolean> {
    for (const c of this.pod.spec.containers) {
      const info = await this.deps.docker
        .getContainer(this.name(c))
        .inspect()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode === 404) return null;
          throw err;
        });
      if (info && info.Config.Labels[LABEL.podUid] === this.pod.metadata.uid) return true;
    }
    return false;
  }

  private markAlive(): void {
    this.deps.alive.set(this.namespace, this.path, {
      node: this.deps.node,
      actor: 'pod',
      since: this.startTime,
    });
  }

  /** A pod in a terminal phase: its status as it ended, and its sandbox and IP given back, as the
   * kubelet stops a finished pod's sandbox (a node's subnet would fill with finished Jobs otherwise).
   * The exited containers stay, for their logs, until the pod is deleted. */
  private async stayFinished(status: PodStatus): Promise<void> {
    this.markAlive();
    this.deps.report(status);
    await this.freeSandbox();
  }

  /** Given back while the pod network holds an address for the pod (a release that failed part way is
   * tried again). Not before the network has read its addresses at an agent's start: a release then
   * would leave the address taken for good; the network's start kicks every pod again. */
  private async freeSandbox(): Promise<void> {
    if (this.networked && this.deps.network!.ipOf(this.pod) !== undefined)
      await this.deps.network!.release(this.pod);
  }

  /** The pod's sandbox (pod network), or why not yet: a failure is a FailedCreatePodSandBox event. */
  private async sandbox(): Promise<PodSandbox | Waiting> {
    try {
      const sb = await this.deps.network!.ensure(this.pod);
      return 'sandboxId' in sb ? sb : new Waiting(sb.reason, sb.message);
    } catch (err) {
      const message = `Failed to create pod sandbox: ${(err as Error).message}`;
      this.deps.recorder.warning(podRef(this.pod), 'FailedCreatePodSandBox', message);
      return new Waiting('ContainerCreating', message);
    }
  }

  /** The steps of one container; the state to report. */
  private async reconcileContainer(
    run: ContainerRun,
    volumes: Map<string, string> | Waiting,
    sandbox?: PodSandbox,
    resolv?: PodResolv,
  ): Promise<ContainerState> {
    const { c } = run;
    const ct = this.deps.docker.getContainer(run.name);
    let info: Docker.ContainerInspectInfo | null = await ct
      .inspect()
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode === 404) return null;
        throw err;
      });
    // A container of an earlier pod of the same name: its own actor (or the stray sweep after a
    // restart, once etcd answered) removes it; adopting it would report the old pod's container.
    if (info && info.Config.Labels[LABEL.podUid] !== this.pod.metadata.uid)
      return waiting('ContainerCreating', "waiting for the previous pod's container to be removed");
    // A running container keeps running while its volumes cannot be prepared; a new one waits.
    if (volumes instanceof Waiting)
      return info ? watchStep(run, info) : waiting(volumes.reason, volumes.message);
    const binds = bindsFor(c, volumes);
    if (run.terminationLog) {
      await ensureTerminationLog(run.terminationLog);
      binds.push(`${run.terminationLog}:${c.terminationMessagePath}`);
    }
    if (sandbox) binds.push(`${sandbox.hostsFile}:/etc/hosts`);
    if (resolv && 'file' in resolv) binds.push(`${resolv.file}:/etc/resolv.conf:ro`);
    const hash = specHash(c, binds, this.pod);
    const networkMode = sandbox ? `container:${sandbox.sandboxId}` : 'host';
    if (info && info.HostConfig?.NetworkMode !== networkMode) {
      // In another namespace (a sandbox made again: its namespace died with the old one).
      this.deps.recorder.normal(
        podRef(this.pod),
        'SandboxChanged',
        'Pod sandbox changed, it will be killed and re-created.',
      );
      await ct.remove({ force: true });
      info = null;
    }
    if (info && !this.sameSpec(run, info, hash, binds)) {
      this.deps.recorder.normal(
        podRef(this.pod),
        'Killing',
        `Container ${c.name} definition changed, will be restarted`,
      );
      await ct.remove({ force: true });
      info = null;
    }
    if (info) return watchStep(run, info);
    const env = envStep(run);
    if (env instanceof Waiting) return waiting(env.reason, env.message);
    const image = await imageStep(run);
    if (image) return waiting(image.reason, image.message);
    const created = await createStep(run, {
      env,
      binds,
      hash,
      cluster: this.deps.cluster,
      node: this.deps.node,
      owner: `${this.path}/container-${c.name}`,
      networkMode,
    });
    if (created) return waiting(created.reason, created.message);
    await startStep(run);
    return watchStep(run, await inspect(run));
  }

  /** The container was made from this spec (by this agent, or by one that still hashed the env). */
  private sameSpec(
    run: ContainerRun,
    info: Docker.ContainerInspectInfo,
    hash: string,
    binds: string[],
  ): boolean {
    const label = info.Config.Labels[LABEL.specHash];
    if (label === hash || run.t.adopted === info.Id) return true;
    try {
      const env = resolveEnv(this.pod, run.c, this.deps.lookup, this.deps.address);
      if (label !== legacySpecHash(run.c, env, binds)) return false;
    } catch (err) {
      if (err instanceof ConfigRefError) return false;
      throw err;
    }
    // Remembered: a later ConfigMap edit must not turn it into a mismatch.
    run.t.adopted = info.Id;
    return true;
  }

  // ---- termination ----

  private async terminate(): Promise<void> {
    this.stopProbes();
    if (!this.terminated) {
      // The grace counts from when this agent saw the delete (node clocks differ, as the kubelet does).
      this.seenDeleteAt ??= this.deps.clock.now();
      this.deadline ??= this.seenDeleteAt + this.deleteGrace(this.pod) * 1000;
      this.terminated = this.stopAll().then(
        () => {
          this.stopped = true;
          this.deps.finished(this.pod);
        },
        (err) => {
          // Docker failed us: the next kick (the tick at the latest) tries again, same deadline.
          this.terminated = undefined;
          throw err;
        },
      );
    }
    return this.terminated;
  }

  private deleteGrace(pod: Pod): number {
    return pod.metadata.deletionGracePeriodSeconds ?? graceSeconds({ pod });
  }

  /** A second delete with a shorter grace: what still runs at the new deadline is killed then. */
  private shorten(pod: Pod): void {
    if (pod.metadata.uid !== this.pod.metadata.uid || this.seenDeleteAt === undefined) return;
    const deadline = this.seenDeleteAt + this.deleteGrace(pod) * 1000;
    if (deadline >= this.deadline!) return;
    this.deadline = deadline;
    void this.deps.clock.sleep(deadline - this.deps.clock.now()).then(async () => {
      if (this.deadline !== deadline) return;
      for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) {
        const ct = this.deps.docker.getContainer(this.name(c));
        // Only while it runs (404: removed, 409: not running).
        await ct.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      }
    });
  }

  private async stopAll(): Promise<void> {
    const deadline = this.deadline!;
    const all = [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers];
    await Promise.all(all.map((c) => stopStep(this.run(c), deadline)));
    await removeVolumes(this.podDir, this.secretDir);
    if (this.networked) await this.deps.network!.release(this.pod);
    this.deps.alive.deleteTree(this.namespace, this.path);
  }

  // ---- status ----

  private track(name: string): Tracked {
    let t = this.tracked.get(name);
    if (!t) {
      t = { restartCount: 0, backoffMs: 0, notBefore: 0 };
      this.tracked.set(name, t);
    }
    return t;
  }

  private containerStatus(c: Container, t: Tracked, state: ContainerState): ContainerStatus {
    // Without probes a running container is started and ready; with them, as they concluded.
    const probes = state.running ? this.probes.get(c.name) : undefined;
    const cs: ContainerStatus = {
      name: c.name,
      image: c.image,
      ready: Boolean(state.running) && (probes ? probes.ready : !c.readinessProbe && !c.startupProbe),
      restartCount: t.restartCount,
      started: Boolean(state.running) && (probes ? probes.started : !c.startupProbe),
      state,
    };
    if (t.containerId) cs.containerID = `docker://${t.containerId}`;
    if (t.lastState) cs.lastState = t.lastState;
    return cs;
  }

  private status(cs: ContainerStatus[], init?: InitProgress): PodStatus {
    const podIP = this.podIP;
    const now = isoTime(this.deps.clock.now());
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    const allCreated = cs.every((s) => s.containerID);
    const anyRunning = cs.some((s) => s.state.running);
    const allTerminated = cs.every((s) => s.state.terminated);
    const initialized = init === undefined || init.done;
    let phase: PodStatus['phase'] = 'Pending';
    if (init?.failed) phase = 'Failed';
    else if (!initialized) phase = 'Pending';
    else if (allTerminated) {
      const ok = cs.every((s) => s.state.terminated!.exitCode === 0);
      phase = ok ? 'Succeeded' : 'Failed';
    } else if (allCreated && (anyRunning || policy !== 'Never')) phase = 'Running';
    const unready = cs.filter((s) => !s.ready).map((s) => s.name);
    const ready = unready.length === 0 && initialized;
    // k8s' messages, naming the containers that hold the pod back.
    const message = `containers with unready status: [${unready.join(' ')}]`;
    const incomplete = (init?.statuses ?? []).filter((s) => !s.ready).map((s) => s.name);
    const cond = (type: string, ok: boolean, reason?: string, text = message) => ({
      type,
      status: ok ? ('True' as const) : ('False' as const),
      ...(reason && !ok ? { reason, message: text } : {}),
      lastTransitionTime: now,
    });
    const initStatuses = init?.statuses ?? this.initDone;
    return {
      phase,
      conditions: [
        cond('PodScheduled', true),
        cond(
          'Initialized',
          initialized,
          'ContainersNotInitialized',
          `containers with incomplete status: [${incomplete.join(' ')}]`,
        ),
        cond('ContainersReady', ready, 'ContainersNotReady'),
        cond('Ready', ready, 'ContainersNotReady'),
      ],
      hostIP: this.deps.address,
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      nodeName: this.deps.node,
      startTime: this.startTime,
      ...(initStatuses && initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: cs,
    };
  }
}

/** Where a pod's init containers stand. */
interface InitProgress {
  /** Every init container exited 0 (or the pod has none). */
  done: boolean;
  /** One failed for good (restartPolicy Never): the pod fails. */
  failed: boolean;
  statuses: ContainerStatus[];
}

/** A pod waiting for its sandbox is looked at again this soon. */
const SANDBOX_RETRY_MS = 2000;

const waiting = (reason: string, message: string): ContainerState => ({ waiting: { reason, message } });
