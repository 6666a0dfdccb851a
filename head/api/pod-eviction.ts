// The eviction API, as Kubernetes' pods/eviction subresource: a pod deleted (gracefully) only if no
// PodDisruptionBudget that covers it would be violated — `nokube drain` evicts through it. One budget at
// most per pod (more is an error, as in k8s). A healthy (Ready) pod spends one of the budget's
// `disruptionsAllowed` and is noted in its `disruptedPods` in the very transaction that deletes it, which
// holds only while the budget's status is the one read: two evictions racing for the last disruption
// cannot both pass (the loser reads again). A pod that is not healthy goes without spending anything when
// the budget is met anyway (`IfHealthyBudget`, the default) or always (`AlwaysAllow`); a pod already
// terminating, terminated, or not yet running goes as a delete does. Refusals are 429 with k8s' words.
import type { Etcd3 } from 'etcd3';
import { NotFoundError } from '../../agent/objects/apply.ts';
import { deletePod, type PodDeletionOutcome } from '../../agent/objects/pod-deletion.ts';
import { getObject, listObjects, type ObjectRef, statusKey } from '../../agent/objects/store.ts';
import type { Pod, PodDisruptionBudget, PodDisruptionBudgetStatus } from '../../agent/objects/types.ts';
import type { Compare } from '../../agent/store/guard.ts';
import { coveredPods } from '../controllers/disruption.ts';
import { isReady, isTerminal } from '../controllers/world.ts';
import { HttpError } from './http-error.ts';

/** Attempts when the pod or the budget changed between the read and the transaction. */
const ATTEMPTS = 5;

export interface EvictionResult {
  pod: string;
  namespace: string;
  outcome: Exclude<PodDeletionOutcome, 'conflict'>;
  /** The budget spent, when one was. */
  budget?: string;
}

const violation = (b: PodDisruptionBudget, st: PodDisruptionBudgetStatus) =>
  new HttpError(
    429,
    `Cannot evict pod as it would violate the pod's disruption budget: the disruption budget ${b.metadata.name} needs ${st.desiredHealthy} healthy pods and has ${st.currentHealthy} currently`,
  );

/** Evict the pod `ref` (see the top of this file). */
export async function evictPod(
  etcd: Etcd3,
  cluster: string,
  ref: ObjectRef & { kind: 'Pod'; namespace: string },
  opts: { gracePeriodSeconds?: number; nowMs?: number } = {},
): Promise<EvictionResult> {
  const base = { pod: ref.name, namespace: ref.namespace };
  const grace = opts.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: opts.gracePeriodSeconds };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const stored = await getObject(etcd, cluster, ref);
    if (!stored) throw new NotFoundError(`pods "${ref.name}" not found`);
    const pod = stored.object as Pod;
    const plain = async () => deletePod(etcd, cluster, stored as never, grace);
    // Nothing to protect: already going, done, or never started.
    if (
      pod.metadata.deletionTimestamp ||
      isTerminal(pod) ||
      !pod.spec.nodeName ||
      pod.status?.phase === 'Pending'
    ) {
      const outcome = await plain();
      if (outcome !== 'conflict') return { ...base, outcome };
      continue;
    }
    const budgets = (await listObjects(etcd, cluster, 'PodDisruptionBudget', ref.namespace)).filter(
      (b) => coveredPods(b.object, [pod]).length > 0,
    );
    if (budgets.length > 1)
      throw new HttpError(
        500,
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      );
    const budget = budgets[0];
    if (!budget) {
      const outcome = await plain();
      if (outcome !== 'conflict') return { ...base, outcome };
      continue;
    }
    const b = budget.object;
    const key = statusKey(cluster, {
      kind: 'PodDisruptionBudget',
      namespace: ref.namespace,
      name: b.metadata.name,
    });
    const kv = (await etcd.get(key).exec()).kvs[0];
    const st = kv ? (JSON.parse(kv.value.toString('utf8')) as PodDisruptionBudgetStatus) : undefined;
    if (!st || st.observedGeneration < b.metadata.generation)
      throw new HttpError(
        429,
        `The disruption budget ${b.metadata.name} is still being processed by the server.`,
      );
    const unchanged: Compare = { key, target: 'Mod', op: '==', value: kv!.mod_revision };
    if (!isReady(pod)) {
      // An unhealthy pod costs the application nothing it has now.
      const free =
        b.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow' || st.currentHealthy >= st.desiredHealthy;
      if (!free) throw violation(b, st);
      const outcome = await deletePod(etcd, cluster, stored as never, {
        ...grace,
        also: { compares: [unchanged], ops: [] },
      });
      if (outcome !== 'conflict') return { ...base, outcome };
      continue;
    }
    if (st.disruptionsAllowed <= 0) throw violation(b, st);
    const spent: PodDisruptionBudgetStatus = {
      ...st,
      disruptionsAllowed: st.disruptionsAllowed - 1,
      disruptedPods: {
        ...st.disruptedPods,
        [pod.metadata.name]: new Date(opts.nowMs ?? Date.now()).toISOString(),
      },
    };
    const outcome = await deletePod(etcd, cluster, stored as never, {
      ...grace,
      ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
      also: { compares: [unchanged], ops: [etcd.put(key).value(JSON.stringify(spent))] },
    });
    if (outcome !== 'conflict') return { ...base, outcome, budget: b.metadata.name };
  }
  throw new HttpError(429, `pods "${ref.name}": the pod or its disruption budget kept changing; try again`);
}
