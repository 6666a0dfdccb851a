// Step "env": the container's environment, resolved now (when the container is created). A later edit
// of a ConfigMap or Secret restarts nothing, as in Kubernetes; the next container made gets it.
import { ConfigRefError, resolveEnv } from '../resolve.ts';
import { type ContainerRun, Waiting, warn } from './run.ts';

export function envStep(run: ContainerRun): string[] | Waiting {
  try {
    return resolveEnv(run.pod, run.c, run.deps.lookup, run.deps.address);
  } catch (err) {
    if (!(err instanceof ConfigRefError)) throw err;
    warn(run, 'Failed', `Error: ${err.message}`);
    return new Waiting('CreateContainerConfigError', err.message);
  }
}
