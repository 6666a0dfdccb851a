// Prometheus remote write 1.0: a WriteRequest protobuf, snappy block-compressed, as GreptimeDB takes it at
// /v1/prometheus/write?db=<db>. The message is four small types, written here by hand (no generated code):
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
import { compress } from 'snappyjs';

export interface Series {
  /** Label name -> value, `__name__` included. Sorted by name when encoded (the protocol asks it). */
  labels: Record<string, string>;
  value: number;
  /** Unix ms. */
  timestamp: number;
}

/** Headers of a remote-write request (the body is snappy-compressed protobuf). */
export const REMOTE_WRITE_HEADERS = {
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
} as const;
export const REMOTE_WRITE_CONTENT_TYPE = 'application/x-protobuf';

class Writer {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(v: number): void {
    this.ensure(10);
    // Values here are lengths, tags and ms timestamps: non-negative and below 2^53.
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const utf8 = new TextEncoder();

const varintSize = (v: number) => {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
};
/** Size of a length-delimited field: tag + length + bytes. */
const fieldSize = (len: number) => 1 + varintSize(len) + len;

/** The WriteRequest protobuf of these series (uncompressed). Lengths are computed before writing. */
export function encodeWriteRequest(series: Series[]): Uint8Array {
  const w = new Writer();
  const strings = new Map<string, Uint8Array>();
  const str = (s: string) => {
    let b = strings.get(s);
    if (!b) {
      b = utf8.encode(s);
      strings.set(s, b);
    }
    return b;
  };
  for (const s of series) {
    const labels = Object.keys(s.labels)
      .sort()
      .map((name) => [str(name), str(s.labels[name]!)] as const);
    const labelSizes = labels.map(([n, v]) => fieldSize(n.length) + fieldSize(v.length));
    const sampleSize = 1 + 8 + 1 + varintSize(s.timestamp);
    const tsSize = labelSizes.reduce((a, l) => a + fieldSize(l), 0) + fieldSize(sampleSize);
    w.varint((1 << 3) | 2); // WriteRequest.timeseries
    w.varint(tsSize);
    labels.forEach(([n, v], i) => {
      w.varint((1 << 3) | 2); // TimeSeries.labels
      w.varint(labelSizes[i]!);
      w.varint((1 << 3) | 2); // Label.name
      w.varint(n.length);
      w.bytes(n);
      w.varint((2 << 3) | 2); // Label.value
      w.varint(v.length);
      w.bytes(v);
    });
    w.varint((2 << 3) | 2); // TimeSeries.samples
    w.varint(sampleSize);
    w.varint((1 << 3) | 1); // Sample.value: double
    w.double(s.value);
    w.varint((2 << 3) | 0); // Sample.timestamp: int64
    w.varint(s.timestamp);
  }
  return w.result();
}

/** The body of a remote-write request: the WriteRequest, snappy block-compressed. */
export function remoteWriteBody(series: Series[]): Uint8Array {
  return compress(encodeWriteRequest(series)) as Uint8Array;
}
