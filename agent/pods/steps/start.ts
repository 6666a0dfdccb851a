// Step "start": Docker starts the container, then the postStart hook runs. A start the engine refuses
// (e.g. `command: ["/nonexistent"]`) is RunContainerError with the engine's message; the watch step
// then counts it as an exit (terminated StartError, 128) and backs off. A failing postStart kills the
// container (FailedPostStartHook), which then restarts as its restart policy says.
import { DEFAULT_TERMINATION_GRACE_SECONDS } from '../../objects/defaults.ts';
import { runAction } from '../actions/run.ts';
import { isoTime } from '../clock.ts';
import { type ContainerRun, errorText, note, Waiting, warn } from './run.ts';

export async function startStep(run: ContainerRun): Promise<undefined | Waiting> {
  const ct = run.deps.docker.getContainer(run.name);
  try {
    await ct.start();
  } catch (err) {
    const message = errorText(err);
    const at = isoTime(run.deps.clock.now());
    run.t.startError = { key: `start-error ${at}`, message, at };
    warn(run, 'Failed', `Error: failed to start container "${run.c.name}": ${message}`);
    return new Waiting('RunContainerError', message);
  }
  delete run.t.startError;
  note(run, 'Started', `Started container ${run.c.name}`);
  const hook = run.c.lifecycle?.postStart;
  if (!hook) return undefined;
  // Bounded by the pod's grace period (the kubelet's own bound is the pod's deletion, which also
  // interrupts it here through run.signal).
  const grace = graceSeconds(run);
  const failed = await runAction(run, hook, grace * 1000, run.signal);
  if (!failed || run.signal.aborted) return undefined;
  warn(run, 'FailedPostStartHook', `PostStartHook failed: ${failed}`);
  note(run, 'Killing', `FailedPostStartHook: stopping container ${run.c.name}`);
  await ct.stop({ t: grace }).catch(() => undefined);
  return undefined;
}

/** k8s: terminationGracePeriodSeconds, default 30. */
export const graceSeconds = (run: Pick<ContainerRun, 'pod'>): number =>
  run.pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
