// Event-loop lag: the agent's pulse. Gossip convergence dies when the loop stalls, so it is measured always.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Sampling period of the lag histogram. Every sample is a wake-up of an otherwise idle process, and on a
 * small VM each wake-up costs tens of microseconds: at Node's usual 10–20 ms the monitor alone was the
 * largest part of an idle agent's CPU. A stall as long as the period always lands in the histogram;
 * shorter ones are sampled (a stall of S ms is seen with probability about S / period).
 */
export const LOOP_LAG_RESOLUTION_MS = 200;

export interface LoopLag {
  /** Percentiles in seconds since the last reset (one metrics scrape or status read). */
  snapshot(): { p50: number; p99: number; max: number };
  stop(): void;
}

export function startLoopLagMonitor(resolutionMs = LOOP_LAG_RESOLUTION_MS): LoopLag {
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return {
    snapshot() {
      // The histogram counts the sampling timer's own period; what is above it is lag.
      const lag = (ns: number) => Math.max(0, ns / 1e9 - resolutionMs / 1000);
      const s = { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max) };
      h.reset();
      return s;
    },
    stop() {
      h.disable();
    },
  };
}
