// The probes of one container instance (a container id and its start time: a restart is a new
// instance) and what they concluded, read by the pod actor when it reports status and acts:
// `started` (the startup probe succeeded, or there is none), `ready` (started, and the readiness probe
// succeeded, or there is none) and `verdict` (a liveness or startup probe failed: the actor kills the
// container). Results reach the actor as events: `changed` kicks a reconcile; probes never wait for it.
import type { Container, Probe } from '../../objects/types.ts';
import type { ActionTarget } from '../actions/target.ts';
import type { ProbeSlots } from './slots.ts';
import { type ProbeKind, ProbeWorker } from './worker.ts';

export interface ProbeVerdict {
  kind: 'liveness' | 'startup';
  output: string;
}

/** What a container had before (an adopted container: the agent restarted), so it does not flap. */
export interface ProbeSeed {
  ready: boolean;
  started: boolean;
}

export interface ContainerProbesDeps {
  target: ActionTarget;
  slots: ProbeSlots;
  /** A Warning event about the pod. */
  warn(reason: string, message: string): void;
  /** A result changed: reconcile (status, or the kill of a verdict). */
  changed(): void;
  /** 0 <= x < 1: where in its first period an adopted container's probe starts (spreads them out). */
  random(): number;
}

const PROBE_FIELD: Record<ProbeKind, 'livenessProbe' | 'readinessProbe' | 'startupProbe'> = {
  liveness: 'livenessProbe',
  readiness: 'readinessProbe',
  startup: 'startupProbe',
};
const TITLE: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

export const hasProbes = (c: Container): boolean =>
  Boolean(c.livenessProbe || c.readinessProbe || c.startupProbe);

export class ContainerProbes {
  readonly instance: string;
  private readonly c: Container;
  private readonly deps: ContainerProbesDeps;
  private readonly stopped = new AbortController();
  private startupDone: boolean;
  private readyResult: boolean;
  private readonly workers = new Map<ProbeKind, ProbeWorker>();
  verdict: ProbeVerdict | undefined;

  constructor(
    c: Container,
    instance: string,
    startedAtMs: number,
    deps: ContainerProbesDeps,
    seed?: ProbeSeed,
  ) {
    this.c = c;
    this.instance = instance;
    this.deps = deps;
    this.startupDone = !c.startupProbe || seed?.started === true;
    this.readyResult = seed?.ready === true;
    const now = deps.target.deps.clock.now();
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const probe: Probe | undefined = c[PROBE_FIELD[kind]];
      if (!probe || (kind === 'startup' && this.startupDone)) continue;
      // An adopted container keeps what it had; its result counts as past the threshold.
      const seeded = seed && (kind === 'readiness' ? seed.ready : seed.started);
      const worker = new ProbeWorker(
        kind,
        probe,
        {
          target: deps.target,
          slots: deps.slots,
          signal: this.stopped.signal,
          started: () => this.startupDone,
          failed: (k, output) => this.deps.warn('Unhealthy', `${TITLE[k]} probe failed: ${output}`),
          result: (k, ok, output) => this.onResult(k, ok, output),
        },
        kind === 'readiness' && seed ? seed.ready : undefined,
      );
      this.workers.set(kind, worker);
      const firstAt = seeded
        ? now + deps.random() * worker.periodMs
        : Math.max(now, startedAtMs + worker.initialDelayMs);
      void worker.loop(firstAt);
    }
  }

  get started(): boolean {
    return this.startupDone;
  }

  get ready(): boolean {
    return this.startupDone && (this.c.readinessProbe ? this.readyResult : true);
  }

  /** The probe a verdict came from (its terminationGracePeriodSeconds). */
  probeOf(kind: ProbeKind): Probe | undefined {
    return this.c[PROBE_FIELD[kind]];
  }

  stop(): void {
    this.stopped.abort();
  }

  private onResult(kind: ProbeKind, ok: boolean, output: string | undefined): void {
    const before = { started: this.started, ready: this.ready, verdict: this.verdict };
    if (kind === 'readiness') this.readyResult = ok;
    else if (!ok) this.verdict ??= { kind, output: output ?? '' };
    else if (kind === 'startup') {
      this.startupDone = true;
      // Readiness need not wait out its period to tell.
      this.workers.get('readiness')?.poke();
    }
    if (before.started !== this.started || before.ready !== this.ready || before.verdict !== this.verdict)
      this.deps.changed();
  }
}
