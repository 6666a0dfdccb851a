// Start step 3: the mesh. Peers last seen in etcd (the local peers cache) are admitted and dialled at once,
// so a start without etcd still finds the mesh (edge autonomy: the peers it last knew); node records seen
// later admit their peers (and deleted ones stop admitting them) and are remembered there for the next start.
import type { PrivateKey } from '@libp2p/interface';
import { PeerAdmission } from '../mesh/admission.ts';
import type { Heartbeat } from '../mesh/member-table.ts';
import { Mesh } from '../mesh/mesh.ts';
import { readNetworkKey } from '../mesh/peer-key.ts';
import { headApiUrl } from '../net/urls.ts';
import { type PeersCache, readPeersCache, writePeersCache } from '../state/config-cache.ts';
import type { NodeRecord } from '../store/node-registry.ts';
import type { StepBasics } from './basics.ts';
import { wellKnownLabels } from './node-record.ts';

/** Peers cache writes are at most this often (node records arrive in bursts). */
const PEERS_WRITE_DELAY_MS = 1000;

export interface JoinedMesh {
  readonly mesh: Mesh;
  /** Another node's record (added or changed): its peer is admitted and dialled, and cached. `justWritten`:
   * as etcd's watch delivered it (a new incarnation is then alive in the member table at once). */
  rememberPeer(record: NodeRecord, justWritten: boolean): void;
  /** Another node's record deleted: its peer is refused from now on, and dropped from the cache. */
  forgetPeer(name: string): void;
  /** After a list of the records: forget the peers (from the cache) of nodes that have none any more. */
  forgetPeersExcept(keep: (name: string) => boolean): void;
  /** After a config change: our advertised self, the timing and the bootstrap peers follow it. */
  follow(): void;
  /** `leave`: say goodbye (a clean stop); without, the others find out from the missed beats. */
  stop(leave: boolean): Promise<void>;
}

export async function joinMesh(
  o: StepBasics & { privateKey: PrivateKey; incarnation: number; holdDials: boolean },
): Promise<JoinedMesh> {
  const { live, log } = o;
  const meshSelf = () => {
    const n = live.self();
    return {
      name: n.name,
      address: n.address,
      roles: n.roles,
      labels: n.labels,
      api: headApiUrl(live.config(), n),
    };
  };
  const config = live.config();
  const networkKey = config.mesh.privateNetworkKeyFile
    ? await readNetworkKey(config.mesh.privateNetworkKeyFile)
    : undefined;
  const meshLog = log.child({ part: 'mesh' });
  // Info, not warn: every new node is refused for a moment (it dials before its record is written).
  const admission = new PeerAdmission((peerId, reason) =>
    meshLog.info({ peerId, reason }, 'refused a peer that no registered node record names (mesh admission)'),
  );
  const peers: PeersCache = await readPeersCache(live.self().workspace);
  for (const [name, p] of Object.entries(peers)) if (p.peerId) admission.admit(name, p.peerId);
  const mesh = new Mesh({
    ...(networkKey ? { networkKey } : {}),
    cluster: o.cluster,
    self: meshSelf(),
    port: config.mesh.port,
    bootstrap: config.mesh.bootstrap,
    heartbeatMs: config.mesh.heartbeatMs,
    timing: config.mesh,
    privateKey: o.privateKey,
    incarnation: o.incarnation,
    admission,
    holdDials: o.holdDials,
    log: meshLog,
    onEvent: (e) => o.events.emit('member', e),
  });
  await mesh.start();
  for (const p of Object.values(peers)) mesh.addKnownPeers(p.multiaddrs);
  let peersDirty: NodeJS.Timeout | undefined;
  // One write at a time (they share a temp file name).
  let writing = Promise.resolve();
  const write = () => {
    writing = writing
      .then(() => writePeersCache(live.self().workspace, peers))
      .catch((err) => log.warn({ err: String(err) }, 'peers cache write failed'));
  };
  const writeAfter = (ms: number) =>
    setTimeout(() => {
      peersDirty = undefined;
      write();
    }, ms);
  const writeSoon = () => {
    peersDirty ??= writeAfter(PEERS_WRITE_DELAY_MS);
  };
  /** Next turn of the loop: the records seen in one turn (a whole list at start) are one write. */
  const writeNow = () => {
    clearTimeout(peersDirty);
    peersDirty = writeAfter(0);
  };
  const forgetPeer = (name: string) => {
    admission.forget(name);
    if (!peers[name]) return;
    delete peers[name];
    writeSoon();
  };
  return {
    mesh,
    rememberPeer(record, justWritten) {
      const { name, peerId, multiaddrs } = record;
      // Admitted first: the dials below would be refused otherwise.
      admission.admit(name, peerId);
      mesh.peerRecord(memberOf(record), justWritten && !record.stoppedAt);
      const was = peers[name];
      if (was?.peerId === peerId && was.multiaddrs.join() === multiaddrs.join()) return;
      peers[name] = { peerId, multiaddrs };
      // A peer id this host did not have is written at once: an agent restarted with etcd away admits
      // only the peers its cache names (a test killed an agent 1 s after its start, before the delayed
      // write, and it refused its peer after the restart). New addresses can wait for the batch.
      if (was?.peerId !== peerId) writeNow();
      else writeSoon();
    },
    forgetPeer,
    forgetPeersExcept(keep) {
      for (const name of new Set([...admission.nodes(), ...Object.keys(peers)]))
        if (!keep(name)) forgetPeer(name);
    },
    follow() {
      const c = live.config();
      mesh.updateSelf(meshSelf());
      mesh.setTiming(c.mesh.heartbeatMs, c.mesh);
      mesh.addKnownPeers(c.mesh.bootstrap);
    },
    async stop(leave) {
      clearTimeout(peersDirty);
      await mesh.stop(leave);
    },
  };
}

/** What the member's heartbeats will say, from its node record: the labels without those the record adds
 * (the kubelet's well-known ones), so its first beat changes nothing. */
function memberOf(r: NodeRecord): Heartbeat {
  const labels = { ...r.labels };
  for (const [k, v] of Object.entries(wellKnownLabels(r.name))) if (labels[k] === v) delete labels[k];
  const hb: Heartbeat = {
    name: r.name,
    peerId: r.peerId,
    address: r.address,
    roles: r.roles,
    labels,
    multiaddrs: r.multiaddrs,
    incarnation: r.incarnation,
    seq: -1,
  };
  if (r.api) hb.api = r.api;
  return hb;
}
