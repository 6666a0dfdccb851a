// The etcd side of graceful deletion: once the agent has stopped a terminating pod's containers and
// removed its files and alive records, the pod object (and its status) is deleted, only if it is still
// the pod that was terminated. The compare is on the object key's create revision, which a pod of the
// same name created later never shares (the uid is inside the JSON value, where etcd cannot compare).
import type { Etcd3 } from 'etcd3';
import { deleteObjects, refOf } from '../objects/store.ts';
import type { Pod } from '../objects/types.ts';

/** True when deleted, false when the object is gone or is another pod now. Throws when etcd does not
 * answer: the caller's next re-list finds the pod again and terminates it again (nothing left to stop),
 * so the delete happens once etcd is back. */
export async function deleteTerminatedPod(
  etcd: Etcd3,
  cluster: string,
  pod: Pod,
  createRevision: string,
): Promise<boolean> {
  return deleteObjects(etcd, cluster, [{ ...refOf(pod), createRevision }]);
}
