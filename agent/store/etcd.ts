// Connecting to etcd: fail fast with one clear line when it cannot be reached. Every call has a deadline
// (the settings' dialTimeoutMs) and a failure of etcd itself is an EtcdUnreachableError
// (agent/store/etcd-faults.ts).
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type { ClusterConfig } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { OutageLog } from '../log/outage-log.ts';

export class EtcdUnreachableError extends Error {
  /** Set when the call was never sent (every host's breaker was open): trying again after this long is
   * safe, whatever the call was. A head answers such a failure 503 with Retry-After (head/api/server.ts). */
  readonly retryAfterMs: number | undefined;
  constructor(endpoints: string[], reason: string, retryAfterMs?: number) {
    super(`etcd unreachable at ${endpoints.join(', ')}: ${reason}`);
    this.name = 'EtcdUnreachableError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** etcd3's per-host circuit breaker, as we set it (agent/store/etcd-faults.ts): a host that failed this
 * many calls in a row is not asked again for this long (another host is, when there are several). Short:
 * an agent whose link comes back must reach etcd again within about a second (its pods leave Unknown). */
export const ETCD_BREAKER = { failures: 3, halfOpenMs: 1000 };

/** gRPC channel options: reconnect within half a second of a link coming back (gRPC's own back-off grows to
 * 120 s; 2 s, and later 1 s with the rest of the way back, let a returning node's pods stay Unknown 3.3 s
 * in fresh-clone CI runs; an attempt during an outage is one failed connect), and
 * find a dead connection (a cut link sends no reset) by keepalive pings; etcd accepts pings every 5 s. */
const GRPC_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 500,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5000,
  // A list of a big prefix is one response (10,000 pods are about 7 MB): grpc-js's default cap of 4 MB
  // would fail it (bench/fleet found it). etcd bounds what it sends by its own memory; this is a cap.
  'grpc.max_receive_message_length': 512 * 2 ** 20,
};

export type EtcdSettings = Pick<ClusterConfig['etcd'], 'endpoints' | 'dialTimeoutMs' | 'tls'>;

export interface EtcdClientOptions {
  /** Told of every call etcd did not answer and of every answered one (an agent's one etcd outage log). */
  outage?: OutageLog;
}

/**
 * A client (not yet connected). etcd3 is loaded here, on first use: loading it (gRPC + its protobuf
 * definitions) is ~140 ms, which CLI commands that never talk to etcd should not pay.
 */
export async function createEtcd(settings: EtcdSettings, opts: EtcdClientOptions = {}): Promise<Etcd3> {
  const [{ Etcd3 }, { faultOptions, keepConnections }, { watchReach }] = await Promise.all([
    import('etcd3'),
    import('./etcd-faults.ts'),
    import('./etcd-reach.ts'),
  ]);
  const options: IOptions = {
    hosts: settings.endpoints,
    dialTimeout: settings.dialTimeoutMs,
    grpcOptions: GRPC_OPTIONS,
    ...faultOptions({ endpoints: settings.endpoints, callTimeoutMs: settings.dialTimeoutMs, ...opts }),
  };
  const tls = settings.tls && {
    ca: readFileSync(settings.tls.ca),
    cert: readFileSync(settings.tls.cert),
    key: readFileSync(settings.tls.key),
  };
  if (tls) {
    quietIpServername();
    options.credentials = { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key };
  }
  const client = new Etcd3(options);
  keepConnections(client);
  watchReach(client, { callTimeoutMs: settings.dialTimeoutMs, ...(tls ? { tls } : {}) });
  return client;
}

/** grpc-js gives TLS the endpoint's host as servername, an IP for etcd endpoints; Node then warns
 * (DEP0123), a line on the stderr of every CLI command and agent with etcd TLS. The certificate is still
 * verified against that IP (its SANs); only this one warning is dropped. */
function quietIpServername(): void {
  if (warningFiltered) return;
  warningFiltered = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code =
      typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
let warningFiltered = false;

/** Open a client and prove it works with one read, within dialTimeoutMs. */
export async function connectEtcd(settings: EtcdSettings, opts: EtcdClientOptions = {}): Promise<Etcd3> {
  const client = await createEtcd(settings, opts);
  try {
    // The call's own deadline bounds it; this bounds what comes before the call (loading credentials).
    const ms = settings.dialTimeoutMs;
    await withTimeout(client.get('/nokube/.probe').string(), ms, `no answer within ${ms} ms`);
    return client;
  } catch (err) {
    client.close();
    if (err instanceof EtcdUnreachableError) throw err;
    throw new EtcdUnreachableError(settings.endpoints, shortReason(err));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The first line of an error, without gRPC's status prefix ("14 UNAVAILABLE: ") and the resolver's
 * notes; etcd3's open circuit breaker and lease-expiry text in our words. */
export function shortReason(err: unknown): string {
  // cockatiel's BrokenCircuitError, recognised as cockatiel itself does (not loaded here).
  if (err instanceof Error && 'isBrokenCircuitError' in err)
    return `its last ${ETCD_BREAKER.failures} calls failed (next try within ${ETCD_BREAKER.halfOpenMs / 1000} s)`;
  const msg = err instanceof Error ? err.message : String(err);
  return (
    msg
      .split('\n')[0]!
      .replace(/^\d+ [A-Z_]+: /, '')
      .replace(/^No connection established\. Last error: (?:Error: )?(.*?)\.? Resolution note:.*$/, '$1')
      // OpenSSL's text for a TLS alert from etcd: it refused the client certificate (or its absence).
      .replace(
        /^.*SSL routines:[^:]*:(?:ssl\/)?tls alert ([a-z ]+):.*$/i,
        'etcd refused the TLS handshake ($1): it takes only client certificates of its CA',
      )
      .replace(
        /^Lease We lost connection to etcd and our lease has expired\. is expired or revoked$/,
        'the lease expired: etcd answered no keepalive within its TTL',
      )
  );
}

/** Log a failed etcd call: a warning, unless etcd itself did not answer, which the agent's outage log
 * already reports (once, then at a back-off; agent/log/outage-log.ts). */
export function logEtcdFailure(log: Logger, err: unknown, fields: object, msg: string): void {
  const level = err instanceof EtcdUnreachableError ? 'debug' : 'warn';
  log[level]({ ...fields, err: shortReason(err) }, msg);
}
