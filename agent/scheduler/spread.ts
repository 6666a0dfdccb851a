// Ranking: fewest pods of the same controller on the node first, so replicas spread over nodes.
import type { Ranker } from './types.ts';

export const spreadOwner: Ranker = (node, pod, load) =>
  pod.ownerUid ? (load.byOwner.get(pod.ownerUid)?.get(node.name) ?? 0) : 0;
