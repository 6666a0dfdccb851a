// Ranking by free resources, the algorithm's core (0–100 already, the mean over CPU and memory of the
// node's share after the pod, from the requests with k8s' non-zero defaults):
//   spread  (k8s LeastAllocated): the share left free, so the emptiest node wins;
//   binpack (k8s MostAllocated, Nomad's binpack): the share used, so the fullest node that still fits
//           wins, and big holes stay whole for big pods.
// A node whose record has no allocatable (an agent before resources) is ranked by its pods out of 110.
import { DEFAULT_MAX_PODS, podResources } from './resources.ts';
import type { Scorer } from './types.ts';

export const resourceFit: Scorer = {
  name: 'resources',
  weight: 1,
  normalize: 'none',
  score: (node, pod, load) => {
    const alloc = node.allocatable;
    let usedShare: number;
    if (!alloc) usedShare = Math.min(1, ((load.total.get(node.name) ?? 0) + 1) / DEFAULT_MAX_PODS);
    else {
      const want = podResources(pod.spec).nonzero;
      const used = load.nonzero.get(node.name);
      const share = (u: number, of: number) => (of <= 0 ? 1 : Math.min(1, u / of));
      usedShare =
        (share((used?.cpuMilli ?? 0) + want.cpuMilli, alloc.cpuMilli) +
          share((used?.memoryBytes ?? 0) + want.memoryBytes, alloc.memoryBytes)) /
        2;
    }
    return 100 * (pod.algorithm === 'binpack' ? usedShare : 1 - usedShare);
  },
};
