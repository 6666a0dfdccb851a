// The pod statuses of this node on their way to etcd (the pods part's): the latest status reported per
// pod waits in `pending` until a write of it succeeded, then is `written`. A report is compared with the
// latest one reported (pending, or being written), never with the last one written alone: a status equal
// to the written one but reported after a different one that is still pending must replace it (else a
// pod that turned unready and ready again, or ready and unready again, while a write was in flight kept
// the middle status in etcd until its next change: an endpoint left in a Service's rules with its
// readiness probe failing). What is pending goes out in one batch (a burst of pod starts is one write);
// reports that arrive while writing go in the next pass.
import type { Pod, PodStatus } from '../objects/types.ts';

export interface StatusTarget {
  pod: Pod;
  createRevision: string;
}

export interface StatusQueueDeps {
  /** The pod a status is for, while it is on this node (else its pending status is dropped). */
  target(id: string): StatusTarget | undefined;
  /** Writes the batch (one etcd transaction per part of it); throws when etcd is away. */
  write(batch: Array<StatusTarget & { status: PodStatus }>): Promise<void>;
  /** A write failed: what was pending stays, for a later flush. */
  failed(err: unknown, count: number): void;
  /** Some statuses were written. */
  wrote(): void;
  stopped(): boolean;
}

/** Status without transition times: what decides whether it changed. */
export const stableStatus = (s: PodStatus) =>
  JSON.stringify({ ...s, conditions: s.conditions?.map(({ lastTransitionTime: _t, ...c }) => c) });

export class PodStatusQueue {
  /** Last status written per pod (its stable form, and itself). */
  readonly written = new Map<string, { stable: string; status: PodStatus }>();
  /** Statuses not yet written (the latest report of each pod). */
  readonly pending = new Map<string, PodStatus>();
  private readonly deps: StatusQueueDeps;
  private flushing = false;

  constructor(deps: StatusQueueDeps) {
    this.deps = deps;
  }

  /** The latest status of a pod: pending, else written. */
  latest(id: string): PodStatus | undefined {
    return this.pending.get(id) ?? this.written.get(id)?.status;
  }

  /** A status of the pod stored before (the local cache at start): counted as written. */
  remember(id: string, status: PodStatus): void {
    this.written.set(id, { stable: stableStatus(status), status });
  }

  /** The pod left this node. */
  forget(id: string): void {
    this.pending.delete(id);
    this.written.delete(id);
  }

  /** The written status of the pod once more (someone else spoke for it meanwhile), unless a newer one
   * is pending anyway. */
  rewrite(id: string): void {
    const w = this.written.get(id);
    if (w && !this.pending.has(id)) this.pending.set(id, w.status);
  }

  report(id: string, status: PodStatus): void {
    const pending = this.pending.get(id);
    const prev = pending ?? this.written.get(id)?.status;
    const s = stableStatus(status);
    if (pending ? stableStatus(pending) === s : this.written.get(id)?.stable === s) return;
    // Keep the transition time of conditions that did not change.
    for (const c of status.conditions ?? []) {
      const before = prev?.conditions?.find((p) => p.type === c.type);
      if (before && before.status === c.status) c.lastTransitionTime = before.lastTransitionTime;
    }
    this.pending.set(id, status);
    void this.flush();
  }

  /** Writes until nothing is pending (or a write fails, or the part stops). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.size > 0 && !this.deps.stopped()) {
        const batch: Array<StatusTarget & { id: string; status: PodStatus }> = [];
        for (const [id, status] of this.pending) {
          const target = this.deps.target(id);
          if (target) batch.push({ id, status, pod: target.pod, createRevision: target.createRevision });
          else this.pending.delete(id);
        }
        if (batch.length === 0) break;
        try {
          await this.deps.write(batch);
        } catch (err) {
          this.deps.failed(err, batch.length);
          return;
        }
        for (const { id, status } of batch) {
          // A newer report meanwhile stays pending: the next pass writes it.
          if (this.pending.get(id) === status) this.pending.delete(id);
          this.written.set(id, { stable: stableStatus(status), status });
        }
        this.deps.wrote();
      }
    } finally {
      this.flushing = false;
    }
  }
}
