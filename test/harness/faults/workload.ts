// What the fault suite runs: 3 hosts (f1 and f2 heads and workers, f3 a worker), a Deployment `web` of 4
// spread over them and a bare pod `solo` pinned to f3, all busybox loops that stop within a second.
import { deploymentManifest, podManifest } from '../manifests.ts';
import type { FaultNodeSpec } from './cluster.ts';

export const LAYOUT: FaultNodeSpec[] = [
  { name: 'f1', roles: ['head', 'worker'] },
  { name: 'f2', roles: ['head', 'worker'] },
  { name: 'f3', roles: ['worker'] },
];
export const WORKER = 'f3';
export const SOLO = { namespace: 'default', name: 'solo' };

export const LOOP = 'trap "exit 0" TERM; while true; do sleep 1; done';

export interface Workload {
  /** The manifests, one YAML stream. */
  yaml: string;
  /** Its objects (keys below objects/): none may be lost. */
  objects: string[];
}

export function workload(image: string): Workload {
  return {
    yaml: [
      deploymentManifest('web', image, LOOP, 4),
      podManifest(SOLO.name, image, LOOP, { nodeName: WORKER }),
    ].join('---\n'),
    objects: ['deployments/default/web', `pods/${SOLO.namespace}/${SOLO.name}`],
  };
}
