// Giving memory back after a burst. V8 grows its young generation (up to 2 x 16 MB here) while a process
// allocates fast — an agent's start, 20 peers connecting at once, a burst of pods — and keeps it grown
// while the process idles: measured on an idle worker at N = 20 started with its peers, 84 MB private of
// which one memory-reducing collection gave back 30 MB (to 54), for ~30 ms of one collection. So some
// time after start, and then now and then, when the young generation is grown, the agent asks V8 for
// that collection (the one V8 makes under memory pressure: full, compacting, new space shrunk). It stops
// the loop for its length, rarely: about 1.7 ms per MB of heap used here (30 ms for an agent's 20 MB). Not
// on a big heap: a head holding 10,000 pods (bench/fleet, ~90 MB used) stopped 148–154 ms for it, and the
// young generation is small beside such a heap.
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../log/logger.ts';

/** First look after start: start-up work (JIT, the first syncs, the mesh's fast announcements) is done. */
export const REDUCE_FIRST_MS = 30_000;
/** Then every this often. */
export const REDUCE_EVERY_MS = 5 * 60_000;
/** A young generation above this size (both semi-spaces; 1 MB at start) has grown: worth a collection. */
export const GROWN_NEW_SPACE_BYTES = 4 * 2 ** 20;
/** A heap using more than this is left alone: its full collection would stop the loop ~100 ms or more.
 * (In use: live objects and garbage not yet collected; conservative.) */
export const MAX_HEAP_USED_BYTES = 64 * 2 ** 20;

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** V8's gc function, exposed at run time (the single executable has no command line for V8 flags);
 * undefined if this V8 will not give it. */
function exposeGc(): Gc | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  }
}

const newSpaceBytes = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

export interface MemoryReducer {
  /** Collect now if the young generation has grown and the heap is not big; returns how long it took
   * (ms), or null if it did not collect. */
  reduce(): number | null;
  stop(): void;
}

/** `maxHeapUsedBytes`: tests' ceiling (the heap in use counts garbage not yet collected, so a test's own
 * garbage would decide it otherwise). */
export function startMemoryReducer(log: Logger, maxHeapUsedBytes = MAX_HEAP_USED_BYTES): MemoryReducer {
  const gc = exposeGc();
  const reduce = (): number | null => {
    if (!gc || newSpaceBytes() <= GROWN_NEW_SPACE_BYTES) return null;
    const used = getHeapStatistics().used_heap_size;
    if (used > maxHeapUsedBytes) return null;
    const t = performance.now();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const ms = performance.now() - t;
    log.debug(
      { ms: Math.round(ms), heapUsedMB: Math.round(used / 2 ** 20) },
      'memory given back (young generation shrunk)',
    );
    return ms;
  };
  let timer = setTimeout(function again() {
    reduce();
    timer = setTimeout(again, REDUCE_EVERY_MS).unref();
  }, REDUCE_FIRST_MS).unref();
  if (!gc) log.warn('V8 did not expose its collector: memory grown in a burst is kept');
  return {
    reduce,
    stop: () => clearTimeout(timer),
  };
}
