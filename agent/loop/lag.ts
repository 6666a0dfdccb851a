// Event-loop lag: the agent's pulse. Gossip convergence dies when the loop stalls, so it is measured always:
// how late each tick of the process's pulse (pulse.ts) came, in a histogram of its own.
import { createHistogram } from 'node:perf_hooks';
import { onPulse, PULSE_MS } from './pulse.ts';

export interface LoopLag {
  /** Percentiles in seconds since the last reset (one metrics scrape or status read). */
  snapshot(): { p50: number; p99: number; max: number };
  stop(): void;
}

export function startLoopLagMonitor(): LoopLag {
  const h = createHistogram();
  // The histogram takes whole nanoseconds >= 1: a tick on time is recorded as 1 ns.
  const off = onPulse((gapMs) => h.record(Math.max(1, Math.round((gapMs - PULSE_MS) * 1e6))));
  const seconds = (ns: number) => (ns <= 1 ? 0 : ns / 1e9);
  return {
    snapshot() {
      const s = { p50: seconds(h.percentile(50)), p99: seconds(h.percentile(99)), max: seconds(h.max) };
      h.reset();
      return s;
    },
    stop: off,
  };
}
