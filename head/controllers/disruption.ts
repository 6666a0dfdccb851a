// A PodDisruptionBudget's status, as Kubernetes' disruption controller computes it (pure): of the pods its
// selector picks, how many are healthy (Ready, not being deleted, not just evicted), how many must stay
// so, and so how many may be evicted now. The eviction API (head/api/pod-eviction.ts) spends
// `disruptionsAllowed` one pod at a time and notes each pod in `disruptedPods` until this controller sees
// it terminating (or, after DISRUPTED_POD_TIMEOUT_MS, forgets it: the delete did not happen).
//   maxUnavailable N or P%: expected = the pods' controllers' scale; desired = expected − N (P% of it,
//                           rounded up).
//   minAvailable N:         desired = N; expected = the pods picked.
//   minAvailable P%:        expected = the controllers' scale; desired = P% of it, rounded up.
//   neither:                nothing is expected: no disruption allowed (k8s alike).
// A controller's scale is a Deployment's `replicas`; pods of any other controller (DaemonSet, Job) make
// the percentage and maxUnavailable forms fail (SyncFailed, nothing allowed), as k8s' "found no
// controllers"; pods with no controller are left out of the scale.

import type {
  Condition,
  Deployment,
  Pod,
  PodDisruptionBudget,
  PodDisruptionBudgetStatus,
} from '../../agent/objects/types.ts';
import { selectorMatches } from '../../agent/objects/validate-rules.ts';
import { condition, controllerOf, isReady } from './world.ts';

/** k8s' DeletionTimeout: an eviction whose pod is not seen terminating within this long is forgotten. */
export const DISRUPTED_POD_TIMEOUT_MS = 120_000;

/** The pods a budget covers: its namespace's pods its selector picks (an absent selector picks none). */
export function coveredPods(pdb: PodDisruptionBudget, pods: readonly Pod[]): Pod[] {
  const { selector } = pdb.spec;
  if (!selector) return [];
  return pods.filter(
    (p) =>
      p.metadata.namespace === pdb.metadata.namespace && selectorMatches(selector, p.metadata.labels ?? {}),
  );
}

/** A count, or a percentage of `total` rounded up (k8s' GetScaledValueFromIntOrPercent). */
export function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  return Math.ceil((Number(value.slice(0, -1)) * total) / 100);
}

class NoScaleError extends Error {}

/** The scale of the pods' controllers, each counted once (pods without a controller left out). */
function expectedScale(pods: readonly Pod[], deployments: ReadonlyMap<string, Deployment>): number {
  const seen = new Set<string>();
  let total = 0;
  for (const p of pods) {
    const owner = controllerOf(p);
    if (!owner || seen.has(owner.uid)) continue;
    seen.add(owner.uid);
    const d = owner.kind === 'Deployment' ? deployments.get(owner.uid) : undefined;
    if (!d) throw new NoScaleError(`found no controllers for pod "${p.metadata.name}"`);
    total += d.spec.replicas ?? 1;
  }
  return total;
}

export interface DisruptionView {
  /** Every pod of the budget's namespace (with status). */
  pods: readonly Pod[];
  /** The namespace's Deployments by uid. */
  deployments: ReadonlyMap<string, Deployment>;
  nowMs: number;
}

/** The budget's status now, and when it should be looked at again (an eviction noted to forget). */
export function disruptionStatus(
  pdb: PodDisruptionBudget,
  view: DisruptionView,
): { status: PodDisruptionBudgetStatus; wakeAt?: number } {
  const { nowMs } = view;
  const now = new Date(nowMs).toISOString();
  const pods = coveredPods(pdb, view.pods);
  const byName = new Map(pods.map((p) => [p.metadata.name, p]));
  const disruptedPods: Record<string, string> = {};
  let wakeAt: number | undefined;
  for (const [name, at] of Object.entries(pdb.status?.disruptedPods ?? {})) {
    const pod = byName.get(name);
    const until = Date.parse(at) + DISRUPTED_POD_TIMEOUT_MS;
    if (!pod || pod.metadata.deletionTimestamp || !(until > nowMs)) continue;
    disruptedPods[name] = at;
    wakeAt = Math.min(wakeAt ?? until, until);
  }
  const currentHealthy = pods.filter(
    (p) => !p.metadata.deletionTimestamp && isReady(p) && !(p.metadata.name in disruptedPods),
  ).length;
  const { minAvailable, maxUnavailable } = pdb.spec;
  let expectedPods = 0;
  let desiredHealthy = 0;
  let failure: string | undefined;
  try {
    if (maxUnavailable !== undefined) {
      expectedPods = expectedScale(pods, view.deployments);
      desiredHealthy = Math.max(0, expectedPods - scaled(maxUnavailable, expectedPods));
    } else if (typeof minAvailable === 'number') {
      desiredHealthy = minAvailable;
      expectedPods = pods.length;
    } else if (minAvailable !== undefined) {
      expectedPods = expectedScale(pods, view.deployments);
      desiredHealthy = scaled(minAvailable, expectedPods);
    }
  } catch (err) {
    if (!(err instanceof NoScaleError)) throw err;
    failure = err.message;
  }
  const allowed = failure || expectedPods <= 0 ? 0 : Math.max(0, currentHealthy - desiredHealthy);
  const prev = pdb.status?.conditions;
  const cond: Condition = failure
    ? condition(prev, 'DisruptionAllowed', 'False', 'SyncFailed', failure, now)
    : allowed > 0
      ? condition(prev, 'DisruptionAllowed', 'True', 'SufficientPods', '', now)
      : condition(prev, 'DisruptionAllowed', 'False', 'InsufficientPods', '', now);
  const status: PodDisruptionBudgetStatus = {
    observedGeneration: pdb.metadata.generation,
    ...(Object.keys(disruptedPods).length > 0 ? { disruptedPods } : {}),
    disruptionsAllowed: allowed,
    currentHealthy,
    desiredHealthy,
    expectedPods,
    conditions: [cond],
  };
  return wakeAt === undefined ? { status } : { status, wakeAt };
}
