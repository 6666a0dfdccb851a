// Events about objects (k8s Event shape: type, reason, message, count, first/last timestamp, source),
// kept one hour in etcd under a shared lease (one lease per recorder, replaced every 10 minutes, so an
// event lives between 60 and 70 minutes). The same event repeated is one key with a growing count, and
// similar events (one object, type and reason, ten different messages within ten minutes: a scale-up's
// "Created pod: …" on its owner) are folded into one "(combined from similar events)" event as k8s'
// EventCorrelator does: a 10,000-pod scale-up writes a handful of SuccessfulCreate events, not 10,000.
// Writes go through a bounded queue (a key already queued is replaced in place, it takes no new room),
// what queued meanwhile in one transaction: a burst of events never blocks or bloats the agent.
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
/** k8s' EventAggregator: this many different messages of one object, type and reason within the window
 * and the rest are combined into one event. */
const AGGREGATE_MAX = 10;
const AGGREGATE_WINDOW_MS = 10 * 60_000;
export const COMBINED_PREFIX = '(combined from similar events): ';

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

/** Past REPEAT_MEMORY entries, the oldest quarter goes at once: a Map deleted from its front one entry per
 * insert keeps a run of holes that every `keys().next()` walks (a sixth of the recorder's time in a
 * 10,000-pod scale-up). */
function forgetOldest(map: Map<string, unknown>): void {
  if (map.size <= REPEAT_MEMORY) return;
  let n = map.size - (REPEAT_MEMORY * 3) / 4;
  for (const key of map.keys()) {
    if (n-- <= 0) break;
    map.delete(key);
  }
}

export class EventRecorder {
  private lease: Lease | undefined;
  private leaseBorn = 0;
  /** Events to write by key, in order; a newer count of a queued key replaces it in place. */
  private readonly queue = new Map<string, KubeEvent>();
  private draining = false;
  private seq = 0;
  private stampMs = 0;
  private stamp = '';
  /** (object, type, reason, message), or (object, type, reason) once combined -> the key and count of the
   * last such event, for counting repeats. */
  private readonly repeats = new Map<string, { key: string; event: KubeEvent }>();
  /** (object, type, reason) -> when the window began and the different messages seen in it (the first
   * alone until a second one comes: most objects have one message of a kind). */
  private readonly similar = new Map<string, { since: number; first: string; messages?: Set<string> }>();
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
    const nowMs = Date.now();
    // A burst records many events within one millisecond: its timestamp is formatted once.
    if (nowMs !== this.stampMs) {
      this.stampMs = nowMs;
      this.stamp = new Date(nowMs).toISOString();
    }
    const now = this.stamp;
    const prefix = eventsKeyPrefix(this.cluster, ref);
    const combined = this.isCombined(`${prefix}|${type}|${reason}`, message, nowMs);
    if (combined) message = `${COMBINED_PREFIX}${message}`;
    // A combined event is one key for all its messages: its count grows, its message is the latest.
    const id = combined ? `${prefix}|${type}|${reason}|combined` : `${prefix}|${type}|${reason}|${message}`;
    const last = this.repeats.get(id);
    // A new event finds no room while the queue is full: it is dropped before anything is built for it
    // (a 10,000-pod scale-up's Scheduled events, one per pod, mostly end here while etcd is busy).
    if (!last && this.queue.size >= QUEUE_LIMIT) {
      this.dropped++;
      return;
    }
    let entry: { key: string; event: KubeEvent };
    if (last) {
      entry = {
        key: last.key,
        event: { ...last.event, message, count: last.event.count + 1, lastTimestamp: now },
      };
      this.repeats.delete(id);
    } else {
      const key = `${prefix}${now}-${String(this.seq++ % 1e6).padStart(6, '0')}`;
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
    forgetOldest(this.repeats);
    if (!this.queue.has(entry.key) && this.queue.size >= QUEUE_LIMIT) {
      this.dropped++;
      return;
    }
    this.queue.set(entry.key, entry.event);
    void this.drain();
  }

  /** Whether the message is one of more than AGGREGATE_MAX - 1 different ones of its kind in the window. */
  private isCombined(kind: string, message: string, nowMs: number): boolean {
    const seen = this.similar.get(kind);
    if (!seen || nowMs - seen.since > AGGREGATE_WINDOW_MS) {
      this.similar.delete(kind);
      this.similar.set(kind, { since: nowMs, first: message });
      forgetOldest(this.similar);
      return false;
    }
    if (message === seen.first && !seen.messages) return false;
    seen.messages ??= new Set([seen.first]);
    if (seen.messages.size >= AGGREGATE_MAX) return true;
    seen.messages.add(message);
    return seen.messages.size >= AGGREGATE_MAX;
  }

  /** Wait until the queue is written (tests, orderly stop). */
  async flush(): Promise<void> {
    while (this.queue.size > 0 || this.draining) await new Promise((r) => setTimeout(r, 20));
  }

  stop(): void {
    this.queue.clear();
    this.lease?.release();
    this.lease = undefined;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.size > 0) {
        // What has queued meanwhile goes in one transaction (a key once: a repeat replaced it in the queue).
        const batch = new Map<string, KubeEvent>();
        for (const [key, event] of this.queue) {
          if (batch.size === EVENTS_PER_TXN) break;
          batch.set(key, event);
          this.queue.delete(key);
        }
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
