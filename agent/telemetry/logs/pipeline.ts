// The log pipeline: sources (each with its own bounded RecordBuffer) -> batches taken round robin, so a
// loud container cannot crowd out the others -> one OTLP protobuf body per batch -> the Shipper's queue.
// A batch goes out when a source holds a full batch (at once, next loop turn) or `flushMs` (1 s) after a
// record came to a pipeline that held none waiting: one timer for the whole pipeline, nothing per line, and
// none at all while nothing waits (an idle agent's pipeline woke it every second for nothing). One batch is
// encoded per loop turn, so the event loop never runs more than one batch's work (a few ms) at a time.
import type { Logger } from '../../log/logger.ts';
import { encodeLogs, type LogRecord } from './otlp.ts';
import type { RecordBuffer } from './record-buffer.ts';

/** Where encoded bodies go: the Shipper (agent/telemetry/export/shipper.ts) never blocks. */
export interface BodySink {
  enqueue(body: Uint8Array, items: number): void;
}

export interface LogSource {
  readonly buffer: RecordBuffer;
  /** Called with the last record of this source taken into a body that was handed to the sink. */
  shipped?(last: LogRecord): void;
  /** Called when the source's buffer has room again (it may resume reading). */
  drained?(): void;
}

export interface PipelineOptions {
  sink: BodySink;
  log: Logger;
  /** Records per body (default 1000: about 5 ms of encoding per loop turn) and about this many bytes (default 1 MiB). */
  batchRecords?: number;
  batchBytes?: number;
  flushMs?: number;
}

export interface PipelineStats {
  /** Records waiting in the sources' buffers. */
  bufferedRecords: number;
  bufferedBytes: number;
  /** Records handed to the sink, and bodies. */
  sentRecords: number;
  sentBodies: number;
  /** Records dropped because a source's buffer was full (sources gone included). */
  droppedRecords: number;
}

export class LogPipeline {
  private readonly sources = new Set<LogSource>();
  private readonly opts: Required<PipelineOptions>;
  /** The flush due while records wait (none while nothing does). */
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private stopped = false;
  private sentRecords = 0;
  private sentBodies = 0;
  private droppedGone = 0;
  /** Round-robin start, so the first source does not always go first. */
  private turn = 0;

  constructor(opts: PipelineOptions) {
    this.opts = { batchRecords: 1000, batchBytes: 1 << 20, flushMs: 1000, ...opts };
  }

  add(source: LogSource): void {
    this.sources.add(source);
  }

  /** Forget a source after shipping what it still holds. */
  remove(source: LogSource): void {
    if (!this.sources.has(source)) return;
    this.drainAll(true, source);
    this.droppedGone += source.buffer.dropped;
    this.sources.delete(source);
  }

  /** A source got records: shipped within flushMs, at once if it holds a full batch. */
  notify(source: LogSource): void {
    if (this.stopped) return;
    if (!this.timer && source.buffer.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drainAll(false);
      }, this.opts.flushMs);
      this.timer.unref();
    }
    if (this.scheduled || source.buffer.length < this.opts.batchRecords) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.batch()) this.notifyAny();
    });
  }

  stats(): PipelineStats {
    let bufferedRecords = 0;
    let bufferedBytes = 0;
    let droppedRecords = this.droppedGone;
    for (const s of this.sources) {
      bufferedRecords += s.buffer.length;
      bufferedBytes += s.buffer.queuedBytes;
      droppedRecords += s.buffer.dropped;
    }
    return {
      bufferedRecords,
      bufferedBytes,
      sentRecords: this.sentRecords,
      sentBodies: this.sentBodies,
      droppedRecords,
    };
  }

  /** Ship everything buffered and stop the timer (the sources are stopped by their owners first). */
  stop(): void {
    if (this.stopped) return;
    this.drainAll(true);
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private notifyAny(): void {
    for (const s of this.sources)
      if (s.buffer.length >= this.opts.batchRecords) {
        this.notify(s);
        return;
      }
  }

  /**
   * The timer's flush: every buffered record, one batch per loop turn unless `now` (stop, a source
   * leaving), or from one source only.
   */
  private drainAll(now: boolean, only?: LogSource): void {
    if (this.stopped) return;
    if (now) {
      while (this.batch(only));
      return;
    }
    if (!this.batch()) return;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drainAll(false);
      });
    }
  }

  /** Encode and hand over one batch; true when more records are waiting. */
  private batch(only?: LogSource): boolean {
    const list = only ? [only] : [...this.sources].filter((s) => s.buffer.length > 0);
    if (list.length === 0) return false;
    const { batchRecords, batchBytes } = this.opts;
    const records: LogRecord[] = [];
    const lasts = new Map<LogSource, LogRecord>();
    const start = this.turn++ % list.length;
    let bytes = 0;
    // Fair shares, then whatever room is left goes to whoever still has records.
    while (records.length < batchRecords && bytes < batchBytes) {
      const before = records.length;
      const share = Math.max(1, Math.ceil((batchRecords - records.length) / list.length));
      const byteShare = Math.max(1, (batchBytes - bytes) / list.length);
      for (let i = 0; i < list.length && records.length < batchRecords; i++) {
        const s = list[(start + i) % list.length]!;
        const had = s.buffer.queuedBytes;
        const last = s.buffer.takeInto(records, Math.min(share, batchRecords - records.length), byteShare);
        bytes += had - s.buffer.queuedBytes;
        if (last) lasts.set(s, last);
      }
      if (records.length === before) break;
    }
    if (records.length === 0) return false;
    try {
      this.opts.sink.enqueue(encodeLogs(records), records.length);
    } catch (err) {
      // An encoding failure is a bug; the records are lost, counted as dropped by the stats of no source.
      this.opts.log.error({ err: String(err), records: records.length }, 'log batch encoding failed');
      this.droppedGone += records.length;
      return false;
    }
    this.sentRecords += records.length;
    this.sentBodies++;
    for (const [s, last] of lasts) {
      s.shipped?.(last);
      if (!s.buffer.full) s.drained?.();
    }
    for (const s of list) if (s.buffer.length > 0) return true;
    return false;
  }
}
