// Step "watch": what Docker says of a created container, as the kubelet reports it. Running; or exited
// (Completed, Error with its exit code, OOMKilled) or refused by the engine at start (StartError, 128),
// then restarted as the restart policy says after k8s' back-off (CrashLoopBackOff: 10 s doubling to
// 5 min, reset once a container ran 10 min).
import type Docker from 'dockerode';
import type { ContainerState } from '../../objects/types.ts';
import { isoTime } from '../clock.ts';
import { type ContainerRun, warn } from './run.ts';
import { startStep } from './start.ts';
import { terminationMessage } from './termination-message.ts';

export const ZERO_TIME = '0001-01-01T00:00:00Z';
/** The exit code the kubelet reports for a container the runtime could not start. */
export const START_ERROR_EXIT = 128;

export async function watchStep(
  run: ContainerRun,
  info: Docker.ContainerInspectInfo,
): Promise<ContainerState> {
  const { t, deps, c, pod } = run;
  const state = info.State;
  t.containerId = info.Id;
  if (state.Running || state.Restarting) {
    delete t.waiting;
    return { running: { startedAt: state.StartedAt } };
  }
  // Docker keeps the engine's reason in State.Error until a start succeeds.
  const startFailed = Boolean(state.Error);
  if (!startFailed && state.StartedAt === ZERO_TIME) {
    // Created but never started (an agent died between create and start).
    await startStep(run);
    return watchStep(run, await inspect(run));
  }
  if (startFailed && !t.startError)
    t.startError = { key: 'start-error', message: state.Error, at: isoTime(deps.clock.now()) };
  const terminated: NonNullable<ContainerState['terminated']> = startFailed
    ? { exitCode: START_ERROR_EXIT, reason: 'StartError', message: state.Error, finishedAt: t.startError!.at }
    : {
        exitCode: state.ExitCode,
        reason: state.OOMKilled ? 'OOMKilled' : state.ExitCode === 0 ? 'Completed' : 'Error',
        startedAt: state.StartedAt,
        finishedAt: state.FinishedAt,
      };
  const policy = pod.spec.restartPolicy ?? 'Always';
  const restart = policy === 'Always' || (policy === 'OnFailure' && terminated.exitCode !== 0);
  const exitKey = startFailed ? t.startError!.key : state.FinishedAt;
  if (!startFailed) {
    const message = await terminationMessage(run, exitKey, terminated.exitCode);
    if (message !== undefined) terminated.message = message;
  }
  if (!restart) {
    delete t.waiting;
    // A final failure says why once (a refused start said so already, with the engine's message).
    if (t.seenExit !== exitKey && terminated.exitCode !== 0 && !startFailed)
      warn(
        run,
        'Failed',
        `Container ${c.name} terminated: ${terminated.reason}, exit code ${terminated.exitCode}`,
      );
    t.seenExit = exitKey;
    return { terminated };
  }
  const now = deps.clock.now();
  const fresh = t.seenExit !== exitKey;
  if (fresh) {
    // A new exit: count it once, and wait out the back-off before the next start.
    t.seenExit = exitKey;
    const ran = startFailed ? 0 : Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
    if (ran >= deps.backoff.resetAfterMs) t.backoffMs = 0;
    t.backoffMs = t.backoffMs === 0 ? deps.backoff.initialMs : Math.min(t.backoffMs * 2, deps.backoff.maxMs);
    t.notBefore = now + t.backoffMs;
    t.lastState = { terminated };
    warn(run, 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}`);
    deps.wakeAt(t.notBefore);
  }
  if (now < t.notBefore) {
    if (fresh && startFailed) {
      // The kubelet says RunContainerError first, CrashLoopBackOff from its next look on.
      t.waiting = { reason: 'RunContainerError', message: terminated.message! };
      deps.wakeAt(now + 1000);
    } else {
      const secs = Math.round(t.backoffMs / 1000);
      t.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${secs}s restarting failed container=${c.name} pod=${pod.metadata.name}`,
      };
    }
    return { waiting: t.waiting };
  }
  t.restartCount++;
  await startStep(run);
  return watchStep(run, await inspect(run));
}

/** The container as Docker has it now (null: there is none). */
export async function inspect(run: ContainerRun): Promise<Docker.ContainerInspectInfo> {
  return run.deps.docker.getContainer(run.name).inspect();
}
