// Step "stop" (termination): the preStop hook, then the stop signal with what is left of the grace
// (docker stop -t: SIGTERM, SIGKILL when it runs out), then the container is removed. A container a
// probe failed is stopped the same way (`stopContainer`), and not removed: it restarts.
import { LABEL } from '../../runtime/labels.ts';
import { runAction } from '../actions/run.ts';
import { type ContainerRun, note, warn } from './run.ts';

/** k8s' minimumGracePeriodInSeconds: a container gets at least this long after its preStop hook. */
export const MIN_GRACE_SECONDS = 2;

export async function stopStep(run: ContainerRun, deadlineMs: number): Promise<void> {
  const { deps, c, pod } = run;
  const ct = deps.docker.getContainer(run.name);
  const info = await ct.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return null;
    throw err;
  });
  // None, or one of an earlier pod of the same name (its own actor removes it).
  if (!info || info.Config.Labels[LABEL.podUid] !== pod.metadata.uid) return;
  if (info.State.Running) await stopContainer(run, deadlineMs, `Stopping container ${c.name}`);
  await ct.remove({ force: true }).catch((err: { statusCode?: number }) => {
    if (err.statusCode !== 404) throw err;
  });
}

/** preStop (bounded by the deadline, cut short by `signal`), a Killing event, then docker stop with
 * what is left (at least MIN_GRACE_SECONDS). */
export async function stopContainer(
  run: ContainerRun,
  deadlineMs: number,
  killing: string,
  signal?: AbortSignal,
): Promise<void> {
  const { deps, c } = run;
  const hook = c.lifecycle?.preStop;
  if (hook) {
    const failed = await runAction(run, hook, Math.max(0, deadlineMs - deps.clock.now()), signal);
    if (failed) warn(run, 'FailedPreStopHook', `PreStopHook failed: ${failed}`);
  }
  note(run, 'Killing', killing);
  const left = Math.ceil((deadlineMs - deps.clock.now()) / 1000);
  await deps.docker
    .getContainer(run.name)
    .stop({ t: Math.max(left, MIN_GRACE_SECONDS) })
    .catch((err: { statusCode?: number }) => {
      // 304: it stopped on its own meanwhile.
      if (err.statusCode !== 304 && err.statusCode !== 404) throw err;
    });
}
