// Reaching etcd again soon after a link comes back.
//
// gRPC (grpc-js) connects with a plain TCP connect and no deadline of its own. An attempt begun while the
// link is down beyond the first hop (packets dropped, not refused) waits for the kernel's SYN retries, 1,
// 3, 7, 15, 31 and 63 s after it began: after a 20 s cut the link may be back for 8 s before that attempt
// gets through, after a minute for 32 s, and all that time the agent is not registered and its pods show
// Unknown. Attempts that fail (refused, no route) are made again after gRPC's back-off (up to 2 s). So each
// client's hosts are watched: once a host has had no connection for STALL_MS (its attempts failing or
// hanging), the endpoint is asked each tick with a short HTTP/2 connection of our own (TLS as the client's,
// closed as soon as etcd's server sends its settings: a frozen etcd, whose kernel still accepts the TCP
// connection, does not count), and when etcd answers it while gRPC still has no connection, the host's gRPC
// clients are replaced by new ones on a new connection, made at once. The old clients are closed after the
// calls' deadline, so a call waiting on them ends as it would have. An abandoned attempt ends on its own
// (its connection is shut as soon as it is made). Where our connection gets through but gRPC's cannot (a
// slow link whose healthy handshake takes longer than STALL_MS) the replacements would go on: each doubles
// the wait for that host (up to MAX_STALL_MS), and a connection made resets it.
//
// The same watch tells listeners when a client is connected again after it was not (the node registration
// tries again at once instead of at its back-off), and closes the host's circuit breaker then, so the calls
// that failed during the outage do not hold the next ones back (etcd-faults.ts closeBreaker).
import { connect } from 'node:http2';
import type { Etcd3 } from 'etcd3';
import { onPulse } from '../loop/pulse.ts';
import { closeBreaker, type PoolHost, poolOf } from './etcd-faults.ts';

/** Each client's connections are looked at every this many ticks of the process's pulse (loop/pulse.ts;
 * 2 x PULSE_MS = 500 ms): its own 500 ms timer was two of an idle agent's ~22 wake-ups a second. */
const TICK_PULSES = 2;
/** No connection for this long: our own connects start (a healthy connect takes milliseconds; the kernel
 * retries an unanswered SYN after 1 s, then 3 s). */
export const STALL_MS = 1500;
const MAX_STALL_MS = 24_000;
/** Our own connection's deadline (TCP, TLS, etcd's HTTP/2 settings): any link nokube runs over answers
 * well within it. */
const PROBE_TIMEOUT_MS = 1000;
/** After etcd answered our connection: how long gRPC's own attempt has to get through before it is
 * replaced. */
const RECHECK_MS = 200;

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
  /** A channel of the host was READY at the last tick. */
  ready: boolean;
  downSince: number | undefined;
  /** How long an attempt may take before it counts as stalled. */
  stallMs: number;
  /** Probes in flight (one a tick while stalled; each lasts up to PROBE_TIMEOUT_MS). */
  probing: number;
}

export interface ReachOptions {
  /** The client's calls' deadline: old clients are closed this long after their replacement. */
  callTimeoutMs: number;
  /** The client's TLS files' contents, when etcd is served with TLS. */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

class Reach implements EtcdReach {
  restarts = 0;
  private readonly listeners = new Set<() => void>();
  private readonly hosts = new Map<PoolHost, HostWatch>();
  private connected = false;
  private readonly off: () => void;
  private pulses = 0;
  private readonly client: Etcd3;
  private readonly opts: ReachOptions;

  constructor(client: Etcd3, opts: ReachOptions) {
    this.client = client;
    this.opts = opts;
    this.off = onPulse(() => {
      if (++this.pulses % TICK_PULSES === 0) this.tick();
    });
  }

  onConnected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tick(): void {
    const hosts = poolOf(this.client).hosts;
    if (hosts.every((h) => h.closed)) {
      this.off();
      return;
    }
    let connected = false;
    for (const host of hosts) {
      if (host.closed) continue;
      const states = channelStates(host);
      const watch = this.hosts.get(host) ?? {
        ready: false,
        downSince: undefined,
        stallMs: STALL_MS,
        probing: 0,
      };
      this.hosts.set(host, watch);
      if (states.includes(READY)) {
        connected = true;
        if (!watch.ready) closeBreaker(host);
        watch.ready = true;
        watch.downSince = undefined;
        watch.stallMs = STALL_MS;
        continue;
      }
      watch.ready = false;
      if (states.includes(CONNECTING) || states.includes(TRANSIENT_FAILURE)) {
        watch.downSince ??= performance.now();
        if (performance.now() - watch.downSince >= watch.stallMs && watch.probing < 2)
          void this.probe(host, watch);
      } else watch.downSince = undefined;
    }
    if (connected && !this.connected) for (const l of this.listeners) l();
    this.connected = connected;
  }

  private async probe(host: PoolHost, watch: HostWatch): Promise<void> {
    watch.probing++;
    const ok = await answers(host.host, this.opts.tls);
    // gRPC's own attempt may get through at the same moment (a frozen etcd that resumes answers both): it
    // is given a moment before it is replaced, or every stream on it would be moved for nothing.
    if (ok) await new Promise((r) => setTimeout(r, RECHECK_MS));
    watch.probing--;
    if (!ok || host.closed || watch.downSince === undefined || ready(host)) return;
    watch.downSince = undefined;
    watch.stallMs = Math.min(watch.stallMs * 2, MAX_STALL_MS);
    this.restarts++;
    replaceClients(host, this.restarts, this.opts.callTimeoutMs);
  }
}

function channelStates(host: PoolHost): number[] {
  return Object.values(host.cachedServices).map((s) => s.getChannel().getConnectivityState(false));
}

const ready = (host: PoolHost): boolean => channelStates(host).includes(READY);

/** New gRPC clients for the host on a connection of their own: the options differ from the stalled
 * subchannel's (grpc-js shares a subchannel between channels of equal options), and connecting starts now.
 * The old clients are closed once the calls waiting on them have met their deadline. */
function replaceClients(host: PoolHost, attempt: number, graceMs: number): void {
  const old = Object.values(host.cachedServices);
  host.cachedServices = Object.create(null);
  host.channelOptions = { ...host.channelOptions, 'nokube.connect_attempt': attempt };
  host.getServiceClient('KV').getChannel().getConnectivityState(true);
  setTimeout(() => {
    for (const service of old) service.close();
  }, graceMs).unref();
}

/** etcd at `host:port` sends its HTTP/2 settings within PROBE_TIMEOUT_MS; the connection is closed at once
 * either way. */
function answers(address: string, tls: ReachOptions['tls']): Promise<boolean> {
  return new Promise((resolve) => {
    const session = connect(
      `${tls ? 'https' : 'http'}://${address}`,
      tls ? { ...tls, rejectUnauthorized: true } : {},
    );
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    function done(ok: boolean) {
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    }
    session.once('remoteSettings', () => done(true));
    session.once('error', () => done(false));
  });
}

const reaches = new WeakMap<Etcd3, Reach>();

/** Starts watching the client's connections (agent/store/etcd.ts does, for every client it makes). */
export function watchReach(client: Etcd3, opts: ReachOptions): EtcdReach {
  let reach = reaches.get(client);
  if (!reach) {
    reach = new Reach(client, opts);
    reaches.set(client, reach);
  }
  return reach;
}

/** The watch of a client made by createEtcd; undefined for other clients (tests' fakes). */
export function etcdReach(client: Etcd3): EtcdReach | undefined {
  return reaches.get(client);
}
