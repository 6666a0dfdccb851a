// Start step 3: the mesh. Peers last seen in etcd (the local peers cache) are dialled at once, so a start
// without etcd still finds the mesh; node records seen later are remembered there for the next start.
import type { PrivateKey } from '@libp2p/interface';
import { Mesh } from '../mesh/mesh.ts';
import { readNetworkKey } from '../mesh/peer-key.ts';
import { headApiUrl } from '../net/urls.ts';
import { type PeersCache, readPeersCache, writePeersCache } from '../state/config-cache.ts';
import type { StepBasics } from './basics.ts';

/** Peers cache writes are at most this often (node records arrive in bursts). */
const PEERS_WRITE_DELAY_MS = 1000;

export interface JoinedMesh {
  readonly mesh: Mesh;
  /** A node record's addresses: dialled, and written to the peers cache when they changed. */
  rememberPeer(name: string, addrs: string[]): void;
  /** After a config change: our advertised self, the timing and the bootstrap peers follow it. */
  follow(): void;
  /** `leave`: say goodbye (a clean stop); without, the others find out from the missed beats. */
  stop(leave: boolean): Promise<void>;
}

export async function joinMesh(
  o: StepBasics & { privateKey: PrivateKey; incarnation: number },
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
    log: log.child({ part: 'mesh' }),
    onEvent: (e) => o.events.emit('member', e),
  });
  await mesh.start();
  const peers: PeersCache = await readPeersCache(live.self().workspace);
  for (const addrs of Object.values(peers)) mesh.addKnownPeers(addrs);
  let peersDirty: NodeJS.Timeout | undefined;
  return {
    mesh,
    rememberPeer(name, addrs) {
      mesh.addKnownPeers(addrs);
      if (peers[name]?.join() === addrs.join()) return;
      peers[name] = addrs;
      peersDirty ??= setTimeout(() => {
        peersDirty = undefined;
        writePeersCache(live.self().workspace, peers).catch((err) =>
          log.warn({ err: String(err) }, 'peers cache write failed'),
        );
      }, PEERS_WRITE_DELAY_MS);
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
