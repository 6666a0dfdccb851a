// Docker's container log stream (GET /containers/{id}/logs?timestamps=1), parsed incrementally: the
// multiplexed framing of a container without a TTY (8-byte header: stream 1 = stdout, 2 = stderr, then a
// big-endian payload length) or the raw stream of a TTY container, each line prefixed with its RFC 3339
// timestamp in nanoseconds. Chunks may cut frames and lines anywhere; what is cut is kept for the next.
// A line Docker split (longer than 16 KiB) arrives as pieces, each with its own timestamp: one line each.
import type { HrTime } from './otlp.ts';

export type StreamName = 'stdout' | 'stderr';
export type OnLine = (stream: StreamName, time: HrTime, text: string) => void;

const HEADER = 8;

export class DockerLogParser {
  private readonly multiplexed: boolean;
  private readonly onLine: OnLine;
  private pending: Buffer | undefined;
  /** Raw (TTY) streams: the part of a line not ended yet. */
  private rawRest = '';
  private readonly clock = new TimestampParser();

  constructor(multiplexed: boolean, onLine: OnLine) {
    this.multiplexed = multiplexed;
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    if (!this.multiplexed) {
      const text = this.rawRest + chunk.toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        this.rawRest = text;
        return;
      }
      this.rawRest = text.slice(end + 1);
      this.lines('stdout', text, 0, end + 1);
      return;
    }
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (buf.length - at >= HEADER) {
      const size = buf.readUInt32BE(at + 4);
      if (buf.length - at - HEADER < size) break;
      const stream: StreamName = buf[at] === 2 ? 'stderr' : 'stdout';
      const text = buf.toString('utf8', at + HEADER, at + HEADER + size);
      this.lines(stream, text, 0, text.length);
      at += HEADER + size;
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      // Keep a copy: the chunk's memory may be reused by the stream.
      this.pending = Buffer.from(buf);
    }
  }

  /** The unfinished line of a raw stream, when the stream ends. */
  end(): void {
    if (this.rawRest) this.lines('stdout', this.rawRest, 0, this.rawRest.length);
    this.rawRest = '';
  }

  /** `text[from, to)` holds whole messages, each "<timestamp> <line>\n" (the last may lack its "\n"). */
  private lines(stream: StreamName, text: string, from: number, to: number): void {
    let at = from;
    while (at < to) {
      let nl = text.indexOf('\n', at);
      if (nl < 0 || nl >= to) nl = to;
      const space = text.indexOf(' ', at);
      if (space > at && space < nl) {
        const time = this.clock.parse(text, at, space);
        if (time) {
          let end = nl;
          if (end > space + 1 && text.charCodeAt(end - 1) === 13) end--; // CRLF from TTYs
          this.onLine(stream, time, text.slice(space + 1, end));
          at = nl + 1;
          continue;
        }
      }
      // No timestamp: not a line Docker produced with timestamps=1; kept with the time of reading.
      if (nl > at) this.onLine(stream, nowHr(), text.slice(at, nl));
      at = nl + 1;
    }
  }
}

/** RFC 3339 with up to nine fraction digits ("2026-11-23T04:33:43.123456789Z") -> [s, ns]. */
export class TimestampParser {
  private lastPrefix = '';
  private lastSeconds = 0;

  parse(text: string, from: number, to: number): HrTime | undefined {
    // The whole-second part is the same for many lines in a row: parse it once.
    if (to - from < 20 || text.charCodeAt(from + 10) !== 84 /* T */) return undefined;
    let at = from + 19;
    let nanos = 0;
    if (text.charCodeAt(at) === 46 /* . */) {
      at++;
      let digits = 0;
      while (at < to) {
        const c = text.charCodeAt(at);
        if (c < 48 || c > 57) break;
        if (digits < 9) {
          nanos = nanos * 10 + (c - 48);
          digits++;
        }
        at++;
      }
      for (; digits < 9; digits++) nanos *= 10;
    }
    const prefix = text.slice(from, from + 19) + text.slice(at, to);
    if (prefix !== this.lastPrefix) {
      const ms = Date.parse(prefix);
      if (Number.isNaN(ms)) return undefined;
      this.lastPrefix = prefix;
      this.lastSeconds = ms / 1000;
    }
    return [this.lastSeconds, nanos];
  }
}

function nowHr(): HrTime {
  const ms = Date.now();
  const s = Math.floor(ms / 1000);
  return [s, (ms - s * 1000) * 1e6];
}

/** a < b for [s, ns] times. */
export function hrBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** The form Docker's `since` takes: "<seconds>.<nanoseconds>". */
export function dockerSince(t: HrTime): string {
  return `${t[0]}.${String(t[1]).padStart(9, '0')}`;
}
