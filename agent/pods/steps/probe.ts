// Step "probe": after the watch step, the container's probes follow its instance (a running container
// has workers for its id and start time; a restart or an exit ends them), and a liveness or startup
// verdict is carried out: a Killing event ("failed liveness probe, will be restarted"), the preStop hook
// and docker stop with the probe's terminationGracePeriodSeconds (else the pod's); the watch step then
// sees the exit and restarts the container as its policy says (back-off, restart count).
import type { ContainerState } from '../../objects/types.ts';
import {
  ContainerProbes,
  type ContainerProbesDeps,
  hasProbes,
  type ProbeSeed,
} from '../probes/container-probes.ts';
import type { ContainerRun } from './run.ts';
import { graceSeconds } from './start.ts';
import { stopContainer } from './stop.ts';
import { inspect, watchStep } from './watch.ts';

export interface ProbeStepEnv {
  /** The probes of the pod's containers, by container name (the actor's). */
  probes: Map<string, ContainerProbes>;
  deps: Omit<ContainerProbesDeps, 'target'>;
  /** What the container had before the agent restarted, by container name, for an instance. */
  seed(name: string, instance: string): ProbeSeed | undefined;
}

export async function probeStep(
  run: ContainerRun,
  state: ContainerState,
  env: ProbeStepEnv,
): Promise<ContainerState> {
  const { c, t } = run;
  const instance = state.running && t.containerId ? `${t.containerId}@${state.running.startedAt}` : undefined;
  const current = env.probes.get(c.name);
  if (current && current.instance === instance && !current.verdict) return state;
  current?.stop();
  env.probes.delete(c.name);
  if (current?.verdict && current.instance === instance) {
    const { kind } = current.verdict;
    const grace = current.probeOf(kind)?.terminationGracePeriodSeconds ?? graceSeconds(run);
    const restart = (run.pod.spec.restartPolicy ?? 'Always') !== 'Never';
    await stopContainer(
      run,
      run.deps.clock.now() + grace * 1000,
      `Container ${c.name} failed ${kind} probe${restart ? ', will be restarted' : ''}`,
      run.signal,
    );
    return watchStep(run, await inspect(run));
  }
  if (instance && hasProbes(c)) {
    const startedAt = Date.parse(state.running!.startedAt);
    const probes = new ContainerProbes(
      c,
      instance,
      Number.isNaN(startedAt) ? run.deps.clock.now() : startedAt,
      { ...env.deps, target: run },
      env.seed(c.name, instance),
    );
    env.probes.set(c.name, probes);
  }
  return state;
}
