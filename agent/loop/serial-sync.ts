// One reconcile loop of a part that mirrors its informers into the kernel (routes, Service rules): passes
// run one at a time; calls to schedule() while one runs fold into one more pass after it. A pass starts
// after the informers' current batch (a re-list tells its changes one by one): it never sees a view half
// through one, and what was told until it reads its inputs is in it. After a pass, another comes by
// itself: `resyncMs` after a good one (someone changed the kernel behind our back), and after a failed
// one when `failed` says (its own back-off).
export interface SerialSyncOptions {
  /** One pass. */
  pass: () => Promise<void>;
  /** After a pass that threw: log it as it deserves, and say how long until the next try. */
  failed: (err: Error) => number;
  /** After a pass that did not throw. */
  succeeded?: () => void;
  /** A pass again this long after a good one; `resync` is told first. */
  resyncMs: number;
  resync?: () => void;
}

export class SerialSync {
  private readonly opts: SerialSyncOptions;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: SerialSyncOptions) {
    this.opts = opts;
  }

  /** A pass soon: one in flight, the calls meanwhile folded into one more. */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.runPass().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.schedule();
      }
    });
  }

  /** Once no pass is in flight nor queued. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No pass after the one in flight (awaited). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async runPass(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.again = false;
    if (this.stopped) return;
    try {
      await this.opts.pass();
    } catch (err) {
      this.again = false;
      this.later(this.opts.failed(err instanceof Error ? err : new Error(String(err))));
      return;
    }
    this.opts.succeeded?.();
    this.later(this.opts.resyncMs, this.opts.resync);
  }

  private later(ms: number, first?: () => void): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      first?.();
      this.schedule();
    }, ms);
    this.timer.unref();
  }
}
