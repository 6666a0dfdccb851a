// Matching pods per node for a (namespaces, label selector) pair, built from the load's pods the first
// time a placement asks and kept up to date as pods are added (addLoad), so placing R replicas with a
// spread or affinity rule passes over the pods once, not R times.
import type { LabelSelector } from '../objects/types.ts';
import { selectorMatches } from '../objects/validate-rules.ts';
import type { Load, PlacedPod } from './types.ts';

export interface SelectorCount {
  namespaces: readonly string[];
  selector: LabelSelector;
  byNode: Map<string, number>;
}

const matches = (c: SelectorCount, p: PlacedPod) =>
  c.namespaces.includes(p.namespace) && selectorMatches(c.selector, p.labels);

export function countsOf(
  load: Load,
  namespaces: readonly string[],
  selector: LabelSelector,
): ReadonlyMap<string, number> {
  const key = JSON.stringify([namespaces, selector]);
  let c = load.counts.get(key);
  if (!c) {
    c = { namespaces, selector, byNode: new Map() };
    for (const [node, pods] of load.pods)
      for (const p of pods) if (matches(c, p)) c.byNode.set(node, (c.byNode.get(node) ?? 0) + 1);
    load.counts.set(key, c);
  }
  return c.byNode;
}

/** A pod added to the load: every count it matches goes up. */
export function countPod(load: Load, node: string, p: PlacedPod, times: number): void {
  for (const c of load.counts.values())
    if (matches(c, p)) c.byNode.set(node, (c.byNode.get(node) ?? 0) + times);
}
