// Was this process away? A SIGSTOP, a VM freeze, swap or a long synchronous stretch all look the same from
// inside: time moved on while nothing of ours ran. Verdicts based on elapsed time (a peer's silence) must
// not count that time against others (Lifeguard's local-health idea): the caller restarts its timers.
// Also a wall-clock jump (NTP step) beyond the threshold, since silence is measured on wall time.
import { onPulse, PULSE_MS } from './pulse.ts';

/** A gap beyond the period longer than this counts as a pause. */
export const PAUSE_THRESHOLD_MS = 1000;

export class PauseWatch {
  private lastMono = performance.now();
  private lastWall = Date.now();
  private off: (() => void) | undefined;
  pauses = 0;
  private readonly onPause: (gapMs: number) => void;

  constructor(onPause: (gapMs: number) => void) {
    this.onPause = onPause;
  }

  /** Look on every tick of the process's pulse (pulse.ts). */
  start(): void {
    this.off ??= onPulse(() => this.check());
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  /** Look now; call it before acting on elapsed time. True (and onPause called) when we were away. */
  check(): boolean {
    const mono = performance.now();
    const wall = Date.now();
    const gap = mono - this.lastMono;
    const skew = Math.abs(wall - this.lastWall - gap);
    this.lastMono = mono;
    this.lastWall = wall;
    if (gap <= PULSE_MS + PAUSE_THRESHOLD_MS && skew <= PAUSE_THRESHOLD_MS) return false;
    this.pauses++;
    this.onPause(Math.max(gap, skew));
    return true;
  }
}
