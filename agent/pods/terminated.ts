// The etcd side of graceful deletion: once the agent has stopped a terminating pod's containers and
// removed its files and alive records, the pod object (and its status) is deleted, only if it is still
// the pod that was terminated. The compare is on the object key's create revision, which a pod of the
// same name created later never shares (the uid is inside the JSON value, where etcd cannot compare).
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../log/logger.ts';
import { deleteObjects, refOf } from '../objects/store.ts';
import type { Pod } from '../objects/types.ts';
import { logEtcdFailure } from '../store/etcd.ts';

/** Retries of a delete etcd did not answer: 1 s doubling to 30 s, until it answers (or the agent stops;
 * then the next start's re-list finds the pod, terminates it again, nothing left to stop, and deletes). */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** True when deleted, false when the object is gone or is another pod now; throws when etcd fails. */
export function deleteTerminatedPod(
  etcd: Etcd3,
  cluster: string,
  pod: Pod,
  createRevision: string,
): Promise<boolean> {
  return deleteObjects(etcd, cluster, [{ ...refOf(pod), createRevision }]);
}

/** Delete it now, and again at a back-off while etcd does not answer. */
export async function deleteTerminatedPodUntilDone(
  etcd: Etcd3,
  cluster: string,
  pod: Pod,
  createRevision: string,
  log: Logger,
  stopped: () => boolean,
): Promise<void> {
  for (let wait = RETRY_FIRST_MS; !stopped(); wait = Math.min(wait * 2, RETRY_MAX_MS)) {
    try {
      await deleteTerminatedPod(etcd, cluster, pod, createRevision);
      return;
    } catch (err) {
      logEtcdFailure(log, err, { pod: pod.metadata.name }, 'terminated pod delete failed; retrying');
    }
    await new Promise((r) => setTimeout(r, wait).unref());
  }
}
