// Retry timing shared by the export queue (shipper.ts) and the database creation (database.ts): exponential
// back-off with jitter, and a log line only at the 1st, 2nd, 4th, 8th... failure of a streak, so an endpoint
// that fails for hours writes a dozen lines, not one per batch.

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The documented 1 s -> 60 s. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 60_000 };

/** Wait before the next try after `failures` (>= 1) failures in a row: half the step plus up to half of it. */
export function backoffDelay(failures: number, b: Backoff): number {
  const step = Math.min(b.maxMs, b.initialMs * 2 ** (failures - 1));
  return step / 2 + Math.random() * (step / 2);
}

/** True for the failures worth a log line: the 1st, 2nd, 4th, 8th, ... of a streak. */
export function worthLogging(failures: number): boolean {
  return failures >= 1 && (failures & (failures - 1)) === 0;
}
