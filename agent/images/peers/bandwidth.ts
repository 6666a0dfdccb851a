// A node's bandwidth cap for images moved between peers (`nodes[].imageBandwidth`, bytes per second, both
// directions together): a token bucket holding at most one second's worth. take(n) resolves when n bytes may
// go; a chunk larger than the bucket runs into debt and the next take waits it out, so the average holds.
export class Bandwidth {
  private tokens: number;
  private last = performance.now();
  /** Takes are served in order. */
  private queue: Promise<void> = Promise.resolve();
  private rate: number | undefined;

  /** `bytesPerSecond` undefined: no cap. */
  constructor(bytesPerSecond: number | undefined) {
    this.rate = bytesPerSecond;
    this.tokens = bytesPerSecond ?? 0;
  }

  bytesPerSecond(): number | undefined {
    return this.rate;
  }

  setRate(bytesPerSecond: number | undefined): void {
    this.rate = bytesPerSecond;
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const next = this.queue.then(() => this.wait(bytes, signal));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async wait(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate;
    if (rate === undefined) return;
    const now = performance.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const ms = (-this.tokens / rate) * 1000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
}
