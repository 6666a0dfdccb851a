// The gossip mesh: libp2p (TCP + noise + yamux + identify) and gossipsub, carrying membership heartbeats.
// Agents keep a direct connection to every member they know (from config bootstrap, etcd node records and
// heartbeats), so a dropped connection is first-hand evidence and a refused redial marks a member dead at once.
import { isIP } from 'node:net';
import { gossipsub } from '@chainsafe/libp2p-gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p, Stream } from '@libp2p/interface';
import { type PeerId, type PrivateKey, StrictNoSign, TopicValidatorResult } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { Logger } from 'pino';
import type { Role } from '../config/schema.ts';
import { PauseWatch } from '../loop/pause.ts';
import type { PeerAdmission, RefusalReason } from './admission.ts';
import { DirectChannel, HEADS_CHANNEL } from './direct.ts';
import { decodeTopicFrame, encodeTopicFrame } from './heads-topic.ts';
import {
  type Heartbeat,
  type Member,
  type MemberEvent,
  MemberTable,
  type MemberTiming,
} from './member-table.ts';
import {
  decodeMessage,
  encodeDead,
  encodeHeartbeat,
  encodeLeave,
  heartbeatFrame,
  heartbeatFrameHead,
  membersTopic,
} from './messages.ts';
import { answerWitnessStream, askWitness, judgeAnswers, WITNESS_PROTOCOL, WITNESSES } from './witness.ts';

export interface MeshSelf {
  name: string;
  address: string;
  roles: Role[];
  labels: Record<string, string>;
  api?: string;
}

export interface MeshOptions {
  cluster: string;
  self: MeshSelf;
  port: number;
  bootstrap: string[];
  heartbeatMs: number;
  timing: MemberTiming;
  privateKey: PrivateKey;
  /** Pre-shared key (libp2p pnet): only peers holding the same key can open a connection. */
  networkKey?: Uint8Array;
  /** Process start time in ms; orders restarts of the same node. */
  incarnation: number;
  /** Who may be a member (admission.ts): the peers that registered node records name. */
  admission: PeerAdmission;
  /** Dial nobody until releaseDials(): this agent's node record is being written (see releaseDials). */
  holdDials?: boolean;
  log: Logger;
  onEvent?: (event: MemberEvent) => void;
}

/** How long a redial of a member whose connection dropped may take before we stop calling it a refusal. */
const REDIAL_TIMEOUT_MS = 1500;
/** Reconnect to known-but-unconnected peers this often (partitions heal, restarted peers come back). */
const RECONNECT_EVERY_MS = 3000;

/** Every this many heartbeats one also goes out on the gossipsub topic, as a membership announcement. */
const ANNOUNCE_EVERY = 10;
/**
 * Once the membership has not changed for SETTLED_AFTER_MS, only every this many. Announcements exist for
 * members that do not know each other yet; in a stable mesh everyone is connected, and gossipsub's copies
 * of them (flood + mesh forwarding, message ids, seen cache) were about a fifth of an idle agent's CPU at
 * N = 10. A start (our own) or any change (a join, a death, a leave) brings the fast cadence back, so a
 * newcomer's announcements go out fast and so do those of the members that see it join. Settled, every
 * member is in every table and redials its known addresses itself (every RECONNECT_EVERY_MS), so an
 * announcement is only a safety net: once a minute it was still about a fifth of an idle agent's frames at
 * N = 20 (each is flooded to every peer and relayed by up to D of them), now once in five minutes.
 */
const ANNOUNCE_EVERY_SETTLED = 300;
/**
 * Each beat goes straight to this many peers in turn (new peers at once), so each peer hears from a member
 * every ceil((N - 1) / FANOUT) beats: an idle agent sends and receives about 2 x FANOUT frames per beat
 * whatever N is (every frame through yamux + noise + a socket costs about as much CPU as the rest of an
 * idle agent's second). Heartbeats carry that stretch as `grace`, which receivers add to their silence
 * thresholds. A killed member is still found out at once (dropped connection + refused redial).
 */
export const FANOUT = 4;
/** Bounds of the silence-rule timer (see scheduleTick). */
const MIN_TICK_MS = 20;
const MAX_TICK_MS = 5000;
const SETTLED_AFTER_MS = 30_000;

export class MeshPortInUseError extends Error {
  override name = 'MeshPortInUseError';
}

type Node = Libp2p<{ pubsub: ReturnType<ReturnType<typeof gossipsub>>; identify: unknown }>;

export class Mesh {
  readonly table: MemberTable;
  private node: Node | undefined;
  private seq = 0;
  private self: MeshSelf;
  private heartbeatMs: number;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  /** Addresses to keep connected to: bootstrap + etcd node records; keyed by multiaddr string. */
  private knownAddrs = new Set<string>();
  private lastDial = new Map<string, number>();
  /** The peers' incarnations (their agents' start, ms) from their node records: who dials whom. */
  private readonly startedAt = new Map<string, number>();
  private firstWanted = new Map<string, number>();
  /** When our member table last changed (or we started): announcements are frequent for a while after. */
  private lastChange = Date.now();
  private direct: DirectChannel | undefined;
  /** Topics for the heads (heads-topic.ts): their own streams, to the heads only. */
  private heads: DirectChannel | undefined;
  private readonly headsHandlers = new Map<string, (data: Uint8Array, from: string) => void>();
  /** Our peer id as a string (deriving it from the key on every use was a cost of every heartbeat). */
  private readonly ownPeerId: string;
  /** The node's multiaddrs, read again only when libp2p says they changed (self:peer:update). */
  private addrsCache: string[] | undefined;
  /** The heartbeat JSON without its seq, rebuilt only when this member's fields change. */
  private frameHead: string | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickAt = 0;
  /** The grace in the current frame head (ms beyond one beat between our beats to a peer). */
  private grace = 0;
  /** Parsed known addresses: reconnect() runs every few seconds over all of them. */
  private readonly parsedAddrs = new Map<string, { ma: Multiaddr; pid: string | undefined }>();
  stats = { received: 0, dropped: 0, published: 0, publishErrors: 0 };
  /** Our own pauses: they restart every member's silence instead of counting against them. */
  private readonly pauseWatch: PauseWatch;
  /** Peers we refused until their record showed: dialled at once, whichever peer id is lower (their own
   * redial may be seconds away). */
  private readonly dialNow = new Set<string>();
  private offAdmission: (() => void) | undefined;
  private dialsHeld: boolean;

  private readonly opts: MeshOptions;

  constructor(opts: MeshOptions) {
    this.opts = opts;
    this.self = opts.self;
    this.heartbeatMs = opts.heartbeatMs;
    this.dialsHeld = opts.holdDials ?? false;
    this.ownPeerId = peerIdFromPrivateKey(opts.privateKey).toString();
    this.table = new MemberTable(this.heartbeat(), opts.timing, Date.now());
    for (const b of opts.bootstrap) this.knownAddrs.add(toMultiaddr(b).toString());
    this.pauseWatch = new PauseWatch((gapMs) => {
      this.table.pardon(Date.now());
      opts.log.warn(
        { gapMs: Math.round(gapMs) },
        'this agent was paused: failure timers restarted, no verdict on peers from that time',
      );
      this.scheduleTick();
    });
  }

  /** Times this agent found it had been paused. */
  get pauses(): number {
    return this.pauseWatch.pauses;
  }

  get peerId(): string {
    return this.peerIdValue();
  }

  get multiaddrs(): string[] {
    if (!this.node) return [];
    this.addrsCache ??= this.node.getMultiaddrs().map((m) => m.toString());
    return this.addrsCache;
  }

  async start(): Promise<void> {
    const { address } = this.self;
    const listen = isIP(address)
      ? `/ip${isIP(address)}/${address}/tcp/${this.opts.port}`
      : `/ip4/0.0.0.0/tcp/${this.opts.port}`;
    const announce = isIP(address) ? [] : [`/dns4/${address}/tcp/${this.opts.port}`];
    try {
      this.node = (await createLibp2p({
        privateKey: this.opts.privateKey,
        addresses: { listen: [listen], announce },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        ...(this.opts.networkKey ? { connectionProtector: preSharedKey({ psk: this.opts.networkKey }) } : {}),
        connectionGater: this.opts.admission.gater(),
        // A stream's receive window grows (doubling, while its reader keeps up) to this, so this is what
        // one stream can hold in memory when its reader stops (yamux's default: 16 MiB). 1 MiB is ~10 MB/s
        // per stream at a 100 ms round trip: plenty for logs and exec, and 32 pod streams stay within 32 MiB.
        // No yamux keepalive: it pinged every connection every 30 s (four frames through noise and a socket per
        // connection, a third more frames than an idle agent's heartbeats at N = 20) and only measured the
        // round trip; our heartbeats keep every connection busy and liveness is theirs.
        streamMuxers: [yamux({ maxStreamWindowSize: 1024 * 1024, enableKeepAlive: false })],
        // Every agent dials every member, so many connections open at once at start-up: allow it.
        connectionManager: {
          maxConnections: 1024,
          inboundConnectionThreshold: 1000,
          maxIncomingPendingConnections: 256,
          dialTimeout: 5000,
        },
        // Liveness is the membership heartbeat's job. The monitor's pings abort connections whose ping is
        // slow (e.g. under start-up load), and gossipsub does not rebuild a stream lost that way.
        connectionMonitor: { enabled: false },
        services: {
          identify: identify(),
          pubsub: gossipsub({
            allowPublishToZeroTopicPeers: true,
            emitSelf: false,
            // Heartbeats go straight to every subscribed peer; the gossipsub mesh is only a second path,
            // so a small degree is enough and saves duplicate copies.
            floodPublish: true,
            // Unsigned: a member's word counts only first-hand (the noise-authenticated peer that handed
            // us the message must be the member it speaks of), which floodPublish makes the usual path.
            // Signing and verifying every heartbeat was the agent's largest CPU cost.
            globalSignaturePolicy: StrictNoSign,
            Dlazy: 2,
            // The topic carries announcements only; mesh upkeep every 5 s instead of every 1 s is plenty
            // and takes a fifth of gossipsub's background work.
            heartbeatInterval: 5000,
            D: 3,
            Dlo: 2,
            Dhi: 5,
            Dout: 1,
            // Membership messages are tiny and frequent; a short seen-cache keeps memory flat.
            seenTTL: 30_000,
          }),
        },
      })) as unknown as Node;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test(String(err))) {
        throw new MeshPortInUseError(`mesh port ${this.opts.port} on ${address} is in use (mesh.port)`);
      }
      throw err;
    }
    const node = this.node;
    const topic = membersTopic(this.opts.cluster);
    node.services.pubsub.subscribe(topic);
    // Validated before delivery and before forwarding: a refused peer's message goes nowhere.
    node.services.pubsub.topicValidators.set(topic, (peer) =>
      this.admitted(peer.toString(), 'message') ? TopicValidatorResult.Accept : TopicValidatorResult.Reject,
    );
    node.services.pubsub.addEventListener('gossipsub:message', (evt) => {
      const { propagationSource, msg } = evt.detail;
      if (msg.topic !== topic) return;
      this.stats.received++;
      this.onMessage(msg.data, propagationSource.toString());
    });
    this.direct = new DirectChannel(node as unknown as Libp2p, (from, data) => {
      if (!this.admitted(from, 'message')) return;
      this.stats.received++;
      this.onMessage(data, from);
    });
    await this.direct.start();
    this.heads = new DirectChannel(
      node as unknown as Libp2p,
      (from, frame) => {
        if (!this.admitted(from, 'message')) return;
        const f = decodeTopicFrame(frame);
        const handler = f ? this.headsHandlers.get(f.topic) : undefined;
        if (f && handler) handler(f.data, from);
        else this.stats.dropped++;
      },
      HEADS_CHANNEL,
    );
    await this.heads.start();
    await this.handle(
      WITNESS_PROTOCOL,
      (stream) => void answerWitnessStream(stream, (name, inc) => this.heard(name, inc)),
      16,
    );
    this.offAdmission = this.opts.admission.listen({
      admitted: (peerId, wasRefused) => {
        if (!wasRefused) return;
        this.dialNow.add(peerId);
        this.reconnect();
      },
      revoked: (peerId) => {
        this.dialNow.delete(peerId);
        if (this.stopping) return;
        node.hangUp(peerIdFromString(peerId)).catch(() => undefined);
      },
    });
    node.addEventListener('peer:disconnect', (evt) => this.onDisconnect(evt.detail));
    // A new connection (either side dialled) hears our heartbeat at once, not on our next beat after its
    // stream has opened (one to two beats): a restarted member is alive in the other's table within a
    // round trip.
    node.addEventListener('peer:connect', (evt) => {
      if (this.stopping) return;
      const frame = this.frameHead
        ? heartbeatFrame(this.frameHead, this.seq)
        : encodeHeartbeat(this.heartbeat());
      this.direct?.sendTo([evt.detail.toString()], frame);
    });
    node.addEventListener('self:peer:update', () => {
      this.addrsCache = undefined;
      this.frameHead = undefined;
    });
    this.table.updateSelf(this.heartbeat(), Date.now());
    this.timers.push(setInterval(() => this.beat(), this.heartbeatMs));
    this.timers.push(setInterval(() => this.reconnect(), RECONNECT_EVERY_MS));
    for (const t of this.timers) t.unref();
    this.pauseWatch.start();
    this.reconnect();
    this.beat();
    this.scheduleTick();
  }

  /**
   * The silence rules run when the table's next deadline comes (a heartbeat only moves deadlines later, so
   * a timer set for the earliest one is never late), not on a fixed short period: an idle mesh wakes for
   * them about once per suspectAfterMs instead of four times a second. Re-armed after every tick and
   * whenever the table changes (a join brings a new, possibly earlier, deadline).
   */
  private scheduleTick(): void {
    if (this.stopping) return;
    const now = Date.now();
    const at = Math.min(this.table.nextDeadline(), now + MAX_TICK_MS);
    if (this.tickTimer && this.tickAt <= at && this.tickAt > now) return;
    clearTimeout(this.tickTimer);
    this.tickAt = at;
    this.tickTimer = setTimeout(
      () => {
        this.tickTimer = undefined;
        // After a pause this timer may fire before the watch's: look first, so the pause is pardoned.
        this.pauseWatch.check();
        this.emit(this.table.tick(Date.now()));
        this.scheduleTick();
      },
      Math.max(MIN_TICK_MS, at - now),
    );
    this.tickTimer.unref();
  }

  /** A peer's node record: where it listens and when its agent started (its incarnation). A peer that
   * started before us is dialled at once: we are the news. `justWritten`: etcd's watch delivered it as it
   * was written (not a list after a gap, not a replay) — then a new incarnation lists the member alive at
   * once (member-table.ts `registered`), unless this process was just paused (its events may be old). */
  peerRecord(peer: Heartbeat, justWritten: boolean): void {
    const { peerId, incarnation, multiaddrs: addrs } = peer;
    this.startedAt.set(peerId, incarnation);
    if (justWritten && peerId !== '') {
      const now = Date.now();
      if (!this.justPaused(now)) this.emit(this.table.registered(peer, now));
    }
    this.addKnownPeers(addrs);
    if (incarnation < this.opts.incarnation) this.dialMember(peerId, addrs);
  }

  /**
   * Dials held at start (`holdDials`) go out now. An agent dials nobody while its node record is being
   * written: every peer refuses it until that record shows (admission.ts), and the handshakes it would
   * start (noise, on its one thread) delayed the write itself — 19 of them cost a just-started agent about
   * half a second at N = 20. Peers that refused an early dial of ours dial us when the record shows; the
   * others are dialled from here.
   */
  releaseDials(): void {
    if (!this.dialsHeld) return;
    this.dialsHeld = false;
    this.reconnect();
  }

  /** Peers to stay connected to (from etcd node records). */
  addKnownPeers(addrs: string[]): void {
    let added = false;
    for (const a of addrs) {
      const s = toMultiaddr(a).toString();
      if (s.includes(this.peerIdValue())) continue;
      if (!this.knownAddrs.has(s)) {
        this.knownAddrs.add(s);
        added = true;
      }
    }
    if (added) this.reconnect();
  }

  updateSelf(self: MeshSelf): void {
    this.self = self;
    this.frameHead = undefined;
    this.table.updateSelf(this.heartbeat(), Date.now());
    this.beat();
  }

  setTiming(heartbeatMs: number, timing: MemberTiming): void {
    this.table.setTiming(timing);
    clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    this.scheduleTick();
    if (heartbeatMs !== this.heartbeatMs && this.timers[0]) {
      this.heartbeatMs = heartbeatMs;
      clearInterval(this.timers[0]);
      this.timers[0] = setInterval(() => this.beat(), heartbeatMs);
      this.timers[0].unref();
    }
  }

  /** Direct heartbeat stream counters (sent, skipped because a peer was slow, failed, opened). */
  directStats(): DirectChannel['stats'] {
    return this.direct?.stats ?? { sent: 0, skipped: 0, opened: 0, failed: 0 };
  }

  connectedPeers(): number {
    return this.node?.getConnections().length ?? 0;
  }

  /** Serve one of our protocols over the mesh's authenticated (noise, private-network) connections, to
   * admitted peers only. */
  async handle(
    protocol: string,
    handler: (stream: Stream, fromPeer: string) => void,
    maxInboundStreams: number,
  ): Promise<void> {
    if (!this.node) throw new Error('mesh not started');
    await this.node.handle(
      protocol,
      ({ stream, connection }) => {
        const from = connection.remotePeer.toString();
        if (this.admitted(from, 'stream')) handler(stream, from);
        else stream.abort(new Error('not a member of this mesh'));
      },
      {
        maxInboundStreams,
      },
    );
  }

  /** Refusals of peers that no node record names, by reason. */
  refusals(): Record<RefusalReason, number> {
    return this.opts.admission.refused;
  }

  /** Whether a peer may speak here; a refusal is counted. */
  private admitted(peerId: string, reason: RefusalReason): boolean {
    return this.opts.admission.check(peerId, reason);
  }

  /**
   * A topic for the heads (e.g. telemetry summaries): the returned function sends a message straight to
   * every alive head (a head whose stream is still busy with the previous message skips this one);
   * `handler`, on a head, gets each message with the peer that sent it, which is the peer it is from.
   */
  headsTopic(name: string, handler?: (data: Uint8Array, from: string) => void): (data: Uint8Array) => void {
    if (handler) this.headsHandlers.set(name, handler);
    return (data) => {
      const channel = this.heads;
      if (this.stopping || !channel) return;
      const heads: string[] = [];
      for (const m of this.table.list())
        if (!m.self && m.state === 'alive' && m.roles.includes('head')) heads.push(m.peerId);
      if (heads.length > 0) channel.sendTo(heads, encodeTopicFrame(name, data));
    };
  }

  /** Open a stream of `protocol` to a member (dialled at its known addresses when not connected). */
  async openStream(peerId: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    if (!this.node) throw new Error('mesh not started');
    return this.node.dialProtocol(peerIdFromString(peerId), protocol, { signal });
  }

  /** Say goodbye (when `leave`) and shut the node down. */
  async stop(leave: boolean): Promise<void> {
    this.stopping = true;
    this.offAdmission?.();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.tickTimer);
    this.pauseWatch.stop();
    const node = this.node;
    if (!node) return;
    if (leave) {
      try {
        const bye = encodeLeave(this.self.name, this.opts.incarnation);
        // Straight to every peer (after any write in flight), and as an announcement on the topic.
        await Promise.all([
          this.direct?.sendAll(bye, 1000),
          node.services.pubsub.publish(membersTopic(this.opts.cluster), bye),
        ]);
        // Let the frames leave the socket buffers before the connections close.
        await new Promise((r) => setTimeout(r, 50));
      } catch (err) {
        this.opts.log.warn({ err: String(err) }, 'could not publish leave');
      }
    }
    await node.stop();
  }

  private peerIdValue(): string {
    return this.ownPeerId;
  }

  private heartbeat(): Heartbeat {
    const hb: Heartbeat = {
      name: this.self.name,
      peerId: this.peerIdValue(),
      address: this.self.address,
      roles: this.self.roles,
      labels: this.self.labels,
      multiaddrs: this.multiaddrs,
      incarnation: this.opts.incarnation,
      seq: this.seq,
    };
    if (this.self.api) hb.api = this.self.api;
    if (this.grace > 0) hb.grace = this.grace;
    return hb;
  }

  private beat(): void {
    const node = this.node;
    if (!node || this.stopping) return;
    this.seq++;
    const intervalMs = this.direct?.perPeerIntervalMs(this.heartbeatMs, FANOUT) ?? this.heartbeatMs;
    if (intervalMs - this.heartbeatMs !== this.grace) {
      this.grace = intervalMs - this.heartbeatMs;
      this.frameHead = undefined;
    }
    let frame: Uint8Array;
    if (this.frameHead === undefined) {
      const hb = this.heartbeat();
      this.table.updateSelf(hb, Date.now());
      frame = encodeHeartbeat(hb);
      this.frameHead = heartbeatFrameHead(hb);
    } else {
      // Only seq changed since the last beat: no new heartbeat object, no full JSON encoding.
      this.table.selfBeat(this.seq, Date.now());
      frame = heartbeatFrame(this.frameHead, this.seq);
    }
    this.direct?.broadcast(frame, intervalMs, this.heartbeatMs);
    const every = Date.now() - this.lastChange < SETTLED_AFTER_MS ? ANNOUNCE_EVERY : ANNOUNCE_EVERY_SETTLED;
    if (this.seq % every !== 1) return;
    node.services.pubsub.publish(membersTopic(this.opts.cluster), frame).then(
      () => this.stats.published++,
      () => this.stats.publishErrors++,
    );
  }

  /** `from` is the peer that handed us the message; only first-hand word about a member is taken. */
  private onMessage(data: Uint8Array, from: string): void {
    const msg = decodeMessage(data);
    if (!msg || (msg.t === 'leave' && this.table.get(msg.name)?.peerId !== from)) {
      this.stats.dropped++;
      return;
    }
    if (msg.t === 'hb' && msg.peerId !== from) {
      // Second-hand news: a reason to connect, not evidence of life.
      if (!this.isConnected(msg.peerId)) this.dialMember(msg.peerId, msg.multiaddrs);
      return;
    }
    const { admission } = this.opts;
    if (msg.t === 'hb' && admission.nodeOf(from) !== msg.name) {
      // A member speaks for the node its record names, not for another one.
      admission.refuse(from, 'name');
      this.stats.dropped++;
      return;
    }
    const now = Date.now();
    if (msg.t === 'dead') {
      // Second-hand, so not evidence: a reason to look ourselves. Without it, a member whose own redial
      // was not refused (or that had no connection to the dead one) would wait for the silence rules.
      const m = this.table.get(msg.name);
      if (m && !m.self && m.incarnation === msg.incarnation && (m.state === 'alive' || m.state === 'suspect'))
        if (!this.isConnected(m.peerId))
          this.probe(
            this.node!,
            peerIdFromString(m.peerId),
            'another member found it dead, and a dial here was refused',
          );
      return;
    }
    if (msg.t === 'leave') {
      this.emit(this.table.leave(msg.name, msg.incarnation, now));
      return;
    }
    const { t: _t, ...hb } = msg;
    const events = this.table.heartbeat(hb, now);
    this.emit(events);
    // First-hand: it came over a connection to that very peer, so there is nothing to dial unless the
    // member is new or changed (dialMember checks the connection itself).
    if (events.length > 0) this.dialMember(hb.peerId, hb.multiaddrs);
  }

  private onDisconnect(peer: PeerId): void {
    if (this.stopping) return;
    const member = this.table.byPeer(peer.toString());
    if (!member || member.state === 'dead' || member.state === 'left') return;
    const node = this.node!;
    // Both ends of a broken live connection redial; the higher peer id waits a moment so that usually
    // only one new connection forms. A dead peer is still found out within a second.
    const wait = this.peerIdValue() < peer.toString() ? 0 : 250;
    setTimeout(() => this.probe(node, peer), wait).unref();
  }

  /** Dial `peer` (by its peer store addresses, or `at`); if every address refuses, it is dead (`why`) —
   * unless `still` says the member is no longer the one the probe was for. */
  private probe(
    node: Node,
    peer: PeerId,
    why = 'connection lost, redial failed',
    at?: Multiaddr[],
    still: () => boolean = () => true,
  ): void {
    if (this.stopping || this.isConnected(peer.toString())) return;
    node.dial(at ?? peer, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) }).then(
      () => undefined,
      (err: Error) => {
        if (this.stopping || this.isConnected(peer.toString()) || !still()) return;
        // Only a refused connection proves the process is gone (nothing listens on its port). A timeout,
        // a reset or a rejection under load is no proof; the silence rules handle those.
        const refusal = refusedEverywhere(err);
        if (!refusal) return;
        const events = this.table.unreachable(peer.toString(), Date.now(), `${why}: ${refusal}`);
        this.emit(events);
        for (const e of events) this.direct?.notifyAll(encodeDead(e.member.name, e.member.incarnation));
      },
    );
  }

  /**
   * A member listed from its node record alone (never heard: seq -1) and now suspect, with no connection
   * to it: dial its record's addresses once. The record is written only once the member's mesh listens, so
   * a refusal at every address means the process that wrote it is gone — killed before any connection to
   * lose (a head killed within seconds of its start would otherwise keep the lead until its lease ran out;
   * with no witnesses, as between two heads, the silence rules cannot confirm it). A member that answers,
   * or does not answer at all (frozen, cut off), stays with the silence rules.
   */
  private probeNeverHeard(m: Member): void {
    const node = this.node;
    if (!node || m.self || m.seq >= 0 || this.isConnected(m.peerId)) return;
    const at = m.multiaddrs.map((a) => multiaddr(a));
    if (at.length === 0) return;
    const { name, incarnation } = m;
    const still = () => {
      const now = this.table.get(name);
      return now?.incarnation === incarnation && now.seq < 0;
    };
    this.probe(
      node,
      peerIdFromString(m.peerId),
      'registered, never heard, its address refused a dial',
      at,
      still,
    );
  }

  private isConnected(peerId: string): boolean {
    if (!this.node || !peerId) return false;
    try {
      return this.node.getConnections(peerIdFromString(peerId)).length > 0;
    } catch {
      return false;
    }
  }

  /**
   * Two agents that learn of each other at once would dial each other at once, and gossipsub keeps its
   * stream on only one of the two connections. So of two members one dials first: the one that started
   * later (their node records say when; the other knew the address already and has no news to dial on:
   * a restarted agent is in every table within a beat, not a reconnect period), else the lower peer id.
   * The other dials only if no connection appeared within RECONNECT_EVERY_MS of first wanting one.
   */
  private shouldDial(peerId: string, now: number): boolean {
    const theirs = this.startedAt.get(peerId);
    if (theirs !== undefined && theirs !== this.opts.incarnation) {
      if (theirs < this.opts.incarnation) return true;
    } else if (this.peerIdValue() < peerId) return true;
    const first = this.firstWanted.get(peerId);
    if (first === undefined) {
      this.firstWanted.set(peerId, now);
      return false;
    }
    return now - first >= RECONNECT_EVERY_MS;
  }

  private dialMember(peerId: string, addrs: string[]): void {
    if (!this.node || this.stopping || this.dialsHeld || this.isConnected(peerId)) return;
    // Second-hand word of a peer no record names: it would be refused once connected.
    if (!this.opts.admission.admits(peerId)) return;
    const now = Date.now();
    if (!this.shouldDial(peerId, now)) return;
    if (now - (this.lastDial.get(peerId) ?? 0) < RECONNECT_EVERY_MS) return;
    this.lastDial.set(peerId, now);
    const targets = addrs.map((a) => multiaddr(a));
    if (targets.length === 0) return;
    this.node.dial(targets, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  }

  private reconnect(): void {
    const node = this.node;
    if (!node || this.stopping || this.dialsHeld) return;
    const connected = new Set(node.getConnections().map((c) => c.remoteAddr.toString()));
    const connectedPeers = new Set(node.getConnections().map((c) => c.remotePeer.toString()));
    for (const addr of this.knownAddrs) {
      let parsed = this.parsedAddrs.get(addr);
      if (!parsed) {
        const ma = multiaddr(addr);
        parsed = { ma, pid: ma.getPeerId() ?? undefined };
        this.parsedAddrs.set(addr, parsed);
      }
      const { ma, pid } = parsed;
      if (pid && (connectedPeers.has(pid) || pid === this.peerIdValue())) {
        if (pid) this.firstWanted.delete(pid);
        if (pid) this.dialNow.delete(pid);
        continue;
      }
      if (!pid && [...connected].some((c) => c.startsWith(addr))) continue;
      // A node whose record went: its addresses stay known, in case the record comes back.
      if (pid && !this.opts.admission.admits(pid)) continue;
      const key = pid ?? addr;
      const now = Date.now();
      // Refused until just now: its own dials failed, so there is no race to stand back from.
      const urgent = pid !== undefined && this.dialNow.delete(pid);
      if (!urgent && pid && !this.shouldDial(pid, now)) continue;
      if (!urgent && now - (this.lastDial.get(key) ?? 0) < RECONNECT_EVERY_MS) continue;
      this.lastDial.set(key, now);
      node.dial(ma, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    }
  }

  /** This process was paused (found now, or within deadAfterMs): what it heard or was told may be old. */
  private justPaused(now: number): boolean {
    return this.pauseWatch.check() || this.table.recentlyPaused(now);
  }

  /** What we answer as a witness: whether we heard that incarnation lately (null: we cannot say). */
  private heard(name: string, incarnation: number): boolean | null {
    const now = Date.now();
    const m = this.table.get(name);
    if (this.justPaused(now)) return null;
    if (!m || m.self || m.incarnation !== incarnation) return null;
    return this.table.heardLately(m, now);
  }

  /** A member's silence reached deadAfterMs: ask up to WITNESSES other alive members before calling it dead. */
  private async confirm(m: Member): Promise<void> {
    const { name, incarnation } = m;
    const witnesses = this.table
      .list()
      .filter((w) => !w.self && w.name !== name && w.state === 'alive' && this.isConnected(w.peerId))
      .sort(() => Math.random() - 0.5)
      .slice(0, WITNESSES);
    const answers = await Promise.all(
      witnesses.map(async (w) => ({
        witness: w.name,
        heard: await askWitness(
          (signal) => this.openStream(w.peerId, WITNESS_PROTOCOL, signal),
          name,
          incarnation,
        ),
      })),
    );
    if (this.stopping) return;
    const now = Date.now();
    const verdict = judgeAnswers(answers);
    // Paused while asking, or lately: our own view of its silence is no fact.
    if (this.pauseWatch.check() || this.table.recentlyPaused(now) || !verdict.confirmed) {
      this.table.unconfirmed(name, incarnation, now, verdict.reason);
      this.scheduleTick();
      return;
    }
    this.emit(this.table.confirmDead(name, incarnation, now, verdict.reason));
  }

  private emit(events: MemberEvent[]): void {
    const silent = events.filter((e) => e.type === 'silent');
    for (const e of silent) void this.confirm(e.member);
    if (silent.length > 0) events = events.filter((e) => e.type !== 'silent');
    if (events.length === 0) return;
    this.lastChange = Date.now();
    this.scheduleTick();
    for (const e of events) if (e.type === 'suspect') this.probeNeverHeard(e.member);
    for (const e of events) {
      this.opts.log.info(
        {
          member: e.member.name,
          state: e.member.state,
          reason: e.member.reason,
          incarnation: e.member.incarnation,
        },
        `member ${e.type}`,
      );
      this.opts.onEvent?.(e);
    }
  }
}

/** The first line of a dial error if every address it tried refused the connection, else undefined (a
 * timeout, a reset, an address that did not answer: no proof that nothing listens). */
export function refusedEverywhere(err: Error): string | undefined {
  const all = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  if (all.length === 0) return undefined;
  const refused = all.every((e) => e instanceof Error && /ECONNREFUSED/.test(e.message));
  return refused ? (all[0] as Error).message.split('\n')[0] : undefined;
}

/** Accept a multiaddr, or `host:port` for convenience in config files. */
export function toMultiaddr(addr: string): Multiaddr {
  if (addr.startsWith('/')) return multiaddr(addr);
  const m = /^(.+):(\d+)$/.exec(addr);
  if (!m) throw new Error(`"${addr}" is neither a multiaddr nor host:port`);
  const [, host, port] = m as unknown as [string, string, string];
  const kind = isIP(host);
  return multiaddr(kind ? `/ip${kind}/${host}/tcp/${port}` : `/dns4/${host}/tcp/${port}`);
}
