// Step "image": present, or pulled as the pull policy says. A failed pull is ErrImagePull, then
// ImagePullBackOff while its back-off runs; an absent image with policy Never is ErrImageNeverPull.

import type Docker from 'dockerode';
import { imagePresent, pullImage, pullPolicy } from '../../runtime/images.ts';
import { type ContainerRun, errorText, note, Waiting, warn } from './run.ts';

export async function imageStep(run: ContainerRun): Promise<undefined | Waiting> {
  const { c, t, deps } = run;
  const now = deps.clock.now();
  const docker = deps.docker as Docker;
  const policy = pullPolicy(c);
  const present = await imagePresent(docker, c.image);
  if (present && policy !== 'Always') return undefined;
  if (!present && policy === 'Never') {
    const message = `Container image "${c.image}" is not present with pull policy of Never`;
    warn(run, 'ErrImageNeverPull', message);
    return new Waiting('ErrImageNeverPull', message);
  }
  if (t.pull && now < t.pull.notBefore) {
    note(run, 'BackOff', `Back-off pulling image "${c.image}"`);
    return new Waiting('ImagePullBackOff', `Back-off pulling image "${c.image}"`);
  }
  note(run, 'Pulling', `Pulling image "${c.image}"`);
  try {
    if (deps.pullImage) await deps.pullImage(c.image, policy === 'Always' ? 'Always' : 'IfNotPresent');
    else await pullImage(docker, c.image);
  } catch (err) {
    const backoffMs = t.pull ? Math.min(t.pull.backoffMs * 2, deps.backoff.maxMs) : deps.backoff.initialMs;
    t.pull = { backoffMs, notBefore: now + backoffMs };
    // Once more soon (to say ImagePullBackOff, as the kubelet does), then when the back-off ends.
    deps.wakeAt(now + 1000);
    deps.wakeAt(t.pull.notBefore);
    const message = `Failed to pull image "${c.image}": ${errorText(err)}`;
    warn(run, 'Failed', message);
    return new Waiting('ErrImagePull', message);
  }
  delete t.pull;
  note(run, 'Pulled', `Successfully pulled image "${c.image}"`);
  return undefined;
}
