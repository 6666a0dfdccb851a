// The nodes a prewarm task pulls onto: live node records that match its nodeSelector and required node
// affinity, cordoned ones left out (the seed's filter: not unschedulable, not NotReady; a node without a
// live record, or whose record says its agent stopped, is not ready). Taints do not apply: a prewarm runs
// no pod. In name order, so the batches are the same whoever leads.

import type { ImagePrewarmSpec } from '../../agent/objects/types.ts';
import { matchesExpression } from '../../agent/scheduler/node-affinity.ts';
import type { NodeRecord } from '../../agent/store/node-registry.ts';
import { compareText } from '../../agent/text/compare.ts';

export function targetNodes(
  spec: ImagePrewarmSpec,
  nodes: ReadonlyArray<NodeRecord & { unschedulable?: boolean }>,
): string[] {
  const terms =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return nodes
    .filter((n) => !n.unschedulable && !n.stoppedAt)
    .filter((n) => Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => n.labels[k] === v))
    .filter(
      (n) =>
        !terms ||
        terms.some(
          (t) =>
            (t.matchExpressions?.length ?? 0) > 0 &&
            t.matchExpressions!.every((e) => matchesExpression(n.labels, e)),
        ),
    )
    .map((n) => n.name)
    .sort(compareText);
}

/** The nodes of batch `index` (1-based). */
export const batchOf = (nodes: readonly string[], batchSize: number, index: number): string[] =>
  nodes.slice((index - 1) * batchSize, index * batchSize);

export const batchCount = (nodes: number, batchSize: number): number => Math.ceil(nodes / batchSize);
