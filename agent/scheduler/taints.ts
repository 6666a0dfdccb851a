// Taints and tolerations (k8s): a node's taint keeps off pods that do not tolerate it. NoSchedule and
// NoExecute: a filter (NoExecute also evicts bound pods, head/controllers/taint-eviction.ts);
// PreferNoSchedule: a score (fewer such taints untolerated ranks higher).
import type { Toleration } from '../objects/types.ts';
import type { Checker, Scorer } from './types.ts';

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

/** k8s ToleratesTaint: effect empty or equal; key empty (with Exists: every taint) or equal; Exists, or
 * Equal (the default) with the same value. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

export const toleratedBy = (tolerations: readonly Toleration[] | undefined, taint: Taint): boolean =>
  (tolerations ?? []).some((t) => tolerates(t, taint));

/** How long tolerations keep a pod bound under a NoExecute taint (k8s' taint manager): null when none
 * tolerates it, Infinity when one tolerates it without `tolerationSeconds`, else the shortest of those
 * with seconds (not below 0). */
export function noExecuteToleration(
  tolerations: readonly Toleration[] | undefined,
  taint: Taint,
): number | null {
  const matching = (tolerations ?? []).filter((t) => tolerates(t, taint));
  if (matching.length === 0) return null;
  const seconds = matching.flatMap((t) => (t.tolerationSeconds === undefined ? [] : [t.tolerationSeconds]));
  return seconds.length === 0 ? Number.POSITIVE_INFINITY : Math.max(0, Math.min(...seconds));
}

/** `{pool: special}` as k8s prints a taint in the unschedulable message. */
export const describeTaint = (t: Taint) => `{${t.key}: ${t.value ?? ''}}`;

/** The first NoSchedule or NoExecute taint the pod does not tolerate. */
export function untoleratedTaint(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
): Taint | undefined {
  return taints?.find((t) => t.effect !== 'PreferNoSchedule' && !toleratedBy(tolerations, t));
}

export const toleratesTaints: Checker = (node, pod) => {
  const t = untoleratedTaint(node.taints, pod.spec.tolerations);
  return t ? `node(s) had untolerated taint ${describeTaint(t)}` : null;
};

export const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** A cordoned node (k8s NodeUnschedulable): only pods that tolerate its unschedulable taint. */
export const schedulable: Checker = (node, pod) =>
  node.unschedulable && !toleratedBy(pod.spec.tolerations, UNSCHEDULABLE_TAINT)
    ? 'node(s) were unschedulable'
    : null;

/** k8s TaintToleration score: the PreferNoSchedule taints the pod does not tolerate, fewer is better. */
export const preferNoScheduleTaints: Scorer = {
  name: 'taints',
  weight: 3,
  normalize: 'reverse',
  score: (node, pod) =>
    (node.taints ?? []).filter(
      (t) => t.effect === 'PreferNoSchedule' && !toleratedBy(pod.spec.tolerations, t),
    ).length,
};
