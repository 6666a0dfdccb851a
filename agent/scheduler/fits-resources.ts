// Feasibility (k8s NodeResourcesFit): the node's allocatable holds the pod's requests on top of the pods
// already there (and the room held for nominated pods of no lower priority): pods first ("Too many
// pods"), then CPU, then memory. A node without allocatable (a record from an agent before resources)
// is not checked.
import { podResources } from './resources.ts';
import type { Checker } from './types.ts';

export const fitsResources: Checker = (node, pod, load) => {
  const alloc = node.allocatable;
  if (!alloc) return null;
  // Room a preemption freed for a pending pod of no lower priority is held for it (k8s' nominated pods).
  let held = 0;
  let cpu = load.requested.get(node.name)?.cpuMilli ?? 0;
  let memory = load.requested.get(node.name)?.memoryBytes ?? 0;
  for (const n of load.nominated.get(node.name) ?? [])
    if (n.uid !== pod.uid && n.priority >= (pod.priority ?? 0)) {
      held++;
      cpu += n.requests.cpuMilli;
      memory += n.requests.memoryBytes;
    }
  if ((load.total.get(node.name) ?? 0) + held + 1 > alloc.pods) return 'Too many pods';
  const want = podResources(pod.spec).requests;
  if (want.cpuMilli > 0 && cpu + want.cpuMilli > alloc.cpuMilli) return 'Insufficient cpu';
  if (want.memoryBytes > 0 && memory + want.memoryBytes > alloc.memoryBytes) return 'Insufficient memory';
  return null;
};
