// The process's one timer for its periodic self-checks: the pause watch (pause.ts), the loop-lag sampler
// (lag.ts) and etcd's reachability watch (store/etcd-reach.ts, every second tick) look on the same tick.
// Each wake-up of an idle process costs more than the check it runs (on this VM about 0.013 % of a core
// per wake-up per second), and two timers of different phase woke the process twice: 4 + 5 times a second,
// a tenth of an idle agent's wake-ups at N = 20, for the same question (how late is the loop?).

/** The tick. A stall of the loop as long as this always shows; shorter ones are sampled (a stall of S ms is
 * seen with probability about S / PULSE_MS). */
export const PULSE_MS = 250;

type Listener = (gapMs: number) => void;

const listeners = new Set<Listener>();
let timer: NodeJS.Timeout | undefined;
let last = 0;

function tick(): void {
  const now = performance.now();
  const gap = now - last;
  last = now;
  for (const l of listeners) l(gap);
}

/**
 * Call `listener` on every tick with the time since the previous tick (PULSE_MS plus the loop's lag, or a
 * pause). The timer runs while anyone listens and never keeps the process alive. Returns the unsubscribe.
 */
export function onPulse(listener: Listener): () => void {
  listeners.add(listener);
  if (!timer) {
    last = performance.now();
    timer = setInterval(tick, PULSE_MS);
    timer.unref();
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size > 0 || !timer) return;
    clearInterval(timer);
    timer = undefined;
  };
}
