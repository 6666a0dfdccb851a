// The EndpointSlice controller on the leading head: Services, pods (objects and statuses) and our own
// slices, from the leader's informer caches, mark Services dirty; one actor reconciles the dirty ones
// (endpointslices.ts) and writes under the leader's fence. A readiness change reaches the slices within
// the actor's kick delay (50 ms) plus one write: no polling. A slice of ours changed or deleted by hand is
// put back; slices of a Service deleted while no head led are removed when the caches first list.
import type { AgentContext } from '../../agent/context.ts';
import type { Stored } from '../../agent/objects/store.ts';
import {
  type EndpointSlice,
  MANAGED_BY_LABEL,
  MANAGED_BY_NOKUBE,
  type Pod,
  SERVICE_NAME_LABEL,
  type Service,
} from '../../agent/objects/types.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import { applyActions, type Edge } from './actions.ts';
import { ControllerActor } from './actor.ts';
import type { LeaderCaches } from './caches.ts';
import { reconcileEndpointSlices, selects } from './endpointslices.ts';

export class EndpointSliceController {
  private readonly caches: LeaderCaches;
  private readonly edge: () => Edge;
  private readonly actor: ControllerActor;
  /** Services (`<namespace>/<name>`) to reconcile. */
  private readonly dirty = new Set<string>();
  private readonly offs: Array<() => void> = [];
  private stopped = false;

  constructor(ctx: AgentContext, caches: LeaderCaches, edge: () => Edge) {
    this.caches = caches;
    this.edge = edge;
    this.actor = new ControllerActor(
      ctx,
      { namespace: '_cluster', kind: 'EndpointSlices', name: 'services', uid: '' },
      () => this.reconcile(),
      false,
    );
  }

  start(): void {
    const { caches } = this;
    const serviceChanged = (key: string) => this.mark(key);
    this.offs.push(
      caches.objects.services!.on({ add: serviceChanged, update: serviceChanged, delete: serviceChanged }),
    );
    const sliceChanged = (_k: string, e: Entry<Stored>) => {
      const s = e.value.object as EndpointSlice;
      const labels = s.metadata.labels ?? {};
      if (labels[MANAGED_BY_LABEL] === MANAGED_BY_NOKUBE && labels[SERVICE_NAME_LABEL])
        this.mark(`${s.metadata.namespace}/${labels[SERVICE_NAME_LABEL]}`);
    };
    this.offs.push(
      caches.objects.endpointslices!.on({ add: sliceChanged, update: sliceChanged, delete: sliceChanged }),
    );
    const podChanged = (_k: string, e: Entry<Stored>) => this.markServicesOf(e.value.object as Pod);
    const podUpdated = (k: string, e: Entry<Stored>, old: Entry<Stored>) => {
      podChanged(k, e);
      podChanged(k, old);
    };
    this.offs.push(caches.objects.pods!.on({ add: podChanged, update: podUpdated, delete: podChanged }));
    const statusChanged = (key: string) => {
      const pod = caches.objects.pods!.get(key);
      if (pod) this.markServicesOf(pod.value.object as Pod);
    };
    this.offs.push(
      caches.statuses.pods!.on({ add: statusChanged, update: statusChanged, delete: statusChanged }),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    this.actor.stop();
  }

  /** Every Service again (the leader's resync). */
  resync(): void {
    for (const [key] of this.caches.objects.services!.entries()) this.dirty.add(key);
    this.actor.kick();
  }

  private mark(key: string): void {
    this.dirty.add(key);
    this.actor.kick();
  }

  /** The Services of the pod's namespace whose selector picks it. */
  private markServicesOf(pod: Pod): void {
    for (const [key, e] of this.caches.objects.services!.entries(`${pod.metadata.namespace}/`))
      if (selects(e.value.object as Service, pod)) this.mark(key);
  }

  private async reconcile(): Promise<void> {
    await this.caches.synced();
    await this.caches.seenOwnWrites();
    const keys = [...this.dirty];
    this.dirty.clear();
    const slices = this.caches.list<EndpointSlice>('endpointslices');
    const pods = this.caches.list<Pod>('pods').map((p) => p.object);
    for (const [i, key] of keys.entries()) {
      if (this.stopped) return;
      const [namespace, name] = key.split('/') as [string, string];
      const stored = this.caches.get<Service>('services', key);
      const actions = reconcileEndpointSlices(namespace, name, stored?.object, pods, slices);
      const owner = {
        ref: { kind: 'Service' as const, namespace, name, uid: stored?.object.metadata.uid ?? '' },
        createRevision: stored?.createRevision ?? '0',
      };
      // A write that lost a race is not retried here: what beat it (a change of the slice) reaches the
      // caches and marks the Service again. A failure (etcd away) retries the rest with back-off.
      try {
        if (actions.length > 0) await applyActions(this.edge(), owner, actions);
      } catch (err) {
        for (const k of keys.slice(i)) this.dirty.add(k);
        throw err;
      }
    }
  }
}
