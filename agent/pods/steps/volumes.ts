// Step "volumes" (once per pod and reconcile): the pod's volume folders, with ConfigMap and Secret
// files kept up to date in place. A missing ConfigMap or Secret leaves new containers waiting in
// ContainerCreating with a FailedMount event (as the kubelet); a running container keeps its files.
import type { Pod } from '../../objects/types.ts';
import type { Clock } from '../clock.ts';
import { ConfigRefError, type Lookup, prepareVolumes } from '../resolve.ts';
import { Waiting } from './run.ts';

export async function volumesStep(
  pod: Pod,
  dirs: { dir: string; secretDir: string },
  lookup: Lookup,
  clock: Clock,
): Promise<Map<string, string> | Waiting> {
  try {
    return await prepareVolumes(pod, dirs, lookup, new Date(clock.now()));
  } catch (err) {
    if (!(err instanceof ConfigRefError)) throw err;
    return new Waiting('ContainerCreating', `MountVolume.SetUp failed: ${err.message}`);
  }
}
