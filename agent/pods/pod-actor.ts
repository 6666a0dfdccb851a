// One pod on this node: its containers in Docker made to match its spec, level-triggered. Every call of
// `reconcile` reads what Docker has, acts on the difference, and reports status; a crash anywhere is
// mended by the next call (Docker events, back-off timers and a periodic tick call it).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../log/logger.ts';
import type { EventRecorder } from '../objects/events.ts';
import { parseCpu, parseMemory } from '../objects/quantity.ts';
import type { Container, ContainerState, ContainerStatus, Pod, PodStatus } from '../objects/types.ts';
import { imagePresent, pullImage, pullPolicy } from '../runtime/images.ts';
import { containerName, LABEL } from '../runtime/labels.ts';
import type { AliveRecords } from '../store/alive.ts';
import {
  bindsFor,
  ConfigRefError,
  type Lookup,
  prepareVolumes,
  removeVolumes,
  resolveEnv,
} from './resolve.ts';

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A container that ran this long has its back-off reset (k8s: 10 minutes). */
  resetAfterMs: number;
}
/** k8s' CrashLoopBackOff and ImagePullBackOff: 10 s doubling to 5 minutes, reset after 10 minutes up. */
export const K8S_BACKOFF: Backoff = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

export interface PodActorDeps {
  docker: Docker;
  cluster: string;
  node: string;
  /** The node's address: podIP and hostIP (pods use the host network). */
  address: string;
  workspace: string;
  log: Logger;
  recorder: EventRecorder;
  alive: AliveRecords;
  lookup: Lookup;
  backoff: Backoff;
  /** Report status (the caller writes it to etcd when it changed). */
  report(status: PodStatus): void;
  /** Call reconcile again at this time (a back-off ends). */
  wakeAt(ms: number): void;
}

interface Tracked {
  restartCount: number;
  backoffMs: number;
  notBefore: number;
  /** FinishedAt of the last exit we counted (so one exit is handled once). */
  seenExit?: string;
  lastState?: ContainerState;
  waiting?: { reason: string; message?: string };
  pull?: { backoffMs: number; notBefore: number };
  containerId?: string;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export class PodActor {
  pod: Pod;
  private readonly deps: PodActorDeps;
  private readonly tracked = new Map<string, Tracked>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private startTime: string;

  constructor(pod: Pod, deps: PodActorDeps, previous?: PodStatus) {
    this.pod = pod;
    this.deps = deps;
    this.startTime = previous?.startTime ?? new Date().toISOString();
    for (const cs of previous?.containerStatuses ?? []) {
      const t: Tracked = { restartCount: cs.restartCount, backoffMs: 0, notBefore: 0 };
      if (cs.lastState) t.lastState = cs.lastState;
      if (cs.state.terminated) t.seenExit = cs.state.terminated.finishedAt;
      this.tracked.set(cs.name, t);
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

  private get volumesDir(): string {
    return join(this.deps.workspace, 'actors', this.namespace, this.path, 'volumes');
  }

  update(pod: Pod): void {
    this.pod = pod;
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

  /** The pod is gone: stop and remove its containers, its files and its alive records. */
  async remove(): Promise<void> {
    this.stopped = true;
    await this.running;
    const grace = this.pod.spec.terminationGracePeriodSeconds ?? 30;
    await Promise.all(
      this.pod.spec.containers.map(async (c) => {
        const ct = this.deps.docker.getContainer(this.name(c));
        const info = await ct.inspect().catch(() => null);
        if (!info) return;
        if (info.State.Running) {
          this.deps.recorder.normal(this.ref(), 'Killing', `Stopping container ${c.name}`);
          await ct.stop({ t: grace }).catch(() => undefined);
        }
        await ct.remove({ force: true }).catch(() => undefined);
      }),
    );
    await removeVolumes(join(this.deps.workspace, 'actors', this.namespace, this.path));
    this.deps.alive.deleteTree(this.namespace, this.path);
  }

  /** Stop acting (the agent stops): containers keep running. */
  detach(): void {
    this.stopped = true;
  }

  private name(c: Container): string {
    return containerName(this.deps.cluster, this.namespace, this.pod.metadata.name, c.name);
  }

  private ref() {
    return {
      kind: 'Pod' as const,
      namespace: this.namespace,
      name: this.pod.metadata.name,
      uid: this.pod.metadata.uid,
    };
  }

  private async reconcile(): Promise<void> {
    const statuses: ContainerStatus[] = [];
    let hostPaths: Map<string, string> | undefined;
    let configError: string | undefined;
    try {
      hostPaths = await prepareVolumes(this.pod, this.volumesDir, this.deps.lookup);
    } catch (err) {
      if (!(err instanceof ConfigRefError)) throw err;
      configError = err.message;
    }
    for (const c of this.pod.spec.containers) {
      statuses.push(await this.reconcileContainer(c, hostPaths, configError));
    }
    if (this.stopped) return;
    this.deps.alive.set(this.namespace, this.path, {
      node: this.deps.node,
      actor: 'pod',
      since: this.startTime,
    });
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
    this.deps.report(this.status(statuses));
  }

  private async reconcileContainer(
    c: Container,
    hostPaths: Map<string, string> | undefined,
    configError: string | undefined,
  ): Promise<ContainerStatus> {
    const { docker } = this.deps;
    const t = this.track(c.name);
    const now = Date.now();
    const ct = docker.getContainer(this.name(c));
    let info = await ct.inspect().catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) return null;
      throw err;
    });
    // A container of an earlier pod of the same name: its own actor (or the stray sweep after a
    // restart, once etcd answered) removes it; adopting it would report the old pod's container.
    if (info && info.Config.Labels[LABEL.podUid] !== this.pod.metadata.uid)
      return this.waiting(
        c,
        t,
        'ContainerCreating',
        "waiting for the previous pod's container to be removed",
      );
    let env: string[] | undefined;
    let binds: string[] | undefined;
    try {
      if (configError) throw new ConfigRefError(configError);
      env = resolveEnv(this.pod, c, this.deps.lookup, this.deps.address);
      binds = bindsFor(c, hostPaths!);
    } catch (err) {
      if (!(err instanceof ConfigRefError)) throw err;
      // A running container keeps running; a new one cannot be made until the reference resolves.
      if (!info) return this.waiting(c, t, 'CreateContainerConfigError', err.message);
    }
    const hash = env && binds ? specHash(c, env, binds) : info?.Config.Labels[LABEL.specHash];
    if (info && info.Config.Labels[LABEL.specHash] !== hash) {
      this.deps.recorder.normal(
        this.ref(),
        'Killing',
        `Container ${c.name} definition changed, will be restarted`,
      );
      await ct.remove({ force: true });
      info = null;
    }
    if (!info) {
      const pulled = await this.ensureImage(c, t, now);
      if (pulled) return pulled;
      await docker.createContainer(this.createOptions(c, env!, binds!, hash!));
      this.deps.recorder.normal(this.ref(), 'Created', `Created container ${c.name}`);
      await ct.start();
      this.deps.recorder.normal(this.ref(), 'Started', `Started container ${c.name}`);
      info = await ct.inspect();
    }
    t.containerId = info.Id;
    const state = info.State;
    if (state.Running || state.Restarting) {
      delete t.waiting;
      return this.containerStatus(c, t, { running: { startedAt: state.StartedAt } });
    }
    // Created but never started (an agent died between create and start): start it.
    if (state.StartedAt === ZERO_TIME) {
      await ct.start();
      this.deps.recorder.normal(this.ref(), 'Started', `Started container ${c.name}`);
      return this.containerStatus(c, t, { running: { startedAt: await startedAt(ct) } });
    }
    const terminated: ContainerState = {
      terminated: {
        exitCode: state.ExitCode,
        reason: state.OOMKilled ? 'OOMKilled' : state.ExitCode === 0 ? 'Completed' : 'Error',
        startedAt: state.StartedAt,
        finishedAt: state.FinishedAt,
        ...(state.Error ? { message: state.Error } : {}),
      },
    };
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && state.ExitCode !== 0);
    if (!restart) return this.containerStatus(c, t, terminated);
    if (t.seenExit !== state.FinishedAt) {
      // A new exit: count it once, and wait out the back-off before the next start.
      t.seenExit = state.FinishedAt;
      const ran = Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
      if (ran >= this.deps.backoff.resetAfterMs) t.backoffMs = 0;
      t.backoffMs =
        t.backoffMs === 0 ? this.deps.backoff.initialMs : Math.min(t.backoffMs * 2, this.deps.backoff.maxMs);
      t.notBefore = now + t.backoffMs;
      t.lastState = terminated;
      this.deps.recorder.warning(this.ref(), 'BackOff', `Back-off restarting failed container ${c.name}`);
      this.deps.wakeAt(t.notBefore);
    }
    if (now < t.notBefore) {
      const secs = Math.round(t.backoffMs / 1000);
      t.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${secs}s restarting failed container=${c.name} pod=${this.pod.metadata.name}`,
      };
      return this.containerStatus(c, t, { waiting: t.waiting });
    }
    await ct.start();
    t.restartCount++;
    delete t.waiting;
    this.deps.recorder.normal(this.ref(), 'Started', `Started container ${c.name}`);
    return this.containerStatus(c, t, { running: { startedAt: await startedAt(ct) } });
  }

  /** Pull when the policy says so; a status to report while the image is not there, else undefined. */
  private async ensureImage(c: Container, t: Tracked, now: number): Promise<ContainerStatus | undefined> {
    const policy = pullPolicy(c);
    const present = await imagePresent(this.deps.docker, c.image);
    if (present && policy !== 'Always') return undefined;
    if (!present && policy === 'Never')
      return this.waiting(
        c,
        t,
        'ErrImageNeverPull',
        `Container image "${c.image}" is not present with pull policy of Never`,
      );
    if (t.pull && now < t.pull.notBefore)
      return this.waiting(c, t, 'ImagePullBackOff', `Back-off pulling image "${c.image}"`);
    this.deps.recorder.normal(this.ref(), 'Pulling', `Pulling image "${c.image}"`);
    try {
      await pullImage(this.deps.docker, c.image);
    } catch (err) {
      const backoffMs = t.pull
        ? Math.min(t.pull.backoffMs * 2, this.deps.backoff.maxMs)
        : this.deps.backoff.initialMs;
      t.pull = { backoffMs, notBefore: now + backoffMs };
      // Once more soon (to say ImagePullBackOff, as the kubelet does), then when the back-off ends.
      this.deps.wakeAt(now + 1000);
      this.deps.wakeAt(t.pull.notBefore);
      const message = `Failed to pull image "${c.image}": ${(err as Error).message}`;
      this.deps.recorder.warning(this.ref(), 'Failed', message);
      return this.waiting(c, t, 'ErrImagePull', message);
    }
    delete t.pull;
    this.deps.recorder.normal(this.ref(), 'Pulled', `Successfully pulled image "${c.image}"`);
    return undefined;
  }

  private createOptions(
    c: Container,
    env: string[],
    binds: string[],
    hash: string,
  ): Docker.ContainerCreateOptions {
    const limits = c.resources?.limits;
    const owner = `${this.path}/container-${c.name}`;
    const opts: Docker.ContainerCreateOptions = {
      name: this.name(c),
      Image: c.image,
      Env: env,
      Labels: {
        [LABEL.cluster]: this.deps.cluster,
        [LABEL.node]: this.deps.node,
        [LABEL.namespace]: this.namespace,
        [LABEL.pod]: this.pod.metadata.name,
        [LABEL.podUid]: this.pod.metadata.uid,
        [LABEL.container]: c.name,
        [LABEL.ownerPath]: owner,
        [LABEL.specHash]: hash,
      },
      HostConfig: {
        NetworkMode: 'host',
        Binds: binds,
        RestartPolicy: { Name: 'no' },
        ...(limits?.cpu ? { NanoCpus: Math.round(parseCpu(limits.cpu) * 1e9) } : {}),
        ...(limits?.memory ? { Memory: parseMemory(limits.memory) } : {}),
      },
    };
    // k8s: command replaces the image's ENTRYPOINT, args replace its CMD.
    if (c.command) opts.Entrypoint = c.command;
    if (c.args) opts.Cmd = c.args;
    else if (c.command) opts.Cmd = [];
    if (c.workingDir) opts.WorkingDir = c.workingDir;
    return opts;
  }

  private track(name: string): Tracked {
    let t = this.tracked.get(name);
    if (!t) {
      t = { restartCount: 0, backoffMs: 0, notBefore: 0 };
      this.tracked.set(name, t);
    }
    return t;
  }

  private waiting(c: Container, t: Tracked, reason: string, message: string): ContainerStatus {
    t.waiting = { reason, message };
    return this.containerStatus(c, t, { waiting: t.waiting });
  }

  private containerStatus(c: Container, t: Tracked, state: ContainerState): ContainerStatus {
    const cs: ContainerStatus = {
      name: c.name,
      image: c.image,
      ready: Boolean(state.running),
      restartCount: t.restartCount,
      started: Boolean(state.running),
      state,
    };
    if (t.containerId) cs.containerID = `docker://${t.containerId}`;
    if (t.lastState) cs.lastState = t.lastState;
    return cs;
  }

  private status(cs: ContainerStatus[]): PodStatus {
    const now = new Date().toISOString();
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    const allCreated = cs.every((s) => s.containerID);
    const anyRunning = cs.some((s) => s.state.running);
    const allTerminated = cs.every((s) => s.state.terminated);
    let phase: PodStatus['phase'] = 'Pending';
    if (allTerminated) {
      const ok = cs.every((s) => s.state.terminated!.exitCode === 0);
      phase = ok ? 'Succeeded' : 'Failed';
    } else if (allCreated && (anyRunning || policy !== 'Never')) phase = 'Running';
    const ready = cs.every((s) => s.ready);
    const cond = (type: string, ok: boolean, reason?: string) => ({
      type,
      status: ok ? ('True' as const) : ('False' as const),
      ...(reason && !ok ? { reason } : {}),
      lastTransitionTime: now,
    });
    return {
      phase,
      conditions: [
        cond('PodScheduled', true),
        cond('Initialized', true),
        cond('ContainersReady', ready, 'ContainersNotReady'),
        cond('Ready', ready, 'ContainersNotReady'),
      ],
      hostIP: this.deps.address,
      podIP: this.deps.address,
      nodeName: this.deps.node,
      startTime: this.startTime,
      containerStatuses: cs,
    };
  }
}

/** Docker's own start time (what a later inspect says too, so status does not flap). */
async function startedAt(ct: Docker.Container): Promise<string> {
  return (await ct.inspect()).State.StartedAt;
}

/** What decides whether a container must be recreated: its spec and everything resolved into it. */
export function specHash(c: Container, env: string[], binds: string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ c: { ...c, resources: c.resources ?? null }, env, binds }));
  return h.digest('hex').slice(0, 16);
}
