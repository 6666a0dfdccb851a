// The bounded queue of one log source (a container, the agent itself): records wait here until the
// pipeline takes them into a batch. Beyond its bounds a record is dropped and counted, never queued.
import { type LogRecord, recordBytes } from './otlp.ts';

export interface BufferBounds {
  maxRecords: number;
  maxBytes: number;
}

export class RecordBuffer {
  private items: LogRecord[] = [];
  private head = 0;
  private bytes = 0;
  /** Records refused because the buffer was full. */
  dropped = 0;
  private readonly bounds: BufferBounds;

  constructor(bounds: BufferBounds) {
    this.bounds = bounds;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get queuedBytes(): number {
    return this.bytes;
  }

  /** True when the buffer is at a bound: the source should stop reading if it can. */
  get full(): boolean {
    return this.length >= this.bounds.maxRecords || this.bytes >= this.bounds.maxBytes;
  }

  /** Queue a record; false (and counted) when the buffer is full. */
  push(r: LogRecord): boolean {
    if (this.full) {
      this.dropped++;
      return false;
    }
    this.items.push(r);
    this.bytes += recordBytes(r);
    return true;
  }

  /** Move up to `maxRecords` / about `maxBytes` records (at least one if any) into `out`; returns the last. */
  takeInto(out: LogRecord[], maxRecords: number, maxBytes: number): LogRecord | undefined {
    let last: LogRecord | undefined;
    let n = 0;
    let b = 0;
    while (this.head < this.items.length && n < maxRecords && (n === 0 || b < maxBytes)) {
      const r = this.items[this.head++]!;
      const size = recordBytes(r);
      out.push(r);
      this.bytes -= size;
      b += size;
      n++;
      last = r;
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return last;
  }
}
