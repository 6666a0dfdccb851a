// Frames straight to members over our own libp2p protocols: one long-lived stream per peer and protocol,
// length-prefixed frames. Heartbeats go to every connected member this way, and topics for the heads
// (telemetry summaries) to the heads only. What arrives here is first-hand by construction (the noise-
// authenticated connection names the sender), and we control the retries: gossipsub opens its stream
// once per peer and never again, so a stream lost under load used to leave a live peer unheard.
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from 'it-length-prefixed-stream';

export interface ChannelProtocol {
  protocol: string;
  /** Bigger frames are a broken or hostile peer: the stream is dropped. */
  maxFrameBytes: number;
  maxInboundStreams: number;
}

/** Membership: small JSON heartbeats. */
export const MEMBERS_CHANNEL: ChannelProtocol = {
  protocol: '/nokube/members/1.0.0',
  maxFrameBytes: 16 * 1024,
  maxInboundStreams: 4,
};
/** Topics for the heads (frames of heads-topic.ts): a telemetry summary of up to 300 pods. */
export const HEADS_CHANNEL: ChannelProtocol = {
  protocol: '/nokube/to-heads/1.0.0',
  maxFrameBytes: 256 * 1024,
  maxInboundStreams: 2,
};
const OPEN_TIMEOUT_MS = 5000;
const WRITE_TIMEOUT_MS = 5000;

interface Outbound {
  lp: LengthPrefixedStream<Stream>;
  stream: Stream;
  /** One write in flight at most: a slow peer skips beats instead of queueing them (bounded memory). */
  busy: boolean;
  /** When the write in flight started (ms). */
  busySince: number;
  /** The write in flight (or a settled promise). */
  last: Promise<void>;
  /** When this peer is due its next beat (ms): at once for a new stream, then every interval. */
  due: number;
}

export class DirectChannel {
  private readonly node: Libp2p;
  private readonly onFrame: (from: string, data: Uint8Array) => void;
  private readonly out = new Map<string, Outbound>();
  private readonly opening = new Set<string>();
  /** sendTo: the latest frame for a peer whose stream is being opened (written once it is). */
  private readonly firstFrame = new Map<string, Uint8Array>();
  private readonly channel: ChannelProtocol;
  stats = { sent: 0, skipped: 0, opened: 0, failed: 0 };

  constructor(
    node: Libp2p,
    onFrame: (from: string, data: Uint8Array) => void,
    channel: ChannelProtocol = MEMBERS_CHANNEL,
  ) {
    this.node = node;
    this.onFrame = onFrame;
    this.channel = channel;
  }

  async start(): Promise<void> {
    await this.node.handle(
      this.channel.protocol,
      ({ stream, connection }) => {
        this.read(connection.remotePeer.toString(), stream);
      },
      { maxInboundStreams: this.channel.maxInboundStreams },
    );
    this.node.addEventListener('peer:disconnect', (evt) => this.drop(evt.detail.toString()));
  }

  /**
   * How often each peer hears from us when every beat goes to `fanout` peers in turn: the per-peer interval
   * grows with the mesh (ceil(peers / fanout) beats), so an idle agent's traffic stays flat as N grows.
   */
  perPeerIntervalMs(beatMs: number, fanout: number): number {
    return Math.max(1, Math.ceil(this.connectedPeerCount() / fanout)) * beatMs;
  }

  /**
   * Send one frame to the connected peers that are due (each every `intervalMs`; a new stream at once),
   * and open streams where missing (retried on every call). A peer's first beat after a new stream comes
   * at a random point of its first interval, so beats spread over the beats instead of bunching.
   */
  broadcast(frame: Uint8Array, intervalMs: number, beatMs: number): void {
    const seen = new Set<string>();
    const now = Date.now();
    // Due within half a beat counts as due: timers drift, and a miss would cost a whole beat.
    const horizon = now + beatMs / 2;
    for (const conn of this.node.getConnections()) {
      const peer = conn.remotePeer.toString();
      if (seen.has(peer) || conn.status !== 'open') continue;
      seen.add(peer);
      const out = this.out.get(peer);
      if (!out) {
        this.open(peer, conn);
        continue;
      }
      if (out.due > horizon) continue;
      if (out.busy) {
        // A write stuck this long means a dead stream: drop it (the next beat opens a new one). Checked
        // here rather than with a timer per write, which cost a timer and an abort error per frame.
        if (now - out.busySince >= WRITE_TIMEOUT_MS) {
          this.stats.failed++;
          this.drop(peer);
        } else this.stats.skipped++;
        continue;
      }
      out.due = out.due === 0 ? now + Math.random() * intervalMs : now + intervalMs;
      this.write(peer, out, frame);
    }
  }

  private connectedPeerCount(): number {
    return this.openConnections().size;
  }

  /**
   * Send one frame that must not be skipped (the leave message) to every peer with a stream, after the
   * write in flight; resolves when all are written or `timeoutMs` has passed.
   */
  async sendAll(frame: Uint8Array, timeoutMs: number): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    const writes = [...this.out.entries()].map(([peer, out]) =>
      out.last.then(() => this.write(peer, out, frame, signal)),
    );
    await Promise.race([Promise.allSettled(writes), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /**
   * One frame to each of `peers` (peer ids) that is connected: now over its idle stream (a busy one skips
   * this frame: the next one supersedes it), or once its stream is open (only the latest frame waits).
   */
  sendTo(peers: Iterable<string>, frame: Uint8Array): void {
    let conns: Map<string, Connection> | undefined;
    for (const peer of peers) {
      const out = this.out.get(peer);
      if (out) {
        if (out.busy) this.stats.skipped++;
        else this.write(peer, out, frame);
        continue;
      }
      conns ??= this.openConnections();
      const conn = conns.get(peer);
      if (!conn) continue;
      this.firstFrame.set(peer, frame);
      this.open(peer, conn);
    }
  }

  private openConnections(): Map<string, Connection> {
    const conns = new Map<string, Connection>();
    for (const conn of this.node.getConnections())
      if (conn.status === 'open') conns.set(conn.remotePeer.toString(), conn);
    return conns;
  }

  /** One frame to every peer with an idle stream, now (a busy one is skipped: this is only a hint). */
  notifyAll(frame: Uint8Array): void {
    for (const [peer, out] of this.out) if (!out.busy) this.write(peer, out, frame);
  }

  private write(peer: string, out: Outbound, frame: Uint8Array, signal?: AbortSignal): Promise<void> {
    out.busy = true;
    out.busySince = Date.now();
    out.last = out.lp.write(frame, signal ? { signal } : {}).then(
      () => {
        out.busy = false;
        this.stats.sent++;
      },
      () => {
        // Not when the stream was already dropped (stuck write) and perhaps replaced meanwhile.
        if (this.out.get(peer) !== out) return;
        this.stats.failed++;
        this.drop(peer);
      },
    );
    return out.last;
  }

  private open(peer: string, conn: Connection): void {
    if (this.opening.has(peer)) return;
    this.opening.add(peer);
    conn
      .newStream(this.channel.protocol, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
      .then(
        (stream) => {
          this.out.get(peer)?.stream.abort(new Error('replaced'));
          const out: Outbound = {
            stream,
            lp: lpStream(stream, { maxDataLength: this.channel.maxFrameBytes }),
            busy: false,
            busySince: 0,
            last: Promise.resolve(),
            due: 0,
          };
          this.out.set(peer, out);
          this.stats.opened++;
          const first = this.firstFrame.get(peer);
          if (first) this.write(peer, out, first);
        },
        () => {
          this.stats.failed++;
        },
      )
      .finally(() => {
        this.opening.delete(peer);
        this.firstFrame.delete(peer);
      });
  }

  private read(peer: string, stream: Stream): void {
    const lp = lpStream(stream, { maxDataLength: this.channel.maxFrameBytes });
    const loop = async () => {
      for (;;) {
        const frame = await lp.read();
        this.onFrame(peer, frame.subarray());
      }
    };
    loop().catch(() => stream.abort(new Error(`${this.channel.protocol} stream ended`)));
  }

  private drop(peer: string): void {
    const out = this.out.get(peer);
    if (!out) return;
    this.out.delete(peer);
    out.stream.abort(new Error('dropped'));
  }

  peersWithStream(): number {
    return this.out.size;
  }
}
