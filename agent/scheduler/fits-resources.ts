// Feasibility (k8s NodeResourcesFit): the node's allocatable holds the pod's requests on top of the pods
// already there: pods first ("Too many pods"), then CPU, then memory. A node without allocatable (a record
// from an agent before resources) is not checked.
import { podResources } from './resources.ts';
import type { Checker } from './types.ts';

export const fitsResources: Checker = (node, pod, load) => {
  const alloc = node.allocatable;
  if (!alloc) return null;
  if ((load.total.get(node.name) ?? 0) + 1 > alloc.pods) return 'Too many pods';
  const want = podResources(pod.spec).requests;
  const used = load.requested.get(node.name);
  if (want.cpuMilli > 0 && (used?.cpuMilli ?? 0) + want.cpuMilli > alloc.cpuMilli) return 'Insufficient cpu';
  if (want.memoryBytes > 0 && (used?.memoryBytes ?? 0) + want.memoryBytes > alloc.memoryBytes)
    return 'Insufficient memory';
  return null;
};
