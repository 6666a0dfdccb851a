// Ranking, last: the node name, so equal nodes are chosen the same way every time.
import type { Ranker } from './types.ts';

export const byName: Ranker = (node) => node.name;
