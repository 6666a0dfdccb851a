// Mesh admission: the pre-shared network key lets a peer open a connection; it is a member only while its
// peer id is the `peerId` of a registered node record (etcd is the truth). Everyone else is refused at every
// door, each refusal counted by reason: its connections (the libp2p connection gater, in and out, once the
// noise handshake has proven the peer id), our protocols' streams, gossipsub messages (a topic validator, so
// they are neither delivered nor forwarded), and a heartbeat whose node name is not the one its record gives.
// A record that appears later admits its peer then (a new agent dials before its record is written; its
// first tries are refused and counted, and it is dialled as soon as its record shows); a deleted record
// stops admitting its peer and closes its connections. An agent cut off from etcd keeps admitting the peers
// it last knew: the records it last saw (in memory, and in the peers cache across a restart).
import type { ConnectionGater, PeerId } from '@libp2p/interface';

export type RefusalReason = 'connection' | 'stream' | 'message' | 'name';

/** Distinct refused peers remembered (each logged once) before the set starts over: bounded under a flood. */
const REFUSED_PEERS_MAX = 1024;

export interface AdmissionListener {
  /** `wasRefused`: it tried us before its record showed (a new agent does), so it waits to retry. */
  admitted(peerId: string, wasRefused: boolean): void;
  revoked(peerId: string): void;
}

export class PeerAdmission {
  /** peer id -> node name, and back: a record's peer id may change (a wiped workspace, a new key). */
  private readonly nodeByPeer = new Map<string, string>();
  private readonly peerByNode = new Map<string, string>();
  private readonly listeners = new Set<AdmissionListener>();
  private readonly refusedPeers = new Set<string>();
  readonly refused: Record<RefusalReason, number> = { connection: 0, stream: 0, message: 0, name: 0 };
  private readonly onRefused: ((peerId: string, reason: RefusalReason) => void) | undefined;

  /** `onRefused` hears the first refusal of each peer (for one log line), not every one. */
  constructor(onRefused?: (peerId: string, reason: RefusalReason) => void) {
    this.onRefused = onRefused;
  }

  /** A node record seen (added or updated): its peer id is admitted, an older one of the node is not. A
   * record without a peer id (bench/fleet's simulated agents) admits nothing. */
  admit(node: string, peerId: string): void {
    if (peerId === '') {
      this.forget(node);
      return;
    }
    const old = this.peerByNode.get(node);
    if (old === peerId) return;
    if (old !== undefined) this.forgetPeer(old);
    this.peerByNode.set(node, peerId);
    this.nodeByPeer.set(peerId, node);
    const wasRefused = this.refusedPeers.delete(peerId);
    for (const l of this.listeners) l.admitted(peerId, wasRefused);
  }

  /** A node record deleted: its peer is refused from now on. */
  forget(node: string): void {
    const peerId = this.peerByNode.get(node);
    if (peerId === undefined) return;
    this.peerByNode.delete(node);
    this.forgetPeer(peerId);
  }

  /** The nodes whose peers are admitted. */
  nodes(): string[] {
    return [...this.peerByNode.keys()];
  }

  admits(peerId: string): boolean {
    return this.nodeByPeer.has(peerId);
  }

  /** The node whose record names this peer id. */
  nodeOf(peerId: string): string | undefined {
    return this.nodeByPeer.get(peerId);
  }

  /** True when admitted; otherwise the refusal is counted (and the peer's first one told) and false. */
  check(peerId: string, reason: RefusalReason): boolean {
    if (this.nodeByPeer.has(peerId)) return true;
    this.refuse(peerId, reason);
    return false;
  }

  refuse(peerId: string, reason: RefusalReason): void {
    this.refused[reason]++;
    if (this.refusedPeers.has(peerId)) return;
    if (this.refusedPeers.size >= REFUSED_PEERS_MAX) this.refusedPeers.clear();
    this.refusedPeers.add(peerId);
    this.onRefused?.(peerId, reason);
  }

  listen(l: AdmissionListener): () => void {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  /**
   * The libp2p connection gater: a connection, in or out, stays only when the noise handshake proved an
   * admitted peer id. Dials are not gated: the mesh dials no refused peer to connect (mesh.ts), but probes
   * a lost member whose record just went (the leader deletes it on its verdict) so that a refused TCP
   * connect still proves the process gone, first-hand, as without admission.
   */
  gater(): ConnectionGater {
    const encrypted = (peer: PeerId) => !this.check(peer.toString(), 'connection');
    return {
      denyInboundEncryptedConnection: encrypted,
      denyOutboundEncryptedConnection: encrypted,
    };
  }

  private forgetPeer(peerId: string): void {
    if (!this.nodeByPeer.delete(peerId)) return;
    for (const l of this.listeners) l.revoked(peerId);
  }
}
