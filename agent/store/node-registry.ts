// The agent's node record in etcd, bound to the agent's lease: it vanishes NODE_LEASE_TTL_SECONDS after
// the agent dies (sooner when the leading head deletes it on the mesh's verdict that the agent died; an
// agent that is in fact alive puts it back), NODE_STOP_GRACE_SECONDS after a clean stop (the record is
// handed to a lease of that TTL, marked stoppedAt: the containers run on, and a slow restart moves and
// marks nothing). A lost lease is re-granted with backoff.
import type { Etcd3, Lease } from 'etcd3';
import type { Role } from '../config/schema.ts';
import type { NodeFacts } from '../node/facts.ts';
import type { Allocatable } from '../scheduler/resources.ts';
import type { Taint } from '../scheduler/taints.ts';
import { compareText } from '../text/compare.ts';
import { shortReason, withTimeout } from './etcd.ts';
import { etcdReach } from './etcd-reach.ts';
import { keys } from './keys.ts';

/** README: "a dead agent's node record disappears 10 s after its last keepalive". */
export const NODE_LEASE_TTL_SECONDS = 10;
/** README: "a cleanly stopped agent's record stays 40 s" (k8s' node-monitor grace period): its containers
 * run on meanwhile, so a restart slower than the TTL (an upgrade on a small or loaded host) has its pods
 * neither marked NodeLost nor dropped from any Service's endpoints. A node that does not come back is lost
 * after it. */
export const NODE_STOP_GRACE_SECONDS = 40;
/** How long a clean stop waits for etcd to hand the record over before leaving it to the TTL. */
const HANDOVER_TIMEOUT_MS = 2000;
/** Re-registration retries back off to this at most; a client connected again after it was not tries at
 * once (agent/store/etcd-reach.ts), so a node whose link comes back is registered (and its pods leave
 * Unknown) as soon as etcd answers. One lease grant per try. */
const REGISTER_RETRY_MAX_MS = 2000;

export interface NodeRecord {
  name: string;
  address: string;
  roles: Role[];
  labels: Record<string, string>;
  peerId: string;
  multiaddrs: string[];
  /** HTTP API URL on head nodes. */
  api?: string;
  capacity: NodeFacts;
  /** What pods may request here: capacity less `nodes[].reserved`, `nodes[].maxPods` pods (k8s
   * node.status.allocatable). Absent from records of agents before it. */
  allocatable?: Allocatable;
  /** `nodes[].taints` from the config. */
  taints?: Taint[];
  agentVersion: string;
  /** The agent pre-pulls images and reports its node status (agent/images): the controllers wait for
   * that status before stopping an old pod there. Absent from the records of agents before it. */
  prePull?: boolean;
  startedAt: string;
  incarnation: number;
  /** The agent's etcd lease (decimal id): a head revokes it when the mesh has seen this agent die, so
   * its alive records go at once instead of after the TTL. After a clean stop: the grace lease. */
  lease?: string;
  /** Set by a clean stop (the agent is not running; its containers are): the record lives on for
   * NODE_STOP_GRACE_SECONDS, until the agent registers again. */
  stoppedAt?: string;
}

export type RegistrationState = 'registering' | 'registered' | 'degraded' | 'stopped';

/** How a registration ends (NodeRegistration.stop). */
export type StopHow = 'clean' | 'expire' | 'withdraw';

export interface RegistryEvents {
  onState(state: RegistrationState, reason?: string): void;
  /** The lease the agent's records (node record, actors' alive records) live under; undefined when lost. */
  onLease?(lease: Lease | undefined): void;
  /** The record was (re)written: a first registration, a new lease, or a record put back. */
  onRegistered?(): void;
  /** Each keepalive: answered (no argument) or failed (why). */
  onKeepalive?(failure?: string): void;
}

/** The agent of this record has started its parts: written before them (peers admit it by its record),
 * a head's record names its API only once that listens. What `up` and `new-or-update` wait for. */
export function recordServing(rec: NodeRecord): boolean {
  return !rec.roles.includes('head') || rec.api !== undefined;
}

export class NodeRegistration {
  private lease: Lease | undefined;
  /** Round trip of the last lease keepalive (ms): etcd's latency as this agent sees it, at no extra cost. */
  keepaliveMs: number | undefined;
  private record: NodeRecord;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 500;
  /** A retry's register() is under way. */
  private registering = false;
  /** The client connected again while it was: if it fails (its call was on the old connection), again at once. */
  private connectedMeanwhile = false;
  private readonly unwatchReach: (() => void) | undefined;
  state: RegistrationState = 'registering';

  private readonly etcd: Etcd3;
  private readonly cluster: string;
  private readonly events: RegistryEvents;

  constructor(etcd: Etcd3, cluster: string, record: NodeRecord, events: RegistryEvents) {
    this.etcd = etcd;
    this.cluster = cluster;
    this.record = record;
    this.events = events;
    this.unwatchReach = etcdReach(etcd)?.onConnected(() => {
      if (this.lease !== undefined || this.state !== 'degraded') return;
      if (this.registering) this.connectedMeanwhile = true;
      else this.scheduleRetry(0);
    });
  }

  /** First registration: throws if etcd refuses, so a start can fail fast. */
  async start(): Promise<void> {
    await this.register();
  }

  /** Register when etcd comes back (a start from the cached config while etcd is unreachable). */
  startInBackground(): void {
    this.setState('degraded', 'etcd unreachable at start');
    this.scheduleRetry();
  }

  /** Replace the record (labels changed, new addresses); kept on the same lease. */
  async update(record: NodeRecord): Promise<void> {
    this.record = this.record.lease ? { ...record, lease: this.record.lease } : record;
    if (this.lease && this.state === 'registered') {
      await this.lease.put(keys.node(this.cluster, record.name)).value(JSON.stringify(this.record));
    }
  }

  /** Our record was deleted while our lease lives (a head's verdict that we were dead, made while we were
   * paused or cut off from the mesh): put it back on the same lease, and say so (statuses are rewritten). */
  async reassert(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.state !== 'registered') return;
    await lease.put(keys.node(this.cluster, this.record.name)).value(JSON.stringify(this.record));
    this.events.onRegistered?.();
  }

  get leaseId(): Promise<string> | undefined {
    return this.lease?.grant();
  }

  /** `clean`: a clean stop, the record handed to a lease of NODE_STOP_GRACE_SECONDS (only while it is
   * still ours: under our lease); `expire` (and either, if etcd does not answer in time): left to the TTL;
   * `withdraw` (a start that failed after registering): the lease revoked, so the record and whatever else
   * it holds go at once — all of it this agent's own. */
  async stop(how: StopHow): Promise<void> {
    const wasRegistered = this.state === 'registered';
    this.setState('stopped');
    clearTimeout(this.retryTimer);
    this.unwatchReach?.();
    const lease = this.lease;
    this.lease = undefined;
    // Not revoked: the record and the actors' alive records stay until the TTL runs out, so an agent
    // restarted within it (an upgrade, a config change) moves none of its pods. The mesh has been told
    // (leave), and a node that does not come back is treated as gone after the TTL (or the grace).
    if (lease && how === 'clean' && wasRegistered)
      await withTimeout(this.handOver(), HANDOVER_TIMEOUT_MS, 'node record handover').catch(() => undefined);
    if (lease && how === 'withdraw' && wasRegistered)
      await withTimeout(lease.revoke(), HANDOVER_TIMEOUT_MS, 'node lease revoke').catch(() => undefined);
    lease?.release();
  }

  /** The record, marked stopped, put under a fresh lease of NODE_STOP_GRACE_SECONDS if it is still under
   * our lease (not deleted on a verdict, not replaced). */
  private async handOver(): Promise<void> {
    const ours = this.record.lease;
    if (!ours) return;
    const grace = this.etcd.lease(NODE_STOP_GRACE_SECONDS, { autoKeepAlive: false });
    try {
      const id = await grace.grant();
      const key = keys.node(this.cluster, this.record.name);
      const stopped: NodeRecord = { ...this.record, lease: id, stoppedAt: new Date().toISOString() };
      const res = await this.etcd
        .if(key, 'Lease', '==', ours)
        .then(this.etcd.put(key).value(JSON.stringify(stopped)).lease(id))
        .commit();
      if (!res.succeeded) await grace.revoke();
    } finally {
      grace.release();
    }
  }

  private async register(): Promise<void> {
    const lease = this.etcd.lease(NODE_LEASE_TTL_SECONDS, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.lease !== lease || this.state === 'stopped') return;
      this.lease = undefined;
      this.events.onLease?.(undefined);
      this.setState('degraded', `lease lost: ${shortReason(err)}`);
      this.scheduleRetry();
    });
    lease.on('keepaliveFailed', (err) => {
      if (this.lease === lease) this.events.onKeepalive?.(`lease keepalive: ${shortReason(err)}`);
      if (this.lease === lease && this.state === 'registered')
        this.setState('degraded', `keepalive failing: ${shortReason(err)}`);
    });
    let firedAt = 0;
    lease.on('keepaliveFired', () => {
      firedAt = performance.now();
    });
    lease.on('keepaliveSucceeded', () => {
      if (firedAt > 0) this.keepaliveMs = performance.now() - firedAt;
      if (this.lease === lease) this.events.onKeepalive?.();
      if (this.lease === lease && this.state === 'degraded') this.setState('registered');
    });
    this.lease = lease;
    try {
      this.record = { ...this.record, lease: await lease.grant() };
      await lease.put(keys.node(this.cluster, this.record.name)).value(JSON.stringify(this.record));
    } catch (err) {
      this.lease = undefined;
      lease.release();
      throw err;
    }
    this.backoffMs = 500;
    this.events.onLease?.(lease);
    this.setState('registered');
    this.events.onRegistered?.();
  }

  private scheduleRetry(delayMs = this.backoffMs): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.state === 'stopped') return;
      this.registering = true;
      this.connectedMeanwhile = false;
      this.register().then(
        () => {
          this.registering = false;
        },
        (err) => {
          this.registering = false;
          this.setState('degraded', `re-register failed: ${shortReason(err)}`);
          this.backoffMs = Math.min(this.backoffMs * 2, REGISTER_RETRY_MAX_MS);
          this.scheduleRetry(this.connectedMeanwhile ? 0 : this.backoffMs);
        },
      );
    }, delayMs);
    this.retryTimer.unref();
  }

  private setState(state: RegistrationState, reason?: string): void {
    if (this.state === state && state !== 'degraded') return;
    this.state = state;
    this.events.onState(state, reason);
  }
}

/** The names of the cordoned nodes (`nokube cordon`). */
export async function listCordoned(etcd: Etcd3, cluster: string): Promise<Set<string>> {
  const prefix = keys.cordonPrefix(cluster);
  const all = await etcd.getAll().prefix(prefix).keys();
  return new Set(all.map((k) => k.slice(prefix.length)));
}

export async function listNodes(etcd: Etcd3, cluster: string): Promise<NodeRecord[]> {
  const all = await etcd.getAll().prefix(keys.nodesPrefix(cluster)).strings();
  return Object.values(all)
    .map((v) => JSON.parse(v) as NodeRecord)
    .sort((a, b) => compareText(a.name, b.name));
}
