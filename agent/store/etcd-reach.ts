// Reaching etcd again soon after a link comes back.
//
// gRPC (grpc-js) connects with a plain TCP connect and no deadline of its own. An attempt begun while the
// link is down beyond the first hop (packets dropped, not refused) waits for the kernel's SYN retries, 1,
// 3, 7, 15, 31 and 63 s after it began: after a 20 s cut the link may be back for 8 s before that attempt
// gets through, after a minute for 32 s, and all that time the agent is not registered and its pods show
// Unknown. Attempts that fail (refused, no route) are made again after gRPC's back-off (up to 2 s). So each
// client's hosts are watched: once a host has had no connection for STALL_MS (its attempts failing or
// hanging), the endpoint is tried each tick with a short connect of our own (closed at once), and when that
// one gets through while gRPC still has no connection, the host's gRPC clients are replaced by new ones on
// a new connection, made at once. An abandoned attempt ends on its own (its connection is shut as soon as
// it is made). Where our connect gets through but gRPC's cannot (a TLS failure, a slow link whose healthy
// handshake takes longer than STALL_MS) the replacements would go on: each doubles the wait for that host
// (up to MAX_STALL_MS), and a connection made resets it.
//
// The same watch tells listeners when a client is connected again after it was not (the node registration
// tries again at once instead of at its back-off).
import { connect } from 'node:net';
import type { Etcd3 } from 'etcd3';
import { type PoolHost, poolOf, resetServices } from './etcd-faults.ts';

/** How often each client's connections are looked at. */
const TICK_MS = 500;
/** No connection for this long: our own connects start (a healthy connect takes milliseconds; the kernel
 * retries an unanswered SYN after 1 s, then 3 s). */
export const STALL_MS = 1500;
const MAX_STALL_MS = 24_000;
/** Our own connect's deadline: any link nokube runs over answers a SYN well within it. */
const PROBE_TIMEOUT_MS = 1000;

/** gRPC's connectivity states (grpc.connectivityState). A channel that failed stays TRANSIENT_FAILURE
 * while it tries again (pick_first), so an attempt under way shows as either. */
const CONNECTING = 1;
const READY = 2;
const TRANSIENT_FAILURE = 3;

export interface EtcdReach {
  /** Called each time the client is connected to some endpoint after it was connected to none. */
  onConnected(listener: () => void): () => void;
  /** How many times a stalled connection attempt was replaced (tests, metrics). */
  readonly restarts: number;
}

interface HostWatch {
  downSince: number | undefined;
  /** How long an attempt may take before it counts as stalled. */
  stallMs: number;
  /** Probes in flight (one a tick while stalled; each lasts up to PROBE_TIMEOUT_MS). */
  probing: number;
}

class Reach implements EtcdReach {
  restarts = 0;
  private readonly listeners = new Set<() => void>();
  private readonly hosts = new Map<PoolHost, HostWatch>();
  private connected = false;
  private readonly timer: NodeJS.Timeout;
  private readonly client: Etcd3;

  constructor(client: Etcd3) {
    this.client = client;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  onConnected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tick(): void {
    const hosts = poolOf(this.client).hosts;
    if (hosts.every((h) => h.closed)) {
      clearInterval(this.timer);
      return;
    }
    let connected = false;
    for (const host of hosts) {
      if (host.closed) continue;
      const states = Object.values(host.cachedServices).map((s) =>
        s.getChannel().getConnectivityState(false),
      );
      const watch = this.hosts.get(host) ?? { downSince: undefined, stallMs: STALL_MS, probing: 0 };
      this.hosts.set(host, watch);
      if (states.includes(READY)) {
        connected = true;
        watch.downSince = undefined;
        watch.stallMs = STALL_MS;
      } else if (states.includes(CONNECTING) || states.includes(TRANSIENT_FAILURE)) {
        watch.downSince ??= performance.now();
        if (performance.now() - watch.downSince >= watch.stallMs && watch.probing < 2)
          this.probe(host, watch);
      } else watch.downSince = undefined;
    }
    if (connected && !this.connected) for (const l of this.listeners) l();
    this.connected = connected;
  }

  private probe(host: PoolHost, watch: HostWatch): void {
    watch.probing++;
    reachable(host.host).then((ok) => {
      watch.probing--;
      if (!ok || host.closed || watch.downSince === undefined) return;
      watch.downSince = undefined;
      watch.stallMs = Math.min(watch.stallMs * 2, MAX_STALL_MS);
      this.restarts++;
      restart(host, this.restarts);
    });
  }
}

/** New gRPC clients for the host on a connection of their own: the options differ from the stalled
 * subchannel's (grpc-js shares a subchannel between channels of equal options), and connecting starts now. */
function restart(host: PoolHost, attempt: number): void {
  host.channelOptions = { ...host.channelOptions, 'nokube.connect_attempt': attempt };
  resetServices(host);
  host.getServiceClient('KV').getChannel().getConnectivityState(true);
}

/** A TCP connect to `host:port` within PROBE_TIMEOUT_MS; the socket is closed at once either way. */
function reachable(address: string): Promise<boolean> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const reaches = new WeakMap<Etcd3, Reach>();

/** Starts watching the client's connections (agent/store/etcd.ts does, for every client it makes). */
export function watchReach(client: Etcd3): EtcdReach {
  let reach = reaches.get(client);
  if (!reach) {
    reach = new Reach(client);
    reaches.set(client, reach);
  }
  return reach;
}

/** The watch of a client made by createEtcd; undefined for other clients (tests' fakes). */
export function etcdReach(client: Etcd3): EtcdReach | undefined {
  return reaches.get(client);
}
