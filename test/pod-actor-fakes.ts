// Fakes for the pod actor's unit tests: a clock the test moves, and an in-memory Docker that implements
// just the dockerode calls the actor makes (agent/pods/steps/run.ts PodDocker). Container processes are
// scripted: a test says when one exits, how a start fails, how long a hook runs, whether SIGTERM is
// ignored. Every call is logged with the fake time, so tests assert order and timing. `actorSetup` makes
// a pod actor over them (test/pod-actor.test.ts, test/probes.test.ts).
import { PassThrough } from 'node:stream';
import type { Logger } from '../agent/log/logger.ts';
import type { EventRecorder } from '../agent/objects/events.ts';
import type { ConfigMap, Container, Pod, PodSpec, PodStatus } from '../agent/objects/types.ts';
import type { PodSandbox } from '../agent/podnet/pod-network.ts';
import type { Clock } from '../agent/pods/clock.ts';
import { K8S_BACKOFF, PodActor } from '../agent/pods/pod-actor.ts';
import { type ProbeSlots, probeSlots } from '../agent/pods/probes/slots.ts';
import type { PodDocker } from '../agent/pods/steps/run.ts';
import { containerName } from '../agent/runtime/labels.ts';
import type { AliveRecords } from '../agent/store/alive.ts';

export const T0 = Date.parse('2026-01-01T00:00:00.000Z');

export class FakeClock implements Clock {
  private t = T0;
  private timers: Array<{ at: number; fire: () => void }> = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const timer = { at: this.t + Math.max(0, ms), fire: resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Sleeps registered and not yet over. */
  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward by `ms`, firing every sleep due on the way in order (and letting what each
   * wakes up run before the next). */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = next.at;
      next.fire();
    }
    this.t = target;
    await settle();
  }

  /** Wait (in real time, briefly) until `n` sleeps are registered: the code under test reached them. */
  async untilPending(n: number): Promise<void> {
    for (let i = 0; i < 2000 && this.timers.length < n; i++) await new Promise((r) => setTimeout(r, 1));
    if (this.timers.length < n) throw new Error(`only ${this.timers.length} sleeps pending, expected ${n}`);
  }
}

/** Let promise chains and immediate callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

interface FakeState {
  Status: string;
  Running: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface FakeContainer {
  id: string;
  name: string;
  opts: {
    Image: string;
    Env?: string[];
    Entrypoint?: string[];
    Labels: Record<string, string>;
    HostConfig?: { NetworkMode?: string };
  };
  state: FakeState;
  /** SIGTERM is ignored: only the SIGKILL at the end of the grace stops it. */
  ignoresTerm?: boolean;
}

const ZERO = '0001-01-01T00:00:00Z';
const iso = (ms: number) => new Date(ms).toISOString();
const dockerError = (statusCode: number, message: string) =>
  Object.assign(new Error(`(HTTP code ${statusCode}) - ${message}`), { statusCode, json: { message } });

export class FakeDocker {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>();
  /** Images a pull succeeds for (others fail with "manifest unknown"). */
  readonly pullable = new Set<string>();
  /** Every call, with the fake time: `<ms since T0> <call> <container or image>[ detail]`. */
  readonly calls: string[] = [];
  /** How an exec (hook) behaves: its exit code, how long it runs, what it prints. */
  execBehaviour: (container: string, cmd: string[]) => { exitCode: number; ms: number; output?: string } =
    () => ({
      exitCode: 0,
      ms: 0,
    });
  private seq = 0;
  private readonly wakeStop = new Map<string, () => void>();
  private readonly clock: FakeClock;

  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  private log(call: string): void {
    this.calls.push(`${this.clock.now() - T0} ${call}`);
  }

  /** The named calls only, without times. */
  callNames(): string[] {
    return this.calls.map((c) => c.slice(c.indexOf(' ') + 1));
  }

  /** A running container's process ends now. */
  exit(name: string, exitCode: number, opts: { oom?: boolean } = {}): void {
    const c = this.containers.get(name);
    if (!c?.state.Running) throw new Error(`${name} is not running`);
    Object.assign(c.state, {
      Status: 'exited',
      Running: false,
      ExitCode: exitCode,
      OOMKilled: opts.oom === true,
      FinishedAt: iso(this.clock.now()),
    });
  }

  asDocker(): PodDocker {
    return this as unknown as PodDocker;
  }

  // ---- dockerode surface ----

  getImage(ref: string) {
    return {
      inspect: async () => {
        if (!this.images.has(ref)) throw dockerError(404, `No such image: ${ref}`);
        return { Id: `sha256:${ref}` };
      },
    };
  }

  async pull(ref: string, _opts: unknown) {
    this.log(`pull ${ref}`);
    return { ref };
  }

  readonly modem = {
    followProgress: (stream: { ref: string }, done: (err: Error | null, out: unknown[]) => void) => {
      if (this.pullable.has(stream.ref)) {
        this.images.add(stream.ref);
        done(null, [{ status: 'Downloaded' }]);
      } else done(null, [{ error: `manifest for ${stream.ref} not found: manifest unknown` }]);
    },
  };

  /** The next stop fails with this message (once). */
  stopError: string | undefined;
  /** The engine refuses every create with this message. */
  createError: string | undefined;

  async createContainer(opts: FakeContainer['opts'] & { name: string }) {
    if (this.createError) throw dockerError(500, this.createError);
    if (this.containers.has(opts.name))
      throw dockerError(409, `Conflict. The container name "/${opts.name}" is already in use`);
    if (!this.images.has(opts.Image)) throw dockerError(404, `No such image: ${opts.Image}`);
    this.log(`create ${opts.name}`);
    const c: FakeContainer = {
      id: `c${++this.seq}`,
      name: opts.name,
      opts,
      state: {
        Status: 'created',
        Running: false,
        Restarting: false,
        OOMKilled: false,
        ExitCode: 0,
        Error: '',
        StartedAt: ZERO,
        FinishedAt: ZERO,
      },
    };
    this.containers.set(opts.name, c);
    return this.getContainer(opts.name);
  }

  getContainer(name: string) {
    const find = () => {
      const c = this.containers.get(name);
      if (!c) throw dockerError(404, `No such container: ${name}`);
      return c;
    };
    return {
      inspect: async () => {
        const c = find();
        return {
          Id: c.id,
          Name: `/${c.name}`,
          Config: { Labels: { ...c.opts.Labels } },
          HostConfig: { NetworkMode: 'host', ...c.opts.HostConfig },
          State: { ...c.state },
        };
      },
      start: async () => {
        const c = find();
        this.log(`start ${name}`);
        if (c.state.Running) throw dockerError(304, 'container already started');
        const cmd = c.opts.Entrypoint?.[0];
        if (cmd?.startsWith('/nonexistent')) {
          const message = `failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${cmd}": stat ${cmd}: no such file or directory: unknown`;
          Object.assign(c.state, { ExitCode: 127, Error: message });
          throw dockerError(400, message);
        }
        Object.assign(c.state, {
          Status: 'running',
          Running: true,
          ExitCode: 0,
          Error: '',
          OOMKilled: false,
          StartedAt: iso(this.clock.now()),
          FinishedAt: ZERO,
        });
      },
      stop: async (opts: { t: number }) => {
        const c = find();
        if (this.stopError) {
          const message = this.stopError;
          this.stopError = undefined;
          throw dockerError(500, message);
        }
        if (!c.state.Running) throw dockerError(304, 'container already stopped');
        this.log(`stop ${name} t=${opts.t}`);
        this.log(`SIGTERM ${name}`);
        if (c.ignoresTerm) {
          // Docker stop returns at the end of the grace, or once the container died otherwise (a kill).
          const died = new AbortController();
          this.wakeStop.set(name, () => died.abort());
          await this.clock.sleep(opts.t * 1000, died.signal);
          this.wakeStop.delete(name);
          if (!c.state.Running) return;
          this.log(`SIGKILL ${name}`);
          this.exit(name, 137);
        } else this.exit(name, 143);
      },
      kill: async (opts: { signal: string }) => {
        const c = find();
        if (!c.state.Running) throw dockerError(409, `Container ${c.id} is not running`);
        this.log(`${opts.signal} ${name}`);
        this.exit(name, 137);
        this.wakeStop.get(name)?.();
      },
      remove: async (_opts: { force: boolean }) => {
        find();
        this.log(`remove ${name}`);
        this.containers.delete(name);
      },
      exec: async (opts: { Cmd: string[] }) => {
        const c = find();
        if (!c.state.Running) throw dockerError(409, `Container ${c.id} is not running`);
        const b = this.execBehaviour(name, opts.Cmd);
        let exitCode: number | undefined;
        return {
          start: async () => {
            this.log(`exec ${name} ${opts.Cmd.join(' ')}`);
            const out = new PassThrough();
            void this.clock.sleep(b.ms).then(() => {
              exitCode = b.exitCode;
              this.log(`exec-end ${name} ${exitCode}`);
              out.end(b.output ?? '');
            });
            return out;
          },
          inspect: async () => ({ ExitCode: exitCode ?? null, Running: exitCode === undefined }),
        };
      },
    };
  }
}

// ---- a pod actor over the fakes ----

export const IMAGE = 'busybox:1';

let podSeq = 0;
export function makePod(spec: Partial<PodSpec> & { containers: Container[] }): Pod {
  const name = `p${++podSeq}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: new Date(T0).toISOString(),
    },
    spec: { nodeName: 'n1', ...spec },
  };
}

export interface Event {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface SetupOptions {
  /** Volume files go under it. */
  workspace: string;
  configMaps?: ConfigMap[];
  /** The agent's probe slots (default: the agent's bound). */
  slots?: ProbeSlots;
  /** The status an earlier agent wrote (adoption). */
  previous?: PodStatus;
  /** An earlier test's clock and Docker (the containers an agent restart finds). */
  clock?: FakeClock;
  docker?: FakeDocker;
  /** The pod network (absent: the pod runs on the node's network). */
  network?: FakeNetwork;
}

/** A pod network that hands out one address per pod and records what it was asked. */
export class FakeNetwork {
  readonly calls: string[] = [];
  private readonly ips = new Map<string, string>();
  private readonly ip: string;
  constructor(ip = '10.42.0.5') {
    this.ip = ip;
  }
  async ensure(pod: Pod): Promise<PodSandbox> {
    const uid = pod.metadata.uid!;
    this.calls.push(`ensure ${pod.metadata.name}`);
    this.ips.set(uid, this.ip);
    return { sandboxId: `sandbox-${uid}`, ip: this.ip, hostsFile: `/nonexistent/${uid}/hosts` };
  }
  async release(pod: Pod): Promise<void> {
    this.calls.push(`release ${pod.metadata.name}`);
    this.ips.delete(pod.metadata.uid!);
  }
  ipOf(pod: Pod): string | undefined {
    return this.ips.get(pod.metadata.uid!);
  }
  /** The pod's address, as the network holds it once it has read its addresses at start. */
  holds(pod: Pod): void {
    this.ips.set(pod.metadata.uid!, this.ip);
  }
}

/** A pod actor over the fakes, with what it reported, woke and recorded. */
export function actorSetup(pod: Pod, opts: SetupOptions) {
  const configMaps = opts.configMaps ?? [];
  const workspace = opts.workspace;
  const clock = opts.clock ?? new FakeClock();
  const docker = opts.docker ?? new FakeDocker(clock);
  docker.images.add(IMAGE);
  const events: Event[] = [];
  const reports: PodStatus[] = [];
  const wakes: number[] = [];
  const alive = new Map<string, unknown>();
  const order: string[] = docker.calls;
  const finished: Pod[] = [];
  const cms = new Map(configMaps.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
  const recorder = {
    normal: (_ref: unknown, reason: string, message: string) =>
      events.push({ type: 'Normal', reason, message }),
    warning: (_ref: unknown, reason: string, message: string) =>
      events.push({ type: 'Warning', reason, message }),
  } as unknown as EventRecorder;
  const aliveRecords = {
    set: (ns: string, path: string, v: unknown) => alive.set(`${ns}/${path}`, v),
    deleteTree: (ns: string, path: string) => {
      for (const k of [...alive.keys()])
        if (k === `${ns}/${path}` || k.startsWith(`${ns}/${path}/`)) alive.delete(k);
      order.push(`${clock.now() - T0} alive-deleted ${path}`);
    },
  } as unknown as AliveRecords;
  const quiet = () => undefined;
  const log = { warn: quiet, info: quiet, debug: quiet, error: quiet } as unknown as Logger;
  const actor = new PodActor(
    pod,
    {
      docker: docker.asDocker(),
      clock,
      cluster: 'c',
      node: 'n1',
      address: '127.0.0.1',
      workspace,
      log,
      recorder,
      alive: aliveRecords,
      lookup: { configMap: (ns, n) => cms.get(`${ns}/${n}`), secret: () => undefined },
      backoff: K8S_BACKOFF,
      probeSlots: opts.slots ?? probeSlots(),
      report: (s) => reports.push(s),
      wakeAt: (ms) => wakes.push(ms),
      ...(opts.network ? { network: opts.network } : {}),
      finished: (p) => {
        order.push(`${clock.now() - T0} finished ${p.metadata.name}`);
        finished.push(p);
      },
    },
    opts.previous,
  );
  const name = (c = 'm') => containerName('c', 'default', pod.metadata.name, c);
  /** Reconcile once and return the last status reported. */
  const reconcile = async () => {
    actor.kick();
    await actor.idle();
    return reports.at(-1)!;
  };
  const cs = (s: PodStatus, i = 0) => s.containerStatuses![i]!;
  const warnings = () => events.filter((e) => e.type === 'Warning');
  return {
    clock,
    docker,
    events,
    warnings,
    reports,
    wakes,
    alive,
    finished,
    actor,
    name,
    reconcile,
    cs,
    cms,
  };
}

export const sleeper = (extra: Partial<Container> = {}): Container => ({
  name: 'm',
  image: IMAGE,
  command: ['sleep', '3600'],
  ...extra,
});
