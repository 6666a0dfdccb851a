// One line when something we depend on stops answering, then one at a growing interval while it stays
// away (1 s, 2 s, 4 s ... at most 5 min), and one when it is back: an outage of an hour is a few dozen
// lines, not one per failed call. Every failure is reported here; this decides which ones are written.
import type { Logger } from './logger.ts';

export const OUTAGE_LOG_FIRST_MS = 1000;
export const OUTAGE_LOG_MAX_MS = 5 * 60_000;

export interface OutageLogOptions {
  /** What is away, as the lines name it ("etcd"). */
  what: string;
  /** Wall clock in ms (injected by tests). */
  now?: () => number;
}

export class OutageLog {
  private since: number | undefined;
  private failures = 0;
  private nextLogAt = 0;
  private intervalMs = OUTAGE_LOG_FIRST_MS;
  private readonly log: Logger;
  private readonly what: string;
  private readonly now: () => number;

  constructor(log: Logger, opts: OutageLogOptions) {
    this.log = log;
    this.what = opts.what;
    this.now = opts.now ?? Date.now;
  }

  get failing(): boolean {
    return this.since !== undefined;
  }

  /** A call failed because `what` did not answer. */
  failed(reason: string): void {
    const now = this.now();
    this.failures++;
    if (this.since === undefined) {
      this.since = now;
      this.intervalMs = OUTAGE_LOG_FIRST_MS;
      this.nextLogAt = now + this.intervalMs;
      this.log.warn({ reason }, `${this.what} unreachable`);
      return;
    }
    if (now < this.nextLogAt) return;
    this.intervalMs = Math.min(this.intervalMs * 2, OUTAGE_LOG_MAX_MS);
    this.nextLogAt = now + this.intervalMs;
    this.log.warn(
      { reason, failures: this.failures },
      `${this.what} unreachable since ${new Date(this.since).toISOString()} (${this.failures} failures)`,
    );
  }

  /** A call was answered: ends an outage (one line), else nothing. */
  ok(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((this.now() - this.since) / 1000);
    this.log.info(
      { failures: this.failures, downSeconds: seconds },
      `${this.what} answers again after ${seconds} s (${this.failures} failures)`,
    );
    this.since = undefined;
    this.failures = 0;
  }
}
