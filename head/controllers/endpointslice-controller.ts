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
import type { LeaderCaches } from './caches.ts';
import { reconcileEndpointSlices, selects } from './endpointslices.ts';
import { KeyedReconciler } from './keyed-reconciler.ts';

export class EndpointSliceController {
  private readonly caches: LeaderCaches;
  private readonly edge: () => Edge;
  /** Services (`<namespace>/<name>`) to reconcile. */
  private readonly keyed: KeyedReconciler<{ slices: Array<Stored<EndpointSlice>>; pods: Pod[] }>;

  constructor(ctx: AgentContext, caches: LeaderCaches, edge: () => Edge) {
    this.caches = caches;
    this.edge = edge;
    this.keyed = new KeyedReconciler(
      ctx,
      caches,
      { kind: 'EndpointSlices', name: 'services' },
      {
        prepare: () => ({
          slices: this.caches.list<EndpointSlice>('endpointslices'),
          pods: this.caches.list<Pod>('pods').map((p) => p.object),
        }),
        each: (key, { slices, pods }) => this.reconcileService(key, slices, pods),
      },
    );
  }

  start(): void {
    const { caches } = this;
    const serviceChanged = (key: string) => this.mark(key);
    this.keyed.offs.push(
      caches.objects.services!.on({ add: serviceChanged, update: serviceChanged, delete: serviceChanged }),
    );
    const sliceChanged = (_k: string, e: Entry<Stored>) => {
      const s = e.value.object as EndpointSlice;
      const labels = s.metadata.labels ?? {};
      if (labels[MANAGED_BY_LABEL] === MANAGED_BY_NOKUBE && labels[SERVICE_NAME_LABEL])
        this.mark(`${s.metadata.namespace}/${labels[SERVICE_NAME_LABEL]}`);
    };
    this.keyed.offs.push(
      caches.objects.endpointslices!.on({ add: sliceChanged, update: sliceChanged, delete: sliceChanged }),
    );
    this.keyed.followPods((pod) => this.markServicesOf(pod));
  }

  stop(): void {
    this.keyed.stop();
  }

  /** Every Service again (the leader's resync). */
  resync(): void {
    for (const [key] of this.caches.objects.services!.entries()) this.mark(key);
  }

  private mark(key: string): void {
    this.keyed.mark(key);
  }

  /** The Services of the pod's namespace whose selector picks it. */
  private markServicesOf(pod: Pod): void {
    for (const [key, e] of this.caches.objects.services!.entries(`${pod.metadata.namespace}/`))
      if (selects(e.value.object as Service, pod)) this.mark(key);
  }

  // A write that lost a race is not retried here: what beat it (a change of the slice) reaches the caches
  // and marks the Service again. A failure (etcd away) retries the rest with back-off.
  private async reconcileService(
    key: string,
    slices: Array<Stored<EndpointSlice>>,
    pods: Pod[],
  ): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const stored = this.caches.get<Service>('services', key);
    const actions = reconcileEndpointSlices(namespace, name, stored?.object, pods, slices);
    const owner = {
      ref: { kind: 'Service' as const, namespace, name, uid: stored?.object.metadata.uid ?? '' },
      createRevision: stored?.createRevision ?? '0',
    };
    if (actions.length > 0) await applyActions(this.edge(), owner, actions);
  }
}
