// The disruption controller on the leading head: PodDisruptionBudgets, the pods they cover (objects and
// statuses) and the Deployments whose scale they count, from the leader's informer caches, mark budgets
// dirty; one actor writes their statuses (disruption.ts) under the leader's fence. Each write holds only
// while the status is the one read (its mod revision): an eviction that spent the budget meanwhile
// (head/api/pod-eviction.ts) is never overwritten by a status computed before it; the lost write is
// computed again from the caches, which by then hold the eviction.
import type { AgentContext } from '../../agent/context.ts';
import { objectKey, type Stored, statusKey } from '../../agent/objects/store.ts';
import type { Deployment, Pod, PodDisruptionBudget } from '../../agent/objects/types.ts';
import { type Compare, guardedTxn } from '../../agent/store/guard.ts';
import type { Entry } from '../../agent/store/informer/informer.ts';
import type { Edge } from './actions.ts';
import type { LeaderCaches } from './caches.ts';
import { coveredPods, disruptionStatus } from './disruption.ts';
import { KeyedReconciler } from './keyed-reconciler.ts';

const RESOURCE = 'poddisruptionbudgets';

export class DisruptionController {
  private readonly caches: LeaderCaches;
  private readonly edge: () => Edge;
  /** Budgets (`<namespace>/<name>`) to look at. */
  private readonly keyed: KeyedReconciler<{ pods: Pod[]; deployments: Map<string, Deployment> }>;

  constructor(ctx: AgentContext, caches: LeaderCaches, edge: () => Edge) {
    this.caches = caches;
    this.edge = edge;
    this.keyed = new KeyedReconciler(
      ctx,
      caches,
      { kind: 'Disruption', name: 'budgets' },
      {
        prepare: () => ({
          pods: this.caches.list<Pod>('pods').map((p) => p.object),
          deployments: new Map(
            this.caches.list<Deployment>('deployments').map((d) => [d.object.metadata.uid, d.object]),
          ),
        }),
        each: (key, { pods, deployments }) => this.update(key, pods, deployments),
      },
    );
  }

  start(): void {
    const { caches, keyed } = this;
    const budgetChanged = (key: string) => keyed.mark(key);
    keyed.offs.push(
      caches.objects[RESOURCE]!.on({ add: budgetChanged, update: budgetChanged }),
      caches.statuses[RESOURCE]!.on({ add: budgetChanged, update: budgetChanged, delete: budgetChanged }),
    );
    this.keyed.followPods((pod) => this.markBudgetsOf(pod));
    // A Deployment scaled: the budgets of its namespace count its replicas.
    const deploymentChanged = (_k: string, e: Entry<Stored>) =>
      this.markNamespace(e.value.object.metadata.namespace);
    keyed.offs.push(
      caches.objects.deployments!.on({
        add: deploymentChanged,
        update: deploymentChanged,
        delete: deploymentChanged,
      }),
    );
  }

  stop(): void {
    this.keyed.stop();
  }

  /** Every budget again (the leader's resync). */
  resync(): void {
    for (const [key] of this.caches.objects[RESOURCE]!.entries()) this.keyed.mark(key);
  }

  private markNamespace(namespace: string | undefined): void {
    for (const [key] of this.caches.objects[RESOURCE]!.entries(`${namespace ?? 'default'}/`))
      this.keyed.mark(key);
  }

  /** The budgets of the pod's namespace that cover it. */
  private markBudgetsOf(pod: Pod): void {
    for (const [key, e] of this.caches.objects[RESOURCE]!.entries(`${pod.metadata.namespace}/`))
      if (coveredPods(e.value.object as PodDisruptionBudget, [pod]).length > 0) this.keyed.mark(key);
  }

  private async update(
    key: string,
    pods: readonly Pod[],
    deployments: ReadonlyMap<string, Deployment>,
  ): Promise<void> {
    const stored = this.caches.get<PodDisruptionBudget>(RESOURCE, key);
    if (!stored) return;
    const pdb = stored.object;
    const { status, wakeAt } = disruptionStatus(pdb, { pods, deployments, nowMs: Date.now() });
    if (wakeAt !== undefined) this.keyed.kickAt(wakeAt);
    if (sameStatus(pdb.status, status)) return;
    const { etcd, cluster, guard } = this.edge();
    const ref = {
      kind: 'PodDisruptionBudget' as const,
      namespace: pdb.metadata.namespace,
      name: pdb.metadata.name,
    };
    const had = this.caches.statuses[RESOURCE]!.get(key);
    const statusNow: Compare = had
      ? { key: statusKey(cluster, ref), target: 'Mod', op: '==', value: had.modRevision }
      : { key: statusKey(cluster, ref), target: 'Version', op: '==', value: 0 };
    // Lost to an eviction (or a newer object): the caches bring what won, which marks the budget again.
    await guardedTxn(
      etcd,
      guard,
      { key: objectKey(cluster, ref), target: 'Create', op: '==', value: stored.createRevision },
      statusNow,
    )
      .then(etcd.put(statusKey(cluster, ref)).value(JSON.stringify(status)))
      .commit();
  }
}

/** The same status but for the conditions' transition times (kept when the status did not change). */
function sameStatus(
  a: PodDisruptionBudget['status'],
  b: NonNullable<PodDisruptionBudget['status']>,
): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
