// Feasibility: every nodeSelector label is on the node with the same value (k8s spec.nodeSelector).
import type { Checker } from './types.ts';

export const AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector";

export const matchesNodeSelector: Checker = (node, pod) => {
  const sel = pod.spec.nodeSelector;
  if (!sel) return null;
  for (const [k, v] of Object.entries(sel)) if (node.labels[k] !== v) return AFFINITY_REASON;
  return null;
};

/** `nodeSelector app=gpu,zone=a`: what the pod asked, for the unschedulable message. */
export const describeNodeSelector = (sel: Record<string, string> | undefined): string | undefined =>
  sel && Object.keys(sel).length > 0
    ? `nodeSelector ${Object.entries(sel)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`
    : undefined;
