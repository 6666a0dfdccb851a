// How our etcd client behaves when etcd does not answer (a stopped or frozen process, a cut link): every
// call that is not a stream has a deadline, a call that ran out of it is not retried (the deadline is what
// the caller was promised), and the library's errors become ours (EtcdUnreachableError, one line naming
// the endpoints) in this one place. Loaded with etcd3, on first use (agent/store/etcd.ts).
//
// Without this, etcd3's defaults (no deadline, three retries, a per-host circuit breaker) left a call to a
// frozen etcd waiting about a minute, then answered "Execution prevented because the circuit breaker is
// open".
import {
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IDefaultPolicyContext,
  type IPolicy,
  isBrokenCircuitError,
  retry,
} from 'cockatiel';
import {
  type CallOptionsFactory,
  type Etcd3,
  EtcdError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  type IOptions,
  isRecoverableError,
} from 'etcd3';
import type { OutageLog } from '../log/outage-log.ts';
import { ETCD_BREAKER, EtcdUnreachableError, shortReason } from './etcd.ts';

export interface FaultOptions {
  endpoints: string[];
  /** Each call's deadline. */
  callTimeoutMs: number;
  /** Told of every call that etcd did not answer, and of every answered one. */
  outage?: OutageLog;
}

export function faultOptions(opts: FaultOptions): Pick<IOptions, 'defaultCallOptions' | 'faultHandling'> {
  const defaultCallOptions: CallOptionsFactory = (call) =>
    call.isStream ? {} : { deadline: Date.now() + opts.callTimeoutMs };
  // A call this client cancelled (an election's wait, an informer stopped) is no failure of the host:
  // three of them in a row must not open its breaker (a fresh-clone run saw a head answer 503 "its last 3
  // calls failed" with etcd up, as the leader it replaced died).
  const host = (): CircuitBreakerPolicy =>
    circuitBreaker(
      handleWhen((err) => isRecoverableError(err) && !isCancel(err)),
      {
        halfOpenAfter: ETCD_BREAKER.halfOpenMs,
        breaker: new ConsecutiveBreaker(ETCD_BREAKER.failures),
      },
    );
  // A call that failed at once (refused, reset) is tried on each other host; with one host, not again.
  const retryFastFailures = retry(
    handleWhen((err) => isRecoverableError(err) && !(err instanceof GRPCDeadlineExceededError)),
    { maxAttempts: opts.endpoints.length - 1 },
  );
  return {
    defaultCallOptions,
    faultHandling: {
      host,
      global: new OurErrors(retryFastFailures, opts),
      // etcd3 takes a backoff where it names the factory (its own default is one): a first step of 0 ms.
      watchBackoff: new ExponentialBackoff(WATCH_BACKOFF).next(),
    },
  };
}

/** How soon etcd3 opens its watch stream again after it broke. Its default doubles to 30 s: after an etcd
 * outage of half a minute the watches that count on it (the cluster config's, a head's own election key)
 * came back up to 30 s after etcd did, and that timer, never cleared, kept a finished process alive as
 * long. Tried again at least every 2 s instead: one stream attempt per client. */
const WATCH_BACKOFF = { initialDelay: 250, maxDelay: 2000 };

/** Our words for a failure of etcd itself; undefined for an answer etcd gave (a failed compare, an
 * unknown lease, a permission refused): those stay as they are. */
function unreachableReason(err: unknown, callTimeoutMs: number): string | undefined {
  if (err instanceof EtcdUnreachableError) return undefined;
  if (err instanceof GRPCDeadlineExceededError) return `no answer within ${callTimeoutMs} ms`;
  if (err instanceof Error && (isBrokenCircuitError(err) || isRecoverableError(err))) return shortReason(err);
  return undefined;
}

/** The global policy etcd3 runs every call through, translating what comes out of it. */
class OurErrors implements IPolicy<IDefaultPolicyContext> {
  declare readonly _altReturn: never;
  private readonly inner: IPolicy<IDefaultPolicyContext>;
  private readonly opts: FaultOptions;

  constructor(inner: IPolicy<IDefaultPolicyContext>, opts: FaultOptions) {
    this.inner = inner;
    this.opts = opts;
  }

  get onSuccess() {
    return this.inner.onSuccess;
  }

  get onFailure() {
    return this.inner.onFailure;
  }

  async execute<T>(
    fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    // A host whose breaker opened during this call's retries says only that: the error before says why.
    let lastFailure: unknown;
    const attempt = async (context: IDefaultPolicyContext) => {
      try {
        return await fn(context);
      } catch (err) {
        if (!(err instanceof Error && isBrokenCircuitError(err))) lastFailure = err;
        throw err;
      }
    };
    try {
      const value = await this.inner.execute(attempt, signal);
      this.opts.outage?.ok();
      return value;
    } catch (caught) {
      const err =
        caught instanceof Error && isBrokenCircuitError(caught) && lastFailure ? lastFailure : caught;
      const reason = unreachableReason(err, this.opts.callTimeoutMs);
      if (reason === undefined) {
        // etcd answered (with a refusal): it is there.
        if (err instanceof EtcdError) this.opts.outage?.ok();
        throw err;
      }
      // Refused by the breaker before any host was tried: nothing reached etcd.
      const unsent = caught instanceof Error && isBrokenCircuitError(caught) && !lastFailure;
      const ours = new EtcdUnreachableError(
        this.opts.endpoints,
        reason,
        unsent ? ETCD_BREAKER.halfOpenMs : undefined,
      );
      this.opts.outage?.failed(ours.message);
      throw ours;
    }
  }
}

/** gRPC's status code of a cancelled call. */
const CANCELLED = 1;

/**
 * A failed call or stream no longer closes the host's connections; only closing the client does.
 *
 * etcd3 closes every service client of a host (`resetAllServices`) on any error it deems recoverable: a
 * call past its deadline, and a stream it cancelled itself (when the last watcher of a watch manager goes:
 * every `namespace()` has its own, and an election's wait for the key before it ends so, at each election).
 * The channels close gracefully: the client's other streams (its watches, its lease keepalives) live on over
 * the closed connection until its next keepalive ping, which a closed session refuses, and then all drop
 * together, up to 10 s later. So one slow call on a loaded host, or one election, cost the agent its node
 * lease keepalive and its watches, and its API answered 503 for a second (the fault suite's killed leader).
 * gRPC reconnects a channel by itself (back-off up to GRPC_OPTIONS' 2 s) and keepalive pings find a dead
 * connection; the circuit breaker still counts failed calls, so several endpoints still fail over (a
 * stream is opened on a host whose breaker is closed).
 */
export function keepConnections(client: Etcd3): void {
  const pool = poolOf(client);
  // A stream's failure is not counted against the host at all (etcd3 counts each one): when a connection
  // drops, every stream on it fails at the same moment, and three streams made one drop look like three
  // failed calls in a row, which opened the host's breaker (every call refused for a second) while etcd
  // answered. Seen in the fault suite: the clients etcd-reach.ts replaced are closed, and their streams drop
  // at that connection's next keepalive ping; a head then answered 503 "its last 3 calls failed". The
  // host's health is told by its calls, each with a deadline.
  pool.markFailed = () => undefined;
  for (const host of pool.hosts) {
    const reset = host.resetAllServices.bind(host);
    host.resetAllServices = () => undefined;
    host.close = () => {
      reset();
      host.closed = true;
    };
  }
}

/** etcd3's private parts this module and agent/store/etcd-reach.ts use (guarded by
 * test/etcd-client.test.ts): its connection pool, one host per endpoint, each with its gRPC service
 * clients. */
export interface PoolHost {
  /** "address:port" */
  host: string;
  closed: boolean;
  channelOptions: Record<string, unknown>;
  cachedServices: Record<string, ServiceClient>;
  getServiceClient(name: string): ServiceClient;
  resetAllServices(): void;
  close(): void;
  /** The host's policy: the circuit breaker faultOptions made for it. */
  faultHandling: unknown;
}

/** A gRPC client of one etcd service (KV, Lease, Watch ...). */
interface ServiceClient {
  getChannel(): { getConnectivityState(connect: boolean): number };
  close(): void;
}

interface Pool {
  hosts: PoolHost[];
  markFailed(resource: unknown, error: Error): void;
}

export const poolOf = (client: Etcd3): Pool => (client as unknown as { pool: Pool }).pool;

/**
 * The host's breaker closed, when it is open: its gRPC connection was just made again, so etcd answers
 * there (grpc-js is READY only once etcd's server sent its HTTP/2 settings). Without this, the calls that
 * failed during an outage kept the breaker open for up to its half-open wait after the link came back, and
 * the one trial call it then let through could fail at once on a channel still waiting out its reconnect
 * back-off, opening it for another wait: the fault suite saw a node registered 3.9 s after a healed cut.
 */
export function closeBreaker(host: PoolHost): void {
  const policy = host.faultHandling;
  // isolate() then dispose() is cockatiel's public way to a closed breaker.
  if (policy instanceof CircuitBreakerPolicy && policy.state === CircuitState.Open)
    policy.isolate().dispose();
}

export function isCancel(error: unknown): boolean {
  return (
    error instanceof GRPCCancelledError ||
    (error instanceof Error && (error as Error & { code?: unknown }).code === CANCELLED)
  );
}
