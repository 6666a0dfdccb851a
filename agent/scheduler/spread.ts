// Ranking (spread only; k8s' default spreading of a controller's pods): fewer pods of the same controller
// on the node ranks higher, so replicas land on different nodes. Under binpack it is off: packing wins
// (keep replicas apart there with required rules).
import type { Scorer } from './types.ts';

export const spreadOwner: Scorer = {
  name: 'spread',
  weight: 1,
  normalize: 'reverse',
  active: (pod) => pod.ownerUid !== undefined && pod.algorithm !== 'binpack',
  score: (node, pod, load) => load.byOwner.get(pod.ownerUid!)?.get(node.name) ?? 0,
};
