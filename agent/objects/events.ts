// Events about objects (k8s Event shape: type, reason, message, count, first/last timestamp, source),
// kept one hour in etcd under a shared lease (one lease per recorder, replaced every 10 minutes, so an
// event lives between 60 and 70 minutes). The same event repeated is one key with a growing count.
// Writes go through a bounded queue, what queued meanwhile in one transaction: a burst of events never
// blocks or bloats the agent.
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import { shortReason } from '../store/etcd.ts';
import { guardedTxn, NO_GUARD } from '../store/guard.ts';
import { keys } from '../store/keys.ts';
import { compareText } from '../text/compare.ts';
import type { ObjectRef } from './store.ts';
import { namespaced, RESOURCE } from './types.ts';

export const EVENT_TTL_SECONDS = 3600;
const LEASE_ROTATE_MS = 10 * 60_000;
const QUEUE_LIMIT = 1000;
/** Events written in one transaction at most (etcd takes 128 operations in one). */
const EVENTS_PER_TXN = 100;
const REPEAT_MEMORY = 2000;

/** What an event is about: an object, or a node (events/_cluster/nodes/<name>/: the agent's own matters,
 * such as its certificate's expiry). */
export type EventSubject = (ObjectRef | { kind: 'Node'; name: string; namespace?: undefined }) & {
  uid?: string;
};

export interface KubeEvent {
  involvedObject: EventSubject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
}

/** Events of one object, newest last (what `describe` shows). */
export async function listEvents(etcd: Etcd3, cluster: string, ref: EventSubject): Promise<KubeEvent[]> {
  const all = await etcd.getAll().prefix(eventsKeyPrefix(cluster, ref)).strings();
  return Object.values(all)
    .map((v) => JSON.parse(v) as KubeEvent)
    .sort((a, b) => compareText(a.lastTimestamp, b.lastTimestamp));
}

export function eventsKeyPrefix(cluster: string, ref: EventSubject): string {
  if (ref.kind === 'Node') return keys.eventsOf(cluster, '_cluster', 'nodes', ref.name);
  const ns = namespaced(ref.kind) ? (ref.namespace ?? 'default') : '_cluster';
  return keys.eventsOf(cluster, ns, RESOURCE[ref.kind], ref.name);
}

export class EventRecorder {
  private lease: Lease | undefined;
  private leaseBorn = 0;
  private readonly queue: Array<{ key: string; event: KubeEvent }> = [];
  private draining = false;
  private seq = 0;
  /** (object, reason, message) -> the key and count of the last such event, for counting repeats. */
  private readonly repeats = new Map<string, { key: string; event: KubeEvent }>();
  dropped = 0;
  private readonly etcd: Etcd3;
  private readonly cluster: string;
  private readonly source: KubeEvent['source'];
  private readonly log: Logger;

  constructor(etcd: Etcd3, cluster: string, source: KubeEvent['source'], log: Logger) {
    this.etcd = etcd;
    this.cluster = cluster;
    this.source = source;
    this.log = log;
  }

  normal(ref: EventSubject, reason: string, message: string): void {
    this.record(ref, 'Normal', reason, message);
  }

  warning(ref: EventSubject, reason: string, message: string): void {
    this.record(ref, 'Warning', reason, message);
  }

  record(ref: EventSubject, type: KubeEvent['type'], reason: string, message: string): void {
    const now = new Date().toISOString();
    const id = `${eventsKeyPrefix(this.cluster, ref)}|${reason}|${message}`;
    const last = this.repeats.get(id);
    let entry: { key: string; event: KubeEvent };
    if (last) {
      entry = { key: last.key, event: { ...last.event, count: last.event.count + 1, lastTimestamp: now } };
      this.repeats.delete(id);
    } else {
      const key = `${eventsKeyPrefix(this.cluster, ref)}${now}-${String(this.seq++ % 1e6).padStart(6, '0')}`;
      const involvedObject = { ...ref };
      entry = {
        key,
        event: {
          involvedObject,
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: this.source,
        },
      };
    }
    this.repeats.set(id, entry);
    if (this.repeats.size > REPEAT_MEMORY) this.repeats.delete(this.repeats.keys().next().value!);
    if (this.queue.length >= QUEUE_LIMIT) {
      this.dropped++;
      return;
    }
    this.queue.push(entry);
    void this.drain();
  }

  /** Wait until the queue is written (tests, orderly stop). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining) await new Promise((r) => setTimeout(r, 20));
  }

  stop(): void {
    this.queue.length = 0;
    this.lease?.release();
    this.lease = undefined;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        // What has queued meanwhile goes in one transaction; a repeat's later count replaces its earlier
        // one (etcd refuses a key twice in a transaction).
        const batch = new Map<string, KubeEvent>();
        for (const { key, event } of this.queue.splice(0, EVENTS_PER_TXN)) batch.set(key, event);
        try {
          const lease = await this.currentLease();
          const id = await lease.grant();
          await guardedTxn(this.etcd, NO_GUARD)
            .then(
              ...[...batch].map(([key, event]) => this.etcd.put(key).value(JSON.stringify(event)).lease(id)),
            )
            .commit();
        } catch (err) {
          this.dropped += batch.size;
          this.log.debug({ err: shortReason(err), events: batch.size }, 'event write failed (dropped)');
          this.lease = undefined;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async currentLease(): Promise<Lease> {
    if (!this.lease || Date.now() - this.leaseBorn > LEASE_ROTATE_MS) {
      // The old lease keeps its events until it expires; it is not kept alive.
      this.lease?.release();
      this.lease = this.etcd.lease(EVENT_TTL_SECONDS, { autoKeepAlive: false });
      this.leaseBorn = Date.now();
      await this.lease.grant();
    }
    return this.lease;
  }
}
