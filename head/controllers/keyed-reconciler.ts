// What the leader's per-key controllers share (EndpointSlices by Service, disruption budgets): informer
// handlers mark keys dirty; one actor takes the dirty keys in turn once the caches hold the leader's own
// writes, with what `prepare` reads once per pass. A key that throws puts it and the rest back (the actor
// retries with back-off); what a key's write lost to comes through the caches and marks it again.
import type { AgentContext } from '../../agent/context.ts';
import type { Stored } from '../../agent/objects/store.ts';
import type { Pod } from '../../agent/objects/types.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import { ControllerActor } from './actor.ts';
import type { LeaderCaches } from './caches.ts';

export class KeyedReconciler<P> {
  private readonly caches: LeaderCaches;
  private readonly actor: ControllerActor;
  private readonly dirty = new Set<string>();
  /** Handlers to remove at stop. */
  readonly offs: Array<() => void> = [];
  private stopped = false;
  private readonly pass: { prepare: () => P; each: (key: string, prepared: P) => Promise<void> };

  constructor(
    ctx: AgentContext,
    caches: LeaderCaches,
    at: { kind: string; name: string },
    pass: { prepare: () => P; each: (key: string, prepared: P) => Promise<void> },
  ) {
    this.caches = caches;
    this.pass = pass;
    this.actor = new ControllerActor(
      ctx,
      { namespace: '_cluster', ...at, uid: '' },
      () => this.reconcile(),
      false,
    );
  }

  /** `markOf` each pod added, changed (as it was and as it is), deleted, or whose status changed. */
  followPods(markOf: (pod: Pod) => void): void {
    const { caches } = this;
    const podChanged = (_k: string, e: Entry<Stored>) => markOf(e.value.object as Pod);
    const podUpdated = (k: string, e: Entry<Stored>, old: Entry<Stored>) => {
      podChanged(k, e);
      podChanged(k, old);
    };
    this.offs.push(caches.objects.pods!.on({ add: podChanged, update: podUpdated, delete: podChanged }));
    const statusChanged = (key: string) => {
      const pod = caches.objects.pods!.get(key);
      if (pod) markOf(pod.value.object as Pod);
    };
    this.offs.push(
      caches.statuses.pods!.on({ add: statusChanged, update: statusChanged, delete: statusChanged }),
    );
  }

  mark(key: string): void {
    this.dirty.add(key);
    this.actor.kick();
  }

  /** Look at every key again at `at` (ms since the epoch). */
  kickAt(at: number): void {
    this.actor.kickAt(at);
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    this.actor.stop();
  }

  private async reconcile(): Promise<void> {
    await this.caches.synced();
    await this.caches.seenOwnWrites();
    const keys = [...this.dirty];
    this.dirty.clear();
    const prepared = this.pass.prepare();
    for (const [i, key] of keys.entries()) {
      if (this.stopped) return;
      try {
        await this.pass.each(key, prepared);
      } catch (err) {
        for (const k of keys.slice(i)) this.dirty.add(k);
        throw err;
      }
    }
  }
}
