// One probe of one running container (k8s' prober worker): the first attempt at the container's start
// + initialDelaySeconds, then one every periodSeconds, each bounded by timeoutSeconds and run in one of
// the agent's probe slots. A result counts once it repeated: successThreshold successes in a row, or
// failureThreshold failures. Liveness and readiness wait while the startup probe has not succeeded; a
// startup or liveness probe that failed stops (on hold, as the kubelet: the container is killed and a
// new one gets new workers); a startup probe that succeeded is done. Every failed attempt up to the
// threshold is reported (an Unhealthy event), then at most one per UNHEALTHY_REPEAT_MS while it fails.
import { PROBE_DEFAULTS } from '../../objects/defaults.ts';
import type { Probe } from '../../objects/types.ts';
import { runAction } from '../actions/run.ts';
import type { ActionTarget } from '../actions/target.ts';
import type { Clock } from '../clock.ts';
import type { ProbeSlots } from './slots.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export interface WorkerEnv {
  target: ActionTarget;
  slots: ProbeSlots;
  /** Aborted when the container instance is gone or the pod stops: the worker ends. */
  signal: AbortSignal;
  /** Liveness and readiness probe only once this is true (the startup probe succeeded, or none). */
  started(): boolean;
  /** Every failed attempt (an Unhealthy event). */
  failed(kind: ProbeKind, output: string): void;
  /** A result past its threshold (the same may come again). */
  result(kind: ProbeKind, ok: boolean, output?: string): void;
}

/** A readiness probe that keeps failing past its threshold says so at most this often (client-go's event
 * spam filter refills one event per object every 5 minutes): a pod unready for a day on a thin link is
 * not an etcd write every period. */
export const UNHEALTHY_REPEAT_MS = 300_000;

/** setTimeout's limit: longer waits are made of several. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ProbeWorker {
  private readonly kind: ProbeKind;
  private readonly probe: Probe;
  private readonly env: WorkerEnv;
  private last: boolean | undefined;
  private run = 0;
  private wake = new AbortController();
  private lastFailedEvent = Number.NEGATIVE_INFINITY;

  /** `seed`: the result the container had before (an adopted container), counted as past its threshold. */
  constructor(kind: ProbeKind, probe: Probe, env: WorkerEnv, seed?: boolean) {
    this.kind = kind;
    this.probe = probe;
    this.env = env;
    // One signal to sleep on, aborted by a poke or by the end of the pod's probes (not AbortSignal.any
    // per period: its weak references cost the garbage collector dearly at hundreds of probes a second).
    env.signal.addEventListener('abort', () => this.wake.abort(STOPPED), { once: true });
    if (seed !== undefined) {
      this.last = seed;
      this.run = seed ? this.successThreshold : this.failureThreshold;
    }
  }

  get periodMs(): number {
    return (this.probe.periodSeconds || PROBE_DEFAULTS.periodSeconds) * 1000;
  }

  get initialDelayMs(): number {
    return (this.probe.initialDelaySeconds ?? 0) * 1000;
  }

  private get successThreshold(): number {
    return this.probe.successThreshold || PROBE_DEFAULTS.successThreshold;
  }

  private get failureThreshold(): number {
    return this.probe.failureThreshold || PROBE_DEFAULTS.failureThreshold;
  }

  /** Probe now rather than at the next period (readiness, once the startup probe succeeded). */
  poke(): void {
    this.wake.abort(POKED);
  }

  /** Runs until the signal aborts or the probe is done; never throws. */
  async loop(firstAt: number): Promise<void> {
    const { env } = this;
    const clock = env.target.deps.clock;
    const timeoutMs = (this.probe.timeoutSeconds || PROBE_DEFAULTS.timeoutSeconds) * 1000;
    let next = firstAt;
    while (!env.signal.aborted) {
      await this.sleepUntil(clock, next);
      if (env.signal.aborted) return;
      // The next attempt a period after this one; periods missed (a probe that ran long, a lagging loop)
      // are dropped, as a ticker does; a poke starts the count again.
      const now = clock.now();
      next = Math.min(next, now) + this.periodMs;
      if (next <= now) next = now + this.periodMs;
      if (this.kind !== 'startup' && !env.started()) continue;
      let output: string | undefined;
      try {
        output = await env.slots.execute(
          () => runAction(env.target, this.probe, timeoutMs, env.signal),
          env.signal,
        );
      } catch {
        continue; // no slot (queue full) or stopped: skipped
      }
      if (env.signal.aborted) return;
      const ok = output === undefined;
      this.run = ok === this.last ? this.run + 1 : 1;
      this.last = ok;
      if (
        !ok &&
        (this.run <= this.failureThreshold || clock.now() - this.lastFailedEvent >= UNHEALTHY_REPEAT_MS)
      ) {
        this.lastFailedEvent = clock.now();
        env.failed(this.kind, output!);
      }
      if (this.run < (ok ? this.successThreshold : this.failureThreshold)) continue;
      env.result(this.kind, ok, output);
      if (!ok && this.kind !== 'readiness') return;
      if (ok && this.kind === 'startup') return;
    }
  }

  private async sleepUntil(clock: Clock, at: number): Promise<void> {
    if (this.wake.signal.aborted && !this.env.signal.aborted) this.wake = new AbortController();
    const stop = this.wake.signal;
    for (let left = at - clock.now(); left > 0 && !stop.aborted; left = at - clock.now())
      await clock.sleep(Math.min(left, MAX_TIMER_MS), stop);
  }
}

/** Abort reasons: given, no DOMException (and its stack) is made for each. */
const POKED = 'poked';
const STOPPED = 'stopped';
