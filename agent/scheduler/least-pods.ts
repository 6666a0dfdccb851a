// Ranking: fewest pods in total on the node first (no resource accounting yet: a pod counts as one).
import type { Ranker } from './types.ts';

export const leastPods: Ranker = (node, _pod, load) => load.total.get(node.name) ?? 0;
