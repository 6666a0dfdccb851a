// Where secret volumes live on a node: on tmpfs, outside the agent's workspace, as the kubelet mounts a
// tmpfs per secret volume, so a Secret's value never reaches the node's disk (nor its backups):
//   /dev/shm/nokube/<cluster>/<node>/<namespace>/<ownership path>/<volume>
// /dev/shm is the tmpfs every Linux has (also inside a container: the docker service mode mounts
// /dev/shm/nokube from the host). A folder that is not on tmpfs is refused: the pod waits, saying why.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRET_VOLUMES_ROOT = '/dev/shm/nokube';
/** statfs(2) f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;

export const secretVolumesDir = (cluster: string, node: string, namespace: string, ownershipPath: string) =>
  join(SECRET_VOLUMES_ROOT, cluster, node, namespace, ownershipPath);

let checked: Promise<string | undefined> | undefined;

/** Why secret volumes cannot be written here (undefined: /dev/shm is a tmpfs); asked once per process. */
export function tmpfsProblem(): Promise<string | undefined> {
  checked ??= statfs('/dev/shm').then(
    (st) =>
      st.type === TMPFS_MAGIC
        ? undefined
        : `secret volumes are kept on tmpfs at ${SECRET_VOLUMES_ROOT}, but /dev/shm is not a tmpfs: not written to disk`,
    (err: NodeJS.ErrnoException) =>
      `secret volumes are kept on tmpfs at ${SECRET_VOLUMES_ROOT}, but /dev/shm cannot be used: ${err.code ?? err.message}`,
  );
  return checked;
}
