// Event-loop lag: the agent's pulse. Gossip convergence dies when the loop stalls, so it is measured always.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopLag {
  /** Percentiles in seconds since the last reset (one metrics scrape or status read). */
  snapshot(): { p50: number; p99: number; max: number };
  stop(): void;
}

export function startLoopLagMonitor(resolutionMs = 20): LoopLag {
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
